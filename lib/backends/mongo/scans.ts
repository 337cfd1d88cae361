/**
 * Scans: selectors (lib/query.ts) run as native filters (query.ts) in creation order, each
 * document checked as it is yielded; deletes, counts and clears of a namespace on the server.
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { FindCursor, ObjectId } from 'mongodb';
import type { Selector } from '../../query';
import type { BackendStats, FindOptions, StoredEntry } from '../../store';
import type { MongoScope } from './connection';
import { EntryDoc, expiryOf, isLive, liveClause, scannedId, scannedKey, toStoreError } from './layout';
import { selectorFilter } from './query';
import { decode } from './values';

/** Live entries matching `selector`, in creation order, checked as they are yielded. */
export async function* findEntries(scope: MongoScope, selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
  const filter = selectorFilter(selector, scope.namespace, scope.clock.now());
  // With values the whole document is wanted anyway: no projection spares the server a rebuild of each one.
  const projection = options.values ? undefined : { _id: 1, k: 1, e: 1 };
  let cursor: FindCursor<EntryDoc>;
  try {
    cursor = scope.shared.collection.find(filter, { projection, sort: { s: 1 } }) as FindCursor<EntryDoc>;
    if (options.limit !== undefined) cursor.limit(options.limit);
  } catch (err) {
    throw toStoreError(err, 'find');
  }
  try {
    while (true) {
      let doc: EntryDoc | null;
      try {
        doc = await cursor.next();
      } catch (err) {
        throw toStoreError(err, 'find');
      }
      if (doc === null) return;
      const id = scannedId(scope.namespace, doc._id);
      const key = scannedKey(doc.k, id);
      // Expiry is checked per entry, when it is yielded (SPEC §12): the filter's check was
      // made when the cursor opened, and an iteration can outlive an entry.
      if (!isLive(doc, scope.clock.now(), id)) continue;
      let value: unknown;
      if (options.values) {
        value = decode(scope, doc, id);
        if (value instanceof Promise) {
          value = await value;
          if (!isLive(doc, scope.clock.now(), id)) continue; // it expired while its file was read
        }
      }
      yield { id, key, value, expiresAt: expiryOf(doc, id) };
    }
  } finally {
    // Runs when the consumer stops early too (break, stream destroyed): releases the server cursor.
    await cursor.close().catch(() => undefined);
  }
}

/** Removes every live match and frees their files; resolves how many. */
export async function deleteMatching(scope: MongoScope, selector: Selector): Promise<number> {
  const filter = selectorFilter(selector, scope.namespace, scope.clock.now());
  try {
    const files = await scope.shared.collection
      .find({ $and: [filter, { g: { $type: 'objectId' } }] }, { projection: { _id: 0, g: 1 } })
      .toArray();
    const { deletedCount } = await scope.shared.collection.deleteMany(filter);
    for (const file of files) if (file.g instanceof ObjectId) await scope.shared.files.remove(file.g);
    return deletedCount;
  } catch (err) {
    throw toStoreError(err, 'del');
  }
}

/** Counts the live matches on the server. */
export async function countMatching(scope: MongoScope, selector: Selector): Promise<number> {
  try {
    return await scope.shared.collection.countDocuments(selectorFilter(selector, scope.namespace, scope.clock.now()));
  } catch (err) {
    throw toStoreError(err, 'count');
  }
}

/** Removes every entry and file of the namespace. */
export async function clearNamespace(scope: MongoScope): Promise<void> {
  try {
    await scope.shared.collection.deleteMany({ n: scope.namespace });
    await scope.shared.files.removeNamespace(scope.namespace);
  } catch (err) {
    throw toStoreError(err, 'clear');
  }
}

/** The live entries of the namespace, counted on the server. */
export async function namespaceStats(scope: MongoScope): Promise<BackendStats> {
  try {
    return { items: await scope.shared.collection.countDocuments({ n: scope.namespace, ...liveClause(scope.clock.now()) }) };
  } catch (err) {
    throw toStoreError(err, 'stats');
  }
}
