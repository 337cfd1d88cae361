/**
 * For a Redis test file: the shared redis-server and local Redis Cluster, started (once) before
 * its tests, and the stores its tests open, cleared and closed after each test.
 */
import type { RedisStore } from '../../lib/backends/redis';
import { RedisClusterServer, sharedRedis, sharedRedisCluster } from './redis-server';

/** What `useRedisServers` hands a test file; read `url` and `cluster` inside tests (set in a before hook). */
export interface RedisServers {
  url: string;
  cluster: RedisClusterServer;
  /** `store`, cleared and closed after the current test. */
  track<S extends RedisStore>(store: S): S;
}

/** Registers the hooks (call at the top level of a test file). */
export function useRedisServers(): RedisServers {
  const opened: RedisStore[] = [];
  const servers: RedisServers = {
    url: '',
    cluster: undefined as unknown as RedisClusterServer,
    track(store) {
      opened.push(store);
      return store;
    },
  };
  before(async function () {
    this.timeout(60_000);
    servers.url = (await sharedRedis()).url;
    servers.cluster = await sharedRedisCluster();
  });
  afterEach(async () => {
    while (opened.length > 0) {
      const store = opened.pop()!;
      await store.clear().catch(() => undefined);
      await store.close();
    }
  });
  return servers;
}
