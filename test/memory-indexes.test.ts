/**
 * The memory store's ordered indexes and planner (issue #12 item 2): ranges, `$in`/`$or`,
 * sort + skip + limit served by an index walk that stops early, the `indexes` setting, and a
 * property test against the reference semantics (lib/query-match.ts filter, lib/query-sort.ts
 * order, creation order for ties) over keys of every shape an index must get right.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import Store = require('../index');
import { compileQuery, QuerySelector } from '../lib/query';
import { compileSort, sortEntries } from '../lib/query-sort';
import type { KeyObject } from '../lib/keys';

const open: Store.MemoryStore[] = [];

function memory(settings: Store.MemorySettings = {}): Store.MemoryStore {
  const store = new Store.MemoryStore(settings);
  open.push(store);
  return store;
}

function person(i: number) {
  return { id: i, kind: i % 2 ? 'person' : 'robot', age: i % 100, city: 'c' + (i % 50) };
}

async function filled(n: number, settings: Store.MemorySettings = {}): Promise<Store.MemoryStore> {
  const store = memory(settings);
  for (let i = 0; i < n; i++) await store.set(person(i), i);
  return store;
}

/** The reference answer: every key in creation order, filtered by the matcher, sorted stably, windowed. */
function reference(keys: KeyObject[], query: object, options: { sort?: Record<string, 1 | -1>; skip?: number; limit?: number }): number[] {
  const selector = compileQuery(query) as QuerySelector;
  const matches = keys.map((key, n) => ({ key, n })).filter((e) => selector.test(e.key));
  const sorted = options.sort ? sortEntries(matches, compileSort(options.sort, 'get')) : matches;
  const skip = options.skip ?? 0;
  return sorted.slice(skip, options.limit === undefined ? undefined : skip + options.limit).map((e) => e.n);
}

describe('memory store: ordered indexes and the planner', function () {
  this.timeout(60000);

  afterEach(async function () {
    while (open.length > 0) await open.pop()!.close();
  });

  describe('on 10,000 people', function () {
    const N = 10_000;
    let store: Store.MemoryStore;
    const keys: KeyObject[] = [];
    before(async function () {
      store = await filled(N);
      open.pop(); // closed by after(), not after each test
      for (let i = 0; i < N; i++) keys.push(person(i));
    });
    after(async function () {
      await store.close();
    });

    it('declares nativeSort', function () {
      expect(store.supports.nativeSort).to.equal(true);
    });

    it('a range with an equality walks the age range, not every entry', async function () {
      const q = { age: { $gte: 20, $lt: 25 }, kind: 'person' };
      const got = await store.get(q);
      expect(got).to.deep.equal(reference(keys, q, {}));
      expect(got).to.have.length(200); // ages 21 and 23 of each hundred
      // The age range (500 entries) intersected with the kind bucket before the matcher runs.
      expect(store.internals.lastQuery.plan).to.equal('range(age) ∩ eq(kind)');
      expect(store.internals.lastQuery.examined).to.equal(200);
    });

    it('an open range { age: { $gt: 80 } } is served by the index, in creation order', async function () {
      const q = { age: { $gt: 80 } };
      const got = await store.get(q);
      expect(got).to.deep.equal(reference(keys, q, {}));
      expect(store.internals.lastQuery.plan).to.equal('range(age)');
      expect(store.internals.lastQuery.examined).to.equal(1900);
    });

    it('$in and a range: the planner picks the smaller index', async function () {
      const q = { city: { $in: ['c1', 'c2'] }, age: { $lte: 10 } };
      const got = await store.get(q);
      expect(got).to.deep.equal(reference(keys, q, {}));
      expect(store.internals.lastQuery.plan).to.equal('eq(city)');
      expect(store.internals.lastQuery.examined).to.equal(400);
      const narrow = { city: { $in: ['c1', 'c2'] }, age: { $lte: 0 } };
      expect(await store.get(narrow)).to.deep.equal(reference(keys, narrow, {}));
      expect(store.internals.lastQuery.plan).to.equal('range(age) ∩ eq(city)');
      expect(store.internals.lastQuery.examined).to.equal(0); // age 0 is only ever c0
    });

    it('ranges inside $or: the union of each branch’s index', async function () {
      const q = { $or: [{ age: { $lt: 2 } }, { age: { $gte: 98 } }, { id: 5000 }] };
      const got = await store.get(q);
      expect(got).to.deep.equal(reference(keys, q, {}));
      expect(store.internals.lastQuery.plan).to.equal('or(range(age), range(age), eq(id))');
      expect(store.internals.lastQuery.examined).to.equal(400); // id 5000 (age 0) is in the first branch too: examined once
    });

    it('a lone range decides without the matcher; inside $and or beside another condition it does not', async function () {
      for (const q of [{ $and: [{ age: { $gt: 90 } }, { kind: 'person' }] }, { age: { $gt: 90, $mod: [2, 0] } }, { age: { $gt: 90 } }]) {
        expect(await store.get(q), JSON.stringify(q)).to.deep.equal(reference(keys, q, {}));
        expect(store.internals.lastQuery.plan).to.match(/^range\(age\)/);
      }
    });

    it('a query no index serves scans', async function () {
      const q = { age: { $mod: [7, 3] } };
      expect(await store.get(q)).to.deep.equal(reference(keys, q, {}));
      expect(store.internals.lastQuery.plan).to.equal('scan');
    });

    it('sort + limit walks the age index and stops early (visits far fewer than every entry)', async function () {
      const options = { sort: { age: -1 as const }, limit: 20 };
      const got = await store.get({ kind: 'person' }, options);
      expect(got).to.deep.equal(reference(keys, { kind: 'person' }, options));
      expect(store.internals.lastQuery.plan).to.equal('sort(age)');
      expect(store.internals.lastQuery.examined).to.be.at.most(100);
    });

    it('sort + skip + limit with a second sort field and a range', async function () {
      const q = { age: { $gte: 10, $lt: 30 } };
      const options = { sort: { kind: 1 as const, id: -1 as const }, skip: 37, limit: 25 };
      expect(await store.get(q, options)).to.deep.equal(reference(keys, q, options));
      const options2 = { sort: { city: -1 as const, age: 1 as const }, skip: 3, limit: 7 };
      expect(await store.get(q, options2)).to.deep.equal(reference(keys, q, options2));
    });

    it('a narrow query sorts its few candidates instead of walking the sort index', async function () {
      const q = { id: { $in: [17, 4000, 3] } };
      const options = { sort: { age: 1 as const } };
      expect(await store.get(q, options)).to.deep.equal(reference(keys, q, options));
      expect(store.internals.lastQuery.plan).to.equal('eq(id) then sorted');
    });

    it('keys(), count() and entries() honour sort, skip and limit too', async function () {
      const options = { sort: { age: 1 as const, id: 1 as const }, skip: 5, limit: 3 };
      const want = reference(keys, { kind: 'robot' }, options);
      expect(await store.count({ kind: 'robot' }, options)).to.equal(3);
      const seen: unknown[] = [];
      for await (const entry of store.entries({ kind: 'robot' }, options)) seen.push(entry.value);
      expect(seen).to.deep.equal(want);
    });
  });

  it('sort + limit stops inside a big bucket: a single sort field needs no whole tie group', async function () {
    const store = memory();
    for (let i = 0; i < 3000; i++) await store.set({ i, v: i % 3 }, i);
    expect(await store.get({ i: { $gte: 0 } }, { sort: { v: -1 }, skip: 2, limit: 5 })).to.deep.equal([8, 11, 14, 17, 20]);
    expect(store.internals.lastQuery.plan).to.equal('sort(v)');
    expect(store.internals.lastQuery.examined).to.equal(7);
  });

  it('multikey: an array indexes each element; two bounds may be met by different elements (as MongoDB)', async function () {
    const store = memory();
    await store.set({ id: 1, a: [10, 30] }, 1);
    await store.set({ id: 2, a: [22] }, 2);
    await store.set({ id: 3, a: 40 }, 3);
    await store.set({ id: 4, a: [5, 50] }, 4);
    expect(await store.get({ a: { $gte: 20, $lt: 25 } })).to.deep.equal([1, 2, 4]);
    expect(await store.get({ a: { $gt: 45 } })).to.deep.equal([4]);
    // Ascending takes each entry's smallest element, descending its largest.
    expect(await store.get({ id: { $gte: 1 } }, { sort: { a: 1 } })).to.deep.equal([4, 1, 2, 3]);
    expect(await store.get({ id: { $gte: 1 } }, { sort: { a: -1 } })).to.deep.equal([4, 3, 1, 2]);
    expect(store.internals.lastQuery.plan).to.equal('sort(a)');
  });

  it('two bounds on one side ($lt and $lte) keep the matcher: the range alone is not exact', async function () {
    const store = memory();
    await store.set({ a: [0] }, 1);
    await store.set({ a: -1 }, 2);
    expect(await store.get({ a: { $lt: 0, $lte: 0 } })).to.deep.equal([2]);
    expect(await store.get({ a: { $lte: 0, $lt: 0 } })).to.deep.equal([2]);
  });

  it('mixed types: ranges stay in their type bracket; sort orders brackets as MongoDB', async function () {
    const store = memory();
    const values = [5, 'b', true, 'a', -1, false, '10', 10, 'é', '\u{1F600}', '\uFFFF'];
    for (let i = 0; i < values.length; i++) await store.set({ i, v: values[i] }, i);
    expect(await store.get({ v: { $gt: 0 } })).to.deep.equal([0, 7]);
    expect(await store.get({ v: { $gte: 'a' } })).to.deep.equal([1, 3, 8, 9, 10]);
    expect(await store.get({ v: { $lt: '\u{1F600}' } })).to.deep.equal([1, 3, 6, 8, 10]);
    expect(await store.get({ v: { $gt: false } })).to.deep.equal([2]);
    expect(await store.get({ i: { $gte: 0 } }, { sort: { v: 1 } })).to.deep.equal([4, 0, 7, 6, 3, 1, 8, 10, 9, 5, 2]);
    expect(store.internals.lastQuery.plan).to.equal('sort(v)');
  });

  it('missing fields, null and empty arrays: the sort falls back and still orders them first (empty array before null)', async function () {
    const store = memory();
    await store.set({ id: 1, v: 3 }, 1);
    await store.set({ id: 2 }, 2);
    await store.set({ id: 3, v: null }, 3);
    await store.set({ id: 4, v: [] }, 4);
    await store.set({ id: 5, v: 1 }, 5);
    expect(await store.get({ id: { $gte: 0 } }, { sort: { v: 1 } })).to.deep.equal([4, 2, 3, 5, 1]);
    expect(await store.get({ id: { $gte: 0 } }, { sort: { v: -1 } })).to.deep.equal([1, 5, 2, 3, 4]);
    expect(store.internals.lastQuery.plan).to.not.equal('sort(v)');
    expect(await store.get({ v: { $lte: 3 } })).to.deep.equal([1, 5]);
  });

  it('index buckets are freed when entries go', async function () {
    const store = await filled(1000);
    expect(store.internals.indexBuckets).to.be.greaterThan(0);
    for (let i = 0; i < 1000; i++) await store.del(person(i));
    expect(store.internals.indexBuckets).to.equal(0);
  });

  describe('the indexes setting', function () {
    it('indexes only the named paths: other paths scan, named ones use the index', async function () {
      const store = await filled(2000, { indexes: ['age'] });
      const keys = Array.from({ length: 2000 }, (_, i) => person(i));
      expect(await store.get({ kind: 'person', city: 'c3' })).to.deep.equal(reference(keys, { kind: 'person', city: 'c3' }, {}));
      expect(store.internals.lastQuery.plan).to.equal('scan');
      expect(await store.get({ age: { $lt: 3 }, kind: 'robot' })).to.deep.equal(reference(keys, { age: { $lt: 3 }, kind: 'robot' }, {}));
      expect(store.internals.lastQuery.plan).to.equal('range(age)');
      expect(store.internals.indexBuckets).to.equal(100);
      const options = { sort: { city: 1 as const }, limit: 5 };
      expect(await store.get({ kind: 'person' }, options)).to.deep.equal(reference(keys, { kind: 'person' }, options));
    });

    it('indexes: [] indexes nothing and answers the same', async function () {
      const store = await filled(500, { indexes: [] });
      const keys = Array.from({ length: 500 }, (_, i) => person(i));
      expect(store.internals.indexBuckets).to.equal(0);
      expect(await store.get({ age: 7 })).to.deep.equal(reference(keys, { age: 7 }, {}));
      expect(store.internals.lastQuery.plan).to.equal('scan');
    });

    for (const bad of [['age', 3], 'age', ['a..b'], ['$gt'], ['tags.0'], { age: 1 }]) {
      it(`refuses indexes: ${JSON.stringify(bad)} with ERR_STORE_CONFIG`, function () {
        let caught: unknown;
        try {
          memory({ indexes: bad as string[] });
        } catch (err) {
          caught = err;
        }
        expect((caught as { code?: string })?.code).to.equal('ERR_STORE_CONFIG');
        expect((caught as Error).message).to.contain('indexes');
      });
    }
  });

  describe('property: every plan answers as the reference (filter, then stable sort, then window)', function () {
    const scalar = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('a', 'b', 'B', '', 'é', '\u{1F600}'), fc.boolean());
    const fieldValue = fc.oneof(
      { weight: 4, arbitrary: scalar },
      { weight: 1, arbitrary: fc.constant(null) },
      { weight: 2, arbitrary: fc.array(scalar, { maxLength: 3 }) },
      { weight: 1, arbitrary: fc.array(fc.record({ c: scalar }, { requiredKeys: [] }), { maxLength: 2 }) },
      { weight: 1, arbitrary: fc.record({ c: scalar }) },
    );
    const key = fc.record({ a: fieldValue, b: fieldValue }, { requiredKeys: [] });
    const bound = fc.oneof(scalar, fc.constant(null));
    const path = fc.constantFrom('a', 'b', 'a.c');
    const rangeCond = fc.record({ $gt: bound, $gte: bound, $lt: bound, $lte: bound }, { requiredKeys: [] }).filter((r) => Object.keys(r).length > 0);
    const leaf = fc.oneof(
      fc.tuple(path, rangeCond).map(([p, c]) => ({ [p]: c })),
      fc.tuple(path, scalar).map(([p, v]) => ({ [p]: v })),
      fc.tuple(path, fc.array(scalar, { minLength: 1, maxLength: 3 })).map(([p, v]) => ({ [p]: { $in: v } })),
    );
    const query = fc.oneof(
      leaf,
      fc.tuple(leaf, leaf).map(([x, y]) => ({ $and: [x, y] })),
      fc.array(leaf, { minLength: 1, maxLength: 3 }).map((branches) => ({ $or: branches })),
    );
    const sortSpec = fc.oneof(
      fc.constant(undefined),
      fc.tuple(path, fc.constantFrom<1 | -1>(1, -1)).map(([p, d]) => ({ [p]: d })),
      fc.tuple(path, fc.constantFrom<1 | -1>(1, -1), fc.constantFrom<1 | -1>(1, -1)).map(([p, d, e]) => ({ [p]: d, [p === 'b' ? 'a' : 'b']: e })),
    );
    const options = fc.record({ sort: sortSpec, skip: fc.option(fc.nat(5), { nil: undefined }), limit: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }) });

    it('on random keys (arrays, nested objects, missing fields, null, mixed types), queries and windows', async function () {
      await fc.assert(
        fc.asyncProperty(fc.array(key, { maxLength: 25 }), fc.array(fc.tuple(query, options), { minLength: 1, maxLength: 6 }), async (rawKeys, queries) => {
          const store = new Store.MemoryStore();
          try {
            const keys: KeyObject[] = [];
            for (const k of rawKeys) {
              const id = { n: keys.length, ...k } as KeyObject;
              keys.push(id);
              await store.set(id, keys.length - 1);
            }
            for (const [q, o] of queries) {
              const window = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as typeof o;
              expect(await store.get(q, window), JSON.stringify([q, window])).to.deep.equal(reference(keys, q, window));
            }
          } finally {
            await store.close();
          }
        }),
        { numRuns: 300 },
      );
    });
  });
});
