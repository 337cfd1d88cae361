/**
 * memstorage 0.5.3 → memstorage-next, for MongoDB collections (docs/mongo.md).
 *
 * memstorage wrote `{ _id: <key as given>, val: <value> }`: object keys in the caller's field
 * order (so `{a,b}` and `{b,a}` were different documents there), values as native BSON. This
 * converts each such document into the store's layout (layout.ts) in place, in batches:
 * resumable (a document is converted or not; rerunning finishes the job), idempotent (an entry
 * already written by the new store wins over the old document), and in the collection's
 * natural order so creation order survives. A document that cannot be a key/value here (a
 * numeric `_id`, a value holding an ObjectId...) is left in place and tagged `legacyError`
 * with the reason; it is reported and no longer blocks the store.
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { AnyBulkWriteOperation, Collection, Document, MongoClient, ObjectId } from 'mongodb';
import { StorageConnectionError } from '../../errors';
import { Key, normalizeKey } from '../../keys';
import type { AsyncCapableSerializer } from '../../serializer';
import { checkValue } from '../../values';
import { EntryDoc, ORDER_INDEX, docId } from './layout';

/** Selects memstorage's documents: no namespace field (every entry of the new layout has one), not already rejected. */
export const LEGACY_FILTER: Document = { n: null, legacyError: { $exists: false } };

/** Progress reported after every batch. */
export interface MigrationProgress {
  /** Documents converted so far. */
  migrated: number;
  /** Documents left in place because they cannot be converted. */
  skipped: number;
  /** Legacy documents found when the migration started. */
  total: number;
}

/** What a migration did. */
export interface MigrationResult extends MigrationProgress {
  /** Why documents were skipped, by `_id` (at most 100 listed). */
  errors: Array<{ _id: unknown; reason: string }>;
}

const BATCH = 500;

/** Converts every memstorage document of `collection` into entries of `namespace`. */
export async function migrateCollection(
  collection: Collection<EntryDoc>,
  namespace: string,
  serializer: AsyncCapableSerializer,
  onProgress?: (progress: MigrationProgress) => void,
): Promise<MigrationResult> {
  const raw = collection as unknown as Collection<Document>;
  const total = await raw.countDocuments(LEGACY_FILTER, { hint: ORDER_INDEX });
  const result: MigrationResult = { migrated: 0, skipped: 0, total, errors: [] };
  onProgress?.({ migrated: 0, skipped: 0, total });
  while (true) {
    const docs = await raw.find(LEGACY_FILTER, { hint: ORDER_INDEX, limit: BATCH, promoteBuffers: true }).toArray();
    if (docs.length === 0) break;
    const ops: AnyBulkWriteOperation<Document>[] = [];
    for (const doc of docs) {
      let entry: EntryDoc;
      try {
        entry = await convert(doc, namespace, serializer);
      } catch (err) {
        const reason = (err as Error).message;
        ops.push({ updateOne: { filter: { _id: doc._id, n: null }, update: { $set: { legacyError: reason } } } });
        result.skipped++;
        if (result.errors.length < 100) result.errors.push({ _id: doc._id, reason });
        continue;
      }
      if (entry._id === (doc._id as unknown)) {
        // A string key at the root keeps its _id: replace the old document where it is.
        ops.push({ replaceOne: { filter: { _id: doc._id, n: null }, replacement: entry as Document } });
      } else {
        // An entry the new store already wrote for this key is newer: keep it.
        ops.push({ updateOne: { filter: { _id: entry._id as unknown }, update: { $setOnInsert: entry }, upsert: true } } as AnyBulkWriteOperation<Document>);
        ops.push({ deleteOne: { filter: { _id: doc._id, n: null } } });
      }
      result.migrated++;
    }
    await raw.bulkWrite(ops, { ordered: true });
    onProgress?.({ migrated: result.migrated, skipped: result.skipped, total });
  }
  return result;
}

/**
 * One memstorage document as an entry; throws with the reason when it cannot be one. The value
 * is the serializer's text (awaited when the serializer is asynchronous), never compressed: a
 * read goes by the stored type, so a migrated entry reads whatever the store's `compress` says.
 */
async function convert(doc: Document, namespace: string, serializer: AsyncCapableSerializer): Promise<EntryDoc> {
  const { id, key, value } = legacyEntry(doc);
  const text = await serializer.serialize(value);
  if (typeof text !== 'string') throw new Error('the serializer did not give a string');
  return { _id: docId(namespace, id), k: key, v: text, e: null, n: namespace, s: new ObjectId() };
}

/** The key (and its id) and value of one memstorage document; throws with the reason when it cannot be an entry. */
function legacyEntry(doc: Document): { id: string; key: Key; value: unknown } {
  const legacyKey = doc._id as unknown;
  if (typeof legacyKey !== 'string' && (legacyKey === null || typeof legacyKey !== 'object' || legacyKey instanceof ObjectId)) {
    throw new Error(`the _id ${String(legacyKey)} is not a string or object key`);
  }
  const { id, key } = normalizeKey(legacyKey);
  if (!('val' in doc)) throw new Error('the document has no val field');
  checkValue(doc.val);
  return { id, key: key as Key, value: doc.val };
}

/** A memstorage 0.5.3 document read as an entry (memstorage kept no TTLs or tags), or why it cannot be one. */
export type LegacyRead = { key: Key; value: unknown } | { rejected: { _id: unknown; reason: string } };

/**
 * The memstorage 0.5.3 documents of `collection` as entries, without changing them (what
 * `memstorage-next copy` reads from a `memstorage-0.5.3+mongodb://` URL), in the collection's
 * natural order (memstorage's insertion order), streamed from one cursor.
 */
export async function* readLegacyDocuments(collection: Collection<Document>, batchSize = BATCH): AsyncGenerator<LegacyRead> {
  const cursor = collection.find(LEGACY_FILTER, { sort: { $natural: 1 }, batchSize, promoteBuffers: true });
  try {
    for await (const doc of cursor) {
      let entry: { key: Key; value: unknown };
      try {
        const { key, value } = legacyEntry(doc);
        entry = { key, value };
      } catch (err) {
        yield { rejected: { _id: doc._id, reason: (err as Error).message } };
        continue;
      }
      yield entry;
    }
  } finally {
    await cursor.close().catch(() => undefined);
  }
}

/** Connects to a collection memstorage 0.5.3 wrote, to read it (readLegacyDocuments); ERR_STORAGE_CONNECTION when the server cannot be reached. */
export async function openLegacyCollection(url: string, collectionName: string): Promise<{ client: MongoClient; collection: Collection<Document> }> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000 });
  try {
    await client.connect();
  } catch (err) {
    await client.close().catch(() => undefined);
    throw new StorageConnectionError(`cannot reach MongoDB for the memstorage 0.5.3 collection: ${(err as Error).message}`, { cause: err });
  }
  return { client, collection: client.db().collection<Document>(collectionName) };
}
