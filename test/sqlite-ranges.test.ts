/**
 * SQLite queries decided in SQL (lib/backends/sqlite/query.ts): numeric ranges and equalities
 * answer exactly as the shared matcher (MongoDB's semantics) across types, arrays, missing
 * fields and numbers JavaScript and SQLite could read apart — with exact bounds (SQLite 3.53+
 * parses JSON numbers correctly rounded) and with widened bounds and the matcher (older
 * SQLite) — and no query statement binds its LIMIT (SQLite would prepare it again per call).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ManualClock } from '../lib/clock';
import type { Key, KeyObject } from '../lib/keys';
import { compileQuery, selectorMatches } from '../lib/query';
import { keyId } from '../lib/keys';
import { compileSort, sortEntries } from '../lib/query-sort';
import { tablesFor } from '../lib/backends/sqlite/layout';
import { valuesPlan } from '../lib/backends/sqlite/query';
import { sqliteBackendStores } from './support/sqlite-files';

describe('sqlite store: queries decided in SQL', () => {
  const open = sqliteBackendStores(() => ({ clock: new ManualClock(Date.now()) }));

  it('the bundled SQLite reads JSON numbers as JavaScript does, so a range is exact in SQL (one statement, no matcher)', async () => {
    const { store, backend } = open();
    await store.connect(); // the connection reads SQLite's version when it opens the file
    expect(backend.connection.exactNumbers).to.equal(true);
    const table = tablesFor('memstorage').entries;
    const range = compileQuery({ age: { $gte: 20, $lt: 25 }, kind: 'person' });
    expect(valuesPlan(range, table, Infinity, true)).to.not.equal(undefined);
    expect(valuesPlan(compileQuery({ age: { $gt: 80 } }), table, Infinity, true)).to.not.equal(undefined);
    // Not exact: an older SQLite, a bound beyond 2^53, an operator SQL does not translate.
    expect(valuesPlan(range, table, Infinity, false)).to.equal(undefined);
    expect(valuesPlan(compileQuery({ age: { $gt: 2 ** 60 } }), table, Infinity, true)).to.equal(undefined);
    expect(valuesPlan(compileQuery({ age: { $gt: 5, $ne: 7 } }), table, Infinity, true)).to.equal(undefined);
    expect(valuesPlan(compileQuery({ $or: [{ age: 1 }, { age: { $gt: 5 } }] }), table, Infinity, true)).to.equal(undefined);
  });

  // Values JavaScript and SQLite could read apart, or MongoDB compares by type: 0/1 next to
  // true/false, integers beyond 2^53 whose JSON text is not their double, strings, objects, arrays.
  const numbers = [0, 1, -1, 0.5, 2, 5, 5.000000000000001, 4.999999999999999, 0.1 + 0.2, 0.3, 2 ** 53, 2 ** 53 + 2, 2 ** 60 + 256, -(2 ** 60 + 256), 1e21, -1e-7, 1e308];
  const scalar = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...numbers) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(true, false, null, '5', '', '{', 'a', '{"x":1}') },
    { weight: 1, arbitrary: fc.constantFrom<unknown>([1, 6], [], { x: 1 }, [true], [2 ** 60 + 256]) },
  );
  const keyArb = fc.record({ n: scalar, m: fc.constantFrom('p', 'q', 1, true) }, { requiredKeys: ['m'] });
  const bound = fc.constantFrom(...numbers, -0, 3, 1e-300);
  const rangeArb = fc
    .uniqueArray(fc.constantFrom('$gt', '$gte', '$lt', '$lte'), { minLength: 1, maxLength: 3 })
    .chain((ops) => fc.tuple(...ops.map((op) => bound.map((b) => [op, b] as const))))
    .map((pairs) => Object.fromEntries(pairs));
  const queryArb = fc.tuple(rangeArb, fc.option(fc.constantFrom<unknown>('p', 1, true, { $in: ['q', 1] }), { nil: undefined })).map(([range, m]) => (m === undefined ? { n: range } : { n: range, m }));

  for (const [name, indexes, exactNumbers] of [
    ['exact bounds, no index', [], true],
    ['exact bounds, indexed', ['n', 'm'], true],
    ['widened bounds (SQLite before 3.53), indexed', ['n', 'm'], false],
  ] as const) {
    it(`ranges (with an equality) answer as the matcher: get, count, keys, sort + limit (${name})`, async function () {
      this.timeout(120_000);
      const { store, backend } = open({ indexes: [...indexes] });
      await store.connect();
      backend.connection.exactNumbers = exactNumbers;
      let round = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(keyArb, { minLength: 1, maxLength: 20 }), queryArb, fc.integer({ min: 1, max: 4 }), async (keys, query, limit) => {
          const ns = store.scope(`r${++round}`);
          const entries: Array<{ key: KeyObject; value: number }> = [];
          for (const [i, key] of keys.entries()) {
            const k = { ...(key as KeyObject), id: i };
            await ns.set(k, i);
            entries.push({ key: k, value: i });
          }
          await ns.set('str', -1);
          const selector = compileQuery(query);
          const matched = entries.filter((e) => selectorMatches(selector, keyId(e.key), e.key));
          const label = JSON.stringify(query);
          expect(await ns.get(query), label).to.deep.equal(matched.map((e) => e.value));
          expect(await ns.count(query), label).to.equal(matched.length);
          expect((await ns.keys(query)).map((k: Key) => (k as { id: number }).id), label).to.deep.equal(matched.map((e) => e.value));
          expect(await ns.get(query, { limit }), label).to.deep.equal(matched.slice(0, limit).map((e) => e.value));
          for (const direction of [1, -1] as const) {
            const spec = compileSort({ n: direction }, 'get');
            const sorted = sortEntries(matched, spec).map((e) => e.value);
            expect(await ns.get(query, { sort: { n: direction }, limit }), `${label} sort ${direction}`).to.deep.equal(sorted.slice(0, limit));
          }
          await ns.clear();
        }),
        { numRuns: Number(process.env.FUZZ_RUNS ?? 60), seed: Number(process.env.FUZZ_SEED ?? 20261202) },
      );
    });
  }

  it('no query statement binds its LIMIT: SQLite would prepare it again at every call (the count is in the SQL text)', async () => {
    const { store, backend } = open({ indexes: ['age'] });
    for (let i = 0; i < 300; i++) await store.set({ id: i, age: i % 30, kind: i % 2 ? 'a' : 'b' }, i);
    const seen: string[] = [];
    const query = backend.connection.query.bind(backend.connection);
    backend.connection.query = (sql: string) => {
      seen.push(sql);
      return query(sql);
    };
    await store.get({ kind: 'a' }, { limit: 5 });
    await store.get({ kind: 'a', age: { $gt: 3 } }, { limit: 5 });
    await store.get({ kind: 'a' }, { sort: { age: -1 }, limit: 15 });
    await store.get({ kind: 'a' }, { sort: { age: 1 }, skip: 2, limit: 5 });
    await store.keys({ kind: { $ne: 'b' } }, { limit: 3 });
    const first = await store.page({ kind: 'a' }, { sort: { age: 1 }, limit: 7 });
    await store.page({ kind: 'a' }, { sort: { age: 1 }, limit: 7, cursor: first.cursor! });
    await store.page({ kind: 'a' }, { limit: 7 });
    expect(seen.filter((sql) => /LIMIT/.test(sql)).length).to.be.greaterThan(5);
    // A bound count is allowed only as an expression (`@n + 0`), which SQLite reads when the statement runs.
    for (const sql of seen) expect(sql).to.not.match(/LIMIT @\w+\b(?! \+ 0)/);
  });
});
