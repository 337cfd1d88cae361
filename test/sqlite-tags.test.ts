/**
 * touch and tags on the SQLite store (SPEC §15; issue #13 items 2 and 4), beyond the
 * conformance group: the tag rows and the triggers that keep them no longer than their entries
 * (delete, overwrite, delByTags, the sweep, clear, another connection's raw DELETE); touch and
 * delByTags against a second connection on the same file; the plan of delByTags; files made
 * before tags existed, opened and migrated.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { Readable } from 'node:stream';
import { BackendStore } from '../lib/backend-store';
import { ManualClock } from '../lib/clock';
import { createBackend, SqliteBackend, SqliteSettings } from '../lib/backends/sqlite';
import { tablesFor } from '../lib/backends/sqlite/layout';
import { freshSqlitePath } from './support/sqlite-files';

interface Opened {
  store: BackendStore<SqliteSettings>;
  backend: SqliteBackend;
  clock: ManualClock;
}

const TABLES = tablesFor('memstorage');

describe('sqlite store: touch and tags', () => {
  const opened: Array<BackendStore<SqliteSettings>> = [];
  const raw: Database.Database[] = [];
  afterEach(async () => {
    while (opened.length > 0) await opened.pop()!.close();
    while (raw.length > 0) raw.pop()!.close();
  });

  /** A store over a backend the test can reach (its connection, its sweep). */
  function open(settings: Partial<SqliteSettings> = {}, clock = new ManualClock(Date.now())): Opened {
    let backend: SqliteBackend | undefined;
    const store = new BackendStore<SqliteSettings>({ path: freshSqlitePath('tags'), clock, sweepInterval: 0, ...settings }, (s, context) => (backend = createBackend(s, context) as SqliteBackend));
    opened.push(store);
    return { store, backend: backend!, clock };
  }

  /** Another connection on the file, as another process (or an older version of this store) would have. */
  function rawConnection(path: string): Database.Database {
    const db = new Database(path, { timeout: 5000 });
    raw.push(db);
    return db;
  }

  function tagRows(backend: SqliteBackend): Array<{ ns: string; tag: string; seq: number }> {
    return backend.connection.database.prepare(`SELECT ns, tag, seq FROM ${TABLES.tags} ORDER BY seq, tag`).all() as Array<{ ns: string; tag: string; seq: number }>;
  }

  function entryRow(backend: SqliteBackend, id: string, ns = ''): Record<string, unknown> | undefined {
    return backend.connection.database.prepare(`SELECT * FROM ${TABLES.entries} WHERE ns = ? AND id = ?`).get(ns, id) as Record<string, unknown> | undefined;
  }

  describe('tag rows live with their entries', () => {
    it('a tagged set writes one row per tag and t = 1; a set without tags drops them; a set with others replaces them', async () => {
      const { store, backend } = open();
      await store.set('a', 1, { tags: ['x', 'y'] });
      await store.set('b', 2);
      const seqA = entryRow(backend, 'a')!.seq;
      expect(tagRows(backend)).to.deep.equal([
        { ns: '', tag: 'x', seq: seqA },
        { ns: '', tag: 'y', seq: seqA },
      ]);
      expect(entryRow(backend, 'a')!.t).to.equal(1);
      expect(entryRow(backend, 'b')!.t).to.equal(null);
      await store.set('a', 3, { tags: ['z'] });
      expect(tagRows(backend)).to.deep.equal([{ ns: '', tag: 'z', seq: seqA }]);
      await store.set('a', 4);
      expect(tagRows(backend)).to.deep.equal([]);
      expect(entryRow(backend, 'a')).to.include({ t: null, seq: seqA, v: '4' });
      expect(await store.keys()).to.deep.equal(['a', 'b']); // an overwrite keeps the creation position
    });

    it('no tag row outlives its entry: del, del(query), delByTags, overwrite by setStream, expiry and the sweep, clear', async () => {
      const { store, backend, clock } = open();
      const scoped = store.scope('inner');
      for (let i = 0; i < 6; i++) await store.set({ i }, i, { tags: ['all', `own${i}`], ttl: i === 5 ? 1000 : undefined });
      await scoped.set('s', 'scoped', { tags: ['all'] });
      expect(tagRows(backend)).to.have.length(13);
      await store.del({ i: 0 });
      expect(tagRows(backend)).to.have.length(11);
      await store.del({ i: { $in: [1] } });
      expect(tagRows(backend)).to.have.length(9);
      expect(await store.delByTags(['own2'])).to.equal(1);
      expect(tagRows(backend)).to.have.length(7);
      await store.setStream({ i: 3 }, Readable.from([Buffer.from('bytes')]));
      expect(tagRows(backend)).to.have.length(5);
      expect(await store.delByTags(['own3'])).to.equal(0);
      clock.advance(1000);
      expect(await store.delByTags(['own5'])).to.equal(0); // expired: not counted
      expect(await backend.sweep()).to.equal(1);
      expect(tagRows(backend)).to.have.length(3);
      await store.clear();
      expect(tagRows(backend)).to.deep.equal([{ ns: 'inner', tag: 'all', seq: entryRow(backend, 's', 'inner')!.seq }]);
      expect(await scoped.delByTags(['all'])).to.equal(1);
      expect(tagRows(backend)).to.deep.equal([]);
      await scoped.close();
    });

    it('an expired tagged entry set again is a new entry with only its new tags', async () => {
      const { store, backend, clock } = open();
      await store.set('k', 1, { ttl: 1000, tags: ['old'] });
      clock.advance(1000);
      await store.set('k', 2, { tags: ['new'] });
      expect(tagRows(backend).map((r) => r.tag)).to.deep.equal(['new']);
      expect(await store.delByTags(['old'])).to.equal(0);
      expect(await store.delByTags(['new'])).to.equal(1);
    });

    it('another connection\'s raw DELETE (another process, an older version of this store) takes the tag rows with it', async () => {
      const path = freshSqlitePath('tags');
      const { store, backend } = open({ path });
      await store.set('a', 1, { tags: ['x'] });
      await store.set('b', 2, { tags: ['x'] });
      const other = rawConnection(path);
      other.prepare(`DELETE FROM ${TABLES.entries} WHERE id = 'a'`).run();
      other.prepare(`UPDATE ${TABLES.entries} SET t = NULL WHERE id = 'b'`).run();
      expect(tagRows(backend)).to.deep.equal([]);
      expect(await store.delByTags(['x'])).to.equal(0);
      expect(await store.getOne('b')).to.equal(2);
    });

    it('a tagged set that fails part way leaves nothing of itself (value, row, tag rows), and its neighbours in the tick are kept', async () => {
      const { store, backend } = open();
      await store.set('old', 'before', { tags: ['kept'] });
      // Any failure inside the write's transaction: here a tag row the database refuses.
      backend.connection.database.exec(
        `CREATE TRIGGER refuse_boom BEFORE INSERT ON ${TABLES.tags} WHEN new.tag = 'boom' BEGIN SELECT RAISE(ABORT, 'refused'); END`,
      );
      const [overwrite, fresh, neighbour] = await Promise.allSettled([
        store.set('old', 'after', { tags: ['other', 'boom'] }),
        store.set('new', 'x', { tags: ['boom'] }),
        store.set('neighbour', 'y', { tags: ['other'] }),
      ]);
      expect(overwrite.status === 'rejected' && (overwrite.reason as { code?: string }).code).to.equal('ERR_STORAGE_OPERATION');
      expect(fresh.status === 'rejected' && (fresh.reason as { code?: string }).code).to.equal('ERR_STORAGE_OPERATION');
      expect(neighbour.status).to.equal('fulfilled');
      expect(await store.getOne('old')).to.equal('before');
      expect(await store.has('new')).to.equal(false);
      expect(tagRows(backend).map((r) => r.tag)).to.deep.equal(['kept', 'other']);
      expect(await store.delByTags(['other'])).to.equal(1);
      expect(await store.delByTags(['kept'])).to.equal(1);
    });

    it('delByTags is one statement searching the tag table by (ns, tag) and the entries by seq (EXPLAIN QUERY PLAN)', async () => {
      const { store, backend } = open();
      await store.set('a', 1, { tags: ['x'] });
      const plan = backend.connection.database
        .prepare(
          `EXPLAIN QUERY PLAN DELETE FROM ${TABLES.entries} WHERE seq IN (SELECT seq FROM ${TABLES.tags} WHERE ns = ? AND tag IN (SELECT value FROM json_each(?))) AND (e IS NULL OR e > ?)`,
        )
        .all('', '["x"]', 0) as Array<{ detail: string }>;
      const details = plan.map((row) => row.detail).join('\n');
      expect(details).to.match(/SEARCH memstorage_tags USING PRIMARY KEY \(ns=\? AND tag=\?\)/);
      expect(details).to.match(/SEARCH memstorage USING INTEGER PRIMARY KEY \(rowid=\?\)/);
      expect(details).to.not.match(/SCAN memstorage\b(?!_)/);
    });
  });

  describe('touch', () => {
    it('is one UPDATE of e: value, key, tags and creation position kept', async () => {
      const { store, backend, clock } = open();
      await store.set({ a: 1 }, 'v', { tags: ['x'], ttl: 1000 });
      await store.set('later', 2);
      const before = entryRow(backend, '\u0000{"a":1}')!;
      expect(await store.touch({ a: 1 }, 5000)).to.equal(true);
      expect(entryRow(backend, '\u0000{"a":1}')).to.deep.equal({ ...before, e: clock.now() + 5000 });
      expect(await store.keys()).to.deep.equal([{ a: 1 }, 'later']);
      expect(tagRows(backend).map((r) => r.tag)).to.deep.equal(['x']);
    });

    it('a touched expiry is what queries, counts, the sweep and stats honour', async () => {
      const { store, backend, clock } = open({ indexes: ['kind'] });
      await store.set({ kind: 'a', i: 1 }, 1, { ttl: 1000 });
      await store.set({ kind: 'a', i: 2 }, 2);
      await store.setStream({ kind: 'a', i: 3 }, Readable.from([Buffer.alloc(70_000, 3)]), { ttl: 1000 });
      expect(await store.touch({ kind: 'a', i: 1 }, null)).to.equal(true);
      expect(await store.touch({ kind: 'a', i: 2 }, 500)).to.equal(true);
      expect(await store.touch({ kind: 'a', i: 3 }, 60_000)).to.equal(true);
      clock.advance(1000);
      expect(await store.get({ kind: 'a' }, { sort: { i: 1 } })).to.deep.equal([1, Buffer.alloc(70_000, 3)]);
      expect(await store.count({ kind: 'a' })).to.equal(2);
      expect(await store.touch({ kind: 'a', i: 2 }, 500)).to.equal(false); // expired: not revived
      expect(await backend.sweep()).to.equal(1);
      expect((await store.stats()).items).to.equal(2);
      expect(await store.ttl({ kind: 'a', i: 1 })).to.equal(null);
      expect(await store.ttl({ kind: 'a', i: 3 })).to.equal(59_000);
    });

    it('a touch issued in the same tick as the set before it sees that set, and a del after it sees the touch', async () => {
      const { store } = open();
      const results = await Promise.all([store.set('k', 1, { ttl: 1000 }), store.touch('k', null), store.touch('absent', null), store.del('k'), store.touch('k', 10)]);
      expect(results.slice(1)).to.deep.equal([true, false, 1, false]);
    });
  });

  describe('against a second connection on the same file (another store, as another process)', () => {
    it('touch never brings back an entry the other connection deleted (one UPDATE, no read-then-write)', async () => {
      const path = freshSqlitePath('tags');
      const a = open({ path });
      const b = open({ path }, a.clock);
      for (let round = 0; round < 20; round++) {
        const key = `k${round}`;
        await a.store.set(key, round, { tags: ['x'] });
        const [, deleted] = await Promise.all([a.store.touch(key, 60_000), b.store.del(key)]);
        expect(deleted).to.equal(1);
        expect(await a.store.has(key)).to.equal(false, `round ${round}`);
      }
      expect(tagRows(a.backend)).to.deep.equal([]);
    });

    it('delByTags counts exactly what it removed while the other connection writes tagged entries in the same ticks', async () => {
      const path = freshSqlitePath('tags');
      const a = open({ path });
      const b = open({ path }, a.clock);
      const writes: Array<Promise<void>> = [];
      const deletes: Array<Promise<number>> = [];
      for (let i = 0; i < 300; i++) {
        writes.push(b.store.set(`w${i}`, i, { tags: ['hot', `w${i % 5}`] }));
        if (i % 60 === 59) deletes.push(a.store.delByTags(['hot']));
        if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(writes);
      const removed = (await Promise.all(deletes)).reduce((x, y) => x + y, 0);
      const remaining = (await b.store.keys()).length;
      expect(removed).to.be.greaterThan(0);
      expect(removed + remaining).to.equal(300);
      expect(await a.store.delByTags(['w0', 'w1', 'w2', 'w3', 'w4'])).to.equal(remaining);
      expect(tagRows(a.backend)).to.deep.equal([]);
    });
  });

  describe('a file made before tags existed', () => {
    /** The schema as it was before tags (layout.ts at the commit before them), written by hand. */
    function oldFile(): string {
      const path = freshSqlitePath('old');
      const db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.exec(`
        CREATE TABLE "memstorage" (
          seq INTEGER PRIMARY KEY, ns TEXT NOT NULL, id TEXT NOT NULL, k TEXT, a INTEGER,
          e INTEGER, s INTEGER, c INTEGER, v TEXT
        );
        CREATE UNIQUE INDEX "memstorage_id" ON "memstorage" (ns, id);
        CREATE INDEX "memstorage_ns" ON "memstorage" (ns);
        CREATE INDEX "memstorage_arrays" ON "memstorage" (ns) WHERE a = 1;
        CREATE INDEX "memstorage_expiry" ON "memstorage" (e) WHERE e IS NOT NULL;
        CREATE TABLE "memstorage_chunks" (sid INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (sid, n));
      `);
      const insert = db.prepare(`INSERT INTO "memstorage" (ns, id, k, a, v, e, s, c) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
      insert.run('', 'plain', null, null, JSON.stringify('old value'), null, null, null);
      insert.run('', '\u0000{"o":[1,2]}', '{"o":[1,2]}', 1, JSON.stringify(7), Date.now() + 1000, null, null);
      insert.run('', 'streamed', null, null, null, null, 42, 1);
      db.prepare(`INSERT INTO "memstorage_chunks" (sid, n, data) VALUES (42, 0, ?)`).run(Buffer.from('chunk'));
      db.close();
      return path;
    }

    it('opens: the column, the tag table and the triggers are added; old rows read, list, touch and take tags', async () => {
      const path = oldFile();
      const { store, backend, clock } = open({ path });
      expect(await store.getOne('plain')).to.equal('old value');
      expect(await store.get({ o: 1 })).to.deep.equal([7]);
      expect(await store.getOne('streamed')).to.deep.equal(Buffer.from('chunk'));
      expect(await store.keys()).to.deep.equal(['plain', { o: [1, 2] }, 'streamed']);
      const db = backend.connection.database;
      expect(db.prepare(`SELECT name FROM pragma_table_info('memstorage')`).pluck().all()).to.include('t');
      expect(db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name`).pluck().all()).to.deep.equal([
        'memstorage_untag_deleted',
        'memstorage_untag_rewritten',
      ]);
      expect(await store.delByTags(['x'])).to.equal(0);
      expect(await store.touch({ o: [1, 2] }, null)).to.equal(true);
      clock.advance(2000);
      expect(await store.get({ o: 2 })).to.deep.equal([7]);
      await store.set('plain', 'tagged now', { tags: ['x'] });
      await store.set('fresh', 'new', { tags: ['x'] });
      expect(await store.keys()).to.deep.equal(['plain', { o: [1, 2] }, 'streamed', 'fresh']);
      expect(await store.delByTags(['x'])).to.equal(2);
      expect(tagRows(backend)).to.deep.equal([]);
    });

    it('is migrated once: reopening, and a second store opening it while the first holds it, change nothing more', async () => {
      const path = oldFile();
      const first = open({ path });
      await first.store.set('a', 1, { tags: ['x'] });
      const second = open({ path }, first.clock);
      expect(await second.store.delByTags(['x'])).to.equal(1);
      await first.store.close();
      const third = open({ path }, first.clock);
      expect(await third.store.getOne('plain')).to.equal('old value');
      const columns = third.backend.connection.database.prepare(`SELECT name FROM pragma_table_info('memstorage')`).pluck().all();
      expect(columns).to.deep.equal(['seq', 'ns', 'id', 'k', 'a', 'e', 's', 'c', 'v', 't', 'cr', 'up']);
    });

    it('an up-to-date file opens without a write lock (another connection holding one does not block the open)', async () => {
      const path = freshSqlitePath('tags');
      const first = open({ path });
      await first.store.set('k', 1, { tags: ['x'] });
      const writer = rawConnection(path);
      writer.prepare('BEGIN IMMEDIATE').run();
      try {
        const second = open({ path, busyTimeout: 100 }, first.clock);
        expect(await second.store.getOne('k')).to.equal(1);
      } finally {
        writer.prepare('ROLLBACK').run();
      }
    });

    it('an older version of the store still writing the file leaves no tag row behind when it deletes', async () => {
      const path = oldFile();
      const { store, backend } = open({ path });
      await store.set('k', 1, { tags: ['x'] });
      // The old version's delete statement (statements.ts before tags).
      rawConnection(path).prepare(`DELETE FROM "memstorage" WHERE ns = ? AND id = ? RETURNING e, s`).all('', 'k');
      expect(tagRows(backend)).to.deep.equal([]);
    });
  });
});
