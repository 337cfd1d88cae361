/**
 * The MongoDB document layout (docs/mongo.md) and the mapping of driver errors to store errors.
 *
 * One document per entry:
 *   _id  the canonical key id (lib/keys.ts) — in a namespace, NUL + namespace + NUL + id — so
 *        an exact key is one lookup on the unique _id index;
 *   k    the key: the string, or the object key with fields sorted, so queries run natively
 *        on `k.<path>`;
 *   v    the value, as the store's serializer writes it (a string; absent for streamed values);
 *   g    the GridFS file id of a value written with setStream (absent otherwise; when a later
 *        plain set left both `v` and `g`, `v` is the value and the sweep frees the file);
 *   e    the expiry as a Date, or null (TTL index, expireAfterSeconds 0);
 *   n    the namespace ('' at the root);
 *   s    an ObjectId taken at the first set: creation order (an overwrite keeps it).
 */
import type { Document, ObjectId } from 'mongodb';
import { StoreError, StorageConnectionError, StorageOperationError } from '../errors';
import type { Key } from '../keys';

/** An entry document as the store writes it. */
export interface EntryDoc extends Document {
  _id: string;
  k: Key;
  v?: string;
  g?: ObjectId;
  e: Date | null;
  n: string;
  s: ObjectId;
}

/** Name of the index that serves creation-ordered scans of a namespace. */
export const ORDER_INDEX = 'n_1_s_1';
/** Name of the sparse index on the GridFS file id (finds superseded files without a scan). */
export const FILE_INDEX = 'g_1_sparse';
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

/** Whether a document read back is live at `now`. */
export function isLive(doc: { e?: Date | null }, now: number): boolean {
  return doc.e === null || doc.e === undefined || doc.e.getTime() > now;
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
