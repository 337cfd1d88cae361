/** Conformance: sort, skip, limit and page() on reads of many entries, and unknown options refused (SPEC §14). */
import { expect } from 'chai';
import type { Key } from '../keys';
import type { BaseStore } from '../store';
import { SuiteContext, rejection } from './context';

/** Keys whose `n` covers MongoDB's sort brackets: empty array < null = missing < numbers < strings < objects < booleans. */
const ROWS: Array<{ key: { id: number; n?: unknown }; value: string }> = [
  { key: { id: 1, n: 3 }, value: 'k1' },
  { key: { id: 2, n: 'b' }, value: 'k2' },
  { key: { id: 3 }, value: 'k3' },
  { key: { id: 4, n: null }, value: 'k4' },
  { key: { id: 5, n: [5, 1] }, value: 'k5' },
  { key: { id: 6, n: [] }, value: 'k6' },
  { key: { id: 7, n: { a: 1 } }, value: 'k7' },
  { key: { id: 8, n: true }, value: 'k8' },
  { key: { id: 9, n: 1 }, value: 'k9' },
  { key: { id: 10, n: 'a' }, value: 'k10' },
  { key: { id: 11, n: 3 }, value: 'k11' },
];
const ALL = { id: { $gte: 1 } };

async function seed(store: BaseStore): Promise<void> {
  for (const row of ROWS) await store.set(row.key, row.value);
  await store.set('plain', 'plain');
}

function valueOf(key: Key): string {
  if (typeof key === 'string') return key;
  return `k${(key as { id: number }).id}`;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

export function queryOptions(ctx: SuiteContext): void {
  describe('query options: sort, skip, limit, page', () => {
    it('sort ascending follows MongoDB’s order across types (arrays by their smallest element), ties in creation order', async () => {
      const { store } = await ctx.open();
      await seed(store);
      expect(await store.get(ALL, { sort: { n: 1 } })).to.deep.equal(['k6', 'k3', 'k4', 'k5', 'k9', 'k1', 'k11', 'k10', 'k2', 'k7', 'k8']);
    });

    it('sort descending takes arrays by their largest element; ties still in creation order', async () => {
      const { store } = await ctx.open();
      await seed(store);
      expect(await store.get(ALL, { sort: { n: -1 } })).to.deep.equal(['k8', 'k7', 'k2', 'k10', 'k5', 'k1', 'k11', 'k9', 'k3', 'k4', 'k6']);
    });

    it('several sort fields apply in order', async () => {
      const { store } = await ctx.open();
      await seed(store);
      expect(await store.get(ALL, { sort: { n: 1, id: -1 } })).to.deep.equal(['k6', 'k4', 'k3', 'k9', 'k5', 'k11', 'k1', 'k10', 'k2', 'k7', 'k8']);
    });

    it('sort paths through arrays follow MongoDB: a position picks that element alone, fields through one array take one element', async () => {
      const { store } = await ctx.open();
      // Orders as the MongoDB engine gives them (find().sort() with the creation sequence last).
      const rows = [
        { id: 1, a: [{ b: 1, c: 9 }, { b: 2, c: 0 }] },
        { id: 2, a: [{ b: 1, c: 5 }] },
        { id: 3, a: [{}, 7] },
        { id: 5, a: { b: 1, c: 7 } },
        { id: 6, a: [] },
        { id: 8, a: [5, 0] },
        { id: 9, a: [{ b: [3, 1] }, { b: 2 }] },
      ];
      for (const row of rows) await store.set(row, row.id);
      const cases: Array<[Record<string, 1 | -1>, number[]]> = [
        [{ 'a.0': 1 }, [5, 6, 8, 3, 2, 1, 9]],
        [{ 'a.0': -1 }, [9, 1, 2, 3, 8, 5, 6]],
        [{ 'a.b': -1, 'a.c': 1 }, [9, 1, 2, 5, 3, 6, 8]],
        [{ 'a.0.b': 1 }, [3, 5, 6, 8, 1, 2, 9]],
        [{ a: 1, 'a.b': 1 }, [6, 8, 3, 2, 5, 1, 9]],
      ];
      for (const [sort, expected] of cases) expect(await store.get({ id: { $gte: 1 } }, { sort }), JSON.stringify(sort)).to.deep.equal(expected);
    });

    it('skip and limit cut the sorted matches; limit 0 gives nothing; without sort they cut creation order', async () => {
      const { store } = await ctx.open();
      await seed(store);
      expect(await store.get(ALL, { sort: { id: -1 }, skip: 2, limit: 3 })).to.deep.equal(['k9', 'k8', 'k7']);
      expect(await store.get(ALL, { sort: { id: -1 }, limit: 0 })).to.deep.equal([]);
      expect(await store.get(ALL, { sort: { id: 1 }, skip: 20 })).to.deep.equal([]);
      expect(await store.get(ALL, { skip: 9 })).to.deep.equal(['k10', 'k11']);
      expect(await store.get(ALL, { skip: 1, limit: 2, includeKey: true })).to.deep.equal([
        { key: ROWS[1].key, val: 'k2' },
        { key: ROWS[2].key, val: 'k3' },
      ]);
    });

    it('count, keys, entries and createReadStream take the same options', async () => {
      const { store } = await ctx.open();
      await seed(store);
      expect(await store.count(ALL, { skip: 2, limit: 3 })).to.equal(3);
      expect(await store.count(ALL, { skip: 10 })).to.equal(1);
      expect(await store.count(ALL, { sort: { n: 1 }, limit: 0 })).to.equal(0);
      expect(await store.count(ALL, { sort: { n: 1 } })).to.equal(11);
      // The string key has no `id`: it sorts as null, before every number.
      expect((await store.keys(undefined, { sort: { id: 1 }, limit: 3 })).map(valueOf)).to.deep.equal(['plain', 'k1', 'k2']);
      expect((await store.keys(ALL, { sort: { id: -1 }, skip: 1, limit: 2 })).map(valueOf)).to.deep.equal(['k10', 'k9']);
      expect((await collect(store.entries(ALL, { sort: { id: -1 }, limit: 2 }))).map((e) => e.value)).to.deep.equal(['k11', 'k10']);
      expect((await collect(store.createReadStream(ALL, { sort: { n: 1 }, skip: 1, limit: 2 }) as AsyncIterable<{ value: string }>)).map((e) => e.value)).to.deep.equal(['k3', 'k4']);
    });

    it('unknown options are refused on every method, before anything is read or written', async () => {
      const { store } = await ctx.open();
      await seed(store);
      const bad = { projection: { n: 1 } } as never;
      for (const call of [
        () => store.get(ALL, bad),
        () => store.count(ALL, bad),
        () => store.keys(ALL, bad),
        () => store.page(ALL, { limit: 2, projection: 1 } as never),
        () => store.set('x', 1, { ttl: 1000, expire: 5 } as never),
        () => store.setStream('x', (async function* () {})(), { ttl: 1000, foo: 1 } as never),
        () => store.getOrSet('x', () => 1, { foo: 1 } as never),
      ]) {
        expect((await rejection(call())).code).to.equal('ERR_INVALID_ARGUMENT');
      }
      expect(() => store.entries(ALL, bad)).to.throw().with.property('code', 'ERR_INVALID_ARGUMENT');
      const streamError = await rejection(collect(store.createReadStream(ALL, bad)));
      expect(streamError.code).to.equal('ERR_INVALID_ARGUMENT');
      expect(await store.has('x')).to.equal(false);
    });

    it('a bad sort, skip or limit is ERR_INVALID_ARGUMENT', async () => {
      const { store } = await ctx.open();
      for (const options of [{ sort: { n: 2 } }, { sort: { n: '1' } }, { sort: 'n' }, { sort: { '': 1 } }, { sort: { $n: 1 } }, { sort: { 'a..b': 1 } }, { skip: -1 }, { limit: 1.5 }, { limit: '3' }]) {
        expect((await rejection(store.get(ALL, options as never))).code, JSON.stringify(options)).to.equal('ERR_INVALID_ARGUMENT');
      }
    });

    it('page() walks every match once, in sort order then key order, and says when it is done', async () => {
      const { store } = await ctx.open();
      for (let i = 0; i < 25; i++) await store.set({ id: i, g: i % 3 }, i);
      const seen: number[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.page<number>({ g: { $gte: 0 } }, { sort: { g: -1 }, limit: 4, cursor });
        expect(page.items.length).to.be.at.most(4);
        seen.push(...page.items);
        cursor = page.cursor ?? undefined;
        pages++;
      } while (cursor !== undefined);
      expect(pages).to.equal(7);
      expect([...seen].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 25 }, (_, i) => i));
      const groups = seen.map((n) => n % 3);
      expect(groups).to.deep.equal([...groups].sort((a, b) => b - a));
    });

    it('page() neither repeats nor skips an entry while others are written and deleted between pages', async () => {
      const { store } = await ctx.open();
      for (let i = 0; i < 30; i++) await store.set({ id: i, score: i % 5 }, i);
      const seen: number[] = [];
      let cursor: string | undefined;
      let round = 0;
      do {
        const page = await store.page<number>({ id: { $gte: 0 } }, { sort: { score: 1 }, limit: 5, cursor });
        seen.push(...page.items);
        cursor = page.cursor ?? undefined;
        // Between pages: a new entry, and one deleted that no page has returned yet (if any is left).
        await store.set({ id: 100 + round, score: round % 5 }, 100 + round);
        const unseen = Array.from({ length: 30 }, (_, i) => i).find((i) => !seen.includes(i) && i % 7 === round % 7);
        if (unseen !== undefined) await store.del({ id: unseen, score: unseen % 5 });
        round++;
      } while (cursor !== undefined);
      expect(new Set(seen).size, 'no entry twice').to.equal(seen.length);
      const remaining = new Set(((await store.get({ id: { $gte: 0 } })) as number[]).filter((n) => n < 30));
      for (const n of remaining) expect(seen, `entry ${n} was there all along`).to.include(n);
    });

    it('page() refuses a missing limit, a cursor of another sort and a made-up cursor', async () => {
      const { store } = await ctx.open();
      for (let i = 0; i < 5; i++) await store.set({ id: i }, i);
      const first = await store.page({ id: { $gte: 0 } }, { sort: { id: 1 }, limit: 2, includeKey: true });
      expect(first.items).to.deep.equal([{ key: { id: 0 }, val: 0 }, { key: { id: 1 }, val: 1 }]);
      expect(first.cursor).to.be.a('string');
      expect((await rejection(store.page({ id: { $gte: 0 } }, {} as never))).code).to.equal('ERR_INVALID_ARGUMENT');
      expect((await rejection(store.page({ id: { $gte: 0 } }, { sort: { id: -1 }, limit: 2, cursor: first.cursor! }))).code).to.equal('ERR_INVALID_ARGUMENT');
      expect((await rejection(store.page({ id: { $gte: 0 } }, { sort: { id: 1 }, limit: 2, cursor: 'not-a-cursor' }))).code).to.equal('ERR_INVALID_ARGUMENT');
      const second = await store.page({ id: { $gte: 0 } }, { sort: { id: 1 }, limit: 2, cursor: first.cursor! });
      expect(second.items).to.deep.equal([2, 3]);
    });
  });
}
