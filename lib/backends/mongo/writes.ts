/**
 * Plain writes: a set is an upsert on `_id` whose pipeline keeps a live entry's creation
 * position; the sets of one tick go as ordered `update` commands (queued by a TickQueue,
 * lib/core/tick-queue.ts), each caller answered by its own statement's outcome. Deletes free
 * the entry's GridFS file too.
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { Document, ObjectId } from 'mongodb';
import { StorageOperationError } from '../../errors';
import type { EncodedValue } from '../../compression';
import type { Key } from '../../keys';
import type { Settle } from '../../core/tick-queue';
import type { MongoScope } from './connection';
import { docId, isConnectionError, toStoreError, wasLive } from './layout';
import type { ReadDoc } from './values';

/** A set waiting in the write queue, with its caller's settle functions. */
export interface QueuedWrite extends Settle<void> {
  id: string;
  key: Key;
  /** The value as stored: the serializer's text, or framed compressed bytes (written as BSON Binary). */
  v: EncodedValue;
  expiresAt: number | null;
  /** The entry's tags (checked and deduplicated by lib/tags.ts), or undefined for none. */
  tags: readonly string[] | undefined;
  /** The creation position a new or expired entry takes, and the time its liveness is judged at: both taken when the call starts. */
  s: ObjectId;
  now: number;
}

/** Later than any expiry: what a missing or null `e` compares as in the upsert pipeline. */
const NEVER = new Date(8.64e15);

/**
 * True in the upsert pipeline when a document was there before this write (an insert starts
 * from `{ _id }` alone). Every entry document has `s`; a live one written before the store
 * recorded times keeps its missing `c` (`'$c'` of a missing field sets nothing): createdAt
 * stays unknown rather than taking the time of an overwrite.
 */
const EXISTED = { $ne: [{ $type: '$s' }, 'missing'] };

/** Bytes of one `update` command's statements, kept well under MongoDB's 16 MB per command. */
const GROUP_BYTES = 8 * 1024 * 1024;

/** Approximate BSON size of a queued write's statement. */
function writeSize(w: QueuedWrite): number {
  return w.v.length + 2 * w.id.length + 256 + (w.tags === undefined ? 0 : tagsSize(w.tags));
}

/** Approximate BSON size of a tag array (at most 64 tags of 512 units: ~100 KB at worst). */
function tagsSize(tags: readonly string[]): number {
  let bytes = 0;
  for (const tag of tags) bytes += 3 * tag.length + 16;
  return bytes;
}

/**
 * The upsert of a set: a filter on `_id` alone, so MongoDB serves it by its `_id` fast path
 * (an extra predicate sends it through the query planner: ~250 µs more per write here), and
 * a pipeline that keeps the creation position `s` and time `c` of a live entry but takes new
 * ones for a new or expired entry (an upsert's $setOnInsert could not see expiry), and sets
 * the update time `u`. A GridFS file id `g` is left in place: `v` wins over `g` on every
 * read, and the sweep frees such superseded files (SharedMongo.collectGarbage, connection.ts).
 * The tags `t` are replaced: written when the set has some, removed (`$$REMOVE`) when not.
 */
function upsertStatement(scope: MongoScope, w: QueuedWrite): { q: Document; u: Document[]; upsert: true } {
  const s = w.s;
  const now = new Date(w.now);
  return {
    q: { _id: docId(scope.namespace, w.id) },
    u: [
      {
        $set: {
          k: { $literal: w.key },
          v: { $literal: w.v },
          e: { $literal: w.expiresAt === null ? null : new Date(w.expiresAt) },
          n: { $literal: scope.namespace },
          t: w.tags === undefined ? '$$REMOVE' : { $literal: w.tags },
          // Both judged on the document before this stage: `$e` and `$s` are the old ones.
          s: { $cond: [{ $gt: [{ $ifNull: ['$e', NEVER] }, now] }, { $ifNull: ['$s', s] }, s] },
          c: { $cond: [{ $and: [{ $gt: [{ $ifNull: ['$e', NEVER] }, now] }, EXISTED] }, '$c', now] },
          u: now,
        },
      },
    ],
    upsert: true,
  };
}

/** A lone set: one updateOne. */
export async function writeOne(scope: MongoScope, w: QueuedWrite): Promise<void> {
  const { q, u } = upsertStatement(scope, w);
  try {
    await scope.shared.collection.updateOne(q, u, { upsert: true });
  } catch (err) {
    throw toStoreError(err, 'set');
  }
}

/**
 * Writes the sets queued in one tick as ordered `update` commands of at most GROUP_BYTES.
 * A statement the server rejects fails that set alone and the rest resume after it; a
 * failure of a command fails every set it may have touched, and the next command is sent
 * all the same (all of them fail when the server is unreachable). Each set is answered as soon
 * as its command is.
 */
export async function writeMany(scope: MongoScope, items: QueuedWrite[]): Promise<void> {
  const collection = scope.shared.collection;
  // Not collection.bulkWrite: the bulk API wraps every failure, a refused connection
  // included, in MongoBulkWriteError, which hides what failed.
  const updates = items.map((w) => upsertStatement(scope, w));
  let start = 0;
  while (start < items.length) {
    let end = start;
    let bytes = 0;
    while (end < items.length && (end === start || bytes + writeSize(items[end]) <= GROUP_BYTES)) bytes += writeSize(items[end++]);
    let res: Document;
    try {
      res = await scope.shared.db.command({ update: collection.collectionName, updates: updates.slice(start, end), ordered: true });
    } catch (err) {
      // Unreachable: the later groups would only wait out the same timeout, so they fail now.
      // Any other failure is this command's: the next group is still sent (SPEC §12: one
      // caller's bad write never fails another caller's call that shared its batch).
      const unreachable = isConnectionError(err);
      rejectRange(items, start, unreachable ? items.length : end, toStoreError(err, 'set'));
      if (unreachable) break;
      start = end;
      continue;
    }
    if (res.writeConcernError) {
      const error = new StorageOperationError(`mongo: set failed: ${res.writeConcernError.errmsg}`, { cause: res.writeConcernError });
      rejectRange(items, start, end, error);
      start = end;
      continue;
    }
    const writeError = (res.writeErrors as Array<{ index: number; code?: number; errmsg?: string }> | undefined)?.[0];
    if (!writeError) {
      resolveRange(items, start, end);
      start = end;
      continue;
    }
    const failed = start + writeError.index;
    resolveRange(items, start, failed);
    items[failed].reject(new StorageOperationError(`mongo: set failed: ${writeError.errmsg ?? 'write error'}`, { cause: writeError }));
    start = failed + 1;
  }
}

function resolveRange(items: QueuedWrite[], start: number, end: number): void {
  for (let i = start; i < end; i++) items[i].resolve();
}

function rejectRange(items: QueuedWrite[], start: number, end: number, error: unknown): void {
  for (let i = start; i < end; i++) items[i].reject(error);
}

/** Removes the entry under `id` and frees its file; resolves whether it existed and was live. */
export async function deleteEntry(scope: MongoScope, id: string): Promise<boolean> {
  try {
    const doc: ReadDoc | null = await scope.shared.collection.findOneAndDelete({ _id: docId(scope.namespace, id) }, { projection: { _id: 0, e: 1, g: 1 } });
    if (doc === null) return false;
    if (doc.g instanceof ObjectId) await scope.shared.files.remove(doc.g);
    // A corrupt expiry does not stop a delete: the document existed, and now it is gone.
    return wasLive(doc, scope.clock.now());
  } catch (err) {
    throw toStoreError(err, 'del');
  }
}
