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
// A namespace spread over several hash-slot groups (shards.ts): on the cluster, over its masters; on one server too.
runConformance('redis cluster shards 4', (settings) => new RedisStore({ ...settings, cluster, shards: 4 }));
runConformance('redis shards 3', (settings) => new RedisStore({ ...settings, url, shards: 3 }));
// Compression (SPEC §16) on every value the suite writes: threshold 0 compresses whatever shrinks.
runConformance('redis, compressed (gzip)', (settings) => new RedisStore({ ...settings, url, compress: { threshold: 0 } }));
