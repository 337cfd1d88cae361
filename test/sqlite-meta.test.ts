/**
 * getMeta on the SQLite store (SPEC §16; issue #14 item 4): createdAt/updatedAt from the
 * store's clock, kept and reset as documented (layout.ts), size as stored bytes, tags in the
 * order given, all read by one statement without the value; files made before the time columns
 * existed are migrated on open and report null times for their old rows.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { Readable } from 'node:stream';
import { BackendStore } from '../lib/backend-store';
import { ManualClock } from '../lib/clock';
import { createBackend, SqliteBackend, SqliteSettings } from '../lib/backends/sqlite';
import { freshSqlitePath } from './support/sqlite-files';

interface Opened {
  store: BackendStore<SqliteSettings>;
  backend: SqliteBackend;
  clock: ManualClock;
}

const T0 = 1_700_000_000_000;

describe('sqlite store: getMeta', () => {
  const opened: Array<BackendStore<SqliteSettings>> = [];
  afterEach(async () => {
    while (opened.length > 0) await opened.pop()!.close();
  });

  function open(settings: Partial<SqliteSettings> = {}, clock = new ManualClock(T0)): Opened {
    let backend: SqliteBackend | undefined;
    const store = new BackendStore<SqliteSettings>({ path: freshSqlitePath('meta'), clock, sweepInterval: 0, ...settings }, (s, context) => (backend = createBackend(s, context) as SqliteBackend));
    opened.push(store);
    return { store, backend: backend!, clock };
  }

  it('a new entry: createdAt = updatedAt = the clock at the set, its expiry, no tags, size the stored bytes', async () => {
    const { store } = open();
    await store.set('a', { name: 'é' }, { ttl: 5000 });
    expect(await store.getMeta('a')).to.deep.equal({ size: Buffer.byteLength('{"name":"é"}'), createdAt: T0, updatedAt: T0, expiresAt: T0 + 5000, tags: [] });
  });

  it('an overwrite of a live entry keeps createdAt and moves updatedAt (fast upsert and tagged slow path alike)', async () => {
    const { store, clock } = open();
    await store.set('a', 1);
    clock.advance(100);
    await store.set('a', 22);
    expect(await store.getMeta('a')).to.include({ createdAt: T0, updatedAt: T0 + 100, size: 2 });
    clock.advance(100);
    await store.set('a', 333, { tags: ['x'] });
    expect(await store.getMeta('a')).to.deep.include({ createdAt: T0, updatedAt: T0 + 200, size: 3, tags: ['x'] });
    clock.advance(100);
    await store.set('a', 4);
    expect(await store.getMeta('a')).to.deep.include({ createdAt: T0, updatedAt: T0 + 300, tags: [] });
  });

  it('a set over an expired entry makes a new one: createdAt reset', async () => {
    const { store, clock } = open();
    await store.set('a', 1, { ttl: 50 });
    clock.advance(60);
    expect(await store.getMeta('a')).to.equal(undefined);
    await store.set('a', 2);
    expect(await store.getMeta('a')).to.include({ createdAt: T0 + 60, updatedAt: T0 + 60, expiresAt: null });
    // the same through the tagged slow path
    await store.set('b', 1, { ttl: 50, tags: ['t'] });
    clock.advance(60);
    await store.set('b', 2, { tags: ['u'] });
    expect(await store.getMeta('b')).to.deep.include({ createdAt: T0 + 120, updatedAt: T0 + 120, tags: ['u'] });
  });

  it('a deleted entry set again is new', async () => {
    const { store, clock } = open();
    await store.set('a', 1);
    clock.advance(10);
    await store.del('a');
    await store.set('a', 1);
    expect(await store.getMeta('a')).to.include({ createdAt: T0 + 10 });
  });

  it('touch changes expiresAt only', async () => {
    const { store, clock } = open();
    await store.set('a', 'v', { tags: ['x'] });
    clock.advance(100);
    expect(await store.touch('a', 1000)).to.equal(true);
    expect(await store.getMeta('a')).to.deep.equal({ size: 3, createdAt: T0, updatedAt: T0, expiresAt: T0 + 1100, tags: ['x'] });
    expect(await store.touch('a', null)).to.equal(true);
    expect(await store.getMeta('a')).to.include({ expiresAt: null, updatedAt: T0 });
  });

  it('tags come back in the order they were given, not sorted', async () => {
    const { store } = open();
    await store.set({ id: 1 }, 'v', { tags: ['zeta', 'alpha', 'mid'] });
    expect((await store.getMeta({ id: 1 }))!.tags).to.deep.equal(['zeta', 'alpha', 'mid']);
  });

  it('absent, expired, deleted and other-namespace keys are undefined', async () => {
    const { store, clock } = open();
    expect(await store.getMeta('nothing')).to.equal(undefined);
    await store.set('gone', 1, { ttl: 10 });
    await store.set('deleted', 1);
    await store.del('deleted');
    await store.scope('other').set('scoped', 1);
    clock.advance(10);
    expect(await store.getMeta('gone')).to.equal(undefined);
    expect(await store.getMeta('deleted')).to.equal(undefined);
    expect(await store.getMeta('scoped')).to.equal(undefined);
    expect(await store.scope('other').getMeta('scoped')).to.include({ size: 1 });
  });

  it('a streamed value: size is its total length, times as for a set; an overwrite by a stream keeps createdAt', async () => {
    const { store, clock } = open();
    await store.setStream('s', Readable.from([Buffer.alloc(70_000, 1), Buffer.alloc(1_000, 2)]));
    expect(await store.getMeta('s')).to.deep.equal({ size: 71_000, createdAt: T0, updatedAt: T0, expiresAt: null, tags: [] });
    clock.advance(5);
    await store.setStream('s', Readable.from([Buffer.from('abc')]), { ttl: 100 });
    expect(await store.getMeta('s')).to.deep.equal({ size: 3, createdAt: T0, updatedAt: T0 + 5, expiresAt: T0 + 105, tags: [] });
  });

  it('size of a compressed value is its stored BLOB length, far below the text', async () => {
    const { store, backend } = open({ compress: { threshold: 100 } });
    const value = { text: 'abc'.repeat(2000) };
    await store.set('big', value);
    const meta = await store.getMeta('big');
    const stored = backend.connection.database.prepare(`SELECT length(v) FROM memstorage WHERE id = 'big'`).pluck().get();
    expect(meta!.size).to.equal(stored);
    expect(meta!.size).to.be.below(JSON.stringify(value).length / 10);
  });

  it('reads no value: one statement, which never touches the value (a corrupt value does not fail it)', async () => {
    const { store, backend } = open();
    await store.set('a', 1);
    backend.connection.database.prepare(`UPDATE memstorage SET v = 'not json {' WHERE id = 'a'`).run();
    expect(await store.getMeta('a')).to.include({ size: 10 });
    let failure: unknown;
    await store.getOne('a').catch((err) => (failure = err));
    expect(failure).to.have.property('code', 'ERR_STORAGE_OPERATION');
  });

  it('a corrupt expiry is ERR_STORAGE_OPERATION', async () => {
    const { store, backend } = open();
    await store.set('a', 1);
    backend.connection.database.prepare(`UPDATE memstorage SET e = 'soon' WHERE id = 'a'`).run();
    let failure: unknown;
    await store.getMeta('a').catch((err) => (failure = err));
    expect(failure).to.have.property('code', 'ERR_STORAGE_OPERATION');
  });

  describe('a file made before getMeta (no cr, up, tag position)', () => {
    function oldFile(): string {
      const path = freshSqlitePath('meta-old');
      const db = new Database(path);
      db.exec(`
        CREATE TABLE memstorage (seq INTEGER PRIMARY KEY, ns TEXT NOT NULL, id TEXT NOT NULL, k TEXT, a INTEGER, e INTEGER, s INTEGER, c INTEGER, v TEXT, t INTEGER);
        CREATE UNIQUE INDEX memstorage_id ON memstorage (ns, id);
        CREATE TABLE memstorage_chunks (sid INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (sid, n));
        CREATE TABLE memstorage_tags (ns TEXT NOT NULL, tag TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (ns, tag, seq)) WITHOUT ROWID;
        CREATE INDEX memstorage_tags_seq ON memstorage_tags (seq);
        CREATE TRIGGER memstorage_untag_deleted AFTER DELETE ON memstorage WHEN old.t IS NOT NULL BEGIN DELETE FROM memstorage_tags WHERE seq = old.seq; END;
        CREATE TRIGGER memstorage_untag_rewritten AFTER UPDATE OF t ON memstorage WHEN old.t IS NOT NULL BEGIN DELETE FROM memstorage_tags WHERE seq = old.seq; END;
        INSERT INTO memstorage (ns, id, v, t) VALUES ('', 'old', '"old value"', 1);
        INSERT INTO memstorage_tags (ns, tag, seq) VALUES ('', 'b', 1), ('', 'a', 1);
      `);
      db.close();
      return path;
    }

    it('is migrated on open: old rows report null times and their tags (sorted: no order was kept), new writes record times', async () => {
      const path = oldFile();
      const { store, backend, clock } = open({ path });
      expect(await store.getMeta('old')).to.deep.equal({ size: Buffer.byteLength('"old value"'), createdAt: null, updatedAt: null, expiresAt: null, tags: ['a', 'b'] });
      const columns = backend.connection.database.prepare(`SELECT name FROM pragma_table_info('memstorage')`).pluck().all();
      expect(columns).to.include.members(['cr', 'up']);
      clock.advance(1);
      await store.set('old', 'new value');
      expect(await store.getMeta('old')).to.include({ createdAt: null, updatedAt: T0 + 1 });
      await store.set('fresh', 1, { tags: ['y', 'x'] });
      expect(await store.getMeta('fresh')).to.deep.include({ createdAt: T0 + 1, updatedAt: T0 + 1, tags: ['y', 'x'] });
    });

    it('reopened, it keeps the migrated layout (each column added once)', async () => {
      const path = oldFile();
      const first = open({ path });
      await first.store.set('x', 1);
      await first.store.close();
      opened.pop();
      const second = open({ path });
      expect(await second.store.getMeta('x')).to.include({ createdAt: T0 });
      const columns = second.backend.connection.database.prepare(`SELECT name FROM pragma_table_info('memstorage')`).pluck().all();
      expect(columns).to.deep.equal(['seq', 'ns', 'id', 'k', 'a', 'e', 's', 'c', 'v', 't', 'cr', 'up']);
      const tagColumns = second.backend.connection.database.prepare(`SELECT name FROM pragma_table_info('memstorage_tags')`).pluck().all();
      expect(tagColumns).to.deep.equal(['ns', 'tag', 'seq', 'n']);
    });
  });
});
