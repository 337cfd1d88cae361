/**
 * Stores a backend test file opens on the shared servers, each in its own namespace or
 * collection, closed (and a Mongo collection dropped) after every test: one helper instead of
 * the same fixture in every file.
 */
import Redis from 'ioredis';
import { MongoSettings, MongoStore } from '../../lib/backends/mongo';
import { RedisSettings, RedisStore } from '../../lib/backends/redis';
import { sharedMongo } from './mongo-server';
import { sharedRedis } from './redis-server';

let counter = 0;

/**
 * Redis stores on the shared server (started in `before`), plus a raw `admin` client for
 * writing what the store would not. Call at the top of a test file.
 */
export function redisTestStores(prefix: string): {
  open(settings?: RedisSettings): RedisStore;
  track(store: RedisStore): RedisStore;
  namespace(prefix: string): string;
  admin(): Redis;
} {
  let url = '';
  let admin: Redis | undefined;
  const opened: RedisStore[] = [];
  before(async function () {
    this.timeout(60_000);
    ({ url } = await sharedRedis());
    admin = new Redis(url);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  after(() => {
    admin?.disconnect();
  });
  return {
    open(settings: RedisSettings = {}) {
      const store = new RedisStore({ url, namespace: `${prefix}${process.pid}x${++counter}`, ...settings });
      opened.push(store);
      return store;
    },
    track(store: RedisStore) {
      opened.push(store);
      return store;
    },
    namespace: (p: string) => `${p}${process.pid}x${++counter}`,
    admin: () => admin!,
  };
}

/** Mongo stores on the shared server, each on a fresh collection of `db`, dropped after the test. Call inside a describe. */
export function mongoTestStores(db: string): { open(settings?: MongoSettings): MongoStore; url(): string } {
  let url = '';
  const opened: MongoStore[] = [];
  before(async function () {
    this.timeout(120_000);
    ({ url } = await sharedMongo());
  });
  afterEach(async () => {
    while (opened.length) {
      const s = opened.pop()!;
      await s.collection?.drop().catch(() => undefined);
      await s.close();
    }
  });
  return {
    open(settings: MongoSettings = {}) {
      const s = new MongoStore({ url, db, collectionName: `c${process.pid}_${++counter}`, ...settings });
      opened.push(s);
      return s;
    },
    url: () => url,
  };
}

/** Every key of a namespace, by SCAN (a test may; the store never needs to). */
export async function namespaceKeys(client: Redis, store: RedisStore): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  const pattern = store.layout.base.replace(/[*?[\]\\]/g, '\\$&') + '*';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', '1000');
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}
