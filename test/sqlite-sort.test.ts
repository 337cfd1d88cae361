/**
 * The SQLite store's native sort (SPEC §14, lib/backends/sqlite/sorted.ts): ORDER BY over
 * json_extract in lib/query-sort.ts's order (brackets by json_type, ties in creation order),
 * keys holding arrays and objects at a sort path sorted in the backend and merged, an indexed
 * single-path sort served by its expression index (no temporary B-tree), skip and limit.
 * Every result is checked against lib/query-sort.ts.
 */
import { expect } from 'chai';
import * as fc from 'fast-check';
import { BackendStore } from '../lib/backend-store';
import { createBackend, SqliteBackend, SqliteSettings } from '../lib/backends/sqlite';
import type { Key } from '../lib/keys';
import { compileSort, sortEntries } from '../lib/query-sort';
import { freshSqlitePath } from './support/sqlite-files';

describe('sqlite store: native sort', () => {
  const opened: Array<BackendStore<SqliteSettings>> = [];
  function open(settings: Partial<SqliteSettings> = {}): { store: BackendStore<SqliteSettings>; backend: SqliteBackend } {
    let backend!: SqliteBackend;
    const store = new BackendStore<SqliteSettings>({ path: freshSqlitePath(), ...settings }, (s, context) => (backend = createBackend(s, context) as SqliteBackend));
    opened.push(store);
    return { store, backend };
  }
  afterEach(async () => {
    while (opened.length) await opened.pop()!.close();
  });

  /** Records every query statement the backend runs with its parameters. */
  function recordQueries(backend: SqliteBackend): Array<{ sql: string; params: unknown }> {
    const seen: Array<{ sql: string; params: unknown }> = [];
    const connection = backend.connection;
    const query = connection.query.bind(connection);
    connection.query = (sql: string) => {
      const statement = query(sql);
      return new Proxy(statement, {
        get(target, prop, receiver) {
          const member = Reflect.get(target, prop, receiver);
          if (prop !== 'all' || typeof member !== 'function') return member;
          return (params: unknown) => {
            seen.push({ sql, params });
            return member.call(target, params);
          };
        },
      });
    };
    return seen;
  }

  it('declares nativeSort', () => {
    expect(open().store.supports.nativeSort).to.equal(true);
  });

  it('an indexed single-path sort on scalar values uses its expression index, with no temporary B-tree, either direction', async () => {
    const { store, backend } = open({ indexes: ['age'] });
    for (let i = 0; i < 300; i++) await store.set({ id: i, age: i % 30 }, i);
    const seen = recordQueries(backend);
    expect(await store.get({ id: { $gte: 0 } }, { sort: { age: 1 }, skip: 3, limit: 4 })).to.deep.equal([90, 120, 150, 180]);
    expect(await store.keys(undefined, { sort: { age: -1 }, limit: 3 })).to.deep.equal([{ age: 29, id: 29 }, { age: 29, id: 59 }, { age: 29, id: 89 }]);
    const ordered = seen.filter((q) => /ORDER BY json_extract\(k, '\$\."age"'\)/.test(q.sql));
    expect(ordered).to.have.length(2);
    for (const { sql, params } of ordered) {
      const plan = (backend.connection.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params as object) as Array<{ detail: string }>).map((r) => r.detail).join('\n');
      expect(plan).to.match(/INDEX memstorage_k_age/);
      expect(plan).to.not.match(/TEMP B-TREE/);
    }
  });

  it('sorts across types as MongoDB: empty array < null = missing < numbers < strings < objects < arrays by element < booleans', async () => {
    for (const indexes of [[], ['n']]) {
      const { store } = open({ indexes });
      const rows: Array<[Key, string]> = [
        [{ id: 1, n: true }, 'true'],
        [{ id: 2, n: 'b' }, 'b'],
        [{ id: 3, n: [] }, 'empty'],
        [{ id: 4 }, 'missing'],
        [{ id: 5, n: { z: 1 } }, 'object'],
        [{ id: 6, n: 2.5 }, '2.5'],
        [{ id: 7, n: [7, 0] }, '[7,0]'],
        [{ id: 8, n: null }, 'null'],
        [{ id: 9, n: false }, 'false'],
        [{ id: 10, n: 1 }, '1'],
        [{ id: 11, n: 'a' }, 'a'],
        ['str', 'string key'],
      ];
      for (const [key, value] of rows) await store.set(key, value);
      const asc = (await store.keys(undefined, { sort: { n: 1 } })).map((k) => rows.find(([key]) => JSON.stringify(key) === JSON.stringify(k))![1]);
      expect(asc).to.deep.equal(['empty', 'missing', 'null', 'string key', '[7,0]', '1', '2.5', 'a', 'b', 'object', 'false', 'true']);
      const desc = (await store.keys(undefined, { sort: { n: -1 } })).map((k) => rows.find(([key]) => JSON.stringify(key) === JSON.stringify(k))![1]);
      expect(desc).to.deep.equal(['true', 'false', 'object', 'b', 'a', '[7,0]', '2.5', '1', 'missing', 'null', 'string key', 'empty']);
    }
  });

  describe('against lib/query-sort.ts', () => {
    const scalar = fc.oneof(fc.constantFrom(0, 1, 2, -1.5, 1e21, 'a', 'b', 'B', '', '{', 'é', true, false, null), fc.integer({ min: -3, max: 3 }));
    const field = fc.oneof(
      { weight: 4, arbitrary: scalar },
      { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
      { weight: 1, arbitrary: fc.record({ x: scalar }, { requiredKeys: [] }) },
      { weight: 1, arbitrary: fc.array(fc.record({ x: scalar }, { requiredKeys: [] }), { maxLength: 2 }) },
    );
    const keyArb = fc.record({ a: field, b: field, c: fc.constantFrom('p', 'q') }, { requiredKeys: ['c'] });
    const sortArb = fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'a.x', 'b.x'), { minLength: 1, maxLength: 3 }).chain((paths) =>
      fc.tuple(...paths.map((p) => fc.constantFrom(1 as const, -1 as const).map((d) => [p, d] as const))),
    );

    for (const [name, indexes] of [
      ['no index', []],
      ['indexed paths', ['a', 'b', 'c', 'a.x']],
    ] as const) {
      it(`keys and get with sort, skip and limit equal sortEntries (${name})`, async function () {
        this.timeout(120_000);
        const { store } = open({ indexes: [...indexes] });
        let round = 0;
        await fc.assert(
          fc.asyncProperty(fc.array(keyArb, { minLength: 1, maxLength: 25 }), sortArb, fc.nat(6), fc.option(fc.integer({ min: 1, max: 8 })), async (keys, fields, skip, limit) => {
            const ns = store.scope(`r${++round}`);
            const entries: Array<{ key: Key; value: number }> = [];
            for (const [i, key] of keys.entries()) {
              const k = { ...key, id: i };
              await ns.set(k, i);
              entries.push({ key: k, value: i });
            }
            await ns.set('str', -1);
            entries.push({ key: 'str', value: -1 });
            const sort = Object.fromEntries(fields);
            const spec = compileSort(sort, 'get');
            const end = limit === null ? undefined : skip + limit;
            const opts = limit === null ? { sort, skip } : { sort, skip, limit };
            const expected = sortEntries(entries, spec).map((e) => e.value).slice(skip, end);
            const got = (await ns.keys(undefined, opts)).map((k) => (typeof k === 'string' ? -1 : (k as { id: number }).id));
            expect(got).to.deep.equal(expected);
            const onlyP = sortEntries(entries.filter((e) => typeof e.key !== 'string' && e.key.c === 'p'), spec).map((e) => e.value).slice(skip, end);
            expect(await ns.get({ c: 'p' }, opts)).to.deep.equal(onlyP);
            await ns.clear();
          }),
          { numRuns: Number(process.env.FUZZ_RUNS ?? 60), seed: Number(process.env.FUZZ_SEED ?? 20261201) },
        );
      });
    }
  });
});
