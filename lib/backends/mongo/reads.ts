/**
 * Exact reads: a lone getOne is one findOne on `_id`; the getOnes of one tick are one find on
 * `_id: { $in }` (queued by a TickQueue, lib/core/tick-queue.ts); getEntry, ttl and value
 * streams read one document. Every document read back is checked: its namespace, its expiry,
 * its value (layout.ts, values.ts).
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { ObjectId } from 'mongodb';
import { EntryWithExpiry, chunksOf, toAsync, valueBytes } from '../../store';
import type { Settle } from '../../core/tick-queue';
import type { MongoScope } from './connection';
import { checkNamespace, docId, expiryOf, idFromDocId, isLive, toStoreError } from './layout';
import { GET_PROJECTION, ReadDoc, decode, fileChunks } from './values';
import { findById } from './find-by-id';

/** A lone getOne: one findOne on `_id`. */
export async function readOne(scope: MongoScope, _id: string): Promise<unknown> {
  const doc = await findById<ReadDoc>(scope, _id, GET_PROJECTION, 'get');
  if (doc === null) return undefined;
  const id = idFromDocId(scope.namespace, _id);
  checkNamespace(doc, scope.namespace, id);
  return isLive(doc, scope.clock.now(), id) ? decode(scope, doc, id) : undefined;
}

/** A getOne waiting in the read queue: its document id and its caller's settle functions. */
export interface QueuedRead extends Settle<unknown> {
  _id: string;
}

/** Reads the getOne calls queued in one tick: one find on `_id: { $in }`; answers each call with its own outcome. */
export async function readMany(scope: MongoScope, reads: QueuedRead[]): Promise<void> {
  const docs = new Map<string, ReadDoc>();
  try {
    const unique = [...new Set(reads.map((read) => read._id))];
    // One more than can match: a first batch filled to batchSize leaves the cursor open and the
    // driver spends a round trip on an empty getMore; one left short is the whole answer. (A
    // reply over 16 MB still continues with a getMore.)
    const found = await scope.shared.collection
      .find({ _id: { $in: unique } }, { projection: { _id: 1, v: 1, g: 1, e: 1, n: 1 }, batchSize: unique.length + 1 })
      .toArray();
    for (const doc of found) docs.set(doc._id, doc);
  } catch (err) {
    throw toStoreError(err, 'get');
  }
  const now = scope.clock.now();
  let files: Array<Promise<void>> | undefined;
  for (const read of reads) {
    const doc = docs.get(read._id);
    if (doc === undefined) {
      read.resolve(undefined);
      continue;
    }
    try {
      const id = idFromDocId(scope.namespace, read._id);
      checkNamespace(doc, scope.namespace, id);
      const value = isLive(doc, now, id) ? decode(scope, doc, id) : undefined;
      if (value instanceof Promise) (files ??= []).push(value.then(read.resolve, read.reject));
      else read.resolve(value);
    } catch (error) {
      read.reject(error);
    }
  }
  if (files) await Promise.all(files);
}

/** The live document under `id` with the fields of an exact read, or null; `action` names the call in errors. */
async function liveDoc(scope: MongoScope, id: string, action: string): Promise<ReadDoc | null> {
  const doc = await findById<ReadDoc>(scope, docId(scope.namespace, id), GET_PROJECTION, action);
  if (doc === null) return null;
  checkNamespace(doc, scope.namespace, id);
  return isLive(doc, scope.clock.now(), id) ? doc : null;
}

/** The live value under `id` with its expiry, or undefined. */
export async function readEntry(scope: MongoScope, id: string): Promise<EntryWithExpiry | undefined> {
  const doc = await liveDoc(scope, id, 'get');
  if (doc === null) return undefined;
  return { value: await decode(scope, doc, id), expiresAt: expiryOf(doc, id) };
}

/** What readExpiry reads: the expiry and the namespace only. */
const EXPIRY_PROJECTION = { _id: 0, e: 1, n: 1 } as const;

/** The live entry's expiry (epoch ms or null), or undefined; reads the expiry and namespace only. */
export async function readExpiry(scope: MongoScope, id: string): Promise<number | null | undefined> {
  const doc = await findById<ReadDoc>(scope, docId(scope.namespace, id), EXPIRY_PROJECTION, 'ttl');
  if (doc === null) return undefined;
  checkNamespace(doc, scope.namespace, id);
  return isLive(doc, scope.clock.now(), id) ? expiryOf(doc, id) : undefined;
}

/** The live value's bytes as chunks: a streamed value straight from GridFS, another one serialized; undefined when absent. */
export async function readValueStream(scope: MongoScope, id: string): Promise<AsyncIterable<Buffer> | undefined> {
  const doc = await liveDoc(scope, id, 'createValueStream');
  if (doc === null) return undefined;
  if (doc.v === undefined && doc.g instanceof ObjectId) return fileChunks(scope.shared.files.download(doc.g), id);
  return toAsync(chunksOf(valueBytes(await decode(scope, doc, id))));
}
