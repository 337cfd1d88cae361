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
import { compileSort, sortEntries, sortKeysOf } from '../lib/query-sort';
import { keyId } from '../lib/keys';
import type { Key, KeyObject } from '../lib/keys';
import { comparePositions } from '../lib/core/page-cursor';
import { Slot } from '../lib/backends/memory/slot';
import { SlotRun } from '../lib/backends/memory/slot-run';
import { codePointSortable, compareIds } from '../lib/backends/memory/id-order';
import { keyPaths } from '../lib/backends/memory/key-paths';
import type { OrderedIndexes } from '../lib/backends/memory/ordered-indexes';

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

/** The reference page order of `keys` (values = their positions) under `query` and `sort`: sort keys, then id in code point order. */
function pageReference(keys: Key[], query: object, sort: Record<string, 1 | -1>): number[] {
  const selector = compileQuery(query) as QuerySelector;
  const spec = compileSort(sort, 'page');
  return keys
    .map((key, n) => ({ key, n, keys: sortKeysOf(key, spec), id: keyId(key) }))
    .filter((e) => typeof e.key !== 'string' && selector.test(e.key))
    .sort((a, b) => comparePositions(a, b, spec))
    .map((e) => e.n);
}

/** Every page of `query` by `sort`, `limit` at a time, concatenated; `between` runs after each page. */
async function walkPages(store: Store.MemoryStore, query: object, sort: Record<string, 1 | -1> | undefined, limit: number, between?: (page: number) => Promise<void>): Promise<unknown[]> {
  const out: unknown[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const got = await store.page(query, { ...(sort === undefined ? {} : { sort }), limit, ...(cursor === undefined ? {} : { cursor }) });
    out.push(...got.items);
    if (got.cursor === null) return out;
    cursor = got.cursor;
    await between?.(page);
  }
  throw new Error('the walk never ended');
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
      expect(store.internals.lastQuery.exact).to.equal(false); // the age range is left to the matcher
      const narrow = { city: { $in: ['c1', 'c2'] }, age: { $lte: 0 } };
      expect(await store.get(narrow)).to.deep.equal(reference(keys, narrow, {}));
      expect(store.internals.lastQuery.plan).to.equal('range(age) ∩ eq(city)');
      expect(store.internals.lastQuery.examined).to.equal(0); // age 0 is only ever c0
    });

    it('a range intersected with $in buckets decides alone (no matcher) when every condition is an index’s', async function () {
      const q = { city: { $in: ['c1', 'c2', 'c3'] }, age: { $lte: 4 } };
      const got = await store.get(q);
      expect(got).to.deep.equal(reference(keys, q, {}));
      expect(got).to.have.length(300);
      expect(store.internals.lastQuery).to.deep.equal({ plan: 'range(age) ∩ eq(city)', examined: 300, exact: true });
      // Another operator beside the range, or an $or, leaves the matcher in.
      const q2 = { city: { $in: ['c1', 'c2', 'c3'] }, age: { $lte: 4, $mod: [2, 1] } };
      expect(await store.get(q2)).to.deep.equal(reference(keys, q2, {}));
      expect(store.internals.lastQuery.exact).to.equal(false);
      const q3 = { city: { $in: ['c1', 'c2', 'c3'] }, age: { $lte: 4 }, $or: [{ kind: 'robot' }, { id: 3 }] };
      expect(await store.get(q3)).to.deep.equal(reference(keys, q3, {}));
      expect(store.internals.lastQuery.exact).to.equal(false);
    });

    it('a wide $or of equalities is its index buckets’ union, with no matcher', async function () {
      const q = { $or: Array.from({ length: 15 }, (_, i) => ({ id: i * 661 })) };
      expect(await store.get(q)).to.deep.equal(reference(keys, q, {}));
      expect(store.internals.lastQuery.exact).to.equal(true);
      const q2 = { $or: [...q.$or, { id: 5, kind: 'person' }] };
      expect(await store.get(q2)).to.deep.equal(reference(keys, q2, {}));
      expect(store.internals.lastQuery.exact).to.equal(false);
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
        // The range is used (alone, or marking seqs for the kind bucket to be walked: 'eq(kind) ∩ range(age)').
        expect(store.internals.lastQuery.plan).to.match(/(^|∩ )range\(age\)$|^range\(age\)/);
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
    it('page() is native: a page by an indexed path walks its tree from the cursor and visits about a page, not every match', async function () {
      expect(store.supports.nativePage).to.equal(true);
      const sort = { age: 1 as const };
      const walked: unknown[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 60; page++) {
        const got = await store.page({ kind: 'person' }, { sort, limit: 10, ...(cursor === undefined ? {} : { cursor }) });
        expect(store.internals.lastQuery.plan).to.equal('page(sort(age))');
        // A page reads the cursor's age bucket (100 entries) and maybe the next; 5,000 persons match.
        expect(store.internals.lastQuery.examined, `page ${page}`).to.be.at.most(300);
        walked.push(...got.items);
        cursor = got.cursor!;
      }
      expect(walked).to.deep.equal(pageReference(keys, { kind: 'person' }, sort).slice(0, 600));
    });

    it('page() in mixed directions and on several fields equals the reference walk', async function () {
      const q = { age: { $gte: 10, $lt: 30 } };
      for (const sort of [{ kind: 1, age: -1 }, { age: -1, id: 1 }, { city: -1, age: 1 }, { kind: -1 }] as Array<Record<string, 1 | -1>>) {
        expect(await walkPages(store, q, sort, 37), JSON.stringify(sort)).to.deep.equal(pageReference(keys, q, sort));
      }
      expect(store.internals.lastQuery.plan).to.equal('page(sort(kind))');
    });

    it('page() without a sort walks the ids in code point order from the cursor', async function () {
      const first = await store.page({ kind: 'robot' }, { limit: 50 });
      expect(store.internals.lastQuery.plan).to.equal('page(ids)');
      expect(store.internals.lastQuery.examined).to.be.at.most(250);
      const second = await store.page({ kind: 'robot' }, { limit: 50, cursor: first.cursor! });
      expect(store.internals.lastQuery.examined).to.be.at.most(250);
      expect([...first.items, ...second.items]).to.deep.equal(pageReference(keys, { kind: 'robot' }, {}).slice(0, 100));
      expect(await walkPages(store, { age: { $lt: 5 } }, undefined, 64)).to.deep.equal(pageReference(keys, { age: { $lt: 5 } }, {}));
    });

    it('page() of a narrow query orders its few candidates with a bounded heap instead of walking', async function () {
      const q = { id: { $in: [17, 4000, 3, 9999, 250] } };
      expect(await walkPages(store, q, { age: -1 }, 2)).to.deep.equal(pageReference(keys, q, { age: -1 }));
      expect(store.internals.lastQuery.plan).to.equal('page(eq(id) then ordered)');
      expect(store.internals.lastQuery.examined).to.equal(5);
    });
  });

  describe('a range of many buckets against an $in of one or two (driven from the $in, by seq)', function () {
    /** 20,000 keys: age i % 100 (100 buckets of 200), city by block of 100 (four buckets of 5,000), so the two are independent. */
    async function cities(extra: KeyObject[] = []): Promise<{ store: Store.MemoryStore; keys: KeyObject[] }> {
      const store = memory();
      const keys: KeyObject[] = [];
      for (let i = 0; i < 20_000; i++) keys.push({ id: i, kind: i % 3 ? 'person' : 'robot', age: i % 100, city: 'c' + (Math.floor(i / 100) % 4) });
      keys.push(...extra);
      for (let n = 0; n < keys.length; n++) await store.set(keys[n], n);
      return { store, keys };
    }

    it('walks the two city buckets in creation order and keeps the entries whose seq the age range marked: no matcher', async function () {
      const { store, keys } = await cities();
      const q = { city: { $in: ['c0', 'c1'] }, age: { $lte: 10 } };
      const got = await store.get(q);
      expect(got).to.deep.equal(reference(keys, q, {}));
      expect(got).to.have.length(1_100);
      // Before: 'range(age) ∩ eq(city)', the 11 age buckets walked with a city test each and merged on a heap.
      expect(store.internals.lastQuery).to.deep.equal({ plan: 'eq(city) ∩ range(age)', examined: 1_100, exact: true });
      // One city bucket; an exclusive bound; a range beyond every age (nothing marked).
      for (const q2 of [{ city: 'c3', age: { $gt: 5, $lte: 30 } }, { city: { $in: ['c2'] }, age: { $lt: 12 } }, { city: { $in: ['c0', 'c1'] }, age: { $gt: 99 } }]) {
        expect(await store.get(q2)).to.deep.equal(reference(keys, q2, {}));
      }
    });

    it('a further equality is tested on each kept entry; a window (limit) and entries() agree with the reference', async function () {
      const { store, keys } = await cities();
      const q = { city: { $in: ['c0', 'c1'] }, age: { $lte: 10 }, kind: 'robot' };
      expect(await store.get(q)).to.deep.equal(reference(keys, q, {}));
      expect(store.internals.lastQuery.exact).to.equal(true);
      expect(await store.get(q, { limit: 7 })).to.deep.equal(reference(keys, q, { limit: 7 }));
      const seen: unknown[] = [];
      for await (const entry of store.entries(q)) seen.push(entry.value);
      expect(seen).to.deep.equal(reference(keys, q, {}));
      // Another operator on the range leaves the matcher in.
      const q2 = { city: { $in: ['c0', 'c1'] }, age: { $lte: 10, $mod: [2, 1] } };
      expect(await store.get(q2)).to.deep.equal(reference(keys, q2, {}));
      expect(store.internals.lastQuery.exact).to.equal(false);
    });

    it('an entry in both city buckets (an array) comes once; deleted and re-set entries keep creation order', async function () {
      const both = Array.from({ length: 50 }, (_, j) => ({ id: 100_000 + j, kind: 'person', age: j % 11, city: ['c0', 'c1'] }) as unknown as KeyObject);
      const { store, keys } = await cities(both);
      const q = { city: { $in: ['c0', 'c1'] }, age: { $lte: 10 } };
      expect(await store.get(q)).to.deep.equal(reference(keys, q, {}));
      for (let n = 0; n < 500; n += 3) await store.del(keys[n]);
      const live = keys.map((key, n) => (n < 500 && n % 3 === 0 ? undefined : key));
      // Re-set: a new entry, at the end of creation order.
      await store.set(keys[0], 'again');
      const expected = reference(live.filter((k) => k !== undefined) as KeyObject[], q, {}).map((n) => live.indexOf(live.filter((k) => k !== undefined)[n]));
      const got = await store.get(q);
      expect(got).to.deep.equal([...expected, 'again']);
      expect(store.internals.lastQuery.plan).to.equal('eq(city) ∩ range(age)');
    });
  });

  it('page() ties by id in code point order: a character beyond the BMP sorts after U+FFFF', async function () {
    const store = memory();
    const keys = [{ v: 1, s: '\u{1F600}' }, { v: 1, s: '\uFFFF' }, { v: 1, s: 'z' }, { v: 0, s: '\u{10000}' }];
    for (let i = 0; i < keys.length; i++) await store.set(keys[i], i);
    for (const sort of [{ v: 1 }, { v: -1 }, undefined] as Array<Record<string, 1 | -1> | undefined>) {
      for (const limit of [1, 2, 10]) {
        const want = pageReference(keys, { v: { $gte: 0 } }, sort ?? {});
        expect(await walkPages(store, { v: { $gte: 0 } }, sort, limit), JSON.stringify([sort, limit])).to.deep.equal(want);
      }
    }
    // UTF-16 order would put the emoji (a surrogate pair, 0xD83D...) before U+FFFF.
    expect(await walkPages(store, { v: 1 }, { v: 1 }, 1)).to.deep.equal([2, 1, 0]);
    expect(await walkPages(store, { v: 1 }, undefined, 1)).to.deep.equal([2, 1, 0]);
  });

  it('page() goes on after the cursor’s own entry was deleted, and writes between pages neither repeat nor drop the others', async function () {
    const store = memory();
    const keys: KeyObject[] = [];
    for (let i = 0; i < 200; i++) {
      keys.push({ i, v: i % 7 });
      await store.set(keys[i], i);
    }
    for (const sort of [{ v: 1 }, { v: -1, i: 1 }, undefined] as Array<Record<string, 1 | -1> | undefined>) {
      const first = await store.page({ i: { $gte: 0 } }, { ...(sort ? { sort } : {}), limit: 30 });
      const last = first.items[29] as number;
      await store.del(keys[last]);
      const rest = await store.page({ i: { $gte: 0 } }, { ...(sort ? { sort } : {}), limit: 1000, cursor: first.cursor! });
      const want = pageReference(keys, { i: { $gte: 0 } }, sort ?? {});
      expect([...first.items, ...rest.items], JSON.stringify(sort)).to.deep.equal(want);
      await store.set(keys[last], last);
    }
    // Writes between pages: entries present throughout come once each, in order.
    const seen = await walkPages(store, { i: { $gte: 0 } }, { v: 1 }, 9, async (page) => {
      await store.set({ i: 1000 + page, v: page % 7 }, 1000 + page);
      await store.del({ i: 1000 + page - 1, v: (page - 1) % 7 });
    });
    const stable = (seen as number[]).filter((n) => n < 1000);
    expect(stable).to.deep.equal(pageReference(keys, { i: { $gte: 0 } }, { v: 1 }));
  });

  it('page() with arrays, empty arrays, null and missing fields as sort values', async function () {
    const store = memory();
    const keys: KeyObject[] = [{ id: 1, v: [3, 1] }, { id: 2 }, { id: 3, v: null }, { id: 4, v: [] }, { id: 5, v: 2 }, { id: 6, v: [9, 0.5] }, { id: 7, v: 'x' }];
    for (let i = 0; i < keys.length; i++) await store.set(keys[i], i);
    for (const sort of [{ v: 1 }, { v: -1 }, { v: -1, id: -1 }] as Array<Record<string, 1 | -1>>) {
      for (const limit of [1, 2, 3, 100]) {
        expect(await walkPages(store, { id: { $gte: 0 } }, sort, limit), JSON.stringify([sort, limit])).to.deep.equal(pageReference(keys, { id: { $gte: 0 } }, sort));
      }
    }
    // Missing, null and empty sort keys are not in the tree: the candidates are ordered instead.
    expect(store.internals.lastQuery.plan).to.match(/^page\(.*then ordered\)$/);
    // Arrays only (every entry at its sort key in the tree): the tree walk, each entry under its smallest (ascending) or largest element.
    const arrays = memory();
    const held: KeyObject[] = [{ id: 1, v: [5, 1] }, { id: 2, v: [3] }, { id: 3, v: [2, 9] }, { id: 4, v: 4 }, { id: 5, v: [4, 1] }];
    for (let i = 0; i < held.length; i++) await arrays.set(held[i], i);
    expect(await walkPages(arrays, { id: { $gte: 0 } }, { v: 1 }, 1)).to.deep.equal([0, 4, 2, 1, 3]);
    expect(store.internals.lastQuery.plan).to.not.equal('page(sort(v))');
    expect(arrays.internals.lastQuery.plan).to.equal('page(sort(v))');
    expect(await walkPages(arrays, { id: { $gte: 0 } }, { v: -1 }, 1)).to.deep.equal([2, 0, 3, 4, 1]);
    expect(await walkPages(arrays, { id: { $gte: 0 } }, { v: -1 }, 2)).to.deep.equal([2, 0, 3, 4, 1]);
    expect(await walkPages(arrays, { id: { $gte: 0 } }, { v: 1, id: -1 }, 2)).to.deep.equal(pageReference(held, { id: { $gte: 0 } }, { v: 1, id: -1 }));
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

  it('an index bucket read lazily (entries()) survives deletes between entries: each live entry comes once', async function () {
    const store = memory();
    for (let i = 0; i < 1000; i++) await store.set({ k: 'x', i }, i);
    const seen: unknown[] = [];
    const plans = new Set<string>();
    for await (const entry of store.entries({ k: 'x' })) {
      if (seen.length === 0) plans.add(store.internals.lastQuery.plan);
      seen.push(entry.value);
      await store.del(entry.key); // the bucket shrinks behind the reader
    }
    expect([...plans]).to.deep.equal(['eq(k)']);
    expect(seen).to.deep.equal(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('the id order of pages without sort: native comparison of codePointSortable forms is code point order', function () {
    const unit = fc.constantFrom('a', 'z', '\u00e9', '\ud7ff', '\ue000', '\uffff', '\ufffe', '\u{10000}', '\u{1F600}', '\u{10FFFF}');
    const id = fc.array(unit, { maxLength: 4 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(id, id, (a, b) => {
        const x = codePointSortable(a);
        const y = codePointSortable(b);
        expect(Math.sign(x < y ? -1 : x > y ? 1 : 0), JSON.stringify([a, b])).to.equal(Math.sign(compareIds(a, b)));
      }),
      { numRuns: 2000 },
    );
    expect(codePointSortable('plain')).to.equal('plain');
  });

  describe('SlotRun (a bucket of several entries, in creation order)', function () {
    const slot = (seq: number) => new Slot(`s${seq}`, seq, seq);
    it('adds, finds, removes and iterates in seq order across chunks, out-of-order adds included', function () {
      const slots = Array.from({ length: 1200 }, (_, i) => slot(i + 1));
      const run = new SlotRun(slots[0], slots[1]);
      for (let i = 2; i < slots.length; i += 2) run.add(slots[i]);
      for (let i = slots.length - 1; i > 2; i -= 2) run.add(slots[i]); // older entries after newer ones
      run.add(slots[7]); // again: no change
      expect(run.size).to.equal(1200);
      expect([...run].map((s) => s.seq)).to.deep.equal(slots.map((s) => s.seq));
      expect(run.has(slots[600])).to.equal(true);
      expect(run.has(slot(5000))).to.equal(false);
      expect(run.has(slot(5))).to.equal(false); // same seq, another Slot
      for (let i = 0; i < 1200; i += 3) expect(run.delete(slots[i])).to.equal(true);
      expect(run.delete(slots[0])).to.equal(false);
      const left = slots.filter((_, i) => i % 3 !== 0);
      expect(run.size).to.equal(left.length);
      expect([...run]).to.deep.equal(left);
      expect(run.toArray()).to.deep.equal(left);
      expect(run.first()).to.equal(left[0]);
      for (const s of left) run.delete(s);
      expect(run.size).to.equal(0);
      expect([...run]).to.deep.equal([]);
      expect(run.first()).to.equal(undefined);
      run.add(slots[9]);
      expect([...run]).to.deep.equal([slots[9]]);
    });

    it('keeps what a sorted array would, through appends into full-size tail chunks, inserts, deletes and reads in any order (fast-check)', function () {
      // Runs long enough to fill several chunks (212 Slots), so appends go into the preallocated
      // tail and every kind of call lands while a tail is half filled.
      const op = fc.oneof(
        { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), count: fc.integer({ min: 1, max: 300 }) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('insert' as const, 'readd' as const), at: fc.nat() }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 250 }) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('parts' as const, 'iterate' as const, 'toArray' as const, 'ends' as const, 'has' as const), at: fc.nat() }) },
      );
      fc.assert(
        fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
          // Seqs are spaced by 2 so that inserts can go between any two.
          let next = 10;
          const pool = (seq: number) => slot(seq);
          const first = pool(next);
          const second = pool((next += 2));
          const run = new SlotRun(first, second);
          let model: Slot[] = [first, second];
          const gaps = (): number[] => {
            const free: number[] = [];
            for (let seq = 1; seq < next; seq += 2) free.push(seq);
            return free.filter((seq) => !model.some((s) => s.seq === seq));
          };
          for (const o of ops) {
            switch (o.kind) {
              case 'append':
                for (let i = 0; i < o.count; i++) {
                  const s = pool((next += 2));
                  run.add(s);
                  model.push(s);
                }
                break;
              case 'readd': // one already held: no change (this settles a half-filled tail)
                if (model.length > 0) run.add(model[o.at % model.length]);
                break;
              case 'insert': {
                const free = gaps();
                if (free.length === 0) break;
                const s = pool(free[o.at % free.length]);
                run.add(s);
                model = [...model, s].sort((a, b) => a.seq - b.seq);
                break;
              }
              case 'delete': {
                if (model.length === 0) break;
                const gone = model.splice(o.at % model.length, o.count);
                for (const s of gone) expect(run.delete(s)).to.equal(true);
                expect(run.delete(gone[0])).to.equal(false);
                break;
              }
              case 'parts': {
                const parts = run.parts;
                expect(parts.flat()).to.deep.equal(model);
                for (const part of parts) expect(part.length).to.be.greaterThan(0); // inserts may grow a chunk past 212
                break;
              }
              case 'iterate':
                expect([...run]).to.deep.equal(model);
                break;
              case 'toArray':
                expect(run.toArray()).to.deep.equal(model);
                break;
              case 'ends':
                expect(run.last()).to.equal(model[model.length - 1]); // first, while a tail may be half filled
                expect(run.first()).to.equal(model[0]);
                break;
              case 'has':
                if (model.length > 0) expect(run.has(model[o.at % model.length])).to.equal(true);
                expect(run.has(pool(next + 2))).to.equal(false);
                break;
            }
            expect(run.size).to.equal(model.length);
          }
          expect([...run]).to.deep.equal(model);
        }),
        { numRuns: 200 },
      );
    });
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

    it('a store listing its indexes keeps ids only: equalities by index membership, keys parsed where read, buckets freed', async function () {
      const N = 10_000;
      const store = await filled(N, { indexes: ['id', 'kind', 'age', 'city'] });
      const keys = Array.from({ length: N }, (_, i) => person(i));
      // `kind` is not read from a parsed key: the age range is marked by seq and the kind bucket walked.
      const q = { age: { $gte: 20, $lt: 25 }, kind: 'person' };
      expect(await store.get(q)).to.deep.equal(reference(keys, q, {}));
      expect(store.internals.lastQuery.plan).to.equal('eq(kind) ∩ range(age)');
      for (const [query, options] of [
        [{ kind: 'person', city: 'c3' }, {}],
        [{ city: { $in: ['c1', 'c2'] }, age: { $lte: 10 } }, { limit: 30 }],
        [{ kind: 'robot' }, { sort: { age: -1 as const }, limit: 20, skip: 3 }],
        [{ age: { $gt: 80 }, id: { $mod: [7, 1] } }, { sort: { city: 1 as const, id: -1 as const } }],
      ] as const) {
        expect(await store.get(query, options), JSON.stringify(query)).to.deep.equal(reference(keys, query, options));
      }
      const walked = await walkPages(store, { kind: 'person' }, { age: 1 }, 100);
      expect(walked).to.deep.equal(pageReference(keys, { kind: 'person' }, { age: 1 }));
      // Its entries have no `parsed` field at all (slot.ts: 8 bytes an entry); a default store's have one, set.
      const heldBy = (s: unknown) => [...(s as { backend: { keyspace: { slots: Map<string, object> } } }).backend.keyspace.slots.values()];
      expect(heldBy(store).filter((slot) => Object.hasOwn(slot, 'parsed'))).to.have.length(0);
      const parsing = await filled(10, {});
      expect(heldBy(parsing).map((slot) => typeof (slot as { parsed?: unknown }).parsed)).to.deep.equal(Array(10).fill('object'));
      // A key handed out is a fresh parse: mutating it changes nothing stored.
      const [entry] = (await store.get({ id: 5 }, { includeKey: true })) as unknown as Array<{ key: { age: number } }>;
      entry.key.age = 1000;
      expect(await store.get({ id: 5, age: 5 })).to.deep.equal([5]);
      for (let i = 0; i < N; i++) await store.del(person(i));
      expect(store.internals.indexBuckets).to.equal(0);
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
    const scalar = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('a', 'b', 'B', '', 'é', '\u{1F600}', '\uFFFF'), fc.boolean());
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

    // A store listing its indexes keeps object keys as ids only (lib/backends/memory/slot.ts): same answers.
    /** Writes each raw key with `n`, its position, in front (so every key differs), its value the position; resolves the keys. */
    async function numberedKeys(store: Store.MemoryStore, rawKeys: ReadonlyArray<Record<string, unknown>>): Promise<KeyObject[]> {
      const keys: KeyObject[] = [];
      for (const k of rawKeys) {
        const id = { n: keys.length, ...k } as KeyObject;
        keys.push(id);
        await store.set(id, keys.length - 1);
      }
      return keys;
    }

    const settingsOf: Array<[string, Store.MemorySettings]> = [
      ['', {}],
      [', ids only (indexes listed)', { indexes: ['n', 'a', 'b', 'a.c'] }],
    ];
    for (const [label, settings] of settingsOf) {
      it(`on random keys (arrays, nested objects, missing fields, null, mixed types), queries and windows${label}`, async function () {
        await fc.assert(
          fc.asyncProperty(fc.array(key, { maxLength: 25 }), fc.array(fc.tuple(query, options), { minLength: 1, maxLength: 6 }), async (rawKeys, queries) => {
            const store = new Store.MemoryStore(settings);
            try {
              const keys = await numberedKeys(store, rawKeys);
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

      it(`page walks on random keys equal the reference page order (sort keys, then id in code point order)${label}`, async function () {
        const pageSort = fc.oneof(sortSpec, fc.tuple(fc.constantFrom('n', 'a'), fc.constantFrom<1 | -1>(1, -1)).map(([p, d]) => ({ [p]: d })));
        await fc.assert(
          fc.asyncProperty(
            fc.array(key, { maxLength: 25 }),
            fc.array(fc.tuple(fc.oneof(query, fc.constant({ n: { $gte: 0 } })), pageSort, fc.integer({ min: 1, max: 4 })), { minLength: 1, maxLength: 4 }),
            async (rawKeys, walks) => {
              const store = new Store.MemoryStore(settings);
              try {
                const keys = await numberedKeys(store, rawKeys);
                for (const [q, sort, limit] of walks) {
                  expect(await walkPages(store, q, sort, limit), JSON.stringify([q, sort, limit])).to.deep.equal(pageReference(keys, q, sort ?? {}));
                }
              } finally {
                await store.close();
              }
            },
          ),
          { numRuns: 300 },
        );
      });

      it(`the indexes hold what key-paths.ts finds in each key, as entries come and go${label}`, async function () {
        // ordered-indexes.ts indexes a top-level scalar in place and walks only other values: the
        // counts and buckets must be exactly those of every key's keyPaths, after writes and removals.
        const only = settings.indexes === undefined ? null : new Set(settings.indexes);
        const expected = (held: KeyObject[]) => {
          const out = new Map<string, { entries: number; multikey: number; irregular: number; values: Set<string> }>();
          for (const k of held) {
            for (const [p, facts] of keyPaths(k)) {
              if (only !== null && !only.has(p)) continue;
              const e = out.get(p) ?? { entries: 0, multikey: 0, irregular: 0, values: new Set<string>() };
              out.set(p, e);
              if (facts.values.length > 0) e.entries++;
              if (facts.multikey) e.multikey++;
              if (facts.irregular) e.irregular++;
              for (const v of facts.values) e.values.add(typeof v + ':' + String(v));
            }
          }
          return [...out].map(([p, e]) => [p, e.entries, e.multikey, e.irregular, e.values.size] as const).sort();
        };
        const actual = (store: Store.MemoryStore, paths: string[]) => {
          const indexes = (store as unknown as { backend: { keyspace: { indexes: OrderedIndexes } } }).backend.keyspace.indexes;
          return paths
            .map((p) => [p, indexes.path(p)] as const)
            .filter(([, index]) => index !== undefined)
            .map(([p, index]) => [p, index!.entries, index!.multikey, index!.irregular, index!.tree.size] as const)
            .sort();
        };
        await fc.assert(
          fc.asyncProperty(fc.array(key, { maxLength: 25 }), fc.array(fc.nat(24)), async (rawKeys, removals) => {
            const store = new Store.MemoryStore(settings);
            try {
              const keys = await numberedKeys(store, rawKeys);
              const paths = ['n', 'a', 'b', 'a.c', 'b.c'];
              expect(actual(store, paths)).to.deep.equal(expected(keys));
              const gone = new Set(removals.filter((i) => i < keys.length));
              for (const i of gone) await store.del(keys[i]);
              expect(actual(store, paths)).to.deep.equal(expected(keys.filter((_, i) => !gone.has(i))));
              for (const k of keys) await store.del(k);
              expect(store.internals.indexBuckets).to.equal(0);
              expect(actual(store, paths)).to.deep.equal([]);
            } finally {
              await store.close();
            }
          }),
          { numRuns: 300 },
        );
      });
    }
  });
});
