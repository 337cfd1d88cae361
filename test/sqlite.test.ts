/**
 * What is specific to the SQLite backend (the conformance suite covers the rest, in
 * test/sqlite-conformance.test.ts): the file outlives the store, WAL, expression indexes,
 * the sweep, corrupt rows, unopenable files, several connections on one file, scopes sharing
 * one connection, and the SQL narrowing staying a superset of MongoDB's matches.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import * as path from 'node:path';
import { BackendStore } from '../lib/backend-store';
import { ManualClock } from '../lib/clock';
import { createStore } from '../lib/factory';
import { compileQuery } from '../lib/query';
import { createBackend, SqliteBackend, SqliteSettings } from '../lib/backends/sqlite';
import { tablesFor } from '../lib/backends/sqlite/layout';
import { PAGE_SIZE, scanPlan } from '../lib/backends/sqlite/query';
import { rejection } from '../lib/conformance/context';
import { freshSqlitePath, sqliteTempDir } from './support/sqlite-files';

interface Opened {
  store: BackendStore<SqliteSettings>;
  backend: SqliteBackend;
  clock: ManualClock;
}

describe('sqlite', () => {
  const opened: Array<BackendStore<SqliteSettings>> = [];
  afterEach(async () => {
    while (opened.length > 0) await opened.pop()!.close();
  });

  /** A store over a backend the test can reach (its connection, its sweep). */
  function open(settings: Partial<SqliteSettings> = {}, clock = new ManualClock(Date.now())): Opened {
    let backend: SqliteBackend | undefined;
    const store = new BackendStore<SqliteSettings>({ path: freshSqlitePath(), clock, ...settings }, (s, context) => (backend = createBackend(s, context) as SqliteBackend));
    opened.push(store);
    return { store, backend: backend!, clock };
  }

  /** Rows of the entries table in a namespace, read with SQL. */
  function rawRows(backend: SqliteBackend, ns = ''): Array<Record<string, unknown>> {
    return backend.connection.database.prepare(`SELECT * FROM ${tablesFor('memstorage').entries} WHERE ns = ? ORDER BY seq`).all(ns) as Array<Record<string, unknown>>;
  }

  it('entries survive closing the store and opening the same file again', async () => {
    const file = freshSqlitePath();
    const first = open({ path: file });
    await first.store.set({ user: 'ann', age: 20 }, { since: new Date(5) }, { ttl: 60_000 });
    await first.store.set('plain', Buffer.from('bytes'));
    await first.store.close();
    const second = open({ path: file }, first.clock);
    expect(await second.store.getOne({ age: 20, user: 'ann' })).to.deep.equal({ since: new Date(5) });
    expect(await second.store.getOne('plain')).to.deep.equal(Buffer.from('bytes'));
    expect(await second.store.ttl({ user: 'ann', age: 20 })).to.equal(60_000);
    expect(second.store.supports.persistent).to.equal(true);
  });

  it('a file is in WAL mode; :memory: is private to its store and not persistent', async () => {
    const { store, backend } = open();
    await store.connect();
    expect(backend.connection.database.pragma('journal_mode', { simple: true })).to.equal('wal');
    const memory = open({ path: ':memory:' });
    await memory.store.set('a', 1);
    const other = open({ path: ':memory:' });
    expect(await other.store.getOne('a')).to.equal(undefined);
    expect(memory.store.supports).to.include({ persistent: false, shared: false });
  });

  it('indexes become expression indexes that an equality query uses (EXPLAIN QUERY PLAN)', async () => {
    const { store, backend } = open({ indexes: ['age', 'name.last'] });
    for (let i = 0; i < 50; i++) await store.set({ id: i, age: i % 10, name: { last: `L${i % 5}` } }, i);
    expect(await store.get({ age: 3 })).to.deep.equal([3, 13, 23, 33, 43]);
    expect(await store.get({ name: { last: 'L4' }, age: { $in: [4, 9] } })).to.deep.equal([4, 9, 14, 19, 24, 29, 34, 39, 44, 49]);
    const plan = (query: object) => {
      const { sql, params } = scanPlan(compileQuery(query), tablesFor('memstorage').entries, true, backend.connection.exactNumbers, PAGE_SIZE)!;
      const rows = backend.connection.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ ...params, ns: '', after: 0 }) as Array<{ detail: string }>;
      return rows.map((r) => r.detail).join('\n');
    };
    expect(plan({ age: 20 })).to.match(/USING (COVERING )?INDEX memstorage_k_age /);
    expect(plan({ name: { last: 'x' } })).to.match(/USING (COVERING )?INDEX memstorage_k_name\.last /);
    // A range narrows too (a superset: the matcher decides), through the index or the creation-order scan.
    expect(plan({ age: { $gt: 20 } })).to.match(/memstorage_k_age|USING INTEGER PRIMARY KEY/);
  });

  it('a numeric range narrows in SQL and still matches as MongoDB: bounds, floats, strings, booleans, null, arrays', async () => {
    const { store } = open({ indexes: ['n'] });
    const values: unknown[] = [0.1 + 0.2, 0.3, 5, 5.000000000000001, 4.999999999999999, 10, '7', true, false, null, [1, 6], [], { x: 6 }, -0, 1e308];
    for (const [i, n] of values.entries()) await store.set({ i, n }, i);
    await store.set({ i: 99 }, 99);
    expect(await store.get({ n: { $gte: 5, $lte: 10 } })).to.deep.equal([2, 3, 5, 10]);
    expect(await store.get({ n: { $gt: 5 } })).to.deep.equal([3, 5, 10, 14]);
    expect(await store.get({ n: { $lt: 0.3 } })).to.deep.equal([13]);
    expect(await store.get({ n: { $lte: 0.3 } })).to.deep.equal([1, 13]); // 0.1 + 0.2 is above 0.3
    expect(await store.get({ n: { $gt: 0.3 } })).to.deep.equal([0, 2, 3, 4, 5, 10, 14]);
    expect(await store.get({ n: { $lt: 0 } })).to.deep.equal([]);
    expect(await store.get({ n: { $gte: 1e308 } })).to.deep.equal([14]);
  });

  it('SQL only narrows: array elements, booleans and numbers still match as in MongoDB', async () => {
    const { store } = open({ indexes: ['tags', 'flag', 'n'] });
    await store.set({ id: 1, tags: ['x', 'y'] }, 'array');
    await store.set({ id: 2, tags: 'x' }, 'scalar');
    await store.set({ id: 3, flag: true }, 'true');
    await store.set({ id: 4, flag: 1 }, 'one');
    await store.set({ id: 5, n: 0.1 + 0.2 }, 'float');
    await store.set({ id: 6, list: [{ n: 7 }] }, 'nested');
    expect(await store.get({ tags: 'x' })).to.deep.equal(['array', 'scalar']);
    expect(await store.get({ flag: true })).to.deep.equal(['true']);
    expect(await store.get({ flag: 1 })).to.deep.equal(['one']);
    expect(await store.get({ n: 0.1 + 0.2 })).to.deep.equal(['float']);
    expect(await store.get({ 'list.n': 7 })).to.deep.equal(['nested']);
    expect(await store.count({ id: { $in: [1, 2, 3] } })).to.equal(3);
  });

  it('get(query) in one statement agrees with the matcher: arrays, streamed values, limits, expiry', async () => {
    const { store, clock } = open({ indexes: ['g'] });
    await store.set({ g: 'x', i: 1 }, 'plain');
    await store.setStream({ g: 'x', i: 2 }, Readable.from([Buffer.from('streamed')]));
    await store.set({ g: ['x'], i: 3 }, 'array element');
    await store.set({ g: 'x', i: 4, list: [1] }, 'holds an array');
    await store.set({ g: 'x', i: 5 }, 'expires', { ttl: 10 });
    await store.set({ g: 'y', i: 6, list: [2] }, 'other');
    expect(await store.get({ g: 'x' })).to.deep.equal(['plain', Buffer.from('streamed'), 'array element', 'holds an array', 'expires']);
    expect(await store.get({ g: 'x' }, { limit: 2 })).to.deep.equal(['plain', Buffer.from('streamed')]);
    clock.advance(10);
    expect(await store.get({ g: 'x' })).to.deep.equal(['plain', Buffer.from('streamed'), 'array element', 'holds an array']);
    await store.del({ i: 3 });
    expect(await store.get({ g: 'x' }, { limit: 3 })).to.deep.equal(['plain', Buffer.from('streamed'), 'holds an array']);
  });

  it('get(query) in one statement reports a corrupt row by its key', async () => {
    const { store, backend } = open();
    await store.set({ g: 'x', i: 1 }, 'ok');
    await store.set({ g: 'x', i: 2 }, 'bad value');
    await store.set({ g: 'x', i: 3 }, 'bad expiry');
    const db = backend.connection.database;
    db.prepare(`UPDATE memstorage SET v = '{oops' WHERE id = ?`).run('\u0000{"g":"x","i":2}');
    let err = await rejection(store.get({ g: 'x' }));
    expect(err.code).to.equal('ERR_STORAGE_OPERATION');
    expect(err.message).to.include('{"g":"x","i":2}');
    db.prepare(`UPDATE memstorage SET v = '"fixed"' WHERE id = ?`).run('\u0000{"g":"x","i":2}');
    db.prepare(`UPDATE memstorage SET e = 'later' WHERE id = ?`).run('\u0000{"g":"x","i":3}');
    err = await rejection(store.get({ g: 'x' }));
    expect(err.code).to.equal('ERR_STORAGE_OPERATION');
    expect(err.message).to.include('{"g":"x","i":3}');
    db.prepare(`UPDATE memstorage SET e = NULL, k = '{not json' WHERE id = ?`).run('\u0000{"g":"x","i":3}');
    for (const read of [store.get({ g: 'x' }), store.keys({ g: 'x' }), store.count({ g: 'x' })]) {
      err = await rejection(read);
      expect(err.code).to.equal('ERR_STORAGE_OPERATION');
      expect(err.message).to.include('{"g":"x","i":3}');
    }
    expect(await store.del({ g: 'x' })).to.equal(3); // a delete succeeds over the corrupt row: keys come from the ids
    expect(await store.keys()).to.deep.equal([]);
  });

  it('the sweep deletes expired rows and their chunks, and counts them in stats', async () => {
    const { store, backend, clock } = open({ sweepInterval: 0 });
    await store.set('short', 1, { ttl: 1000 });
    await store.setStream('streamed', Readable.from([Buffer.alloc(70_000, 1)]), { ttl: 1000 });
    await store.set('long', 2, { ttl: 10_000 });
    await store.set('forever', 3);
    clock.advance(1000);
    expect(rawRows(backend)).to.have.length(4); // reads skip them; nothing deleted them yet
    expect(await backend.sweep()).to.equal(2);
    expect(rawRows(backend).map((r) => r.id)).to.deep.equal(['long', 'forever']);
    const chunks = backend.connection.database.prepare(`SELECT count(*) FROM ${tablesFor('memstorage').chunks}`).pluck().get();
    expect(chunks).to.equal(0);
    expect((await store.stats()).expirations).to.equal(2);
    expect(await backend.sweep()).to.equal(0);
  });

  it('corrupt rows are ERR_STORAGE_OPERATION naming the key; del and clear still succeed', async () => {
    const { store, backend } = open();
    await store.set({ k: 1 }, 'ok');
    await store.set('bad-json', 'x');
    await store.set('bad-expiry', 'y');
    const db = backend.connection.database;
    db.prepare(`UPDATE memstorage SET v = 'not json{' WHERE id = 'bad-json'`).run();
    db.prepare(`UPDATE memstorage SET e = 'soon' WHERE id = 'bad-expiry'`).run();
    for (const read of [store.getOne('bad-json'), store.get('bad-json'), store.ttl('bad-expiry'), store.getOne('bad-expiry'), store.get({ k: 1 }, { limit: 1 }).then(() => store.keys('bad*'))]) {
      const err = await rejection(read);
      expect(err.code).to.equal('ERR_STORAGE_OPERATION');
      expect(err.message).to.match(/"bad-(json|expiry)"/);
    }
    expect(await store.get({ k: 1 })).to.deep.equal(['ok']);
    expect(await store.del('bad-json')).to.equal(1);
    await store.clear();
    expect(rawRows(backend)).to.have.length(0);
  });

  it('a file that cannot be opened is ERR_STORAGE_CONNECTION at connect; bad settings are ERR_STORE_CONFIG at creation', async () => {
    const missingDir = open({ path: path.join(sqliteTempDir(), 'no-such-dir', 'x.sqlite') });
    expect((await rejection(missingDir.store.connect())).code).to.equal('ERR_STORAGE_CONNECTION');
    const notADatabase = path.join(sqliteTempDir(), 'not-a-database.sqlite');
    writeFileSync(notADatabase, 'this is not a SQLite file, just text that is long enough to be read as a header. '.repeat(20));
    const garbage = open({ path: notADatabase });
    expect((await rejection(garbage.store.set('a', 1))).code).to.equal('ERR_STORAGE_CONNECTION');
    const bad: Array<Record<string, unknown>> = [
      {},
      { path: '' },
      { path: 42 },
      { path: ':memory:', table: 'x; DROP TABLE y' },
      { path: ':memory:', indexes: 'age' },
      { path: ':memory:', indexes: ['a..b'] },
      { path: ':memory:', indexes: ['a.0'] },
      { path: ':memory:', sweepInterval: -1 },
      { path: ':memory:', busyTimeout: 1.5 },
    ];
    for (const settings of bad) {
      expect(() => createStore({ type: 'sqlite', settings }), JSON.stringify(settings)).to.throw().with.property('code', 'ERR_STORE_CONFIG');
    }
  });

  it('two stores on one file (two connections) see each other’s writes', async () => {
    const file = freshSqlitePath();
    const a = open({ path: file });
    const b = open({ path: file }, a.clock);
    await a.store.set({ who: 'a' }, 1);
    await b.store.set({ who: 'b' }, 2);
    expect(a.backend.connection).to.not.equal(b.backend.connection);
    expect(await a.store.get({ who: { $in: ['a', 'b'] } })).to.deep.equal([1, 2]);
    expect(await b.store.getOne({ who: 'a' })).to.equal(1);
    await b.store.del({ who: 'a' });
    expect(await a.store.keys()).to.deep.equal([{ who: 'b' }]);
  });

  it('two stores on one file write in the same tick without waiting for each other’s lock', async () => {
    // Each connection's writes of a tick share one transaction; the second must not block on the first's lock.
    const file = freshSqlitePath();
    const a = open({ path: file, busyTimeout: 200 });
    const b = open({ path: file, busyTimeout: 200 }, a.clock);
    await Promise.all([a.store.connect(), b.store.connect()]);
    await Promise.all([a.store.set('x', 1), b.store.set('y', 2), a.store.set('z', 3), b.store.setStream('s', Readable.from([Buffer.from('bytes')]))]);
    expect(await Promise.all(['x', 'y', 'z'].map((k) => b.store.getOne(k)))).to.deep.equal([1, 2, 3]);
    expect(await a.store.getOne('s')).to.deep.equal(Buffer.from('bytes'));
  });

  it('a lock held by another process is ERR_STORAGE_OPERATION after busyTimeout, for every write of the tick; nothing is kept', async () => {
    const { store, backend } = open({ busyTimeout: 50 });
    await store.set('before', 0);
    const Driver = require('better-sqlite3') as typeof import('better-sqlite3'); // eslint-disable-line @typescript-eslint/no-require-imports
    const other = new Driver(backend.connection.settings.path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const writes = [store.set('a', 1), store.set('b', 2), store.del('before'), store.setStream('s', Readable.from([Buffer.from('x')]))];
      for (const write of writes) expect((await rejection(write)).code).to.equal('ERR_STORAGE_OPERATION');
      other.exec('ROLLBACK');
    } finally {
      other.close();
    }
    expect(await store.keys()).to.deep.equal(['before']);
    await store.set('a', 1);
    expect(await store.getOne('a')).to.equal(1);
  });

  it('scopes share one connection, which closes with its last user', async () => {
    const { store, backend } = open();
    const scoped = store.scope('inner');
    await store.set('a', 'root');
    await scoped.set('a', 'inner');
    expect(backend.connection.users).to.equal(2);
    expect(rawRows(backend, 'inner')).to.have.length(1);
    await scoped.close();
    expect(backend.connection.users).to.equal(1);
    expect(await store.getOne('a')).to.equal('root');
    await store.close();
    expect(backend.connection.users).to.equal(0);
    expect(() => backend.connection.database).to.throw().with.property('code', 'ERR_STORE_CLOSED');
  });

  it('a stream being written is invisible; one that fails leaves no row and no chunk', async () => {
    const { store, backend, clock } = open();
    // Calls on this store wait for the stream (program order); another connection looks meanwhile.
    const other = open({ path: backend.connection.settings.path }, clock);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    async function* slow() {
      yield Buffer.alloc(100_000, 2);
      await gate;
      yield Buffer.from('end');
    }
    const writing = store.setStream('big', slow());
    await new Promise((resolve) => setImmediate(resolve));
    expect(await other.store.getOne('big')).to.equal(undefined);
    expect(await other.store.keys()).to.deep.equal([]);
    release();
    await writing;
    expect(((await store.getOne('big')) as Buffer).length).to.equal(100_003);
    async function* failing() {
      yield Buffer.alloc(200_000, 3);
      throw new Error('source broke');
    }
    expect((await rejection(store.setStream('broken', failing()))).code).to.equal('ERR_INVALID_VALUE');
    expect(await store.getOne('broken')).to.equal(undefined);
    const chunks = backend.connection.database.prepare(`SELECT count(*) FROM memstorage_chunks`).pluck().get();
    expect(chunks).to.equal(2); // the 100,003 bytes of 'big' only
  });

  it('a value stream being read survives an overwrite of its key in this process', async () => {
    const { store } = open();
    await store.setStream('v', Readable.from([Buffer.alloc(64 * 1024 * 3, 7)]));
    const reader = store.createValueStream('v');
    const first: Buffer[] = [];
    for await (const chunk of reader) {
      first.push(chunk as Buffer);
      if (first.length === 1) await store.set('v', 'replaced');
    }
    expect(Buffer.concat(first).length).to.equal(64 * 1024 * 3);
    expect(await store.getOne('v')).to.equal('replaced');
  });
});
