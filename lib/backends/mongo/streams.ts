/**
 * Streamed writes (SPEC §7): a value written with setStream is uploaded to GridFS (gridfs.ts)
 * first; only then does one atomic pipeline update point the entry at the file, keeping a live
 * entry's creation position and freeing the file it held before.
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { Document, ObjectId } from 'mongodb';
import type { EncodedValue } from '../../compression';
import type { Key } from '../../keys';
import type { MongoScope } from './connection';
import { docId, isStorableExpiry, toStoreError } from './layout';
import { unstorableExpiry } from './values';

/**
 * The slow path of a write: one atomic pipeline update that keeps the creation position of a
 * live entry, gives an expired one a new position, swaps the value or the file, and returns
 * the old file id so the old file can be deleted.
 */
async function rewrite(
  scope: MongoScope,
  id: string,
  key: Key,
  data: { v: EncodedValue } | { g: ObjectId },
  expiresAt: number | null,
  position: { s: ObjectId; now: number },
): Promise<void> {
  const _id = docId(scope.namespace, id);
  const { s, now } = position;
  const e = expiresAt === null ? null : new Date(expiresAt);
  try {
    const keepPosition = {
      $and: [{ $ne: [{ $type: '$s' }, 'missing'] }, { $or: [{ $eq: [{ $ifNull: ['$e', null] }, null] }, { $gt: ['$e', new Date(now)] }] }],
    };
    const fields: Document = { k: { $literal: key }, e: { $literal: e }, n: { $literal: scope.namespace } };
    if ('v' in data) fields.v = { $literal: data.v };
    else fields.g = { $literal: data.g };
    fields.s = { $cond: [keepPosition, '$s', { $literal: s }] };
    // Creation and update times as a plain set writes them (writes.ts): taken at the call's start.
    fields.c = { $cond: [keepPosition, '$c', { $literal: new Date(now) }] };
    fields.u = { $literal: new Date(now) };
    const before = await scope.shared.collection.findOneAndUpdate({ _id }, [{ $set: fields }, { $unset: 'v' in data ? ['g', 't'] : ['v', 't'] }], {
      upsert: true,
      returnDocument: 'before',
      projection: { _id: 0, g: 1 },
    });
    const oldFile: unknown = before?.g;
    if (oldFile instanceof ObjectId && !('g' in data && oldFile.equals(data.g))) await scope.shared.files.remove(oldFile);
  } catch (err) {
    throw toStoreError(err, 'set');
  }
}

/** Uploads `source` as a GridFS file, then points the entry at it; a failed upload leaves no trace. */
export async function writeStream(scope: MongoScope, id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
  if (expiresAt !== null && !isStorableExpiry(expiresAt)) throw unstorableExpiry(expiresAt);
  // The creation position and the time are the call's start, not the end of the upload (as for a plain set, backend.ts).
  const position = { s: new ObjectId(), now: scope.clock.now() };
  const files = scope.shared.files;
  let fileId: ObjectId;
  try {
    fileId = await files.upload(docId(scope.namespace, id), source, {
      n: scope.namespace,
      id,
      e: expiresAt === null ? null : new Date(expiresAt),
    });
  } catch (err) {
    throw toStoreError(err, 'setStream');
  }
  try {
    await rewrite(scope, id, key, { g: fileId }, expiresAt, position);
  } catch (err) {
    await files.remove(fileId).catch(() => undefined);
    throw err;
  }
  scope.shared.removeExpiredFiles(scope.clock.now()).catch(() => undefined);
}
