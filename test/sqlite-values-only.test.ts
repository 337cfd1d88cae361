/**
 * The SQLite store's sorted reads for a caller that wants values only (FindOptions.keys false:
 * `get` without `includeKey`, lib/backends/sqlite/sorted.ts): the plain rows' statements read
 * no `id` column where the SQL decides the matches, and give the values a read with keys gives;
 * an inexact plan still reads ids (the matcher needs the keys), and corrupt data met without
 * ids is read again with them, so the error names the key (SPEC §12).
 */
import { expect } from 'chai';
import { Readable } from 'node:stream';
import { BackendStore } from '../lib/backend-store';
import { ManualClock } from '../lib/clock';
import { SqliteBackend, SqliteSettings } from '../lib/backends/sqlite';
import { sqliteBackendStores } from './support/sqlite-files';

describe('sqlite store: sorted reads of values only', () => {
  const open = sqliteBackendStores();

  /** Records the SQL text of every query statement run (the fixed statements, rowBySeq included, are not query statements). */
  function recordSql(backend: SqliteBackend): string[] {
    const seen: string[] = [];
    const connection = backend.connection;
    const query = connection.query.bind(connection);
    connection.query = (sql: string) => {
      seen.push(sql);
      return query(sql);
    };
    return seen;
  }

  /** Whether a statement's result columns hold the entries' `id` column. */
  const readsIds = (sql: string) => /^SELECT (seq, )?id,/.test(sql);

  /** The values of `get(query, options)`, checked against the same read with includeKey; and the statements the values-only read ran. */
  async function valuesOnly(store: BackendStore<SqliteSettings>, seen: string[], query: object, options: object): Promise<{ values: unknown[]; sql: string[] }> {
    seen.length = 0;
    const values = await store.get(query, options);
    const sql = seen.slice();
    const withKeys = (await store.get(query, { ...options, includeKey: true })) as Array<{ val: unknown }>;
    expect(values).to.deep.equal(withKeys.map((e) => e.val));
    return { values: values as unknown[], sql };
  }

  it('a descending sort + limit on an indexed path reads its top run without ids (one statement), values as with keys', async () => {
    const clock = new ManualClock(Date.now());
    const { store, backend } = open({ indexes: ['n'], clock });
    const all = { id: { $gte: 0 } };
    await store.set({ id: 1, n: 9 }, 'nine-a');
    await store.setStream({ id: 2, n: 9 }, Readable.from([Buffer.from('nine-streamed')]));
    await store.set({ id: 3, n: 9 }, 'nine-expires', { ttl: 10 });
    await store.set({ id: 4, n: 9 }, 'nine-d');
    await store.set({ id: 5, n: 7 }, 'seven');
    await store.set({ id: 6 }, 'missing');
    const seen = recordSql(backend);
    const top = await valuesOnly(store, seen, all, { sort: { n: -1 }, limit: 3 });
    expect(top.values).to.deep.equal(['nine-a', Buffer.from('nine-streamed'), 'nine-expires']);
    expect(top.sql).to.have.length(1);
    // One cell a row, read plucked: the stored value, or the seq of a row read whole (the streamed one).
    expect(top.sql[0]).to.match(/^SELECT iif\(s IS NULL AND \(e IS NULL OR e < 1e300\) AND typeof\(v\) IN \('text', 'blob'\), v, seq\) FROM /);
    // With includeKey the same shape reads the id.
    expect(seen.slice(top.sql.length).some((sql) => /^SELECT id, e, 0, /.test(sql))).to.equal(true);
    clock.advance(10);
    // A short run: the values below it (read backwards, then the missing field) without ids too.
    const longer = await valuesOnly(store, seen, all, { sort: { n: -1 }, skip: 1, limit: 5 });
    expect(longer.values).to.deep.equal([Buffer.from('nine-streamed'), 'nine-d', 'seven', 'missing']);
    expect(longer.sql.length).to.be.greaterThan(1);
    expect(longer.sql.filter(readsIds)).to.deep.equal([]);
  });

  it('plain rows ordered in SQL are read without ids; rows merged in from arrays still with them', async () => {
    const { store, backend } = open({ indexes: ['n'] });
    const all = { id: { $gte: 0 } };
    for (let i = 0; i < 12; i++) await store.set({ id: i, n: i % 4, m: i % 3 }, `v${i}`);
    const seen = recordSql(backend);
    // Ascending on the indexed path, and a two-field sort (not indexed): the plain rows' statement only.
    const ascending = await valuesOnly(store, seen, all, { sort: { n: 1 }, skip: 2, limit: 4 });
    expect(ascending.values).to.deep.equal(['v8', 'v1', 'v5', 'v9']);
    const twoFields = await valuesOnly(store, seen, all, { sort: { m: -1, n: 1 }, limit: 3 });
    expect(twoFields.values).to.deep.equal(['v8', 'v5', 'v2']);
    // (The other rows' statement, keys holding arrays or objects at the path, always reads ids: it finds none here.)
    const otherRows = (sql: string) => /WHERE seq IN/.test(sql);
    for (const { sql } of [ascending, twoFields]) {
      expect(sql.length).to.be.greaterThan(0);
      expect(sql.filter((s) => !otherRows(s)).filter(readsIds)).to.deep.equal([]);
      expect(sql.some((s) => /^SELECT seq, e, a, s, c, v/.test(s))).to.equal(true);
    }
    // A key holding an array: the other rows are read with ids (matched, ranked by their keys) and merged.
    await store.set({ id: 20, n: [2, 9] }, 'array');
    const merged = await valuesOnly(store, seen, all, { sort: { n: -1 }, limit: 4 });
    expect(merged.values).to.deep.equal(['array', 'v3', 'v7', 'v11']);
    expect(merged.sql.some((s) => otherRows(s) && readsIds(s))).to.equal(true);
    expect(merged.sql.filter((s) => !otherRows(s)).filter(readsIds)).to.deep.equal([]);
  });

  it('an inexact plan (the matcher decides) still reads ids', async () => {
    const { store, backend } = open({ indexes: ['n'] });
    const big = 2 ** 60 + 256; // no SQL condition: the plan is inexact, rows are matched by their keys
    await store.set({ c: 'x', n: big, r: 2 }, 'big');
    await store.set({ c: 'x', n: 7, r: 1 }, 'seven');
    await store.set({ c: 'x', n: big, r: 3 }, 'big 2');
    const seen = recordSql(backend);
    const found = await valuesOnly(store, seen, { c: 'x', n: big }, { sort: { r: -1 }, limit: 5 });
    expect(found.values).to.deep.equal(['big 2', 'big']);
    expect(found.sql.filter(readsIds).length).to.be.greaterThan(0);
  });

  it('corrupt data met without ids is read again with them: the error names the key', async () => {
    const { store, backend } = open({ indexes: ['n'] });
    const all = { id: { $gte: 0 } };
    for (let i = 0; i < 4; i++) await store.set({ id: i, n: 5 }, i);
    await store.set({ id: 9, n: 1 }, 'below');
    const db = backend.connection.database;
    const corrupt = async (column: string, bad: string, id: number) => {
      db.prepare(`UPDATE memstorage SET ${column} = ? WHERE id = ?`).run(bad, `\u0000{"id":${id},"n":${id === 9 ? 1 : 5}}`);
      for (const options of [{ sort: { n: -1 as const }, limit: 5 }, { sort: { n: 1 as const }, limit: 5 }]) {
        const err = (await store.get(all, options).then(
          () => expect.fail('the read succeeded'),
          (e: unknown) => e,
        )) as Error & { code?: string };
        expect(err.code).to.equal('ERR_STORAGE_OPERATION');
        expect(err.message).to.include(`{"id":${id},"n":`);
      }
    };
    await corrupt('v', '{oops', 2); // in the top run (one statement)
    db.prepare(`UPDATE memstorage SET v = '2' WHERE id = ?`).run('\u0000{"id":2,"n":5}');
    await corrupt('e', 'soon', 1); // an expiry of the wrong type in the top run: that row is read whole
    db.prepare(`UPDATE memstorage SET e = NULL WHERE id = ?`).run('\u0000{"id":1,"n":5}');
    await corrupt('e', 'later', 9); // below the top run
    db.prepare(`UPDATE memstorage SET e = NULL WHERE id = ?`).run('\u0000{"id":9,"n":1}');
    expect(await store.get(all, { sort: { n: -1 }, limit: 5 })).to.deep.equal([0, 1, 2, 3, 'below']);
  });

  it('the top run read without ids gives compressed values and values with an expiry, and drops what expired', async () => {
    const clock = new ManualClock(Date.now());
    const { store, backend } = open({ indexes: ['n'], clock, compress: { threshold: 0 } });
    const all = { id: { $gte: 0 } };
    const long = (i: number) => `value ${i} `.repeat(40);
    for (let i = 0; i < 6; i++) await store.set({ id: i, n: 3 }, long(i), i % 2 === 0 ? { ttl: 1000 * (i + 1) } : undefined);
    await store.set({ id: 9, n: 1 }, 'below');
    expect(backend.connection.database.prepare(`SELECT count(*) FROM memstorage WHERE typeof(v) = 'blob'`).pluck().get()).to.be.greaterThan(5);
    const seen = recordSql(backend);
    const top = await valuesOnly(store, seen, all, { sort: { n: -1 }, limit: 4 });
    expect(top.values).to.deep.equal([0, 1, 2, 3].map(long));
    expect(top.sql).to.have.length(1);
    clock.advance(1000); // { id: 0 } expires
    expect((await valuesOnly(store, seen, all, { sort: { n: -1 }, skip: 1, limit: 6 })).values).to.deep.equal([2, 3, 4, 5].map(long).concat('below'));
  });
});
