/**
 * For a Redis test file: the shared redis-server (and, unless told not to, the local Redis
 * Cluster), started (once) before its tests, optionally a plain admin client on the server for
 * reading and writing the store's records directly, and the stores its tests open, cleared and
 * closed after each test.
 */
import { Redis } from 'ioredis';
import type { RedisStore } from '../../lib/backends/redis';
import { RedisClusterServer, sharedRedis, sharedRedisCluster } from './redis-server';

/** What `useRedisServers` hands a test file; read its fields inside tests (set in a before hook). */
export interface RedisServers {
  url: string;
  /** The local cluster (not started, and unset, with `cluster: false`). */
  cluster: RedisClusterServer;
  /** A plain client on the shared server (unset without `admin: true`); quit after the file's tests. */
  admin: Redis;
  /** `store`, cleared and closed after the current test. */
  track<S extends RedisStore>(store: S): S;
}

export interface RedisServersOptions {
  /** Start the local Redis Cluster too (default true): a file that never uses it starts faster. */
  cluster?: boolean;
  /** Open `admin` (default false). */
  admin?: boolean;
}

/** Registers the hooks (call at the top level of a test file). */
export function useRedisServers(options: RedisServersOptions = {}): RedisServers {
  const opened: RedisStore[] = [];
  const servers: RedisServers = {
    url: '',
    cluster: undefined as unknown as RedisClusterServer,
    admin: undefined as unknown as Redis,
    track(store) {
      opened.push(store);
      return store;
    },
  };
  before(async function () {
    this.timeout(60_000);
    servers.url = (await sharedRedis()).url;
    if (options.admin === true) servers.admin = new Redis(servers.url);
    if (options.cluster !== false) servers.cluster = await sharedRedisCluster();
  });
  after(async () => {
    await servers.admin?.quit();
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
