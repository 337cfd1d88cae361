/**
 * The SQLite table layout and the mapping of SQLite errors to store errors.
 *
 * One row per entry in `<table>`:
 *   seq  INTEGER PRIMARY KEY — creation order: taken by the first set (SQLite gives a new row a
 *        rowid above every existing one); an overwrite keeps it; a delete, or an expiry followed
 *        by a set, makes a new row at the end
 *   ns   the namespace ('' at the root)
 *   id   the canonical key id (lib/keys.ts); UNIQUE (ns, id) serves exact keys
 *   k    an object key's canonical JSON (queries run json_extract over it); NULL for a string key
 *   a    1 when that JSON holds an array (equality in MongoDB also matches array elements, which
 *        json_extract cannot see: such rows are always candidates), else NULL
 *   e    the expiry, epoch ms, or NULL
 *   s, c a streamed value's chunk set (random id) and chunk count; NULL otherwise
 *   cr   when the entry was created (epoch ms, the store's clock): set by the write that makes
 *        the row, kept by overwrites of the live entry (an expired one set again is a new row)
 *   up   when its value was last written (a set or a streamed set; touch leaves it)
 *   v    the value (README, "SQLite store", stored format): TEXT, the serializer's text; or, with
 *        `compress`, a BLOB: one byte naming the algorithm (1 gzip, 2 brotli, lib/compression.ts)
 *        then the compressed text. NULL for a streamed value. The reader goes by the column's
 *        type, never by the setting, so either kind reads whatever `compress` says now. After
 *        the small columns, so reading them never steps over it
 *   t    1 when the entry has tags (rows in `<table>_tags`), else NULL. After `v` because files
 *        made before tags existed get it by ALTER TABLE; its values, NULL and 1, take no bytes
 *        in a record's body (SQLite's serial types 0 and 9): the record header alone gives them
 * Files made before `cr` and `up` existed get them by ALTER TABLE too, after `t`: their old rows
 * hold NULL there (getMeta reports null times for them), which costs no body bytes either; a
 * new row's times then sit after `v` in the record, so getMeta of a large value in such a file
 * follows its overflow pages (new files have them before `v`).
 * And `<table>_chunks(sid, n, data)`: the chunks of streamed values, in order n = 0..c-1;
 * and `<table>_tags(ns, tag, seq, n)`: one row per tag of a tagged entry (n: its position in
 * the set call's list, NULL in files from before getMeta), keyed by tag for delByTags. Triggers delete them with their entry's row (any DELETE: del, the sweep, clear,
 * another connection's) and when a write sets the row's `t` (an overwrite replaces the tags),
 * so no tag row outlives its entry. (A process still running the version before tags overwrites
 * a tagged row without setting `t`: that entry keeps its tags until it is deleted.)
 *
 * A setStream in progress holds a placeholder row in the namespace PENDING_NS (a namespace
 * users cannot name: it holds NUL), so its creation position is taken when it is called and its
 * chunks belong to a row; it expires after a day, so the sweep frees what a crash left behind.
 */
import { StoreError, StorageConnectionError, StorageOperationError } from '../../errors';

/** The namespace of placeholder rows of streams being written (never a user namespace: it holds NUL). */
export const PENDING_NS = '\u0000pending';
/** How long a placeholder outlives a crashed writer before the sweep frees it and its chunks. */
export const PENDING_TTL_MS = 24 * 60 * 60 * 1000;

/** The table names of one store. */
export interface Tables {
  entries: string;
  chunks: string;
  tags: string;
}

/** The table names for the `table` setting (already checked to be a plain identifier). */
export function tablesFor(table: string): Tables {
  return { entries: `"${table}"`, chunks: `"${table}_chunks"`, tags: `"${table}_tags"` };
}

/** The statements that create the tables and the fixed indexes (idempotent); then `tagSchemaSql`, once `t` exists (connection.ts openSchema). */
export function schemaSql(table: string): string {
  const { entries, chunks } = tablesFor(table);
  return `
    CREATE TABLE IF NOT EXISTS ${entries} (
      seq INTEGER PRIMARY KEY, ns TEXT NOT NULL, id TEXT NOT NULL, k TEXT, a INTEGER,
      e INTEGER, s INTEGER, c INTEGER, cr INTEGER, up INTEGER, v TEXT, t INTEGER
    );
    CREATE UNIQUE INDEX IF NOT EXISTS "${table}_id" ON ${entries} (ns, id);
    CREATE INDEX IF NOT EXISTS "${table}_ns" ON ${entries} (ns);
    CREATE INDEX IF NOT EXISTS "${table}_arrays" ON ${entries} (ns) WHERE a = 1;
    CREATE INDEX IF NOT EXISTS "${table}_expiry" ON ${entries} (e) WHERE e IS NOT NULL;
    CREATE TABLE IF NOT EXISTS ${chunks} (sid INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (sid, n));
  `;
}

/** The entry columns files made by earlier versions may lack, in the order they are added on open (connection.ts openSchema). */
export const ADDED_ENTRY_COLUMNS = ['t', 'cr', 'up'] as const;

/** The tag row column files made before getMeta lack: added on open. */
export const ADDED_TAG_COLUMN = 'n';

/**
 * The tag rows and the triggers that keep them no longer than their entries (idempotent). The
 * triggers fire only for tagged rows (WHEN old.t IS NOT NULL), and the update trigger only for
 * writes that set `t` (UPDATE OF t): the fast upsert of an untagged set sets neither.
 */
export function tagSchemaSql(table: string): string {
  const { entries, tags } = tablesFor(table);
  const [deleted, rewritten] = untagTriggers(table);
  return `
    CREATE TABLE IF NOT EXISTS ${tags} (ns TEXT NOT NULL, tag TEXT NOT NULL, seq INTEGER NOT NULL, n INTEGER, PRIMARY KEY (ns, tag, seq)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS "${table}_tags_seq" ON ${tags} (seq);
    CREATE TRIGGER IF NOT EXISTS "${deleted}" AFTER DELETE ON ${entries} WHEN old.t IS NOT NULL
      BEGIN DELETE FROM ${tags} WHERE seq = old.seq; END;
    CREATE TRIGGER IF NOT EXISTS "${rewritten}" AFTER UPDATE OF t ON ${entries} WHEN old.t IS NOT NULL
      BEGIN DELETE FROM ${tags} WHERE seq = old.seq; END;
  `;
}

/** The names of the two triggers that delete tag rows (an entry deleted, an entry's `t` set). */
export function untagTriggers(table: string): [string, string] {
  return [`${table}_untag_deleted`, `${table}_untag_rewritten`];
}

/**
 * A key path as a json_extract path literal: `name.last` → `'$."name"."last"'`. Indexes and
 * queries build it with this one function, because SQLite uses an expression index only when
 * the query spells the expression the same way. Undefined when a segment cannot be quoted
 * safely (a quote, a backslash or a control character in the field name): the query then
 * does not narrow by that path, and the matcher decides.
 */
export function jsonPath(path: string): string | undefined {
  const segments = path.split('.');
  if (!segments.every(isQuotableSegment)) return undefined;
  return `'$${segments.map((s) => `."${s}"`).join('')}'`;
}

/** A field name json_extract can read inside double quotes: no quote, backslash or control character. */
function isQuotableSegment(segment: string): boolean {
  if (segment.length === 0) return false;
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x27 || c === 0x5c) return false;
  }
  return true;
}

/** The expression that reads `path` from the key column (the shape the expression indexes use). */
export function keyPathExpr(jsonPathLiteral: string): string {
  return `json_extract(k, ${jsonPathLiteral})`;
}

/**
 * A key's number as json_extract reads it from the key's JSON, to bind where SQL compares it
 * with `=`, `<` or `>`: an integer past 2^53 (and below 2^63, so JSON writes it in digits that
 * fit SQLite's integers) as the exact integer those digits spell (2^60 + 256 is written
 * 1152921504606847200, which no double equals), anything else as the double itself. Honest for
 * any double a key held or SQLite read back from one: keys are written with JSON.stringify, whose
 * digits round back to the double, and SQLite's integer of those digits reads back as it.
 */
export function sqliteNumber(n: number): number | bigint {
  return Number.isInteger(n) && !Number.isSafeInteger(n) && Math.abs(n) < 2 ** 63 ? BigInt(JSON.stringify(n)) : n;
}

/** The name of the expression index of `path`, quoted. */
export function pathIndexName(table: string, path: string): string {
  return `"${table}_k_${path}"`;
}

/** The statement that creates the expression index of `path` (a key path checked by settings.ts). */
export function pathIndexSql(table: string, path: string): string {
  return `CREATE INDEX IF NOT EXISTS ${pathIndexName(table, path)} ON ${tablesFor(table).entries} (ns, ${keyPathExpr(jsonPath(path)!)})`;
}

/**
 * The condition of the values an indexed path's sort cannot take from its expression index: its
 * index holds JSON true/false as 1/0 and an object as its JSON text (sorted.ts).
 */
export function oddValuesWhere(jsonPathLiteral: string): string {
  return `json_type(k, ${jsonPathLiteral}) IN ('true', 'false', 'object')`;
}

/**
 * The statement that creates the partial index of the keys holding a boolean or an object at
 * `path` (few in most data): a sort on the path finds them without reading every key whose
 * value there is 0 or 1, and stays out of the way of every other write.
 */
export function oddValuesIndexSql(table: string, path: string): string {
  return `CREATE INDEX IF NOT EXISTS "${table}_odd_${path}" ON ${tablesFor(table).entries} (ns) WHERE ${oddValuesWhere(jsonPath(path)!)}`;
}

/** How error messages name a key: a string key as a JSON string, an object key as its canonical JSON. */
export function keyName(id: string): string {
  return id.charCodeAt(0) === 0 ? id.slice(1) : JSON.stringify(id);
}

/** Corrupt stored data (SPEC §12): ERR_STORAGE_OPERATION naming the key, the underlying error as `cause`. */
export function corruptEntry(id: string, problem: string, cause?: unknown): StorageOperationError {
  return new StorageOperationError(`sqlite: the entry under key ${keyName(id)} is corrupt: ${problem}`, cause === undefined ? undefined : { cause });
}

/** A SQLite (or any) error as a StoreError: what failed, SQLite's code and message, the error as `cause`. */
export function toStoreError(err: unknown, action: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown })?.code;
  const message = `sqlite: ${action} failed${typeof code === 'string' ? ` (${code})` : ''}: ${(err as Error)?.message ?? String(err)}`;
  return new StorageOperationError(message, { cause: err });
}

/** A failure to open or prepare the database file at connect: ERR_STORAGE_CONNECTION. */
export function connectionError(err: unknown, path: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown })?.code;
  return new StorageConnectionError(
    `sqlite: cannot open ${JSON.stringify(path)}${typeof code === 'string' ? ` (${code})` : ''}: ${(err as Error)?.message ?? String(err)}`,
    { cause: err },
  );
}
