/**
 * Calls on an entry's metadata (SPEC §15): `touch` sets a live entry's expiry in one atomic
 * update, and `deleteByTags` removes the live entries carrying a tag in one deleteMany, both
 * filtered on the server so another process's writes in between are seen, never overwritten.
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { ObjectId } from 'mongodb';
import type { MongoScope } from './connection';
import { FILE_INDEX, TAG_INDEX, docId, isStorableExpiry, liveClause, toStoreError } from './layout';
import { unstorableExpiry } from './values';

/**
 * Sets the expiry of the live entry under `id` (epoch ms, or null for none), keeping its
 * value, key, tags and creation position; resolves whether it was live. One findOneAndUpdate
 * whose filter holds the liveness check, so an entry expired or deleted meanwhile (by any
 * process) is left alone. A streamed value's GridFS file carries the expiry too (the sweep
 * frees files by it), so it is updated after the entry.
 */
export async function touchEntry(scope: MongoScope, id: string, expiresAt: number | null): Promise<boolean> {
  if (expiresAt !== null && !isStorableExpiry(expiresAt)) throw unstorableExpiry(expiresAt);
  const e = expiresAt === null ? null : new Date(expiresAt);
  try {
    // `n` too: a document of memstorage 0.5.3 or of another namespace under this _id is not this entry.
    const filter = { _id: docId(scope.namespace, id), n: scope.namespace, ...liveClause(scope.clock.now()) };
    // Whether `v` is there, not `v` itself: the value need not cross the wire for a touch.
    const before = await scope.shared.collection.findOneAndUpdate(filter, { $set: { e } }, { projection: { _id: 0, g: 1, vt: { $type: '$v' } } });
    if (before === null) return false;
    // A file superseded by a plain set (`v` present) is freed by the sweep whatever its expiry.
    if (before.vt === 'missing' && before.g instanceof ObjectId) await scope.shared.files.setExpiry(before.g, e);
    return true;
  } catch (err) {
    throw toStoreError(err, 'touch');
  }
}

/**
 * Removes every live entry of the namespace carrying at least one of `tags` (one deleteMany
 * on the partial tag index, liveness in its filter) and frees their files; resolves how many.
 * Expired entries are left to the TTL monitor and not counted.
 */
export async function deleteTagged(scope: MongoScope, tags: readonly string[]): Promise<number> {
  const filter = { n: scope.namespace, t: { $in: [...tags] }, ...liveClause(scope.clock.now()) };
  const { collection, files } = scope.shared;
  try {
    // A tagged entry holds a file only when a plain set replaced a streamed value (the sweep
    // would free it through the entry, which is about to go): listed first, freed after.
    // Hinted: the planner could otherwise try the namespace's creation-order index, whose cost
    // grows with the namespace, not with the tagged entries.
    const withFiles = await collection.find({ ...filter, g: { $type: 'objectId' } }, { projection: { _id: 0, g: 1 }, hint: TAG_INDEX }).toArray();
    const { deletedCount } = await collection.deleteMany(filter, { hint: TAG_INDEX });
    for (const doc of withFiles) {
      const fileId: unknown = doc.g;
      // Freed only once no entry points at it: one left out of the delete (rewritten in
      // between by another process) still holds it, and the sweep frees it from there.
      if (fileId instanceof ObjectId && (await collection.findOne({ g: fileId }, { projection: { _id: 1 }, hint: FILE_INDEX })) === null) {
        await files.remove(fileId);
      }
    }
    return deletedCount;
  } catch (err) {
    throw toStoreError(err, 'delByTags');
  }
}
