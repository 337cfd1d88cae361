/**
 * What only the memory store promises (SPEC §8 memory), beyond the shared conformance suite:
 * index-served equality and `$in` queries (proved by counting sift calls and full iterations,
 * never by timing), exact indexes after set/del/expire/evict, LRU bounds, the expiry sweep and
 * its unref'd timer, `clone`, creation order, scope isolation, a 200 MB value through
 * setStream/createValueStream, and prototype-pollution attempts.
 */
import { expect } from 'chai';
import Store = require('../index');
import type { Selector } from '../lib/query';
import { runChild, lastJson, ROOT } from './support/memory-child';
import { rejection } from '../lib/conformance/context';
import { NOT_SYNC } from '../lib/core/tier-access';
import { entryOf, readSyncOf } from './support/tier-access';

// The query module's exports object itself, so a test can wrap compileQuery (see spyOnQueries).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const queryModule: { compileQuery: (query: unknown) => Selector } = require('../lib/query');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

const open: Store.BaseStore[] = [];

/** A memory store closed after the test. */
function memory(settings: Store.MemorySettings = {}): Store.MemoryStore {
  const store = new Store.MemoryStore(settings);
  open.push(store);
  return store;
}

/**
 * Wraps compileQuery so every compiled query's sift tester counts its calls. The store base
 * calls compileQuery through the module's exports, so this sees every query the store runs.
 */
function spyOnQueries(): { compiled: number; tests: number; restore: () => void } {
  const original = queryModule.compileQuery;
  const spy = {
    compiled: 0,
    tests: 0,
    restore: () => {
      queryModule.compileQuery = original;
    },
  };
  queryModule.compileQuery = (query: unknown) => {
    const selector = original(query);
    spy.compiled++;
    if (selector.kind === 'query') {
      const test = selector.test;
      selector.test = (key) => {
        spy.tests++;
        return test(key);
      };
    }
    return selector;
  };
  return spy;
}

/**
 * Counts iterations over every collection inside the store's keyspace that holds an item per
 * entry (the entry map; the LRU order when bounded). A query served from the indexes iterates
 * none of them.
 */
function spyOnFullIterations(store: Store.MemoryStore): { iterations: number; restore: () => void } {
  const keyspace = (store as Loose).backend.keyspace as Record<string, unknown>;
  expect(keyspace, 'the memory store keeps its namespace in store.backend.keyspace').to.be.an('object');
  const size = store.internals.size;
  const collections = Object.values(keyspace).filter(
    (v): v is Map<unknown, unknown> | Set<unknown> => (v instanceof Map || v instanceof Set) && v.size >= size,
  );
  expect(collections.length, 'the keyspace holds its entries in a Map').to.be.greaterThan(0);
  const spy = { iterations: 0, restore: () => undefined as void };
  const methods: Array<string | symbol> = ['keys', 'values', 'entries', 'forEach', Symbol.iterator];
  for (const collection of collections) {
    for (const method of methods) {
      const original = (collection as Loose)[method] as (...args: unknown[]) => unknown;
      Object.defineProperty(collection, method, {
        configurable: true,
        writable: true,
        value: function (this: unknown, ...args: unknown[]) {
          spy.iterations++;
          return original.apply(this, args);
        },
      });
    }
  }
  spy.restore = () => {
    for (const collection of collections) for (const method of methods) delete (collection as Loose)[method];
  };
  return spy;
}

/**
 * Index buckets read straight from the keyspace. Unlike `store.internals` (whose `size` frees
 * expired entries as a side effect), this frees nothing, so it can prove what a sweep did.
 */
function bucketsNow(store: Store.BaseStore): number {
  const keyspace = (store as Loose).backend.keyspace as { indexBuckets: number } | undefined;
  expect(keyspace, 'the memory store keeps its namespace in store.backend.keyspace').to.be.an('object');
  return keyspace!.indexBuckets;
}

/** The object keys of the 100,000-entry data set. */
function personKey(i: number) {
  return { id: i, kind: i % 2 ? 'person' : 'robot', age: i % 100, geo: { city: 'c' + (i % 50) } };
}

/** Ids of `{ n }` values, to compare result order compactly. */
function ns(values: unknown[]): number[] {
  return values.map((v) => (v as { n: number }).n);
}

function range(from: number, to: number, step = 1): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i += step) out.push(i);
  return out;
}

/** Own property names of the built-in prototypes, to prove nothing was added. */
function prototypeSnapshot(): string[] {
  return [
    ...Object.getOwnPropertyNames(Object.prototype).map((n) => 'Object.' + n),
    ...Object.getOwnPropertyNames(Array.prototype).map((n) => 'Array.' + n),
    ...Object.getOwnPropertyNames(Function.prototype).map((n) => 'Function.' + n),
  ].sort();
}


describe('memory store', function () {
  afterEach(async function () {
    while (open.length > 0) await open.pop()!.close();
  });

  describe('equality and $in queries are served from the per-path indexes (100,000 entries)', function () {
    this.timeout(60000);
    const N = 100000;
    let store: Store.MemoryStore;

    before(async function () {
      store = new Store.MemoryStore();
      for (let i = 0; i < N; i++) await store.set(personKey(i), { n: i });
      expect(store.internals.size).to.equal(N);
    });

    after(async function () {
      await store.close();
    });

    /** Runs `fn` with both spies on and returns what they counted. */
    async function counted<T>(fn: () => Promise<T>): Promise<{ result: T; tests: number; iterations: number }> {
      const queries = spyOnQueries();
      const scans = spyOnFullIterations(store);
      try {
        const result = await fn();
        expect(queries.compiled, 'the spy saw the query compiled').to.be.greaterThan(0);
        return { result, tests: queries.tests, iterations: scans.iterations };
      } finally {
        scans.restore();
        queries.restore();
      }
    }

    it('control: a query no index serves ($mod) falls back to the matcher over every entry, and both spies see it', async function () {
      // Ranges are index-served since issue #12 (ordered indexes): $mod is not.
      const { result, tests, iterations } = await counted(() => store.get({ age: { $mod: [100, 99] } }));
      expect(result).to.have.length(1000);
      expect(tests).to.be.greaterThan(0);
      expect(iterations).to.be.greaterThan(0);
    });

    it('{ age: 20 }: never calls sift and never iterates every entry; results in creation order', async function () {
      const { result, tests, iterations } = await counted(() => store.get({ age: 20 }));
      expect(tests, 'sift calls').to.equal(0);
      expect(iterations, 'full iterations').to.equal(0);
      expect(ns(result as unknown[])).to.deep.equal(range(20, N, 100));
    });

    it('{ age: { $in: [22, 20, 21] } }: index-served over three buckets, in creation order', async function () {
      const { result, tests, iterations } = await counted(() => store.get({ age: { $in: [22, 20, 21] } }));
      expect(tests).to.equal(0);
      expect(iterations).to.equal(0);
      const expected = range(0, N).filter((i) => i % 100 >= 20 && i % 100 <= 22);
      expect(ns(result as unknown[])).to.deep.equal(expected);
    });

    it('{ age: { $eq: 20 } } and two equalities { kind, age }: index-served', async function () {
      const eq = await counted(() => store.get({ age: { $eq: 20 } }));
      expect(eq.tests).to.equal(0);
      expect(eq.iterations).to.equal(0);
      expect(eq.result).to.have.length(1000);
      const both = await counted(() => store.get({ kind: 'robot', age: 20 }));
      expect(both.tests).to.equal(0);
      expect(both.iterations).to.equal(0);
      expect(ns(both.result as unknown[])).to.deep.equal(range(20, N, 100));
      const none = await counted(() => store.get({ kind: 'person', age: 20 }));
      expect(none.tests).to.equal(0);
      expect(none.iterations).to.equal(0);
      expect(none.result).to.deep.equal([]);
    });

    it('nested paths: { geo: { city: "c7" } } and { "geo.city": "c7" } are index-served', async function () {
      for (const query of [{ geo: { city: 'c7' } }, { 'geo.city': 'c7' }]) {
        const { result, tests, iterations } = await counted(() => store.get(query));
        expect(tests).to.equal(0);
        expect(iterations).to.equal(0);
        expect(ns(result as unknown[])).to.deep.equal(range(7, N, 50));
      }
    });

    it('an operator beside an equality runs sift only over the equality bucket', async function () {
      const { result, tests, iterations } = await counted(() => store.get({ 'geo.city': 'c7', age: { $gte: 5, $lt: 10 } }));
      expect(iterations).to.equal(0);
      expect(tests).to.be.greaterThan(0).and.at.most(N / 50); // the c7 bucket holds 2,000 entries
      expect(ns(result as unknown[])).to.deep.equal(range(7, N, 100));
    });

    it('a miss on an indexed path costs nothing: { age: 1000 }, { nosuchfield: 1 }', async function () {
      for (const query of [{ age: 1000 }, { nosuchfield: 1 }, { age: '20' }]) {
        const { result, tests, iterations } = await counted(() => store.get(query));
        expect(tests).to.equal(0);
        expect(iterations).to.equal(0);
        expect(result).to.deep.equal([]);
      }
    });

    it('count, keys, limit and entries use the indexes too', async function () {
      const count = await counted(() => store.count({ age: 20 }));
      expect(count.result).to.equal(1000);
      expect(count.tests + count.iterations).to.equal(0);
      const keys = await counted(() => store.keys({ age: { $in: [20] } }));
      expect(keys.result).to.have.length(1000);
      expect(keys.result[0]).to.deep.equal(personKey(20));
      expect(keys.tests + keys.iterations).to.equal(0);
      const limited = await counted(() => store.get({ age: 20 }, { limit: 3 }));
      expect(ns(limited.result as unknown[])).to.deep.equal([20, 120, 220]);
      expect(limited.tests + limited.iterations).to.equal(0);
      const streamed = await counted(async () => {
        const out: number[] = [];
        for await (const entry of store.entries({ age: 20 })) out.push((entry.value as { n: number }).n);
        return out;
      });
      expect(streamed.result).to.deep.equal(range(20, N, 100));
      expect(streamed.tests + streamed.iterations).to.equal(0);
    });

    it('exact-key set, getOne, has, ttl and del never iterate the entries and never call sift', async function () {
      const { result, tests, iterations } = await counted(async () => {
        await store.set(personKey(5), { n: -5 });
        await store.set(personKey(N + 1), { n: N + 1 }, { ttl: 60000 });
        const one = await store.getOne({ geo: { city: 'c5' }, age: 5, kind: 'person', id: 5 });
        const has = await store.has(personKey(N + 1));
        const ttl = await store.ttl(personKey(N + 1));
        const removed = await store.del(personKey(N + 1));
        return { one, has, ttl, removed };
      });
      expect(result.one).to.deep.equal({ n: -5 });
      expect(result.has).to.equal(true);
      expect(result.ttl).to.be.a('number');
      expect(result.removed).to.equal(1);
      expect(tests).to.equal(0);
      expect(iterations).to.equal(0);
      await store.set(personKey(5), { n: 5 });
    });

    it('del({ age: 20 }) deletes through the index; the bucket is gone afterwards', async function () {
      const before = store.internals.indexBuckets;
      const { result, tests, iterations } = await counted(() => store.del({ age: 20 }));
      expect(result).to.equal(1000);
      expect(tests).to.equal(0);
      expect(iterations).to.equal(0);
      expect(await store.get({ age: 20 })).to.deep.equal([]);
      expect(store.internals.size).to.equal(N - 1000);
      // 1,000 id buckets and the age-20 bucket went; kind and city buckets still have entries.
      expect(store.internals.indexBuckets).to.equal(before - 1001);
    });
  });

  describe('index answers equal sift answers (differential, seeded)', function () {
    this.timeout(60000);

    /** A small deterministic PRNG (mulberry32), so failures reproduce. */
    function prng(seed: number): () => number {
      return () => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }

    const scalars: unknown[] = [0, 1, 2, -1, 1.5, '0', '1', '2', '', 'x', true, false, null];
    const fieldValues: Array<() => unknown> = [
      ...scalars.map((v) => () => v),
      () => [1, 2],
      () => ['1', 2, true],
      () => [],
      () => [{ x: 1 }, { x: '2', y: true }],
      () => ({ x: 1, y: '2' }),
      () => ({ x: [1, 'x'], z: { w: 0 } }),
      () => ({ x: { y: 1 } }),
    ];

    it('equality, $eq, $in and $and over random keys match a sift-only full scan, in the same order', async function () {
      const random = prng(20261125);
      const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
      const store = memory();
      for (let i = 0; i < 3000; i++) {
        const key: Record<string, unknown> = { id: i };
        for (const field of ['a', 'b', 'c']) if (random() < 0.7) key[field] = pick(fieldValues)();
        await store.set(key as Loose, i);
      }
      // Overwrites and deletes, so the indexes have been updated, not just built.
      for (let i = 0; i < 300; i++) {
        const id = Math.floor(random() * 3000);
        await store.del({ id });
        if (random() < 0.5) await store.set({ id, a: pick(fieldValues)() } as Loose, id + 10000);
      }
      const paths = ['a', 'b', 'c', 'a.x', 'b.x', 'a.y', 'c.z.w', 'a.x.y', 'id'];
      const indexable = [0, 1, 2, -1, 1.5, '0', '1', '2', '', 'x', true, false];
      const condition = (): unknown => {
        const r = random();
        if (r < 0.5) return pick(indexable);
        if (r < 0.65) return { $eq: pick(indexable) };
        const values: unknown[] = [];
        const n = Math.floor(random() * 4);
        for (let i = 0; i < n; i++) values.push(pick(indexable));
        return { $in: values };
      };
      let compared = 0;
      let nonEmpty = 0;
      for (let q = 0; q < 400; q++) {
        const query: Record<string, unknown> = {};
        const fields = 1 + Math.floor(random() * 2);
        for (let f = 0; f < fields; f++) query[pick(paths)] = condition();
        const indexed = random() < 0.2 ? { $and: Object.entries(query).map(([p, c]) => ({ [p]: c })) } : query;
        const viaIndex = await store.get(indexed as Loose);
        // A top-level $or has no index constraint, so it is answered by sift over every entry.
        const viaSift = await store.get({ $or: [query] } as Loose);
        expect(viaIndex, JSON.stringify(indexed)).to.deep.equal(viaSift);
        expect(await store.count(indexed as Loose), JSON.stringify(indexed)).to.equal(viaSift!.length);
        compared++;
        if (viaSift!.length > 0) nonEmpty++;
      }
      expect(compared).to.equal(400);
      expect(nonEmpty, 'the queries are not all misses').to.be.greaterThan(50);
    });

    it('a key with an array inside an array is either rejected or matched the same whichever index serves the query', async function () {
      // SPEC §3 allows arrays of scalars in keys; an array of arrays is either an InvalidKeyError,
      // or it is stored and then every query form must agree on whether { b: 1 } matches it.
      const store = memory();
      for (let i = 0; i < 20; i++) await store.set({ id: i, a: 'many' }, i);
      await store.set({ id: 100, a: 'few' }, 100);
      let rejected: (Error & { code?: string }) | undefined;
      try {
        await store.set({ id: 101, a: 'few', b: [[1], 2] }, 101);
      } catch (err) {
        rejected = err as Error & { code?: string };
      }
      if (rejected) {
        expect(rejected.code).to.equal('ERR_INVALID_KEY');
        expect(await store.count({ id: 101 })).to.equal(0);
        return;
      }
      const answers = {
        'b equality (the b index)': await store.get({ b: 1 }),
        'b $in (the b index)': await store.get({ b: { $in: [1] } }),
        'a equality then sift on b': await store.get({ a: 'few', b: { $gte: 1, $lte: 1 } }),
        'sift only': await store.get({ $or: [{ b: 1 }] }),
      };
      const distinct = new Set(Object.values(answers).map((v) => JSON.stringify(v)));
      expect(distinct.size, JSON.stringify(answers)).to.equal(1);
    });
  });

  describe('indexes stay exact after set, del, expire and evict', function () {
    const key = (i: number) => ({ id: i, kind: 'k', tags: ['t' + (i % 3)], meta: { group: i % 5 } });

    it('overwriting a key (in another field order) adds no bucket and no duplicate result', async function () {
      const store = memory();
      for (let i = 0; i < 100; i++) await store.set(key(i), i);
      const buckets = store.internals.indexBuckets;
      expect(buckets).to.be.greaterThan(0);
      for (let i = 0; i < 100; i++) await store.set({ meta: { group: i % 5 }, tags: ['t' + (i % 3)], kind: 'k', id: i }, i + 1000);
      expect(store.internals.indexBuckets).to.equal(buckets);
      expect(await store.count({ kind: 'k' })).to.equal(100);
      expect(await store.get({ id: 7 })).to.deep.equal([1007]);
      expect(await store.get({ tags: 't1', 'meta.group': 2 })).to.deep.equal([1007, 1022, 1037, 1052, 1067, 1082, 1097]);
    });

    it('deleting everything (one by one and by query) leaves 0 index buckets', async function () {
      const store = memory();
      for (let i = 0; i < 100; i++) await store.set(key(i), i);
      for (let i = 0; i < 50; i++) expect(await store.del({ id: i, kind: 'k', tags: ['t' + (i % 3)], meta: { group: i % 5 } })).to.equal(1);
      expect(await store.del({ 'meta.group': { $in: [0, 1] } })).to.equal(20);
      expect(await store.get({ 'meta.group': 0 })).to.deep.equal([]);
      expect(await store.del({ kind: 'k' })).to.equal(30);
      expect(store.internals.indexBuckets).to.equal(0);
      expect(store.internals.size).to.equal(0);
      await store.set(key(1), 'again');
      expect(await store.get({ kind: 'k' })).to.deep.equal(['again']);
    });

    it('expired entries leave no buckets once swept, and are never returned before', async function () {
      const clock = new Store.ManualClock();
      const store = memory({ clock, sweepInterval: 0 });
      for (let i = 0; i < 100; i++) await store.set(key(i), i, { ttl: 1000 });
      await store.set({ id: 1000, kind: 'live' }, 'live');
      const liveBuckets = 2;
      clock.advance(1001);
      expect(await store.get({ kind: 'k' }), 'expired entries are not returned before the sweep').to.deep.equal([]);
      store.sweep();
      expect(bucketsNow(store)).to.equal(liveBuckets);
      expect((await store.stats()).expirations).to.equal(100);
      expect(await store.get({ id: 1000 })).to.deep.equal(['live']);
    });

    it('an expired entry found by an exact read is freed from the indexes too', async function () {
      const clock = new Store.ManualClock();
      const store = memory({ clock, sweepInterval: 0 });
      await store.set({ id: 1, kind: 'k' }, 1, { ttl: 10 });
      await store.set({ id: 2, kind: 'k' }, 2);
      clock.advance(11);
      expect(await store.getOne({ kind: 'k', id: 1 })).to.equal(undefined);
      expect(await store.del({ id: 2 })).to.equal(1);
      expect(bucketsNow(store)).to.equal(0);
    });

    it('evicted entries leave no buckets and are never returned', async function () {
      const store = memory({ maxKeys: 10 });
      for (let i = 0; i < 100; i++) await store.set({ id: i, kind: 'k' }, i);
      expect(store.internals.size).to.equal(10);
      expect(store.internals.indexBuckets).to.equal(10 + 1); // ten ids and one kind
      expect(await store.get({ kind: 'k' })).to.deep.equal(range(90, 100));
      expect(await store.get({ id: { $in: [1, 2, 3, 95] } })).to.deep.equal([95]);
      await store.clear();
      expect(store.internals.indexBuckets).to.equal(0);
    });

    it('a TTL overwritten by a longer one, and an entry overwritten without TTL, are not expired early', async function () {
      const clock = new Store.ManualClock();
      const store = memory({ clock, sweepInterval: 0 });
      await store.set({ id: 1 }, 'a', { ttl: 10 });
      await store.set({ id: 1 }, 'b', { ttl: 1000 });
      await store.set({ id: 2 }, 'c', { ttl: 10 });
      await store.set({ id: 2 }, 'd');
      clock.advance(500);
      store.sweep();
      expect(await store.get({ id: { $in: [1, 2] } })).to.deep.equal(['b', 'd']);
      expect(bucketsNow(store)).to.equal(2);
      clock.advance(501);
      store.sweep();
      expect(await store.get({ id: { $in: [1, 2] } })).to.deep.equal(['d']);
      expect(bucketsNow(store)).to.equal(1);
    });

    it('an entry without an expiry holds no expiry field; one given a TTL later, by set or touch, expires as set and can lose it again', async function () {
      const clock = new Store.ManualClock();
      for (const indexes of [undefined, ['age']]) {
        const store = memory({ clock, sweepInterval: 0, ...(indexes ? { indexes } : {}) });
        const held = () => [...(store as unknown as { backend: { keyspace: { slots: Map<string, object> } } }).backend.keyspace.slots.values()];
        for (let i = 0; i < 5; i++) await store.set({ id: i, age: i }, i);
        // slot.ts: 8 bytes an entry that most entries never use.
        expect(held().filter((slot) => Object.hasOwn(slot, 'expiry') || Object.hasOwn(slot, 'expiresAt')), String(indexes)).to.have.length(0);
        await store.set({ id: 5, age: 5 }, 5, { ttl: 100 });
        expect(await store.touch({ id: 1, age: 1 }, 50)).to.equal(true);
        await store.set({ id: 2, age: 2 }, 'two', { ttl: 50 }); // an overwrite gives the TTL
        expect(await store.touch({ id: 3, age: 3 }, 50)).to.equal(true);
        expect(await store.touch({ id: 3, age: 3 }, 0)).to.equal(true); // and takes it away
        expect(await store.ttl({ id: 3, age: 3 })).to.equal(null);
        expect(await store.ttl({ id: 1, age: 1 })).to.equal(50);
        clock.advance(51);
        expect(await store.get({ age: { $gte: 0 } }), String(indexes)).to.deep.equal([0, 3, 4, 5]);
        store.sweep();
        expect(store.internals.size).to.equal(4);
        expect((await store.getMeta({ id: 5, age: 5 }))?.expiresAt).to.equal(clock.now() - 51 + 100);
        clock.advance(50);
        expect(await store.get({ age: { $gte: 0 } })).to.deep.equal([0, 3, 4]);
        await store.close();
      }
    });
  });

  describe('maxKeys and maxBytes: LRU eviction', function () {
    it('maxKeys evicts the least recently used entry and counts it', async function () {
      const store = memory({ maxKeys: 3 });
      expect(store.supports.evicts).to.equal(true);
      await store.set('a', 1);
      await store.set('b', 2);
      await store.set('c', 3);
      await store.set('d', 4);
      expect(await store.keys()).to.deep.equal(['b', 'c', 'd']);
      expect((await store.stats()).evictions).to.equal(1);
      expect((await store.stats()).items).to.equal(3);
    });

    it('getOne refreshes recency', async function () {
      const store = memory({ maxKeys: 3 });
      await store.set('a', 1);
      await store.set('b', 2);
      await store.set('c', 3);
      expect(await store.getOne('a')).to.equal(1);
      await store.set('d', 4);
      expect(await store.has('a')).to.equal(true);
      expect(await store.has('b')).to.equal(false);
      // Recency is not creation order: keys still come in creation order.
      expect(await store.keys()).to.deep.equal(['a', 'c', 'd']);
      expect((await store.stats()).evictions).to.equal(1);
    });

    it('get of a string key refreshes recency', async function () {
      const store = memory({ maxKeys: 2 });
      await store.set('a', 1);
      await store.set('b', 2);
      expect(await store.get('a')).to.deep.equal([1]);
      await store.set('c', 3);
      expect(await store.keys()).to.deep.equal(['a', 'c']);
    });

    it('a query read refreshes the recency of the entries it returns', async function () {
      const store = memory({ maxKeys: 2 });
      await store.set({ id: 1 }, 'one');
      await store.set({ id: 2 }, 'two');
      expect(await store.get({ id: 1 })).to.deep.equal(['one']);
      await store.set({ id: 3 }, 'three');
      expect(await store.keys()).to.deep.equal([{ id: 1 }, { id: 3 }]);
    });

    it('an overwrite refreshes recency and is not an eviction', async function () {
      const store = memory({ maxKeys: 2 });
      await store.set('a', 1);
      await store.set('b', 2);
      await store.set('a', 10);
      expect((await store.stats()).evictions).to.equal(0);
      await store.set('c', 3);
      expect(await store.keys()).to.deep.equal(['a', 'c']);
      expect(await store.getOne('a')).to.equal(10);
      expect((await store.stats()).evictions).to.equal(1);
    });

    it('maxBytes keeps the tracked size under the bound by evicting the oldest', async function () {
      const maxBytes = 10000;
      const store = memory({ maxBytes });
      const big = 'x'.repeat(1000); // about 2 KB each
      for (let i = 0; i < 10; i++) {
        await store.set('k' + i, big + i);
        expect(store.internals.bytes).to.be.at.most(maxBytes);
      }
      const live = (await store.keys()) as string[];
      expect(live.length).to.be.within(2, 9);
      expect(live).to.deep.equal(range(10 - live.length, 10).map((i) => 'k' + i));
      expect((await store.stats()).evictions).to.equal(10 - live.length);
      expect(await store.getOne('k9')).to.equal(big + 9);
    });

    it('maxBytes: a read protects an old entry; a growing overwrite evicts others, not itself', async function () {
      const small = 'y'.repeat(1000);
      const large = 'z'.repeat(3000);
      // Measure the store's own size estimate for each entry, then bound the store so that
      // a + b + large c overflows but a + large c fits.
      const probe = memory({ maxBytes: 1e9 });
      await probe.set('a', small);
      const smallBytes = probe.internals.bytes;
      await probe.set('c', large);
      const largeBytes = probe.internals.bytes - smallBytes;
      expect(largeBytes).to.be.greaterThan(smallBytes);
      const maxBytes = 2 * smallBytes + largeBytes - 1;
      const store = memory({ maxBytes });
      await store.set('a', small);
      await store.set('b', small);
      await store.set('c', small);
      expect((await store.stats()).evictions).to.equal(0);
      expect(await store.getOne('a')).to.equal(small);
      await store.set('c', large);
      expect(await store.keys(), 'b, least recently used, goes; the recently read a stays').to.deep.equal(['a', 'c']);
      expect(await store.getOne('c')).to.equal(large);
      expect(store.internals.bytes).to.equal(smallBytes + largeBytes);
      expect((await store.stats()).evictions).to.equal(1);
    });

    it('a single value larger than maxBytes never leaves the store over its bound', async function () {
      const maxBytes = 10000;
      const store = memory({ maxBytes });
      await store.set('small', 'x');
      let rejected: (Error & { code?: string }) | undefined;
      try {
        await store.set('huge', 'h'.repeat(maxBytes)); // about 20 KB by any estimate
      } catch (err) {
        rejected = err as Error & { code?: string };
      }
      if (rejected) expect(rejected).to.be.instanceOf(Store.StoreError);
      expect(store.internals.bytes).to.be.at.most(maxBytes);
      // Whatever the choice (not kept, or rejected), the store keeps working within its bound.
      await store.set('after', 'y');
      expect(await store.getOne('after')).to.equal('y');
      expect(store.internals.bytes).to.be.at.most(maxBytes);
    });

    it('a value too large for maxBytes on its own evicts nothing else (one big write does not flush the cache)', async function () {
      const maxBytes = 10000;
      const store = memory({ maxBytes });
      for (let i = 0; i < 5; i++) await store.set('small' + i, 'x');
      try {
        await store.set('huge', 'h'.repeat(maxBytes));
      } catch (err) {
        expect(err).to.be.instanceOf(Store.StoreError);
      }
      expect(await store.has('huge')).to.equal(false);
      expect(await store.keys()).to.deep.equal(['small0', 'small1', 'small2', 'small3', 'small4']);
      expect(store.internals.bytes).to.be.at.most(maxBytes);
      // Overwriting a key with a value too large to keep never leaves the old value readable.
      try {
        await store.set('small2', 'h'.repeat(maxBytes));
      } catch (err) {
        expect(err).to.be.instanceOf(Store.StoreError);
      }
      expect(await store.getOne('small2')).to.equal(undefined);
      expect(await store.keys()).to.deep.equal(['small0', 'small1', 'small3', 'small4']);
    });

    it('expired entries are freed before any live entry is evicted', async function () {
      const clock = new Store.ManualClock();
      const store = memory({ clock, maxKeys: 3, sweepInterval: 0 });
      await store.set('a', 1, { ttl: 10 });
      await store.set('b', 2, { ttl: 10 });
      await store.set('c', 3);
      clock.advance(11);
      await store.set('d', 4);
      await store.set('e', 5);
      expect(await store.keys()).to.deep.equal(['c', 'd', 'e']);
      const stats = await store.stats();
      expect(stats.evictions).to.equal(0);
      expect(stats.expirations).to.equal(2);
    });

    it('the byte count returns to 0 after deletes, expiries and clear', async function () {
      const clock = new Store.ManualClock();
      const store = memory({ clock, maxBytes: 1000000, sweepInterval: 0 });
      for (let i = 0; i < 50; i++) await store.set({ id: i }, 'v'.repeat(i * 10));
      for (let i = 0; i < 50; i++) await store.set('t' + i, { list: [i, 'x'.repeat(i)] }, { ttl: 10 });
      for (let i = 0; i < 50; i++) await store.set('c' + i, [i]);
      expect(store.internals.bytes).to.be.greaterThan(0);
      await store.set({ id: 3 }, 'longer'.repeat(100));
      await store.set({ id: 4 }, '');
      expect(await store.del({ id: { $gte: 0 } })).to.equal(50);
      clock.advance(11);
      store.sweep();
      const beforeClear = store.internals.bytes;
      expect(beforeClear).to.be.greaterThan(0);
      for (let i = 0; i < 25; i++) await store.del('c' + i);
      expect(store.internals.bytes).to.be.below(beforeClear);
      await store.clear();
      expect(store.internals.bytes).to.equal(0);
      for (let i = 25; i < 50; i++) await store.set('c' + i, [i]);
      for (let i = 25; i < 50; i++) await store.del('c' + i);
      expect(store.internals.bytes).to.equal(0);
    });

    it('unbounded stores never evict', async function () {
      const store = memory();
      expect(store.supports.evicts).to.equal(false);
      for (let i = 0; i < 10000; i++) await store.set('k' + i, i);
      expect((await store.stats()).evictions).to.equal(0);
      expect((await store.stats()).items).to.equal(10000);
    });
  });

  describe('expiry sweep', function () {
    /** A value that counts every read of it, once armed. */
    function watchedValue(counter: { reads: number; armed: boolean }, n: number): object {
      const touch = () => {
        if (counter.armed) counter.reads++;
      };
      return new Proxy(
        { n },
        {
          get: (t, p, r) => (touch(), Reflect.get(t, p, r)),
          has: (t, p) => (touch(), Reflect.has(t, p)),
          ownKeys: (t) => (touch(), Reflect.ownKeys(t)),
          getOwnPropertyDescriptor: (t, p) => (touch(), Reflect.getOwnPropertyDescriptor(t, p)),
        },
      );
    }

    it('store.sweep() frees expired entries without reading them, and leaves live ones untouched', async function () {
      const clock = new Store.ManualClock();
      const store = memory({ clock, sweepInterval: 0 });
      const counter = { reads: 0, armed: false };
      for (let i = 0; i < 500; i++) {
        await store.set({ id: i, batch: 'short' }, watchedValue(counter, i), { ttl: 1000 });
        await store.set({ id: i, batch: 'long' }, watchedValue(counter, i), { ttl: 100000 });
        await store.set('s' + i, watchedValue(counter, i), { ttl: 1000 });
        await store.set('p' + i, watchedValue(counter, i));
      }
      counter.armed = true;
      clock.advance(1001);
      store.sweep();
      expect(counter.reads, 'values read by the sweep').to.equal(0);
      counter.armed = false;
      expect(bucketsNow(store)).to.equal(500 + 1); // the long batch's ids and its batch bucket
      expect(store.internals.size).to.equal(1000);
      const stats = await store.stats();
      expect(stats.expirations).to.equal(1000);
      expect(stats.items).to.equal(1000);
      expect(await store.count({ batch: 'long' })).to.equal(500);
    });

    it('overwriting TTL entries again and again does not grow the expiry heap without bound', async function () {
      const clock = new Store.ManualClock();
      const store = memory({ clock, sweepInterval: 0 });
      for (let i = 0; i < 50000; i++) await store.set({ id: i % 10 }, i, { ttl: 60000 + i });
      const heap = (store as Loose).backend.keyspace.heap as { size: number };
      expect(heap, 'the keyspace keeps expiries in backend.keyspace.heap').to.be.an('object');
      expect(heap.size, 'heap items for 10 live TTL entries').to.be.at.most(10 * 2 + 1024 + 1);
      expect(store.internals.size).to.equal(10);
    });

    it('the sweep timer frees expired entries by itself (sweepInterval)', async function () {
      const clock = new Store.ManualClock();
      const store = memory({ clock, sweepInterval: 20 });
      await store.connect();
      for (let i = 0; i < 100; i++) await store.set({ id: i }, i, { ttl: 10 });
      expect(bucketsNow(store)).to.equal(100);
      clock.advance(11);
      // The timer is the thing under test, so this waits for it (indexBuckets itself never sweeps).
      const deadline = Date.now() + 3000;
      while (bucketsNow(store) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(bucketsNow(store)).to.equal(0);
    });

    it('closing a store or scope that never connected does not stop the sweep timer of the others', async function () {
      const clock = new Store.ManualClock();
      const root = memory({ clock, sweepInterval: 20 });
      const a = root.scope('a') as Store.MemoryStore;
      const b = root.scope('b');
      open.push(a);
      for (let i = 0; i < 10; i++) await a.set({ id: i }, i, { ttl: 10 });
      await b.close(); // b was never used
      await b.close(); // closing twice changes nothing either
      clock.advance(11);
      const deadline = Date.now() + 3000;
      while (bucketsNow(a) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(bucketsNow(a), 'the timer still sweeps scope a').to.equal(0);
    });

    it('no timer keeps the process alive: an unclosed store with TTL entries lets the process exit', async function () {
      this.timeout(30000);
      const script = `
        const Store = require(${JSON.stringify(ROOT + '/index')});
        (async () => {
          const a = Store({ type: 'memory' });
          await a.connect();
          await a.set('k', 1, { ttl: 3600000 });
          const b = Store.createStore({ type: 'memory', settings: { sweepInterval: 5 } });
          await b.set({ id: 1 }, 1, { ttl: 3600000 });
          const scoped = b.scope('s');
          await scoped.set('x', 1, { ttl: 50 });
          const c = new Store.MemoryStore({ maxKeys: 10, defaultTtl: 60000 });
          await c.set('y', 2);
          console.log(JSON.stringify({ ready: true, started: Date.now() }));
        })();
      `;
      const startedAt = Date.now();
      const result = await runChild(script, { timeoutMs: 20000 });
      expect(result.timedOut, 'the child was still running after 20 s').to.equal(false);
      expect(result.code).to.equal(0);
      const report = lastJson<{ ready: boolean; started: number }>(result);
      expect(report.ready).to.equal(true);
      expect(Date.now() - startedAt).to.be.below(20000);
    });
  });

  describe('the synchronous read by id (for layered stores)', function () {
    it('answers at once once open, counts hits and misses, copies with clone, and throws on a bad key', async function () {
      const store = memory({ clone: true });
      expect(readSyncOf(store, 'k')).to.equal(NOT_SYNC); // not connected yet
      await store.set('k', { a: 1 });
      const first = readSyncOf(store, 'k') as { a: number };
      expect(first).to.deep.equal({ a: 1 });
      first.a = 2;
      expect(readSyncOf(store, 'k')).to.deep.equal({ a: 1 });
      expect(readSyncOf(store, { id: 9 })).to.equal(undefined);
      expect(() => readSyncOf(store, { $bad: 1 } as never)).to.throw(Store.InvalidKeyError);
      const stats = await store.stats();
      expect([stats.hits, stats.misses]).to.deep.equal([2, 1]);
    });
  });

  describe('clone', function () {
    it('default: values are kept by reference, like a Map', async function () {
      const store = memory();
      const value = { a: 1, list: [1, 2] };
      await store.set('k', value);
      const got = await store.getOne<typeof value>('k');
      expect(got).to.equal(value);
      value.a = 2;
      expect(((await store.getOne('k')) as typeof value).a).to.equal(2);
      expect((await store.get('k'))![0]).to.equal(value);
    });

    it('clone: true copies on write: mutating the original does not change the stored value', async function () {
      const store = memory({ clone: true });
      const value = { a: 1, nested: { list: [1, 2] }, when: new Date(5), bytes: Buffer.from('ab') };
      await store.set('k', value);
      await store.set({ id: 1 }, value);
      value.a = 2;
      value.nested.list.push(3);
      value.when.setTime(6);
      value.bytes[0] = 0x7a;
      const expected = { a: 1, nested: { list: [1, 2] }, when: new Date(5), bytes: Buffer.from('ab') };
      expect(await store.getOne('k')).to.deep.equal(expected);
      expect(await store.get({ id: 1 })).to.deep.equal([expected]);
    });

    it('clone: true copies on read: mutating a returned value does not change the stored one', async function () {
      const store = memory({ clone: true });
      await store.set('k', { a: 1, list: [1] });
      await store.set({ id: 1 }, { a: 1, list: [1] });
      const first = (await store.getOne('k')) as { a: number; list: number[] };
      first.a = 99;
      first.list.push(2);
      const viaGet = (await store.get({ id: 1 }))![0] as { a: number; list: number[] };
      viaGet.a = 99;
      for await (const entry of store.entries({ id: 1 })) (entry.value as { a: number }).a = 98;
      const entry = await entryOf<{ a: number }>(store, 'k');
      entry!.value.a = 97;
      expect(await store.getOne('k')).to.deep.equal({ a: 1, list: [1] });
      expect(await store.get({ id: 1 })).to.deep.equal([{ a: 1, list: [1] }]);
      expect(await store.getOne('k')).not.to.equal(await store.getOne('k'));
    });

    it('clone: true keeps Date, Buffer and Uint8Array types', async function () {
      const store = memory({ clone: true });
      const value = { when: new Date(123), buf: Buffer.from([1, 2]), u8: new Uint8Array([3, 4]) };
      await store.set('k', value);
      const got = (await store.getOne('k')) as typeof value;
      expect(got.when).to.be.instanceOf(Date).and.not.equal(value.when);
      expect(got.when.getTime()).to.equal(123);
      expect(Buffer.isBuffer(got.buf)).to.equal(true);
      expect([...got.buf]).to.deep.equal([1, 2]);
      expect(got.u8).to.be.instanceOf(Uint8Array);
      expect([...got.u8]).to.deep.equal([3, 4]);
    });

    it('a key object mutated after set does not change the stored key (with or without clone)', async function () {
      for (const clone of [false, true]) {
        const store = memory({ clone });
        const key = { id: 1, tags: ['a'], name: { last: 'Apple' } };
        await store.set(key, 'v');
        key.id = 2;
        key.tags.push('b');
        key.name.last = 'Banana';
        expect(await store.get({ id: 1 }), `clone: ${clone}`).to.deep.equal(['v']);
        expect(await store.get({ 'name.last': 'Apple' })).to.deep.equal(['v']);
        expect(await store.get({ id: 2 })).to.deep.equal([]);
        expect(await store.get({ tags: 'b' })).to.deep.equal([]);
        expect(await store.keys()).to.deep.equal([{ id: 1, name: { last: 'Apple' }, tags: ['a'] }]);
        const [{ key: returned }] = (await store.get({ id: 1 }, { includeKey: true })) as unknown as Array<{ key: { id: number } }>;
        returned.id = 3;
        expect(await store.get({ id: 1 })).to.deep.equal(['v']);
      }
    });
    it('keys handed out by keys(), includeKey, entries() and createReadStream() are copies: mutating them changes nothing', async function () {
      for (const clone of [false, true]) {
        const store = memory({ clone });
        await store.set({ id: 1, tags: ['a'], name: { last: 'Apple' } }, 'v');
        const original = { id: 1, name: { last: 'Apple' }, tags: ['a'] };
        const mutate = (key: unknown) => {
          const k = key as { id: number; tags: string[]; name: { last: string }; extra?: number };
          k.id = 99;
          k.tags.push('zz');
          k.name.last = 'Banana';
          k.extra = 1;
        };
        mutate((await store.keys())[0]);
        mutate(((await store.get({ id: 1 }, { includeKey: true })) as Array<{ key: unknown }>)[0].key);
        for await (const entry of store.entries({ id: 1 })) mutate(entry.key);
        for await (const entry of store.createReadStream()) mutate((entry as { key: unknown }).key);
        expect(await store.keys(), `clone: ${clone}`).to.deep.equal([original]);
        expect(await store.get({ id: 1 }, { includeKey: true })).to.deep.equal([{ key: original, val: 'v' }]);
        const target = memory();
        expect(await store.copy(target)).to.equal(1);
        expect(await target.keys(), 'copy() writes the stored key').to.deep.equal([original]);
        expect(await target.get({ id: 1, tags: 'a' })).to.deep.equal(['v']);
      }
    });
  });

  describe('results in creation order', function () {
    it('an overwrite keeps the position; delete and set again moves it to the end', async function () {
      const store = memory();
      await store.set({ id: 'a' }, 1);
      await store.set('b', 2);
      await store.set({ id: 'c' }, 3);
      await store.set({ id: 'a' }, 10);
      expect(await store.keys()).to.deep.equal([{ id: 'a' }, 'b', { id: 'c' }]);
      await store.del({ id: 'a' });
      await store.set({ id: 'a' }, 11);
      expect(await store.keys()).to.deep.equal(['b', { id: 'c' }, { id: 'a' }]);
      await store.del('b');
      await store.set('b', 12);
      expect(await store.keys()).to.deep.equal([{ id: 'c' }, { id: 'a' }, 'b']);
      expect(await store.get({ id: { $in: ['a', 'c'] } })).to.deep.equal([3, 11]);
    });

    it('adding or removing a TTL on overwrite keeps the position', async function () {
      const store = memory();
      await store.set('a', 1);
      await store.set({ id: 'b' }, 2);
      await store.set('c', 3, { ttl: 60000 });
      await store.set('a', 4, { ttl: 60000 });
      await store.set({ id: 'b' }, 5, { ttl: 60000 });
      await store.set('c', 6);
      expect(await store.keys()).to.deep.equal(['a', { id: 'b' }, 'c']);
    });

    it('$in over several index buckets returns creation order, whatever the order of the $in list', async function () {
      const store = memory();
      const kinds = ['x', 'y', 'x', 'z', 'y', 'w', 'x', 'z'];
      for (let i = 0; i < kinds.length; i++) await store.set({ id: i, k: kinds[i] }, i);
      expect(await store.get({ k: { $in: ['y', 'x'] } })).to.deep.equal([0, 1, 2, 4, 6]);
      expect(await store.get({ k: { $in: ['z', 'y', 'x'] } })).to.deep.equal([0, 1, 2, 3, 4, 6, 7]);
      expect(await store.get({ $or: [{ k: 'z' }, { id: 0 }] })).to.deep.equal([0, 3, 7]);
      await store.del({ id: 1 });
      await store.set({ id: 1, k: 'y' }, 1);
      expect(await store.get({ k: { $in: ['y', 'x'] } })).to.deep.equal([0, 2, 4, 6, 1]);
    });

    it('deleting or overwriting each entry while iterating entries() visits every match exactly once', async function () {
      const queries: Array<[string, Record<string, unknown>]> = [
        ['index-served', { g: 'x' }],
        ['merged $in', { g: { $in: ['x', 'y'] } }],
        ['scanned', { n: { $gte: 0 } }],
      ];
      for (const [label, query] of queries) {
        const store = memory();
        for (let n = 0; n < 30; n++) await store.set({ n, g: n % 3 === 2 ? 'z' : n % 2 ? 'x' : 'y' }, n);
        const expected = ((await store.get(query)) as number[]).slice();
        const visited: number[] = [];
        for await (const entry of store.entries(query)) {
          visited.push(entry.value as number);
          await store.set(entry.key, (entry.value as number) + 1000); // overwrite keeps the position
        }
        expect(visited, `${label}: overwrite`).to.deep.equal(expected);
        const deleted: number[] = [];
        for await (const entry of store.entries(query)) {
          deleted.push((entry.value as number) - 1000);
          expect(await store.del(entry.key)).to.equal(1);
        }
        expect(deleted, `${label}: delete`).to.deep.equal(expected);
        expect(await store.count(query)).to.equal(0);
      }
    });

    it('LRU recency does not change creation order', async function () {
      const store = memory({ maxKeys: 10 });
      for (let i = 0; i < 5; i++) await store.set({ id: i, g: 1 }, i);
      await store.getOne({ id: 0, g: 1 });
      await store.getOne({ id: 3, g: 1 });
      expect(await store.get({ g: 1 })).to.deep.equal([0, 1, 2, 3, 4]);
    });
  });

  describe('scopes are isolated', function () {
    it('the same key holds different values in the root and in each scope', async function () {
      const root = memory();
      const a = root.scope('a');
      const b = root.scope('b');
      const ax = a.scope('x');
      open.push(a, b, ax);
      for (const [store, name] of [[root, 'root'], [a, 'a'], [b, 'b'], [ax, 'ax']] as Array<[Store.BaseStore, string]>) {
        await store.set('k', name);
        await store.set({ id: 1, kind: 'k' }, name);
      }
      expect(await root.get({ kind: 'k' })).to.deep.equal(['root']);
      expect(await a.get({ kind: 'k' })).to.deep.equal(['a']);
      expect(await b.getOne('k')).to.equal('b');
      expect(await ax.getOne('k')).to.equal('ax');
      expect(await root.keys()).to.deep.equal(['k', { id: 1, kind: 'k' }]);
      expect((await a.stats()).items).to.equal(2);
    });

    it('clear() on a scope leaves the parent and sibling scopes alone', async function () {
      const root = memory();
      const a = root.scope('a');
      const b = root.scope('b');
      open.push(a, b);
      for (const store of [root, a, b]) {
        await store.set('k', 1);
        await store.set({ id: 1 }, 1);
      }
      await a.clear();
      expect(await a.keys()).to.deep.equal([]);
      expect(await root.keys()).to.deep.equal(['k', { id: 1 }]);
      expect(await b.keys()).to.deep.equal(['k', { id: 1 }]);
      expect(await root.get({ id: 1 })).to.deep.equal([1]);
      expect(await b.get({ id: 1 })).to.deep.equal([1]);
    });

    it('del, count and queries in one scope never see another scope', async function () {
      const root = memory();
      const a = root.scope('a');
      const b = root.scope('b');
      open.push(a, b);
      await a.set({ id: 1, kind: 'k' }, 'a1');
      await b.set({ id: 1, kind: 'k' }, 'b1');
      await b.set({ id: 2, kind: 'k' }, 'b2');
      expect(await a.count({ kind: 'k' })).to.equal(1);
      expect(await root.count({ kind: 'k' })).to.equal(0);
      expect(await a.del({ kind: 'k' })).to.equal(1);
      expect(await b.get({ kind: 'k' })).to.deep.equal(['b1', 'b2']);
      expect((a as Store.MemoryStore).internals.indexBuckets).to.equal(0);
    });

    it('maxKeys bounds each scope on its own', async function () {
      const root = memory({ maxKeys: 2 });
      const a = root.scope('a');
      open.push(a);
      await root.set('r1', 1);
      await root.set('r2', 2);
      await a.set('a1', 1);
      await a.set('a2', 2);
      await a.set('a3', 3);
      expect(await root.keys()).to.deep.equal(['r1', 'r2']);
      expect(await a.keys()).to.deep.equal(['a2', 'a3']);
    });

    it('separate stores share nothing', async function () {
      const one = memory();
      const two = memory();
      await one.set('k', 1);
      expect(await two.getOne('k')).to.equal(undefined);
      await two.clear();
      expect(await one.getOne('k')).to.equal(1);
    });
  });

  describe('a 200 MB value through setStream and createValueStream', function () {
    for (const settings of [{}, { clone: true }]) {
      it(`${JSON.stringify(settings)}: comes back byte for byte, with RSS growth bounded by the value size + 64 MB`, async function () {
        this.timeout(120000);
        const script = `
          const Store = require(${JSON.stringify(ROOT + '/index')});
          const crypto = require('crypto');
          const { Readable } = require('stream');
          const SIZE = 200 * 1024 * 1024;
          const CHUNK = 64 * 1024;
          (async () => {
            const inHash = crypto.createHash('sha256');
            function* source() {
              for (let i = 0; i * CHUNK < SIZE; i++) {
                const b = Buffer.allocUnsafe(CHUNK);
                b.fill(i % 251);
                b.writeUInt32LE(i, 0);
                inHash.update(b);
                yield b;
              }
            }
            const store = new Store.MemoryStore(${JSON.stringify(settings)});
            await store.connect();
            global.gc(); global.gc();
            const baseline = process.memoryUsage().rss;
            await store.setStream('big', Readable.from(source()));
            const outHash = crypto.createHash('sha256');
            let bytes = 0;
            let chunks = 0;
            for await (const chunk of store.createValueStream('big')) { outHash.update(chunk); bytes += chunk.length; chunks++; }
            const peak = process.resourceUsage().maxRSS * 1024;
            const whole = await store.getOne('big');
            console.log(JSON.stringify({
              baseline, peak, bytes, chunks,
              inHash: inHash.digest('hex'), outHash: outHash.digest('hex'),
              wholeIsBuffer: Buffer.isBuffer(whole), wholeLength: whole && whole.length,
              wholeHash: crypto.createHash('sha256').update(whole).digest('hex'),
            }));
            await store.close();
          })().catch((err) => { console.error(err); process.exit(2); });
        `;
        const result = await runChild(script, { timeoutMs: 110000, nodeArgs: ['--expose-gc'] });
        expect(result.timedOut).to.equal(false);
        expect(result.code, result.stderr).to.equal(0);
        const r = lastJson<{
          baseline: number;
          peak: number;
          bytes: number;
          chunks: number;
          inHash: string;
          outHash: string;
          wholeIsBuffer: boolean;
          wholeLength: number;
          wholeHash: string;
        }>(result);
        const MB = 1024 * 1024;
        expect(r.bytes).to.equal(200 * MB);
        expect(r.outHash).to.equal(r.inHash);
        expect(r.chunks, 'the value is streamed back in chunks').to.be.greaterThan(1);
        expect(r.wholeIsBuffer).to.equal(true);
        expect(r.wholeLength).to.equal(200 * MB);
        expect(r.wholeHash).to.equal(r.inHash);
        const growthMB = (r.peak - r.baseline) / MB;
        expect(growthMB, `peak RSS grew by ${growthMB.toFixed(0)} MB`).to.be.at.most(200 + 64);
      });
    }
  });

  describe('prototype pollution attempts never touch Object.prototype', function () {
    let before: string[];
    beforeEach(function () {
      before = prototypeSnapshot();
    });
    afterEach(function () {
      expect(prototypeSnapshot()).to.deep.equal(before);
      expect(({} as Loose).polluted).to.equal(undefined);
      expect(([] as Loose).polluted).to.equal(undefined);
    });

    const pollutingKeys: Array<[string, () => unknown]> = [
      ['{"__proto__": {"polluted": "yes"}} from JSON.parse', () => JSON.parse('{"__proto__": {"polluted": "yes"}}')],
      ['{"__proto__": "yes", "id": 1} from JSON.parse', () => JSON.parse('{"id": 1, "__proto__": "yes"}')],
      ['a nested __proto__ from JSON.parse', () => JSON.parse('{"a": {"__proto__": {"polluted": "yes"}}}')],
      ['__proto__ inside an array from JSON.parse', () => JSON.parse('{"a": [{"__proto__": {"polluted": "yes"}}]}')],
      ['{ constructor: { prototype: { polluted } } }', () => ({ constructor: { prototype: { polluted: 'yes' } } })],
      ['{ prototype: { polluted } }', () => ({ prototype: { polluted: 'yes' } })],
    ];

    for (const [label, make] of pollutingKeys) {
      it(`a key ${label} is an InvalidKeyError, on a fresh and on an open store`, async function () {
        const fresh = memory();
        expect((await rejection(fresh.set(make() as Loose, 'v'))).code).to.equal('ERR_INVALID_KEY');
        const opened = memory();
        await opened.connect();
        await opened.set('other', 1);
        expect((await rejection(opened.set(make() as Loose, 'v'))).code).to.equal('ERR_INVALID_KEY');
        expect((await rejection(opened.getOne(make() as Loose))).code).to.equal('ERR_INVALID_KEY');
        expect((await rejection(opened.has(make() as Loose))).code).to.equal('ERR_INVALID_KEY');
        expect(await opened.keys()).to.deep.equal(['other']);
      });
    }

    const pollutingQueries: Array<[string, () => unknown]> = [
      ['{"__proto__": {"polluted": "yes"}} from JSON.parse', () => JSON.parse('{"__proto__": {"polluted": "yes"}}')],
      ['"constructor.prototype.polluted"', () => ({ 'constructor.prototype.polluted': 'yes' })],
      ['{ constructor: { prototype: { polluted } } }', () => ({ constructor: { prototype: { polluted: 'yes' } } })],
      ['"a.__proto__.polluted"', () => ({ 'a.__proto__.polluted': 'yes' })],
      ['__proto__ inside $or', () => ({ $or: [JSON.parse('{"__proto__": {"polluted": "yes"}}')] })],
      ['__proto__ inside an $in operand', () => ({ a: { $in: [JSON.parse('{"__proto__": {"polluted": "yes"}}')] } })],
      ['__proto__ inside an $eq operand', () => ({ a: { $eq: JSON.parse('{"__proto__": {"polluted": "yes"}}') } })],
      ['__proto__ inside $elemMatch', () => ({ a: { $elemMatch: JSON.parse('{"__proto__": {"polluted": "yes"}}') } })],
      ['"__proto__" as a $-less nested path', () => ({ a: JSON.parse('{"__proto__": {"polluted": "yes"}}') })],
    ];

    for (const [label, make] of pollutingQueries) {
      it(`a query ${label} is an InvalidQueryError on get, del, count, keys and entries`, async function () {
        const store = memory();
        await store.set({ a: 1 }, 'v');
        await store.set({ a: [{ b: 1 }] }, 'w');
        expect((await rejection(store.get(make() as Loose))).code, 'get').to.equal('ERR_INVALID_QUERY');
        expect((await rejection(store.del(make() as Loose))).code, 'del').to.equal('ERR_INVALID_QUERY');
        expect((await rejection(store.count(make() as Loose))).code, 'count').to.equal('ERR_INVALID_QUERY');
        expect((await rejection(store.keys(make() as Loose))).code, 'keys').to.equal('ERR_INVALID_QUERY');
        const iterate = async () => {
          for await (const entry of store.entries(make() as Loose)) expect(entry).to.equal(undefined);
        };
        expect((await rejection(iterate())).code, 'entries').to.equal('ERR_INVALID_QUERY');
        expect(await store.count({ a: 1 })).to.equal(1);
      });
    }

    it('a value holding an own __proto__ field (JSON.parse) is stored as data, also with clone: true', async function () {
      for (const clone of [false, true]) {
        const store = memory({ clone });
        const value = JSON.parse('{"a": 1, "__proto__": {"polluted": "yes"}, "list": [{"__proto__": {"polluted": "yes"}}]}');
        await store.set('k', value);
        await store.set({ id: 1 }, value);
        for (const got of [await store.getOne('k'), (await store.get({ id: 1 }))![0]] as Array<Record<string, unknown>>) {
          expect(Object.getPrototypeOf(got), `clone: ${clone}`).to.equal(Object.prototype);
          expect(Object.prototype.hasOwnProperty.call(got, '__proto__')).to.equal(true);
          expect(Object.getOwnPropertyDescriptor(got, '__proto__')!.value).to.deep.equal({ polluted: 'yes' });
          expect(got.polluted).to.equal(undefined);
          const item = (got.list as Array<Record<string, unknown>>)[0];
          expect(Object.getPrototypeOf(item)).to.equal(Object.prototype);
          expect(item.polluted).to.equal(undefined);
        }
      }
    });

    it('inherited Object.prototype members are not key fields', async function () {
      const store = memory();
      await store.set({ id: 1 }, 'one');
      await store.set({ toString: 'x' }, 'own');
      expect(await store.get({ toString: { $exists: true } })).to.deep.equal(['own']);
      expect(await store.get({ valueOf: { $exists: true } })).to.deep.equal([]);
      expect(await store.get({ hasOwnProperty: { $exists: true } })).to.deep.equal([]);
      expect(await store.get({ 'id.toFixed': { $exists: true } })).to.deep.equal([]);
      expect(await store.count({ toString: 'x' })).to.equal(1);
    });
  });
});
