/**
 * The shared Redis server (redis-server.ts) as a test file of RedisStores uses it: its url and
 * an admin client, ready before the file's tests and quit after them, and `track`, which closes
 * a store its test opened after that test.
 */
import { Redis } from 'ioredis';
import type { RedisStore } from '../../lib/backends/redis';
import { sharedRedis } from './redis-server';

export interface RedisTestServer {
  /** The shared server's url (set before the file's tests). */
  url: string;
  /** A plain client on it, for reading and writing the store's records directly. */
  admin: Redis;
  /** Closes `store` after the current test; returns it. */
  track<S extends RedisStore>(store: S): S;
}

/** Registers the hooks (call at a test file's top level) and returns the server they prepare. */
export function redisTestServer(): RedisTestServer {
  const opened: RedisStore[] = [];
  const server: RedisTestServer = {
    url: '',
    admin: undefined as unknown as Redis,
    track(store) {
      opened.push(store);
      return store;
    },
  };
  before(async function () {
    this.timeout(60_000);
    server.url = (await sharedRedis()).url;
    server.admin = new Redis(server.url);
  });
  after(async () => {
    await server.admin?.quit();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
  });
  return server;
}
