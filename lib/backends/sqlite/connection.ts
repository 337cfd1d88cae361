/**
 * One SQLite connection shared by a store and its scopes (reference-counted by SharedResource:
 * the file opens with the first user and closes when the last one closes), with its prepared
 * statements, the expiry sweep and the bookkeeping of chunk sets that readers still hold.
 *
 * better-sqlite3 is synchronous: every statement runs to completion before the call returns,
 * so the backend's exact operations keep issue order by themselves.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Clock } from '../../clock';
import { loadDriver } from '../../drivers';
import { BoundedCache } from '../../bounded-cache';
import { SharedResource } from '../../core/shared-resource';
import { StoreClosedError } from '../../errors';
import { ADDED_ENTRY_COLUMNS, ADDED_TAG_COLUMN, PENDING_NS, connectionError, oddValuesIndexSql, pathIndexSql, schemaSql, tablesFor, tagSchemaSql, untagTriggers } from './layout';
import type { ResolvedSqliteSettings } from './settings';
import { Statements, prepareStatements } from './statements';
import { TickTransaction } from './tick-transaction';

type DatabaseConstructor = typeof BetterSqlite3;
type Database = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement<unknown[]>;

/** Rows deleted per sweep step (one transaction each), so a sweep never holds the loop long. */
const SWEEP_BATCH = 500;
/** Distinct query statements kept prepared. */
const STATEMENT_CACHE = 256;

/**
 * Creates the tables, or brings a file made by an earlier version up to date: the columns it
 * lacks are added (`t` from before tags, `cr` and `up` from before getMeta, the tag position
 * `n`), then the tag table and its triggers. In one IMMEDIATE transaction, so two processes
 * opening an old file at once do not both add a column — taken only when something is missing:
 * an up-to-date file answers the first (read-only) check, so opening one takes no write lock.
 */
function openSchema(db: Database, table: string): void {
  const { entries, tags } = tablesFor(table);
  const upToDate = db
    .prepare(
      `SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?))
            + (SELECT count(*) FROM pragma_table_info(?) WHERE name IN (${ADDED_ENTRY_COLUMNS.map(() => '?').join(', ')}))
            + (SELECT count(*) FROM pragma_table_info(?) WHERE name = ?)`,
    )
    .pluck()
    .get(...untagTriggers(table), table, ...ADDED_ENTRY_COLUMNS, `${table}_tags`, ADDED_TAG_COLUMN);
  if (upToDate === 2 + ADDED_ENTRY_COLUMNS.length + 1) return;
  db.transaction(() => {
    db.exec(schemaSql(table));
    const columns = db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[];
    for (const column of ADDED_ENTRY_COLUMNS) if (!columns.includes(column)) db.exec(`ALTER TABLE ${entries} ADD COLUMN ${column} INTEGER`);
    const tagColumns = db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(`${table}_tags`) as string[];
    if (tagColumns.length > 0 && !tagColumns.includes(ADDED_TAG_COLUMN)) db.exec(`ALTER TABLE ${tags} ADD COLUMN ${ADDED_TAG_COLUMN} INTEGER`);
    db.exec(tagSchemaSql(table));
  }).immediate();
}

/**
 * Whether SQLite turns a JSON number's text into the nearest double, as JavaScript does: from
 * 3.53 its text-to-double conversion (sqlite3AtoF) is correctly rounded for up to 19
 * significant digits (JSON.stringify writes at most 17); earlier versions used an 80-bit
 * long double path whose rounding was not promised.
 */
function parsesNumbersExactly(db: Database): boolean {
  const [major, minor] = String(db.prepare('SELECT sqlite_version()').pluck().get()).split('.').map(Number);
  return major > 3 || (major === 3 && minor >= 53);
}

/** Loads the driver, an optional peer dependency (lib/drivers.ts): missing, it is ERR_STORE_CONFIG naming the package. */
export function loadSqliteDriver(): DatabaseConstructor {
  return loadDriver<DatabaseConstructor>('better-sqlite3', 'sqlite');
}

/** The connection of a store and its scopes. */
export class SqliteConnection {
  private db: Database | undefined;
  private statements: Statements | undefined;
  private tick: TickTransaction | undefined;
  /** The users; while there are any, the sweep runs every `sweepInterval` ms; the last one closes the file. */
  private readonly use: SharedResource;
  private readonly queryCache = new BoundedCache<string, Statement>(STATEMENT_CACHE);
  /** What a query shape derives once (sorted.ts: its SQL texts), by shape key; dropped on close with the statements. */
  private readonly shapeCache = new BoundedCache<string, unknown>(STATEMENT_CACHE);
  /**
   * What a read derives from one exact query (sorted.ts: its translation and sort shape), by a
   * key holding the query's values: apart from shapeCache, so that many values of one query
   * shape do not push the shapes out. At most STATEMENT_CACHE, oldest first out.
   */
  private readonly queryMemo = new BoundedCache<string, unknown>(STATEMENT_CACHE);
  /** Chunk sets being read by value streams of this process: deleting one waits for its readers. */
  private readonly reading = new Map<number, number>();
  private readonly orphaned = new Set<number>();
  /** Chunk sets of streams this process is writing: the sweep leaves their placeholders alone. */
  readonly writing = new Set<number>();
  /** Expired rows the sweep deleted, per namespace (stats().expirations). */
  readonly expirations = new Map<string, number>();
  /** Whether SQLite reads a JSON number as the double JavaScript does (query.ts: exact numeric ranges); set on open. */
  exactNumbers = false;

  constructor(
    readonly settings: ResolvedSqliteSettings,
    private readonly clock: Clock,
    private readonly Driver: DatabaseConstructor,
  ) {
    this.use = new SharedResource({
      interval: settings.sweepInterval,
      // A failed sweep (a lock held too long elsewhere) is retried next time; reads never return expired rows anyway.
      periodic: () => void this.sweepNow().catch(() => undefined),
      release: () => this.closeFile(),
    });
  }

  /** Whether the file is a real file (persistent, visible to other connections) rather than ':memory:'. */
  get isFile(): boolean {
    return this.settings.path !== ':memory:';
  }

  /** Opens the file on the first user; every later user shares it. */
  attach(): void {
    if (this.use.users === 0) this.open();
    this.use.join();
  }

  /** How many backends (a store and its connected scopes) use the connection now. */
  get users(): number {
    return this.use.users;
  }

  /** Releases one user; the last one stops the sweep and closes the file (synchronously: done when this returns). */
  detach(): Promise<void> {
    return this.use.leave();
  }

  private closeFile(): void {
    this.tick?.commit(); // writes issued before close() settle with their commit, not with a closed file
    this.tick = undefined;
    this.queryCache.clear();
    this.shapeCache.clear();
    this.queryMemo.clear();
    this.statements = undefined;
    const db = this.db;
    this.db = undefined;
    try {
      db?.close();
    } catch {
      // Closing releases what it can; a failure here leaves nothing for the caller to do.
    }
  }

  private open(): void {
    const { path, table, busyTimeout, indexes } = this.settings;
    let db: Database | undefined;
    try {
      db = new this.Driver(path, { timeout: busyTimeout });
      if (this.isFile) db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      openSchema(db, table);
      for (const index of indexes) db.exec(pathIndexSql(table, index) + ';' + oddValuesIndexSql(table, index));
      this.statements = prepareStatements(db, tablesFor(table));
      this.tick = new TickTransaction(db);
      this.exactNumbers = parsesNumbersExactly(db);
    } catch (err) {
      try {
        db?.close();
      } catch {
        // the open failed already; that failure is what the caller needs
      }
      throw connectionError(err, path);
    }
    this.db = db;
  }

  /** The open database (throws ERR_STORE_CLOSED after the last user left). */
  get database(): Database {
    if (!this.db) throw new StoreClosedError('sqlite: the database is closed');
    return this.db;
  }

  /** The fixed statements. */
  get stmt(): Statements {
    if (!this.statements) throw new StoreClosedError('sqlite: the database is closed');
    return this.statements;
  }

  /** A query statement, prepared once per SQL text (queries differ in shape, not per call). */
  query(sql: string): Statement {
    return this.queryCache.getOrBuild(sql, () => this.database.prepare(sql) as Statement);
  }

  /**
   * What `build` derives from a query shape (a key naming the shape whole, prefixed by its
   * user), built once per key and kept as long as the statement cache keeps statements.
   */
  shape<T>(key: string, build: () => T): T {
    return this.shapeCache.getOrBuild(key, build) as T;
  }

  /** What `build` derives from one exact query (`key` names it whole, values included), built once per key. */
  memo<T>(key: string, build: () => T): T {
    return this.queryMemo.getOrBuild(key, build) as T;
  }

  /** Runs `fn` atomically: its own transaction, or a savepoint inside the tick's open one. */
  transaction<T>(fn: () => T): T {
    return this.database.transaction(fn).immediate();
  }

  /** Runs a write now, in this tick's transaction (tick-transaction.ts); resolves when it commits. */
  write(fn: () => void, action: string): Promise<void> {
    if (!this.tick) return Promise.reject(new StoreClosedError('sqlite: the database is closed'));
    return this.tick.run(fn, action);
  }

  /** Marks a chunk set as being read; returns the release function. */
  holdChunks(sid: number): () => void {
    this.reading.set(sid, (this.reading.get(sid) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.reading.get(sid)! - 1;
      if (left > 0) return void this.reading.set(sid, left);
      this.reading.delete(sid);
      if (this.orphaned.delete(sid) && this.db) {
        // A failure leaves the set behind; nothing refers to it any more.
        this.write(() => this.stmt.deleteChunks.run(sid), 'delete chunks').catch(() => undefined);
      }
    };
  }

  /** Deletes a chunk set no row refers to any more, or defers it while a reader of this process holds it. */
  dropChunks(sid: number | null): void {
    if (sid === null) return;
    if (this.reading.has(sid)) this.orphaned.add(sid);
    else this.stmt.deleteChunks.run(sid);
  }

  /**
   * Deletes expired rows (and their chunks) in every namespace, placeholders of crashed
   * streams included; returns how many. Runs on an unref'd timer; tests call it directly.
   */
  private sweep(): number {
    const now = this.clock.now();
    const stmt = this.stmt;
    let removed = 0;
    let after = 0;
    for (;;) {
      const rows = stmt.expired.all(now, after, SWEEP_BATCH) as Array<{ seq: number; ns: string; s: number | null }>;
      if (rows.length === 0) return removed;
      this.transaction(() => {
        for (const row of rows) {
          if (row.ns === PENDING_NS && row.s !== null && this.writing.has(row.s)) continue;
          stmt.deleteBySeq.run(row.seq);
          this.dropChunks(row.s);
          if (row.ns !== PENDING_NS) this.expirations.set(row.ns, (this.expirations.get(row.ns) ?? 0) + 1);
        }
      });
      removed += rows.filter((row) => row.ns !== PENDING_NS).length;
      after = rows[rows.length - 1].seq;
      if (rows.length < SWEEP_BATCH) return removed;
    }
  }

  /** Runs the sweep as a write of this tick; resolves how many expired rows it deleted. */
  async sweepNow(): Promise<number> {
    let removed = 0;
    await this.write(() => void (removed = this.sweep()), 'sweep');
    return removed;
  }
}
