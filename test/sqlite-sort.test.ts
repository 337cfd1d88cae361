/**
 * The SQLite store's native sort (SPEC §14, lib/backends/sqlite/sorted.ts): ORDER BY over
 * json_extract in lib/query-sort.ts's order (brackets by json_type, ties in creation order),
 * keys holding arrays and objects at a sort path sorted in the backend and merged, an indexed
 * single-path sort served by its expression index (no temporary B-tree), skip and limit.
 * Every result is checked against lib/query-sort.ts.
 */
import { expect } from 'chai';
import * as fc from 'fast-check';
import { Readable } from 'node:stream';
import { ManualClock } from '../lib/clock';
import { SqliteBackend } from '../lib/backends/sqlite';
import type { Key } from '../lib/keys';
import { keyId } from '../lib/keys';
import { compileQuery } from '../lib/query';
import { compileSort, sortEntries } from '../lib/query-sort';
import { sqliteBackendStores } from './support/sqlite-files';
import { pageOrder, walkPages } from './support/page-walk';

describe('sqlite store: native sort', () => {
  const open = sqliteBackendStores();

  /** Records every query statement the backend runs with its parameters. */
  function recordQueries(backend: SqliteBackend): Array<{ sql: string; params: unknown }> {
    const seen: Array<{ sql: string; params: unknown }> = [];
    const connection = backend.connection;
    const query = connection.query.bind(connection);
    connection.query = (sql: string) => {
      const statement = query(sql);
      const proxy: typeof statement = new Proxy(statement, {
        get(target, prop) {
          const member = Reflect.get(target, prop, target);
          if (typeof member !== 'function') return member;
          if (prop !== 'all' && prop !== 'get') {
            // pluck(), raw() and the like return the statement: keep recording through it.
            return (...args: unknown[]) => {
              const result = member.apply(target, args);
              return result === target ? proxy : result;
            };
          }
          return (params: unknown) => {
            seen.push({ sql, params });
            return member.call(target, params);
          };
        },
      });
      return proxy;
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
    // Ascending: one statement in index order. Descending: one statement too, the run of the greatest value (one index step, a subquery) in creation order.
    const ordered = seen.filter((q) => /json_extract\(k, '\$\."age"'\)( DESC LIMIT 1| = @top ORDER BY seq|, seq LIMIT)/.test(q.sql));
    expect(ordered).to.have.length(2);
    for (const { sql, params } of ordered) {
      const plan = (backend.connection.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params as object) as Array<{ detail: string }>).map((r) => r.detail).join('\n');
      expect(plan).to.match(/INDEX memstorage_k_age/);
      expect(plan).to.not.match(/TEMP B-TREE/);
    }
  });

  it('a descending sort + limit on an indexed path reads its top run in creation order: streamed values, expired entries, short runs, missing fields', async () => {
    const clock = new ManualClock(Date.now());
    const { store } = open({ indexes: ['n'], clock });
    const all = { id: { $gte: 0 } }; // decided in SQL: the limit is read in SQL
    await store.set({ id: 1, n: 9 }, 'nine-a');
    await store.setStream({ id: 2, n: 9 }, Readable.from([Buffer.from('nine-streamed')]));
    await store.set({ id: 3, n: 9 }, 'nine-expires', { ttl: 10 });
    await store.set({ id: 4, n: 9 }, 'nine-d');
    await store.set({ id: 5, n: 7 }, 'seven');
    await store.set({ id: 6 }, 'missing');
    await store.set({ id: 7, n: 8 }, 'eight-a');
    await store.set({ id: 8, n: 8 }, 'eight-b');
    expect(await store.get(all, { sort: { n: -1 }, limit: 3 })).to.deep.equal(['nine-a', Buffer.from('nine-streamed'), 'nine-expires']);
    clock.advance(10);
    expect(await store.get(all, { sort: { n: -1 }, limit: 3 })).to.deep.equal(['nine-a', Buffer.from('nine-streamed'), 'nine-d']);
    // The top run is short: the values below it follow, ties in creation order, then the missing field.
    expect(await store.get(all, { sort: { n: -1 }, limit: 7 })).to.deep.equal(['nine-a', Buffer.from('nine-streamed'), 'nine-d', 'eight-a', 'eight-b', 'seven', 'missing']);
    expect(await store.get(all, { sort: { n: -1 }, skip: 4, limit: 2 })).to.deep.equal(['eight-b', 'seven']);
    expect((await store.keys(all, { sort: { n: -1 }, limit: 2 })).map((k) => (k as { id: number }).id)).to.deep.equal([1, 2]);
    // A key holding an array (another row) is merged in by its largest element.
    await store.set({ id: 9, n: [1, 9] }, 'array');
    expect(await store.get(all, { sort: { n: -1 }, limit: 4 })).to.deep.equal(['nine-a', Buffer.from('nine-streamed'), 'nine-d', 'array']);
    expect((await store.keys(all, { sort: { n: -1 }, limit: 4 })).map((k) => (k as { id: number }).id)).to.deep.equal([1, 2, 4, 9]);
    // Created before the top run's rows, an array that ties with them comes first (creation order).
    const older = store.scope('older');
    await older.set({ id: 1, n: [9] }, 'array');
    await older.set({ id: 2, n: 9 }, 'two');
    await older.set({ id: 3, n: 9 }, 'three');
    expect(await older.get(all, { sort: { n: -1 }, limit: 2 })).to.deep.equal(['array', 'two']);
    expect(await older.get(all, { sort: { n: -1 }, limit: 3 })).to.deep.equal(['array', 'two', 'three']);
  });

  it('a descending sort + limit finds a run of integers beyond 2^53 again (their JSON text is not their double)', async () => {
    const { store } = open({ indexes: ['n'] });
    const big = 2 ** 60 + 256; // written as 1152921504606847200, which SQLite reads as that integer, not this double
    const all = { id: { $gte: 0 } };
    await store.set({ id: 1, n: big }, 'big-a');
    await store.set({ id: 2, n: big }, 'big-b');
    await store.set({ id: 3, n: 5 }, 'five');
    expect(await store.get(all, { sort: { n: -1 }, limit: 1 })).to.deep.equal(['big-a']);
    expect(await store.get(all, { sort: { n: -1 }, limit: 3 })).to.deep.equal(['big-a', 'big-b', 'five']);
    await store.set({ id: 4, n: 1e308 }, 'top');
    // The run below the top one is cut by the limit: its first rows are read again by the value the row holds.
    expect(await store.get(all, { sort: { n: -1 }, limit: 2 })).to.deep.equal(['top', 'big-a']);
    expect(await store.get({ n: { $gt: 0 } }, { sort: { n: -1 }, limit: 2 })).to.deep.equal(['top', 'big-a']);
    // With a key SQL cannot order (an array), the greatest value is read first and bound (sqliteNumber) as the integer SQLite
    // holds: 2^60 is written 1152921504606847000, above its double, so bound as the double its run was neither equal nor below.
    const other = open({ indexes: ['n'] }).store;
    await other.set({ id: 1, n: 2 ** 60 }, 'big-a');
    await other.set({ id: 2, n: 2 ** 60 }, 'big-b');
    await other.set({ id: 3, n: [1] }, 'array');
    expect(await other.get(all, { sort: { n: -1 }, limit: 1 })).to.deep.equal(['big-a']);
    expect(await other.get(all, { sort: { n: -1 }, limit: 3 })).to.deep.equal(['big-a', 'big-b', 'array']);
  });

  it('a namespace holding other rows reads a descending sort + limit with the probe first (no one-statement attempt), while it holds them', async () => {
    const { store, backend } = open({ indexes: ['n'] });
    const all = { id: { $gte: 0 } };
    const sort = { sort: { n: -1 as const }, limit: 2 };
    for (let i = 0; i < 5; i++) await store.set({ id: i, n: 4 }, i); // a top run longer than the limit
    await store.set({ id: 9, n: [5] }, 'array');
    const seen = recordQueries(backend);
    const statements = async () => {
      seen.length = 0;
      const got = await store.get(all, sort);
      return { got, count: seen.length };
    };
    // The first read tries the one statement, finds nothing (an array exists), probes; later ones probe first.
    expect(await statements()).to.deep.equal({ got: ['array', 0], count: 4 }); // alone, probe, other rows, run
    expect(await statements()).to.deep.equal({ got: ['array', 0], count: 3 });
    // Another connection on the file deletes the array: the probe sees it, and the read after is one statement again.
    const { store: second } = open({ path: backend.connection.settings.path, indexes: ['n'] });
    await second.del({ id: 9, n: [5] });
    expect(await statements()).to.deep.equal({ got: [0, 1], count: 2 }); // probe, run
    expect(await statements()).to.deep.equal({ got: [0, 1], count: 1 });
    // An array written by the other connection now: the one statement finds nothing, the probe finds it.
    await second.set({ id: 10, n: [7, 1] }, 'array 2');
    expect(await statements()).to.deep.equal({ got: ['array 2', 0], count: 4 });
    // A boolean at the path (read as 1 by the index) is another row too; so is a NULL top (no value at the path).
    await second.del({ id: 10, n: [7, 1] });
    await store.set({ id: 11, n: true }, 'true');
    expect((await statements()).got).to.deep.equal(['true', 0]);
    const empty = store.scope('no values');
    await empty.set({ id: 1 }, 'missing a');
    await empty.set({ id: 2 }, 'missing b');
    for (let i = 0; i < 2; i++) expect(await empty.get(all, sort)).to.deep.equal(['missing a', 'missing b']);
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
  describe('native page (FindOptions.page)', () => {

    it('declares nativePage', () => {
      expect(open().store.supports.nativePage).to.equal(true);
    });

    it('a page is one statement of page size + 1 rows through the expression index, whatever page of the walk', async () => {
      const { store, backend } = open({ indexes: ['age', 'kind'] });
      for (let i = 0; i < 400; i++) await store.set({ id: i, age: i % 40, kind: i % 2 ? 'cat' : 'dog' }, i);
      const seen = recordQueries(backend);
      const page1 = await store.page({ kind: 'dog' }, { sort: { age: 1 }, limit: 5 });
      const page2 = await store.page({ kind: 'dog' }, { sort: { age: 1 }, limit: 5, cursor: page1.cursor! });
      // Ties by id: '{"age":0,"id":120,...' before '{"age":0,"id":40,...'.
      expect([...page1.items, ...page2.items]).to.deep.equal([0, 120, 160, 200, 240, 280, 320, 360, 40, 80]);
      const ordered = seen.filter((q) => /ORDER BY json_extract\(k, '\$\."age"'\), id LIMIT/.test(q.sql));
      expect(ordered).to.have.length(2);
      for (const { sql, params } of ordered) {
        expect(sql).to.match(/ LIMIT 6$/);
        const plan = (backend.connection.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params as object) as Array<{ detail: string }>).map((r) => r.detail).join('\n');
        expect(plan).to.match(/INDEX memstorage_k_age \(ns=\?( AND <expr>>\?)?\)/);
      }
      // The second page starts at the cursor's value in the index, not at the start.
      expect(ordered[1].sql).to.match(/json_extract\(k, '\$\."age"'\) >= @pc/);
    });

    it('a walk over integers beyond 2^53 moves past them: their cursor binds the integer SQLite read from the JSON, not the double', async () => {
      // 2^60 is written 1152921504606847000 and 2^60 + 256 1152921504606847200: integers no
      // double equals. Bound as doubles, a page ending on one of them gave that page again forever.
      const big = 2 ** 60;
      const ns = [big, big + 256, big + 512, big + 256, big, 5, big + 1024, -big, -big - 256, -(2 ** 62)];
      const keys = ns.map((n, i) => ({ i, n }));
      for (const indexes of [['n'], []]) {
        const { store } = open({ indexes });
        for (const key of keys) await store.set(key, key.i);
        for (const dir of [1, -1] as const) {
          for (const limit of [1, 2, 3]) {
            expect(await walkPages(store, { i: { $gte: 0 } }, { n: dir }, limit), `indexes ${indexes}, n ${dir}, pages of ${limit}`).to.deep.equal(pageOrder(keys, { n: dir }));
          }
        }
      }
    });

    it('a page asked without a limit (as a tier view may) yields every match after the position', async () => {
      const { store, backend } = open({ indexes: ['n'] });
      for (let i = 0; i < 200; i++) await store.set({ i, n: i % 7 }, i);
      const spec = compileSort({ n: -1 }, 'page');
      const all: number[] = [];
      for await (const entry of backend.find(compileQuery({ i: { $gte: 0 } }), { values: true, sort: spec, page: { after: { keys: [3], id: keyId({ i: 3, n: 3 }) } } })) all.push(entry.value as number);
      const expected = pageOrder(Array.from({ length: 200 }, (_, i) => ({ i, n: i % 7 })), { n: -1 }).map((k) => (k as { i: number }).i);
      expect(all).to.deep.equal(expected.slice(expected.indexOf(3) + 1));
    });

    it('booleans and objects at an indexed sort path come from their partial index, not from every key valued 0 or 1', async () => {
      const { store, backend } = open({ indexes: ['n'] });
      for (let i = 0; i < 50; i++) await store.set({ id: i, n: i % 2 }, i);
      const any = { id: { $exists: true } };
      await store.set({ id: 'f', n: false }, 'f');
      await store.set({ id: 't', n: true }, 't');
      await store.set({ id: 'o', n: { x: 1 } }, 'o');
      const seen = recordQueries(backend);
      expect(await store.get(any, { sort: { n: -1 }, limit: 3 })).to.deep.equal(['t', 'f', 'o']);
      expect((await store.page(any, { sort: { n: -1 }, limit: 3 })).items).to.deep.equal(['t', 'f', 'o']);
      const odd = seen.filter((q) => /IN \('true', 'false', 'object'\)\)/.test(q.sql));
      expect(odd).to.have.length(2);
      for (const { sql, params } of odd) {
        const plan = (backend.connection.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params as object) as Array<{ detail: string }>).map((r) => r.detail).join('\n');
        expect(plan).to.match(/INDEX memstorage_odd_n/);
        expect(plan).to.not.match(/memstorage_k_n/);
      }
    });

    it('breaks ties by id in code point order (a character beyond the BMP after U+FFFF), in both directions', async () => {
      for (const indexes of [[], ['n']]) {
        const { store } = open({ indexes });
        const keys: Key[] = [{ n: 1, s: '\u{10000}' }, { n: 1, s: '\uffff' }, { n: 1, s: 'z' }, { n: 2, s: '\u{10000}' }, { n: 2, s: '\uffff' }];
        for (const key of keys) await store.set(key, 0);
        expect(await walkPages(store, { n: { $exists: true } }, { n: 1 }, 1)).to.deep.equal([keys[2], keys[1], keys[0], keys[4], keys[3]]);
        expect(await walkPages(store, { n: { $exists: true } }, { n: -1 }, 2)).to.deep.equal([keys[4], keys[3], keys[2], keys[1], keys[0]]);
        expect(await walkPages(store, { n: 1 }, {}, 1)).to.deep.equal([keys[2], keys[1], keys[0]]);
      }
    });

    it('continues after a cursor whose entry was deleted meanwhile', async () => {
      for (const indexes of [[], ['n']]) {
        const { store } = open({ indexes });
        for (let i = 0; i < 10; i++) await store.set({ i, n: i % 3 }, i);
        const first = await store.page({ n: { $exists: true } }, { sort: { n: -1, i: 1 }, limit: 4, includeKey: true });
        const last = (first.items as Array<{ key: Key }>).pop()!.key;
        await store.del(last);
        const second = await store.page({ n: { $exists: true } }, { sort: { n: -1, i: 1 }, limit: 4, cursor: first.cursor! });
        expect(second.items).to.deep.equal([4, 7, 0, 3]);
        const single = await store.page({ n: { $exists: true } }, { sort: { n: 1 }, limit: 2, includeKey: true });
        await store.del((single.items as Array<{ key: Key }>)[1].key);
        expect((await store.page({ n: { $exists: true } }, { sort: { n: 1 }, limit: 2, cursor: single.cursor! })).items).to.deep.equal([6, 9]);
      }
    });

    const scalar = fc.oneof(fc.constantFrom(0, 1, 2, -1.5, 1e21, 'a', 'b', 'B', '', '{', 'é', '\uffff', '\u{10000}', true, false, null), fc.integer({ min: -3, max: 3 }));
    const field = fc.oneof(
      { weight: 4, arbitrary: scalar },
      { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
      { weight: 1, arbitrary: fc.record({ x: scalar }, { requiredKeys: [] }) },
    );
    const keyArb = fc.record({ a: field, b: field, c: fc.constantFrom('p', 'q', '\uffff', '\u{10000}') }, { requiredKeys: ['c'] });
    const sortArb = fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'a.x'), { minLength: 0, maxLength: 3 }).chain((paths) =>
      fc.tuple(fc.constant(null), ...paths.map((p) => fc.constantFrom(1 as const, -1 as const).map((d) => [p, d] as const))),
    );
    for (const [name, indexes] of [
      ['no index', []],
      ['indexed paths', ['a', 'b', 'c', 'a.x']],
    ] as const) {
      it(`page walks, mixed directions, arrays, empty arrays and missing fields, equal lib/query-sort.ts then id order (${name})`, async function () {
        this.timeout(120_000);
        const { store } = open({ indexes: [...indexes] });
        let round = 0;
        await fc.assert(
          fc.asyncProperty(fc.array(keyArb, { minLength: 1, maxLength: 20 }), sortArb, fc.integer({ min: 1, max: 4 }), async (keys, [, ...fields], size) => {
            const ns = store.scope(`p${++round}`);
            const all: Key[] = ['str'];
            await ns.set('str', 0);
            for (const [i, key] of keys.entries()) {
              const k = { ...key, i: i % 3 }; // ids differ by more than i: ties on i too
              await ns.set(k, i);
              if (!all.some((other) => keyId(other) === keyId(k))) all.push(k);
            }
            const sort = Object.fromEntries(fields) as Record<string, 1 | -1>;
            expect(await walkPages(ns, { c: { $exists: true } }, sort, size)).to.deep.equal(pageOrder(all.filter((k) => typeof k !== 'string'), sort));
            const onlyP = all.filter((k) => typeof k !== 'string' && k.c === 'p');
            expect(await walkPages(ns, { c: 'p' }, sort, size)).to.deep.equal(pageOrder(onlyP, sort));
            await ns.clear();
          }),
          { numRuns: Number(process.env.FUZZ_RUNS ?? 60), seed: Number(process.env.FUZZ_SEED ?? 20261202) },
        );
      });
    }
  });
});
