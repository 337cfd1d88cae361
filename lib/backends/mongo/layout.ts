/**
 * The MongoDB document layout (docs/mongo.md) and the mapping of driver errors to store errors.
 *
 * One document per entry:
 *   _id  the canonical key id (lib/keys.ts) — in a namespace, NUL + namespace + NUL + id — so
 *        an exact key is one lookup on the unique _id index;
 *   k    the key: the string, or the object key with fields sorted, so queries run natively
 *        on `k.<path>`;
 *   v    the value, as the store's serializer writes it (a string), or — with `compress` on and
 *        the text at least its threshold — that text compressed and framed (BSON Binary, subtype
 *        0: one algorithm byte, then gzip or brotli bytes; lib/compression.ts); which one is read
 *        from the stored type, never from the setting; absent for streamed values;
 *   g    the GridFS file id of a value written with setStream (absent otherwise; when a later
 *        plain set left both `v` and `g`, `v` is the value and the sweep frees the file);
 *   e    the expiry as a Date, or null (TTL index, expireAfterSeconds 0);
 *   n    the namespace ('' at the root);
 *   s    an ObjectId taken at the first set: creation order (an overwrite keeps it);
 *   t    the entry's tags (an array of strings), absent when it has none: a set replaces them,
 *        a set without tags removes the field, so tags live and die with their document;
 *   c    when the entry was created (a Date from the store's clock): written by the set that
 *        creates it, kept by an overwrite of a live entry, renewed when the old one had expired;
 *   u    when its value was last written (a Date): every set and setStream, not touch.
 *        Documents written before the store recorded times have neither (getMeta: null).
 */
import type { Binary, Document, ObjectId } from 'mongodb';
import { StoreConfigError, StoreError, StorageConnectionError, StorageOperationError } from '../../errors';
import type { Key } from '../../keys';

/** An entry document as the store writes it. */
export interface EntryDoc extends Document {
  _id: string;
  k: Key;
  v?: string | Binary;
  g?: ObjectId;
  e: Date | null;
  n: string;
  s: ObjectId;
  t?: string[];
  c?: Date;
  u?: Date;
}

/** Name of the index that serves creation-ordered scans of a namespace. */
export const ORDER_INDEX = 'n_1_s_1';
/** Name of the sparse index on the GridFS file id (finds superseded files without a scan). */
export const FILE_INDEX = 'g_1_sparse';
/** Name of the partial multikey index on the tags (only tagged documents are in it). */
export const TAG_INDEX = 'n_1_t_1_tagged';
/** Name of the TTL index on the expiry field. */
export const TTL_INDEX = 'e_1_ttl';

/** The `_id` of an entry: the key id at the root, NUL + namespace + NUL + id in a namespace. */
export function docId(namespace: string, id: string): string {
  // Neither a string key nor an object key's id ('\0{...}', with no raw NUL inside) can take
  // the form '\0ns\0...', and a namespace holds no NUL, so ids never collide across namespaces.
  return namespace === '' ? id : '\u0000' + namespace + '\u0000' + id;
}

/** The key id back from an `_id` written by `docId(namespace, ...)`. */
export function idFromDocId(namespace: string, _id: string): string {
  return namespace === '' ? _id : _id.slice(namespace.length + 2);
}

/** The read-time expiry check: no expiry, or an expiry after `now` (null and missing match). */
export function liveClause(now: number): Document {
  return { e: { $not: { $lte: new Date(now) } } };
}

/** Latest expiry a BSON Date read back as a JS Date can hold (ECMAScript's time range): later ones read back as Invalid Date. */
export const LATEST_EXPIRY = 8.64e15;

/** True when the store can write `expiresAt` (epoch ms) as a BSON Date and read it back unchanged. */
export function isStorableExpiry(expiresAt: number): boolean {
  return Number.isInteger(expiresAt) && expiresAt >= -LATEST_EXPIRY && expiresAt <= LATEST_EXPIRY;
}

/**
 * Whether a document read back is live at `now`: no expiry (null or missing) or one after
 * `now`. An `e` of any other type, or a Date outside JavaScript's range, was not written by
 * this store: ERR_STORAGE_OPERATION naming the key `id`.
 */
export function isLive(doc: { e?: unknown }, now: number, id: string): boolean {
  const e = doc.e;
  if (e === null || e === undefined) return true;
  if (e instanceof Date) {
    const time = e.getTime();
    if (time === time) return time > now; // not NaN
  }
  throw corruptEntry(id, `its expiry field e is ${bsonTypeName(e)}, not a Date or null`);
}

/** The expiry of a document read back (epoch ms or null), checked as `isLive` checks it. */
export function expiryOf(doc: { e?: unknown }, id: string): number | null {
  const e = doc.e;
  if (e === null || e === undefined) return null;
  if (e instanceof Date && e.getTime() === e.getTime()) return e.getTime();
  throw corruptEntry(id, `its expiry field e is ${bsonTypeName(e)}, not a Date or null`);
}

/** `isLive` for a document that is being deleted anyway: an unreadable expiry counts as live (it existed). */
export function wasLive(doc: { e?: unknown }, now: number): boolean {
  const e = doc.e;
  return !(e instanceof Date) || !(e.getTime() <= now);
}

/**
 * Checks that a document found by its `_id` belongs to `namespace` (`n`). A document without
 * `n` is memstorage 0.5.3's (`{ _id, val }`), written after connect by an old process:
 * ERR_STORE_CONFIG, as at connect. Any other `n` is corruption: ERR_STORAGE_OPERATION.
 */
export function checkNamespace(doc: { n?: unknown }, namespace: string, id: string): void {
  if (doc.n === namespace) return;
  if (doc.n === undefined || doc.n === null) {
    throw new StoreConfigError(
      `mongo: the entry under key ${keyName(id)} was written by memstorage 0.5.3; convert the collection once with the migration command in docs/mongo.md`,
    );
  }
  throw corruptEntry(id, `its namespace field n is ${bsonTypeName(doc.n)}, not this store's namespace`);
}

/**
 * The key id of a document a scan of `namespace` found: its `_id` must be a string carrying
 * the namespace's prefix (see docId). Anything else is ERR_STORAGE_OPERATION naming the `_id`.
 */
export function scannedId(namespace: string, _id: unknown): string {
  if (typeof _id !== 'string') throw corruptEntry(undefined, `a document of namespace ${JSON.stringify(namespace)} has an _id of type ${bsonTypeName(_id)}`, undefined, _id);
  if (namespace === '') {
    if (_id.charCodeAt(0) === 0 && _id.indexOf('\u0000', 1) !== -1) throw corruptEntry(_id, 'its _id has the form of a namespaced id but its n is the root namespace');
    return _id;
  }
  if (_id.length < namespace.length + 3 || _id.charCodeAt(0) !== 0 || _id.charCodeAt(namespace.length + 1) !== 0 || !_id.startsWith(namespace, 1)) {
    throw corruptEntry(_id, `its _id lacks the prefix of namespace ${JSON.stringify(namespace)}`);
  }
  return _id.slice(namespace.length + 2);
}

/**
 * The key of a scanned document: `k` must be the string key itself (a string id) or a plain
 * object (an object key's id, NUL + JSON). Only the shape is checked: a deep comparison with
 * the id would cost a JSON parse per entry of every scan.
 */
export function scannedKey(k: unknown, id: string): Key {
  if (id.charCodeAt(0) === 0) {
    if (k !== null && typeof k === 'object' && Object.getPrototypeOf(k) === Object.prototype) return k as Key;
  } else if (k === id) return k;
  throw corruptEntry(id, `its key field k is ${bsonTypeName(k)}, which does not match its _id`);
}

/** How error messages name a key: a string key as a JSON string, an object key as its canonical JSON. */
export function keyName(id: string): string {
  return id.charCodeAt(0) === 0 ? id.slice(1) : JSON.stringify(id);
}

/**
 * Corrupt stored data (SPEC §12): ERR_STORAGE_OPERATION naming the key, with the problem and
 * the underlying error as `cause`. `id` is the key id; when the `_id` itself is unusable, `rawId`.
 */
export function corruptEntry(id: string | undefined, problem: string, cause?: unknown, rawId?: unknown): StorageOperationError {
  const name = id !== undefined ? `key ${keyName(id)}` : `_id ${describeRaw(rawId)}`;
  return new StorageOperationError(`mongo: the entry under ${name} is corrupt: ${problem}`, cause === undefined ? undefined : { cause });
}

function describeRaw(value: unknown): string {
  try {
    return String(JSON.stringify(value)).slice(0, 200);
  } catch {
    return bsonTypeName(value);
  }
}

/** A short name for the type of a value read from a document (for messages). */
export function bsonTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return `a ${typeof value}`;
  if (Array.isArray(value)) return 'an array';
  const tag = (value as { _bsontype?: unknown })._bsontype;
  if (typeof tag === 'string') return `a BSON ${tag}`;
  if (value instanceof Date) return 'an invalid Date';
  return 'an object';
}

const CONNECTION_ERRORS = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoTopologyClosedError',
  'MongoNotConnectedError',
  'MongoPoolClosedError',
  'PoolClearedError',
  'PoolClearedOnNetworkError',
  'MongoPoolClearedError',
  'MongoOperationTimeoutError',
  'ConnectionPoolClosedError',
]);

/** True for failures to reach the server (down, refused, timed out), as opposed to a server-side failure. */
export function isConnectionError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { name?: string; hasErrorLabel?: (label: string) => boolean };
  if (e.name && CONNECTION_ERRORS.has(e.name)) return true;
  return typeof e.hasErrorLabel === 'function' && (e.hasErrorLabel('ResetPool') || e.hasErrorLabel('SystemOverloadedError'));
}

/** Wraps a driver error: StorageConnectionError when the server could not be reached, else StorageOperationError. */
export function toStoreError(err: unknown, action: string): StoreError {
  if (err instanceof StoreError) return err;
  const message = `mongo: ${action} failed: ${(err as Error)?.message ?? String(err)}`;
  return isConnectionError(err) ? new StorageConnectionError(message, { cause: err }) : new StorageOperationError(message, { cause: err });
}
