/**
 * getOrSet's options (SPEC §15, lib/core/get-or-set.ts): ttl, tags, grace, timeout soft/hard,
 * refreshAhead, lock — on memory, on a real Redis, and on a multi store [memory, redis]. TTL and
 * grace move with a ManualClock (TTLs of a minute, so Redis's own expiry never fires during a
 * test); the compute timeouts use small real timers.
 */
import { expect } from 'chai';
import { ManualClock } from '../lib/clock';
import type { LockRedis } from '../lib/backend';
import type { BaseStore, KeyInput } from '../lib/store';
import { MemoryStore } from '../lib/backends/memory';
import { RedisStore } from '../lib/backends/redis';
import { MultiStore } from '../lib/multi/multi-store';
import { MongoStore } from '../lib/backends/mongo';
import { createStore } from '../lib/factory';
import { StoreError } from '../lib/errors';
import { sharedRedis } from './support/redis-server';
import { sharedMongo } from './support/mongo-server';
import { freshNamespace } from './support/store-configs';
import { freshSqlitePath } from './support/sqlite-files';
import { FaultyStore, faultControl } from './support/multi-faulty';

const TTL = 60_000;
const GRACE = 60_000;

/** A promise the test settles by hand, and how often compute was called. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Waits (real time, bounded) until `check` holds: for work the store does in the background. */
async function eventually(check: () => Promise<boolean> | boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Config {
  name: string;
  /** False where the store is shared and reaches no Redis (lock: 'cluster' is refused). */
  clusterLock?: boolean;
  /** Opens a fresh store on `clock`, its lock client given where the backend has a Redis; `cleanup` gets what to close after it. */
  open(clock: ManualClock, cleanup: Array<() => Promise<void>>): Promise<BaseStore>;
}

let redisUrl = '';
let mongoUrl = '';
const CONFIGS: Config[] = [
  { name: 'memory', open: async (clock) => new MemoryStore({ clock, namespace: freshNamespace('gos') }) },
  {
    name: 'redis',
    open: async (clock) => {
      const store = new RedisStore({ clock, namespace: freshNamespace('gos'), url: redisUrl });
      await store.connect();
      return store;
    },
  },
  { name: 'sqlite :memory:', open: async (clock) => createStore({ type: 'sqlite', settings: { clock, namespace: freshNamespace('gos'), path: ':memory:' } }) },
  // Shared without a Redis: `lock: 'cluster'` is refused there (its own test below).
  { name: 'mongo', clusterLock: false, open: async (clock) => new MongoStore({ clock, namespace: freshNamespace('gos'), url: mongoUrl, db: 'getorset' }) },
  {
    name: 'multi [memory, redis]',
    open: async (clock) => {
      const store = new MultiStore({ clock, namespace: freshNamespace('gos'), stores: [{ type: 'memory' }, { type: 'redis', settings: { url: redisUrl } }] });
      await store.connect();
      return store;
    },
  },
];

describe('getOrSet options', function () {
  this.timeout(20_000);
  before(async function () {
    this.timeout(60_000);
    redisUrl = (await sharedRedis()).url;
    mongoUrl = (await sharedMongo()).url;
  });

  for (const config of CONFIGS) {
    describe(config.name, () => {
      let clock: ManualClock;
      let store: BaseStore;
      let errors: unknown[];
      const cleanup: Array<() => Promise<void>> = [];
      beforeEach(async () => {
        clock = new ManualClock();
        store = await config.open(clock, cleanup);
        errors = [];
        store.on('error', (err: unknown) => errors.push(err));
      });
      afterEach(async () => {
        await store.close();
        for (const close of cleanup.splice(0)) await close();
      });

      it('refuses bad options with ERR_INVALID_ARGUMENT before compute runs', async () => {
        const bad: unknown[] = [
          { foo: 1 },
          { ttl: -1 },
          { tags: [1] },
          { grace: -1 },
          { grace: 1000 }, // no ttl
          { ttl: TTL, grace: Number.NaN },
          { ttl: TTL, grace: '5' },
          { timeout: 5 },
          { timeout: { soft: 0 } },
          { timeout: { hard: -3 } },
          { timeout: { soft: 50, hard: 50 } },
          { timeout: { soft: 50, later: 1 } },
          { timeout: { hard: 2 ** 31 } },
          { ttl: TTL, refreshAhead: 0 },
          { ttl: TTL, refreshAhead: 1 },
          { refreshAhead: 0.5 }, // no ttl
          { ttl: 0, refreshAhead: 0.5 }, // no expiry to refresh ahead of
          { lock: 'global' },
          { lock: 'cluster', lockTimeout: 0 },
          { lockTimeout: Number.POSITIVE_INFINITY },
          Object.defineProperty({}, 'grace', { get: () => 5, enumerable: true }),
        ];
        let computes = 0;
        for (const options of bad) {
          const err = (await rejection(store.getOrSet('k', () => ++computes, options as never))) as StoreError;
          expect(err, JSON.stringify(options)).to.be.instanceOf(StoreError);
          expect(err.code, JSON.stringify(options)).to.equal('ERR_INVALID_ARGUMENT');
        }
        expect(computes).to.equal(0);
        expect(await store.getOne('k')).to.equal(undefined);
        expect((await store.stats()).errors).to.be.at.least(bad.length);
      });

      it('stores with ttl: recomputed once the TTL has passed', async () => {
        let computes = 0;
        const compute = () => `v${++computes}`;
        expect(await store.getOrSet('t', compute, { ttl: TTL })).to.equal('v1');
        const left = await store.ttl('t');
        expect(left).to.be.a('number').within(TTL - 1000, TTL);
        clock.advance(TTL - 1);
        expect(await store.getOrSet('t', compute, { ttl: TTL })).to.equal('v1');
        clock.advance(2);
        expect(await store.getOne('t')).to.equal(undefined);
        expect(await store.getOrSet('t', compute, { ttl: TTL })).to.equal('v2');
        expect(computes).to.equal(2);
      });

      it('tags the stored value where the store keeps tags, refuses them elsewhere', async () => {
        let computes = 0;
        if (!store.supports.tags) {
          const err = (await rejection(store.getOrSet('g', () => ++computes, { tags: ['a'] }))) as StoreError;
          expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
          expect(computes).to.equal(0);
          return;
        }
        expect(await store.getOrSet('g', () => ++computes, { ttl: TTL, tags: ['a', 'b'] })).to.equal(1);
        expect(await store.delByTags(['b'])).to.equal(1);
        expect(await store.getOne('g')).to.equal(undefined);
      });

      it('grace: a failing compute yields the stale value within grace, the error after it', async () => {
        const options = { ttl: TTL, grace: GRACE };
        expect(await store.getOrSet('s', () => 'old', options)).to.equal('old');
        clock.advance(TTL + 1);
        // Ordinary reads never see the entry past its TTL.
        expect(await store.getOne('s')).to.equal(undefined);
        expect(await store.get('s')).to.deep.equal([]);
        expect(await store.has('s')).to.equal(false);
        const boom = new Error('backend of the app is down');
        expect(await store.getOrSet('s', () => Promise.reject(boom), options)).to.equal('old');
        expect(await store.getOrSet('s', () => { throw boom; }, options)).to.equal('old');
        expect(await store.getOne('s')).to.equal(undefined); // the stale value is not written back
        clock.advance(GRACE);
        expect(await rejection(store.getOrSet('s', () => Promise.reject(boom), options))).to.equal(boom);
        // A compute that works stores a fresh value (and a fresh copy).
        expect(await store.getOrSet('s', () => 'new', options)).to.equal('new');
        expect(await store.getOne('s')).to.equal('new');
        expect(errors).to.deep.equal([]); // failures a caller saw (or a stale value covered) are not 'error' events
      });

      it('grace: a call with a shorter grace does not take a copy older than it', async () => {
        expect(await store.getOrSet('s2', () => 'old', { ttl: TTL, grace: GRACE })).to.equal('old');
        clock.advance(TTL + 10_000);
        const boom = new Error('down');
        expect(await rejection(store.getOrSet('s2', () => Promise.reject(boom), { ttl: TTL, grace: 5_000 }))).to.equal(boom);
        expect(await store.getOrSet('s2', () => Promise.reject(boom), { ttl: TTL, grace: 20_000 })).to.equal('old');
      });

      it('grace: del, clear, a query del and delByTags while the entry is live drop its stale copy', async () => {
        const options = { ttl: TTL, grace: GRACE };
        const boom = new Error('down');
        await store.getOrSet('d', () => 'old', options);
        await store.del('d');
        clock.advance(1000); // deleted while live: the copy must not stand in
        expect(await rejection(store.getOrSet('d', () => Promise.reject(boom), options))).to.equal(boom);
        clock.advance(TTL + 1); // and it is gone, not merely skipped
        expect(await rejection(store.getOrSet('d', () => Promise.reject(boom), options))).to.equal(boom);

        await store.getOrSet('c', () => 'old', options);
        await store.clear();
        expect(await rejection(store.getOrSet('c', () => Promise.reject(boom), options))).to.equal(boom);

        await store.getOrSet({ q: 1 }, () => 'old', options);
        expect(await store.del({ q: 1 })).to.equal(1);
        expect(await rejection(store.getOrSet({ q: 1 }, () => Promise.reject(boom), options))).to.equal(boom);

        if (store.supports.tags) {
          const tagged = { ...options, tags: ['t'] };
          await store.getOrSet('tg', () => 'old', tagged);
          expect(await store.delByTags(['t'])).to.equal(1);
          expect(await rejection(store.getOrSet('tg', () => Promise.reject(boom), tagged))).to.equal(boom);
        }
      });

      it('grace: a delete made after the entry expired, while its copy is in grace, drops the copy too', async () => {
        const options = { ttl: TTL, grace: GRACE };
        const boom = new Error('down');
        const deletes: Array<{ name: string; key: KeyInput; tags?: string[]; remove: () => Promise<unknown> }> = [
          { name: 'del', key: 'x1', remove: () => store.del('x1') },
          { name: 'delMany', key: 'x2', remove: () => store.delMany(['x0', 'x2']) },
          { name: 'delKeys (glob)', key: 'x3', remove: () => store.delKeys('x3*') },
          { name: 'a query del', key: { x: 4, y: 1 }, remove: () => store.del({ x: 4 }) },
          { name: 'delKeys (query)', key: { x: 5 }, remove: () => store.delKeys({ x: { $gte: 5 } }) },
          { name: 'clear', key: 'x6', remove: () => store.clear() },
        ];
        if (store.supports.tags) deletes.push({ name: 'delByTags', key: 'x7', tags: ['t7'], remove: () => store.delByTags(['t7']) });
        for (const { name, key, tags, remove } of deletes) {
          const withTags = tags ? { ...options, tags } : options;
          expect(await store.getOrSet(key, () => 'old', withTags), name).to.equal('old');
          clock.advance(TTL + 1); // expired: the copy is in grace, and would stand in...
          await remove(); // ...but for this delete
          expect(await rejection(store.getOrSet(key, () => Promise.reject(boom), withTags)), name).to.equal(boom);
        }
        // The control: a copy nobody deleted still stands in.
        await store.getOrSet('kept', () => 'old', options);
        clock.advance(TTL + 1);
        await store.del('x1');
        expect(await store.getOrSet('kept', () => Promise.reject(boom), options)).to.equal('old');
        expect(errors).to.deep.equal([]);
      });

      it('timeout.hard: ERR_COMPUTE_TIMEOUT without a stale value; the late result is still stored', async () => {
        const slow = deferred<string>();
        const started = Date.now();
        const err = (await rejection(store.getOrSet('h', () => slow.promise, { ttl: TTL, timeout: { hard: 60 } }))) as StoreError;
        expect(err).to.be.instanceOf(StoreError);
        expect(err.code).to.equal('ERR_COMPUTE_TIMEOUT');
        expect(Date.now() - started).to.be.within(50, 1500);
        expect(await store.getOne('h')).to.equal(undefined);
        slow.resolve('late');
        await eventually(async () => (await store.getOne('h')) === 'late', 'the late result stored');
        expect(await store.ttl('h')).to.be.within(TTL - 1000, TTL);
      });

      it('timeout.hard: yields the stale value in grace', async () => {
        await store.getOrSet('hs', () => 'old', { ttl: TTL, grace: GRACE });
        clock.advance(TTL + 1);
        const slow = deferred<string>();
        expect(await store.getOrSet('hs', () => slow.promise, { ttl: TTL, grace: GRACE, timeout: { hard: 40 } })).to.equal('old');
        slow.resolve('new');
        await eventually(async () => (await store.getOne('hs')) === 'new', 'the late result stored');
      });

      it('timeout.soft: returns the stale value, then compute stores the fresh one', async () => {
        await store.getOrSet('f', () => 'old', { ttl: TTL, grace: GRACE });
        clock.advance(TTL + 1);
        const slow = deferred<string>();
        let computes = 0;
        const compute = () => {
          computes++;
          return slow.promise;
        };
        const options = { ttl: TTL, grace: GRACE, timeout: { soft: 30, hard: 5000 } };
        const started = Date.now();
        // Concurrent callers share the one compute, and each gets the stale value past soft.
        const answers = await Promise.all([store.getOrSet('f', compute, options), store.getOrSet('f', compute, options)]);
        expect(answers).to.deep.equal(['old', 'old']);
        expect(Date.now() - started).to.be.below(2000);
        expect(computes).to.equal(1);
        expect(await store.getOne('f')).to.equal(undefined);
        slow.resolve('fresh');
        await eventually(async () => (await store.getOne('f')) === 'fresh', 'the fresh value stored');
        expect(computes).to.equal(1);
        expect(errors).to.deep.equal([]);
      });

      it('timeout.soft without a stale value waits for compute', async () => {
        const value = await store.getOrSet('ns', () => sleep(60).then(() => 'computed'), { ttl: TTL, timeout: { soft: 10 } });
        expect(value).to.equal('computed');
      });

      it('a background compute that fails after the callers took the stale value is an error event', async () => {
        await store.getOrSet('bg', () => 'old', { ttl: TTL, grace: GRACE });
        clock.advance(TTL + 1);
        const slow = deferred<string>();
        expect(await store.getOrSet('bg', () => slow.promise, { ttl: TTL, grace: GRACE, timeout: { soft: 20 } })).to.equal('old');
        const boom = new Error('late failure');
        slow.reject(boom);
        await eventually(() => errors.length === 1, 'the error event');
        expect(errors[0]).to.equal(boom);
        expect(await store.getOne('bg')).to.equal(undefined);
      });

      it('refreshAhead: a hit near the end of the TTL answers at once and recomputes once in the background', async () => {
        let computes = 0;
        const gate = deferred<void>();
        const compute = async () => {
          computes++;
          if (computes > 1) await gate.promise;
          return `v${computes}`;
        };
        const options = { ttl: TTL, refreshAhead: 0.25 };
        expect(await store.getOrSet('r', compute, options)).to.equal('v1');
        clock.advance(TTL * 0.7); // 30 % left: not yet
        expect(await store.getOrSet('r', compute, options)).to.equal('v1');
        await sleep(30);
        expect(computes).to.equal(1);
        clock.advance(TTL * 0.1); // 20 % left: refresh
        const hits = await Promise.all(Array.from({ length: 20 }, () => store.getOrSet('r', compute, options)));
        expect(hits).to.deep.equal(Array(20).fill('v1'));
        await eventually(() => computes === 2, 'the refresh started');
        for (let i = 0; i < 5; i++) expect(await store.getOrSet('r', compute, options)).to.equal('v1');
        gate.resolve();
        await eventually(async () => (await store.getOne('r')) === 'v2', 'the refreshed value stored');
        expect(await store.ttl('r')).to.be.within(TTL - 1000, TTL);
        expect(await store.getOrSet('r', compute, options)).to.equal('v2');
        await sleep(30);
        expect(computes).to.equal(2);
        expect(errors).to.deep.equal([]);
      });

      it('refreshAhead: a failing refresh is an error event and keeps the current value', async () => {
        const boom = new Error('refresh failed');
        await store.getOrSet('rf', () => 'v1', { ttl: TTL });
        clock.advance(TTL * 0.9);
        expect(await store.getOrSet('rf', () => Promise.reject(boom), { ttl: TTL, refreshAhead: 0.5 })).to.equal('v1');
        await eventually(() => errors.length === 1, 'the error event');
        expect(errors[0]).to.equal(boom);
        expect(await store.getOne('rf')).to.equal('v1');
      });

      it("lock: 'cluster' computes once", async () => {
        if (config.clusterLock === false) {
          const err = (await rejection(store.getOrSet('l', () => 1, { lock: 'cluster' }))) as StoreError;
          expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
          return;
        }
        let computes = 0;
        const compute = async () => {
          computes++;
          await sleep(20);
          return 'one';
        };
        const results = await Promise.all(Array.from({ length: 50 }, () => store.getOrSet('l', compute, { ttl: TTL, lock: 'cluster', lockTimeout: 2000 })));
        expect(results).to.deep.equal(Array(50).fill('one'));
        expect(computes).to.equal(1);
        expect(await store.getOrSet('l', compute, { lock: 'cluster' })).to.equal('one');
        expect(computes).to.equal(1);
      });
    });
  }

  describe("lock: 'cluster' on two multi stores sharing Redis and a bus", () => {
    it('one computes, the other waits for its value (woken by the bus or its polls)', async () => {
      const namespace = freshNamespace('gos');
      const open = () =>
        new MultiStore({ namespace, stores: [{ type: 'memory' }, { type: 'redis', settings: { url: redisUrl } }], invalidation: { redis: redisUrl } });
      const [a, b] = [open(), open()];
      try {
        await Promise.all([a.connect(), b.connect()]);
        let computes = 0;
        const compute = async () => {
          computes++;
          await sleep(150);
          return `value ${computes}`;
        };
        const options = { ttl: TTL, lock: 'cluster' as const, lockTimeout: 5000 };
        const first = a.getOrSet('k', compute, options);
        await eventually(() => computes === 1, 'a computing');
        const values = await Promise.all([first, ...Array.from({ length: 20 }, () => b.getOrSet('k', compute, options))]);
        expect(values).to.deep.equal(Array(21).fill('value 1'));
        expect(computes).to.equal(1);

        // Many keys waited for at once: one listener on the store, not one per waiter.
        const warnings: Error[] = [];
        const onWarning = (w: Error) => warnings.push(w);
        process.on('warning', onWarning);
        try {
          const keys = Array.from({ length: 15 }, (_, i) => `many${i}`);
          let started = 0;
          const slowly = (key: string) => async () => {
            started++;
            await sleep(150);
            return key;
          };
          const firsts = keys.map((key) => a.getOrSet(key, slowly(key), options));
          await eventually(() => started === keys.length, 'a computing every key');
          expect(await Promise.all(keys.map((key) => b.getOrSet(key, slowly(key), options)))).to.deep.equal(keys);
          expect(await Promise.all(firsts)).to.deep.equal(keys);
          expect(started).to.equal(keys.length);
          expect(b.listenerCount('invalidation')).to.equal(0);
          await sleep(10); // warnings are emitted on the next tick
          expect(warnings.map((w) => w.name)).to.not.include('MaxListenersExceededWarning');
        } finally {
          process.off('warning', onWarning);
        }
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });

  describe("lock: 'cluster' when the lock's Redis fails", () => {
    it('computes in this process and reports ERR_STORAGE_CONNECTION as an error event', async () => {
      const store = new RedisStore({ namespace: freshNamespace('gos'), url: redisUrl });
      const errors: StoreError[] = [];
      store.on('error', (err: StoreError) => errors.push(err));
      try {
        const down = () => Promise.reject(new Error('connection refused'));
        const broken: LockRedis = { set: down, get: down, eval: down };
        (store as unknown as { storage: { lockRedis?: () => Promise<LockRedis> } }).storage.lockRedis = () => Promise.resolve(broken);
        let computes = 0;
        const values = await Promise.all(Array.from({ length: 10 }, () => store.getOrSet('k', () => ++computes, { lock: 'cluster' })));
        expect(values).to.deep.equal(Array(10).fill(1));
        expect(computes).to.equal(1); // still one compute per process
        expect(await store.getOne('k')).to.equal(1);
        expect(errors.map((e) => e.code)).to.deep.equal(['ERR_STORAGE_CONNECTION']);
      } finally {
        await store.close();
      }
    });
  });

  describe("lock: 'cluster' where no Redis is reachable", () => {
    it('a shared store (SQLite file) refuses it before compute runs', async () => {
      const store = createStore({ type: 'sqlite', settings: { path: freshSqlitePath('gos-lock') } });
      try {
        let computes = 0;
        const err = (await rejection(store.getOrSet('k', () => ++computes, { lock: 'cluster' }))) as StoreError;
        expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
        expect(computes).to.equal(0);
        expect(await store.getOne('k')).to.equal(undefined);
      } finally {
        await store.close();
      }
    });
  });

  describe('grace copies on a multi store whose cache tier fails', () => {
    it("reports the hidden scope's tier failures on the store's own 'error' event, not as warnings", async () => {
      const control = faultControl();
      const cache = new MemoryStore();
      const store = new MultiStore({ stores: [{ store: new FaultyStore(cache, control), name: 'cache' }, { type: 'memory' }] });
      const errors: Array<{ code?: string }> = [];
      const warnings: unknown[] = [];
      const onWarning = (w: unknown) => warnings.push(w);
      process.on('warning', onWarning);
      store.on('error', (err: { code?: string }) => errors.push(err));
      try {
        control.mode = 'fail';
        expect(await store.getOrSet('k', () => 'v', { ttl: 60_000, grace: 60_000 })).to.equal('v');
        await store.idle();
        await new Promise((resolve) => setImmediate(resolve));
        expect(errors.length, 'the failing cache tier, for the entry and for its grace copy').to.be.at.least(1);
        expect(errors.every((e) => e.code === 'ERR_STORAGE_CONNECTION')).to.equal(true);
        expect(warnings).to.deep.equal([]);
      } finally {
        process.off('warning', onWarning);
        control.mode = 'ok';
        await store.close();
        await cache.close();
      }
    });
  });
});
