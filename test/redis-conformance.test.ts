import { runConformance } from '../conformance';
import { RedisStore } from '../lib/backends/redis';
import { sharedRedis, sharedRedisCluster } from './support/redis-server';

let url = '';
let cluster: Array<{ host: string; port: number }> = [];
before(async function () {
  this.timeout(60_000);
  ({ url } = await sharedRedis());
  ({ nodes: cluster } = await sharedRedisCluster());
});

runConformance('redis', (settings) => new RedisStore({ ...settings, url }));
runConformance('redis cluster', (settings) => new RedisStore({ ...settings, cluster }));
