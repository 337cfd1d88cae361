/**
 * Entry metadata (SPEC §16): `getMeta` reads an entry's times, expiry, tags and value size
 * without its value. The size is computed on the server by the find's projection (`$binarySize`
 * of `v`, a string's UTF-8 bytes or a Binary's bytes), so the value never crosses the wire; a
 * streamed value's size is its GridFS file's length, read from the files collection. The
 * getMetas of one tick are one find on `_id: { $in }` (queued by a TickQueue, like getOne).
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { ObjectId } from 'mongodb';
import type { EntryMeta } from '../../backend';
import type { Settle } from '../../core/tick-queue';
import type { MongoScope } from './connection';
import { bsonTypeName, checkNamespace, corruptEntry, expiryOf, idFromDocId, isLive, toStoreError } from './layout';
import { findById } from './find-by-id';

/** A getMeta waiting in the meta queue: its document id and its caller's settle functions. */
export interface QueuedMeta extends Settle<EntryMeta | undefined> {
  _id: string;
}

/** A document as the meta projection returns it: anything may be in its fields. */
interface MetaDoc {
  _id?: unknown;
  n?: unknown;
  e?: unknown;
  c?: unknown;
  u?: unknown;
  t?: unknown;
  g?: unknown;
  /** The stored value's bytes, or null when `v` is neither a string nor a Binary (projected). */
  z?: unknown;
  /** The BSON type name of `v` ('missing' when absent; projected). */
  vt?: unknown;
}

/**
 * What getMeta reads: the fields it reports and checks, plus the value's size and type computed
 * on the server. `$binarySize` fails on other types, so it is guarded: one corrupt `v` must not
 * fail the other ids of a batched find.
 */
const META_PROJECTION = {
  _id: 1,
  n: 1,
  e: 1,
  c: 1,
  u: 1,
  t: 1,
  g: 1,
  z: { $cond: [{ $in: [{ $type: '$v' }, ['string', 'binData']] }, { $binarySize: '$v' }, null] },
  vt: { $type: '$v' },
} as const;

/**
 * A lone getMeta: one findOne on `_id`, and the file's length when the value is streamed. A
 * file found gone may have been replaced by a setStream between the two reads: the document is
 * read once more (`again`), and only a file still gone then is corruption.
 */
export async function metaOne(scope: MongoScope, _id: string, again = false): Promise<EntryMeta | undefined> {
  const doc = await findById<MetaDoc>(scope, _id, META_PROJECTION, 'getMeta');
  if (doc === null) return undefined;
  const pending = metaOf(scope, doc, _id, scope.clock.now());
  if (pending === undefined || pending.fileId === undefined) return pending?.meta;
  const fileId = pending.fileId;
  const meta = withFileSize({ ...pending, fileId }, await fileLengths(scope, [fileId]));
  if (meta !== FILE_GONE) return meta;
  if (!again) return metaOne(scope, _id, true);
  throw corruptEntry(pending.id, `its streamed value's GridFS file ${fileId.toHexString()} is gone`);
}

/** The getMetas queued in one tick: one find on `_id: { $in }`, then one find of the streamed values' files; each call answered with its own outcome. */
export async function metaMany(scope: MongoScope, calls: QueuedMeta[]): Promise<void> {
  const docs = new Map<string, MetaDoc>();
  try {
    const unique = [...new Set(calls.map((call) => call._id))];
    // batchSize one more than can match, so the first batch ends the cursor (see reads.ts readMany).
    const found = await scope.shared.collection.find({ _id: { $in: unique } }, { projection: META_PROJECTION, batchSize: unique.length + 1 }).toArray();
    for (const doc of found) docs.set(doc._id as string, doc);
  } catch (err) {
    throw toStoreError(err, 'getMeta');
  }
  const now = scope.clock.now();
  let streamed: Array<{ call: QueuedMeta; pending: PendingMeta & { fileId: ObjectId } }> | undefined;
  for (const call of calls) {
    const doc = docs.get(call._id);
    if (doc === undefined) {
      call.resolve(undefined);
      continue;
    }
    try {
      const pending = metaOf(scope, doc, call._id, now);
      if (pending !== undefined && pending.fileId !== undefined) (streamed ??= []).push({ call, pending: pending as PendingMeta & { fileId: ObjectId } });
      else call.resolve(pending?.meta);
    } catch (error) {
      call.reject(error);
    }
  }
  if (streamed === undefined) return;
  const lengths = await fileLengths(
    scope,
    streamed.map((s) => s.pending.fileId),
  );
  let again: Array<Promise<void>> | undefined;
  for (const { call, pending } of streamed) {
    try {
      const meta = withFileSize(pending, lengths);
      if (meta === FILE_GONE) (again ??= []).push(metaOne(scope, call._id, true).then(call.resolve, call.reject));
      else call.resolve(meta);
    } catch (error) {
      call.reject(error);
    }
  }
  if (again) await Promise.all(again);
}

/** A live entry's metadata; its size still to be read from its GridFS file when `fileId` is set. */
interface PendingMeta {
  /** The key id (for messages). */
  id: string;
  meta: EntryMeta;
  fileId?: ObjectId;
}

/**
 * The metadata of a document read back, checked as reads check it (layout.ts): undefined when
 * it expired; ERR_STORAGE_OPERATION naming the key for a field this store does not write.
 */
function metaOf(scope: MongoScope, doc: MetaDoc, _id: string, now: number): PendingMeta | undefined {
  const id = idFromDocId(scope.namespace, _id);
  checkNamespace(doc, scope.namespace, id);
  if (!isLive(doc, now, id)) return undefined;
  const meta: EntryMeta = {
    size: 0,
    createdAt: timeOf(doc.c, 'c', id),
    updatedAt: timeOf(doc.u, 'u', id),
    expiresAt: expiryOf(doc, id),
    tags: tagsOf(doc.t, id),
  };
  // `v` wins over `g` on every read (a plain set over a streamed value leaves `g` to the sweep).
  if (typeof doc.z === 'number') {
    meta.size = doc.z;
    return { id, meta };
  }
  if (doc.vt === 'missing' && doc.g instanceof ObjectId) return { id, meta, fileId: doc.g };
  if (doc.vt !== 'missing') throw corruptEntry(id, `its value field v is a BSON ${String(doc.vt)}, not a string or binary`);
  throw corruptEntry(id, doc.g === undefined ? 'it holds no value (neither v nor g)' : `its file field g is ${bsonTypeName(doc.g)}, not an ObjectId`);
}

/** A time field (`c`, `u`) read back: epoch ms, or null when the document has none (written before the store recorded times). */
function timeOf(value: unknown, field: string, id: string): number | null {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) {
    const time = value.getTime();
    if (time === time) return time;
  }
  throw corruptEntry(id, `its time field ${field} is ${bsonTypeName(value)}, not a Date`);
}

/** The tags field `t` read back: a copy of its strings, [] when absent. */
function tagsOf(value: unknown, id: string): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value) && value.every((tag) => typeof tag === 'string')) return value.slice() as string[];
  throw corruptEntry(id, `its tags field t is ${bsonTypeName(value)}, not an array of strings`);
}

/** The lengths of GridFS files by id (hex), in one find on the files collection. */
async function fileLengths(scope: MongoScope, fileIds: ObjectId[]): Promise<Map<string, unknown>> {
  const lengths = new Map<string, unknown>();
  try {
    const files = await scope.shared.files.filesCollection.find({ _id: { $in: fileIds } }, { projection: { length: 1 } }).toArray();
    for (const file of files) if (file._id instanceof ObjectId) lengths.set(file._id.toHexString(), file.length);
  } catch (err) {
    throw toStoreError(err, 'getMeta');
  }
  return lengths;
}

/** What `withFileSize` answers when the file is not there (see metaOne). */
const FILE_GONE = Symbol('file gone');

/** The pending metadata completed with its file's length; FILE_GONE when the file is missing, corruption naming the key when its length is unusable. */
function withFileSize(pending: PendingMeta & { fileId: ObjectId }, lengths: Map<string, unknown>): EntryMeta | typeof FILE_GONE {
  const hex = pending.fileId.toHexString();
  if (!lengths.has(hex)) return FILE_GONE;
  const length = lengths.get(hex);
  if (typeof length === 'number' && Number.isSafeInteger(length) && length >= 0) {
    pending.meta.size = length;
    return pending.meta;
  }
  throw corruptEntry(pending.id, `its streamed value's GridFS file ${hex} has an unusable length (${bsonTypeName(length)})`);
}
