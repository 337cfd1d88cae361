/**
 * The fixed statements of one connection, prepared once at connect. Queries, whose shape
 * depends on the selector, are prepared on demand and cached (connection.ts).
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Tables } from './layout';

type Statement = BetterSqlite3.Statement<unknown[]>;

/** The prepared statements every backend operation uses. */
export interface Statements {
  /** Insert, or overwrite a live non-streamed untagged row in place: ns, id, k, a, v, e, now (cr), now (up), now; 0 changes sends the write down the slow path. */
  upsert: Statement;
  /** The row of an id: seq, e, s, c, v. */
  row: Statement;
  /** What a read needs, as an array: [v, e, s] (fewer columns: each costs a conversion). */
  read: Statement;
  /** A scanned row by its creation position (the fast query path's rows that need a full read). */
  rowBySeq: Statement;
  /** The expiry of an id (its presence too). */
  expiry: Statement;
  /** A new row: ns, id, k, a, v, e, s, c, t, cr, up. */
  insert: Statement;
  /** Replaces a row's value, expiry, chunk set, tagged flag and update time (v, e, s, c, t, up, seq), keeping its creation position and time (setting `t` drops its old tag rows: layout.ts). */
  update: Statement;
  /** Sets a live row's expiry (touch): e, ns, id, now. */
  touch: Statement;
  /** A tag row: ns, tag, seq, position in the set call's list. */
  insertTag: Statement;
  /** Deletes the live rows of a namespace carrying one of the tags (a JSON array) and returns their chunk sets: ns, tags, now. */
  deleteTagged: Statement;
  /** Turns a stream's placeholder row into the entry, keeping the placeholder's creation position: ns, id, k, a, e, s, c, cr, up, seq. */
  adopt: Statement;
  /**
   * getMeta's one read (SPEC §16), without the value: [e, cr, up, size, tags] of an id, size the
   * stored bytes (octet_length reads the record header only; a streamed value's chunk lengths
   * summed), tags a JSON array in the order given (NULL for an untagged row).
   */
  meta: Statement;
  deleteById: Statement;
  deleteBySeq: Statement;
  /** Live rows of a namespace. */
  countLive: Statement;
  /** The chunk sets of a namespace's streamed values. */
  streamedIn: Statement;
  clear: Statement;
  expired: Statement;
  /** A row of a namespace whose key column is not JSON (to name it when json_extract fails). */
  badKey: Statement;
  insertChunk: Statement;
  chunk: Statement;
  chunks: Statement;
  deleteChunks: Statement;
}

/** Prepares the statements over `tables`. */
export function prepareStatements(db: BetterSqlite3.Database, { entries: t, chunks, tags }: Tables): Statements {
  const p = (sql: string) => db.prepare(sql) as Statement;
  return {
    upsert: p(
      `INSERT INTO ${t} (ns, id, k, a, v, e, cr, up) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (ns, id) DO UPDATE SET v = excluded.v, e = excluded.e, up = excluded.up WHERE s IS NULL AND t IS NULL AND (e IS NULL OR e > ?)`,
    ),
    row: p(`SELECT seq, e, s, c, v FROM ${t} WHERE ns = ? AND id = ?`),
    read: p(`SELECT v, e, s FROM ${t} WHERE ns = ? AND id = ?`).raw(),
    rowBySeq: p(`SELECT seq, id, e, a, s, c, v FROM ${t} WHERE seq = ?`),
    expiry: p(`SELECT e FROM ${t} WHERE ns = ? AND id = ?`),
    insert: p(`INSERT INTO ${t} (ns, id, k, a, v, e, s, c, t, cr, up) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    update: p(`UPDATE ${t} SET v = ?, e = ?, s = ?, c = ?, t = ?, up = ? WHERE seq = ?`),
    touch: p(`UPDATE ${t} SET e = ? WHERE ns = ? AND id = ? AND (e IS NULL OR e > ?)`),
    insertTag: p(`INSERT INTO ${tags} (ns, tag, seq, n) VALUES (?, ?, ?, ?)`),
    deleteTagged: p(
      `DELETE FROM ${t} WHERE seq IN (SELECT seq FROM ${tags} WHERE ns = ? AND tag IN (SELECT value FROM json_each(?))) AND (e IS NULL OR e > ?)
       RETURNING s`,
    ).pluck(),
    adopt: p(`UPDATE ${t} SET ns = ?, id = ?, k = ?, a = ?, v = NULL, e = ?, s = ?, c = ?, cr = ?, up = ? WHERE seq = ?`),
    meta: p(
      `SELECT e, cr, up,
         iif(s IS NULL, octet_length(v), (SELECT total(length(data)) FROM ${chunks} WHERE sid = x.s)),
         iif(t IS NULL, NULL, (SELECT json_group_array(tag ORDER BY n, tag) FROM ${tags} WHERE seq = x.seq))
       FROM ${t} x WHERE ns = ? AND id = ?`,
    ).raw(),
    deleteById: p(`DELETE FROM ${t} WHERE ns = ? AND id = ? RETURNING e, s`),
    deleteBySeq: p(`DELETE FROM ${t} WHERE seq = ?`),
    countLive: p(`SELECT count(*) FROM ${t} WHERE ns = ? AND (e IS NULL OR e > ?)`).pluck(),
    streamedIn: p(`SELECT s FROM ${t} WHERE ns = ? AND s IS NOT NULL`).pluck(),
    clear: p(`DELETE FROM ${t} WHERE ns = ?`),
    expired: p(`SELECT seq, ns, s FROM ${t} WHERE e <= ? AND seq > ? ORDER BY seq LIMIT ?`),
    badKey: p(`SELECT id FROM ${t} WHERE ns = ? AND k IS NOT NULL AND NOT json_valid(k) LIMIT 1`).pluck(),
    insertChunk: p(`INSERT INTO ${chunks} (sid, n, data) VALUES (?, ?, ?)`),
    chunk: p(`SELECT data FROM ${chunks} WHERE sid = ? AND n = ?`).pluck(),
    chunks: p(`SELECT n, data FROM ${chunks} WHERE sid = ? ORDER BY n`),
    deleteChunks: p(`DELETE FROM ${chunks} WHERE sid = ?`),
  };
}
