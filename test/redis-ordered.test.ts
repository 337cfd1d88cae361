/**
 * The Redis store's ordered indexes (docs/redis.md, "Ordered indexes"): ranges and sorts read
 * them, writes keep them atomically with the entry, sweeps and deletes remove them, an older
 * namespace is rebuilt on connect; and background failures of a scope reach the scope.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { RedisStore, RedisSettings } from '../lib/backends/redis';
import { sharedRedis } from './support/redis-server';

let url = '';
let admin: Redis;
let counter = 0;
const opened: RedisStore[] = [];

/** A store in a fresh namespace on the shared server, closed after the test. */
function open(settings: RedisSettings = {}): RedisStore {
  const store = new RedisStore({ url, namespace: `ro${process.pid}x${++counter}`, ...settings });
  opened.push(store);
  return store;
}

before(async function () {
  this.timeout(60_000);
  ({ url } = await sharedRedis());
  admin = new Redis(url);
});

after(async () => {
  await admin?.quit();
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
});

describe('Redis store: background errors', () => {
  it("a scope's failed background sweep reaches the scope's 'error' listeners, not the parent's", async function () {
    this.timeout(10_000);
    const root = open({ sweepInterval: 20 });
    const scope = root.scope('child') as RedisStore;
    const rootErrors: Error[] = [];
    root.on('error', (err: Error) => rootErrors.push(err));
    await root.set('r', 1);
    await scope.set('s', 1);
    // The scope's expiry set is no sorted set any more: its sweep's ZRANGE fails.
    await admin.set(scope.layout.expiry, 'not a zset');
    const [err] = (await once(scope, 'error')) as [Error & { code: string }];
    expect(err.code).to.equal('ERR_STORAGE_OPERATION');
    expect(rootErrors).to.deep.equal([]);
    await admin.del(scope.layout.expiry);
  });
});
