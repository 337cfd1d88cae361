/**
 * A descending sort over a query of equalities (lib/backends/redis/sorted.ts, needleTest):
 * the walk parses and tests only the keys whose id holds the JSON text of a wanted value, so it
 * must take exactly the keys the index sets hold, whatever that text looks like
 * (escapes, NULs, line separators, array elements, nested paths, -0, exponents) and however
 * often the text turns up elsewhere in an id.
 */
import { expect } from 'chai';
import { KeyObject } from '../lib/keys';
import { RedisStore } from '../lib/backends/redis';
import { sharedRedis } from './support/redis-server';
import { expectedKeys } from './support/expected-order';

/** The values stored at `k` (and looked for), with decoys holding their text elsewhere. */
const VALUES: unknown[] = ['person', 'per"son', 'a\\b', 'line\u2028sep', 'é', 'x\u0000y', 'personal', 'Person', ['person', 'x'], 5, -0, 0, 1e21, 0.1, true, false, null, { k: 'person' }];

/** Every scalar equality a query can ask for. */
const WANTED: Array<string | number | boolean> = ['person', 'per"son', 'a\\b', 'line\u2028sep', 'é', 'x\u0000y', 'x', 5, 0, 1e21, 0.1, true, false];

/** The ids (`n`) a store should list for `query`. */
function expected(all: KeyObject[], query: Record<string, unknown>, sort: Record<string, 1 | -1>, skip: number, limit: number): number[] {
  return expectedKeys(all, query, sort, skip, limit).map((key) => key.n as number);
}

describe('Redis store: a descending sort over equalities', () => {
  let store: RedisStore;
  const all: KeyObject[] = [];

  before(async function () {
    this.timeout(60_000);
    const { url } = await sharedRedis();
    store = new RedisStore({ url, namespace: `sf${process.pid}`, batchSize: 5 });
    let n = 0;
    for (const v of VALUES) {
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      const shapes: Array<Record<string, unknown>> = [{ k: v }, { o: { k: v } }, { a: [{ k: v }, { k: 'x' }] }, { k: 'other', note: text, kk: v }];
      for (const shape of shapes) {
        const stored = { ...shape, n: n++, age: n % 3 } as KeyObject;
        all.push(JSON.parse(JSON.stringify(stored)) as KeyObject); // -0 is stored as 0
        await store.set(stored, stored.n);
      }
    }
  });

  after(async () => {
    await store?.clear();
    await store?.close();
  });

  it('takes exactly the keys the index sets hold, for values whose JSON text is escaped or found elsewhere in the id', async function () {
    this.timeout(60_000);
    const queries: Array<Record<string, unknown>> = [];
    for (const v of WANTED) queries.push({ k: v }, { 'o.k': v }, { 'a.k': v }, { kk: v }, { k: v, age: 1 });
    queries.push({ k: { $in: ['person', 5, true] } }, { 'a.k': { $in: ['x', 'per"son'] }, age: { $in: [0, 2] } });
    for (const query of queries) {
      for (const sort of [{ n: -1 }, { age: -1 }] as Array<Record<string, 1 | -1>>) {
        for (const [skip, limit] of [[0, 2], [0, 100], [1, 3]]) {
          const label = `${JSON.stringify(query)} ${JSON.stringify(sort)} ${skip} ${limit}`;
          const want = expected(all, query, sort, skip, limit);
          expect(await store.get(query, { sort, skip, limit }), label).to.deep.equal(want);
          expect((await store.keys(query, { sort, skip, limit })).map((k) => (k as KeyObject).n), label).to.deep.equal(want);
        }
      }
    }
  });
});
