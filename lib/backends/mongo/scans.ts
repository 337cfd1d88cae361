/**
 * Scans: selectors (lib/query.ts) run as native filters (query.ts) in creation order, each
 * document checked as it is yielded; deletes, counts and clears of a namespace on the server.
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { AbstractCursor, BSON, Collection, Document, FindCursor, Long, MongoNetworkError, ObjectId } from 'mongodb';
import type { Selector } from '../../query';
import type { BackendStats, FindOptions, StoredEntry } from '../../store';
import type { MongoScope } from './connection';
import { EntryDoc, expiryOf, isLive, liveClause, scannedId, scannedKey, toStoreError } from './layout';
import { selectorFilter } from './query';
import { SortPlan, planSort } from './sort';
import { creationOrderPipeline, sortsMatchesAfterPlanning } from './creation-order';
import { SortSpec, compareKeyLists, sortEntries, sortKeysOf } from '../../query-sort';
import { decode } from './values';
import { findPage } from './paged';

/**
 * Live entries matching `selector`, in creation order or in `options.sort` order (ties in
 * creation order), `options.skip` and `options.limit` applied, checked as they are yielded.
 * The scan's own generator is returned, not delegated to with `yield*`: each delegation costs
 * about a microsecond per entry (18,900 entries: ~20 ms of ~270 ms of client time).
 */
export function findEntries(scope: MongoScope, selector: Selector, options: FindOptions): AsyncIterable<StoredEntry> {
  if (options.page !== undefined) return findPage(scope, selector, options.sort ?? [], options.page.after, options.limit ?? Infinity, options.values);
  // Only some sorts can meet MongoDB's refusals on the data (see sortRefusable).
  if (sortRefusable(options.sort ?? [])) return sortedSomewhere(scope, selector, options);
  return serverSorted(scope, selector, options);
}

/** A sort the server may refuse on the data (sortRefusable): on the server, or here when it does. */
async function* sortedSomewhere(scope: MongoScope, selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
  try {
    yield* serverSorted(scope, selector, options);
  } catch (err) {
    if (!(err instanceof SortRefusedError)) throw err;
    yield* sortedHere(scope, selector, options);
  }
}

/**
 * MongoDB refuses some sorts on the data where lib/query-sort.ts orders it: two fields that both
 * hold arrays in one document ("parallel arrays"), and a path with a numeric part over an array
 * whose elements are objects with that field name (`tags.0` over `{ tags: [{ '0': 1 }] }`:
 * "Ambiguous field name found in array", code 16746; found by the paging harness with
 * FUZZ_SEED=20261204). Raised before any entry is yielded (the sort stage runs before the first
 * batch), so the find can be answered by sorting here instead.
 */
export class SortRefusedError extends Error {}

function isSortRefused(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  const message = String((err as Error)?.message);
  return (code === 2 && /parallel arrays/.test(message)) || code === 16746 || /Ambiguous field name found in array/.test(message);
}

/** Whether MongoDB may refuse `spec` on some data (SortRefusedError): several fields, or a numeric part in a path. */
export function sortRefusable(spec: SortSpec): boolean {
  return spec.length > 1 || spec.some((field) => field.parts.some((part) => /^\d+$/.test(part)));
}

/** The find sorted here, as the core would: every match read in creation order, sorted stably, the window sliced. */
export async function* sortedHere(scope: MongoScope, selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
  const all: StoredEntry[] = [];
  for await (const entry of serverSorted(scope, selector, { values: options.values })) all.push(entry);
  const skip = options.skip ?? 0;
  const window = sortEntries(all, options.sort ?? []).slice(skip, options.limit === undefined ? undefined : skip + options.limit);
  for (const entry of window) {
    if (entry.expiresAt != null && entry.expiresAt <= scope.clock.now()) continue; // expired since it was read (SPEC §12)
    yield entry;
  }
}

/** Documents per batch of a scan (see serverSorted). */
const SCAN_BATCH = 1_000;

/**
 * What a scan with values reads of each document: everything `entryOf` and `decode` look at
 * (not `n`, `s`, `t`, `c`, `u`: decoding an ObjectId and two Dates per document that nobody
 * reads took the driver 17 ms instead of 12 ms of CPU for 1,655 documents with 1 KB values).
 */
export const VALUES_PROJECTION = { _id: 1, k: 1, v: 1, g: 1, e: 1 } as const;
/** What a scan for keys only reads: the key and its expiry. */
export const KEYS_PROJECTION = { _id: 1, k: 1, e: 1 } as const;

/** The find with sort, skip and limit on the server (sort.ts). */
function serverSorted(scope: MongoScope, selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
  const spec = options.sort ?? [];
  const plan: SortPlan = spec.length === 0 ? { sort: { s: 1 }, reversedTies: false } : planSort(spec, selector, scope.shared.indexFields);
  if (options.limit !== undefined && options.limit > 0 && options.limit <= SCAN_BATCH && (options.skip ?? 0) === 0 && !plan.reversedTies && selector.kind !== 'none') {
    return limitedRead(scope, selector, options, plan, options.limit);
  }
  return filteredRead(scope, selector, options, plan, undefined);
}

/**
 * A find with a limit of at most one batch and no skip (`get(q, { sort, limit: 20 })`): sent
 * without the expiry condition, and, with values, without a projection. Whether an entry
 * expired is then told here: when none of the first batch has, they are the first `limit` of
 * all matches, expired or not, so they are the first `limit` live ones too — the same entries
 * in the same order as the find with the condition. When one has (an expired entry the TTL
 * monitor has not removed yet, up to a minute), nothing of the batch is yielded and the find is
 * sent again with the condition (filteredRead). A later batch (values too large for one batch
 * of 16 MB) holding an expired entry is answered the same way, leaving out what was yielded.
 *
 * Why: on the test engine, the server's CPU for `get({ kind }, { sort: { age: -1 }, limit: 20 })`
 * over 100,000 keys (the kind + age index's 20 keys and documents, through its cached plan)
 * was ~0.15 ms a call above the raw driver's find (~1.0 ms): the expiry test on each document
 * (~0.05 ms), the `$type` test (~0.05 ms, query.ts now leaves it out where the query implies it)
 * and the projection (~0.06 ms, while decoding `n`, `s`, `c` and `u` of 20 documents costs the
 * client ~0.02 ms). Without them, the find costs the server what the raw driver's does.
 *
 * The documents are decoded without the driver's UTF-8 validation (`enableUtf8Validation:
 * false`): validating a string means reading it again, character by character, looking for
 * U+FFFD (bson's toUTF8), which took half of the decoding of 20 documents with 1 KB values
 * (~30 of ~60 us, more than JSON.parse of the values). Decoded without it, a string of invalid
 * UTF-8 (which no write of this store makes) would read as U+FFFD instead of failing, so each
 * string this read uses — `_id`, every string in `k`, a string `v` — is looked at for U+FFFD
 * with one native search instead (`suspect`); a batch holding one is answered like one holding
 * an expired entry, by the validated find with the condition, which returns the same entries
 * (a value that really holds U+FFFD) or fails as the driver fails on invalid UTF-8.
 *
 * The find is one `db.command`, not a cursor (collection.find): a FindCursor's machinery
 * (cursor object and events, its cleanup and close, a deserialization per document through
 * the reply's lazy view, the sort turned into a Map) cost the client ~0.1 ms a call more than
 * the command's reply decoded here (0.62 -> 0.51 ms of client CPU for the same find of 20
 * documents). What the cursor would add is added here: the collection's BSON settings and
 * read preference, its read concern; a failure the driver retries a read after (a connection
 * lost, a primary stepping down) is answered by filteredRead, whose cursor retries as usual.
 * The documents of the batch are kept raw in the reply and decoded one by one as the cursor
 * would (fieldsAsRaw: firstBatch; the cursor id then a Long). When the server left a cursor
 * (the first batch cut at 16 MB before `limit`), it is killed and the rest read through
 * filteredRead, which leaves out what was yielded.
 */
async function* limitedRead(scope: MongoScope, selector: Selector, options: FindOptions, plan: SortPlan, limit: number): AsyncGenerator<StoredEntry> {
  const now = scope.clock.now();
  const refusable = sortRefusable(options.sort ?? []);
  const values = options.values;
  const { collection, db } = scope.shared;
  const codec = commandCodec(collection);
  const command: Document = { find: collection.collectionName, filter: selectorFilter(selector, scope.namespace, undefined), sort: plan.sort };
  if (!values) command.projection = KEYS_PROJECTION;
  command.limit = limit;
  command.batchSize = SCAN_BATCH;
  if ((options.sort ?? []).length > 0) command.allowDiskUse = true;
  if (codec.readConcern !== undefined) command.readConcern = codec.readConcern;
  let reply: Document;
  try {
    reply = await db.command(command, codec.commandOptions);
  } catch (err) {
    if (refusable && isSortRefused(err)) throw new SortRefusedError();
    // What the driver retries once for a cursor's find (a network error, a primary stepping
    // down...) is sent again through one, which does.
    if (!isRetryableRead(err)) throw toStoreError(err, 'find');
    yield* filteredRead(scope, selector, options, plan, undefined);
    return;
  }
  const cursor = reply.cursor as { id: unknown; firstBatch: Uint8Array[] };
  // Left open only when the first batch was cut at 16 MB before `limit`: the rest is read
  // through filteredRead (left out what this one yields), so the server's cursor is closed.
  const more = cursor.id instanceof Long ? !cursor.id.isZero() : Number(cursor.id) !== 0;
  let yielded: Set<string> | undefined;
  try {
    const docs: EntryDoc[] = new Array(cursor.firstBatch.length);
    let unsafe = false;
    for (let i = 0; i < docs.length; i++) {
      let doc: EntryDoc;
      try {
        doc = BSON.deserialize(cursor.firstBatch[i], codec.documentOptions) as EntryDoc;
      } catch (err) {
        throw toStoreError(err, 'find');
      }
      docs[i] = doc;
      if (expiredAt(doc, now) || suspect(doc, values)) {
        unsafe = true;
        break;
      }
    }
    if (!unsafe) {
      // What is yielded is remembered only where filteredRead reads on after it (a cursor left open).
      if (more) yielded = new Set();
      for (let i = 0; i < docs.length; i++) {
        let entry = entryOf(scope, docs[i], values);
        if (entry instanceof Promise) entry = await entry;
        if (entry === undefined) continue;
        yielded?.add(entry.id);
        yield entry;
      }
      if (!more) return;
    }
  } finally {
    // Runs when the consumer stops early too: the server's cursor is not left to time out.
    if (more) await db.command({ killCursors: collection.collectionName, cursors: [cursor.id] }, codec.killOptions).catch(() => undefined);
  }
  yield* filteredRead(scope, selector, options, plan, yielded);
}

/** What limitedRead's command needs of a collection, worked out once per collection object. */
interface CommandCodec {
  /** db.command's options: the collection's BSON settings and read preference; the batch left as raw documents, the cursor id a Long. */
  commandOptions: Document;
  /** How each document of the batch is decoded: the collection's BSON settings, UTF-8 unvalidated (see limitedRead). */
  documentOptions: BSON.DeserializeOptions;
  killOptions: Document;
  readConcern: Document | undefined;
}

const commandCodecs = new WeakMap<object, CommandCodec>();

function commandCodec(collection: Collection<EntryDoc>): CommandCodec {
  let codec = commandCodecs.get(collection);
  if (codec !== undefined) return codec;
  const bson = collection.bsonOptions;
  // Null-prototype tables: a field named `toString` is not taken for one to leave raw (connection.ts).
  const batchRaw = Object.assign(Object.create(null) as Record<string, boolean>, { firstBatch: true });
  const readConcern = collection.readConcern?.level ? { level: collection.readConcern.level } : undefined;
  codec = {
    commandOptions: { ...bson, raw: false, promoteLongs: false, useBigInt64: false, fieldsAsRaw: batchRaw, readPreference: collection.readPreference },
    documentOptions: {
      promoteLongs: bson.promoteLongs,
      promoteValues: bson.promoteValues,
      promoteBuffers: bson.promoteBuffers,
      useBigInt64: bson.useBigInt64,
      bsonRegExp: bson.bsonRegExp,
      fieldsAsRaw: bson.fieldsAsRaw ?? (Object.create(null) as Document),
      validation: { utf8: false },
    },
    killOptions: { readPreference: collection.readPreference },
    readConcern,
  };
  commandCodecs.set(collection, codec);
  return codec;
}

/** Server error codes the driver retries a read after (its RETRYABLE_READ_ERROR_CODES). */
const RETRYABLE_READ_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436, 262, 134]);

/** Whether the driver would retry a read that failed with `err` (its isRetryableReadError). */
function isRetryableRead(err: unknown): boolean {
  if (err instanceof MongoNetworkError) return true;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'number' && RETRYABLE_READ_CODES.has(code)) return true;
  return /not master|not primary|node is recovering/i.test(String((err as Error)?.message));
}

/** Whether the document's expiry is a Date at or before `now`, as the filter's `e: { $not: { $lte: now } }` tells (anything else is left to isLive). */
function expiredAt(doc: EntryDoc, now: number): boolean {
  const e = doc.e as unknown;
  return e instanceof Date && e.getTime() <= now;
}

/**
 * Whether a document decoded without UTF-8 validation may hold a string of invalid UTF-8 that
 * limitedRead would use: its `_id`, a string in its key `k`, or (`values`) its string `v`
 * holds U+FFFD, which is what the decoder makes of invalid bytes (and what bson's validation
 * looks for before it decodes a string again strictly).
 */
export function suspect(doc: EntryDoc, values: boolean): boolean {
  const id = doc._id as unknown;
  if (typeof id === 'string' && id.includes('\uFFFD')) return true;
  if (values && typeof doc.v === 'string' && doc.v.includes('\uFFFD')) return true;
  return holdsReplacement(doc.k);
}

/** Whether a decoded key (a string, or plain objects and arrays of JSON values) holds U+FFFD in a string, a field name aside. */
function holdsReplacement(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\uFFFD');
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (holdsReplacement(value[i])) return true;
    return false;
  }
  for (const field in value as Record<string, unknown>) if (holdsReplacement((value as Record<string, unknown>)[field])) return true;
  return false;
}

/**
 * The find with the expiry condition (or the aggregation, creation-order.ts). `already`: the
 * ids limitedRead yielded before it found an expired entry, left out here and counted in the limit.
 */
async function* filteredRead(scope: MongoScope, selector: Selector, options: FindOptions, plan: SortPlan, already: ReadonlySet<string> | undefined): AsyncGenerator<StoredEntry> {
  const filter = selectorFilter(selector, scope.namespace, scope.clock.now());
  const projection = options.values ? VALUES_PROJECTION : KEYS_PROJECTION;
  const spec = options.sort ?? [];
  const skip = options.skip ?? 0;
  let limit = options.limit;
  if (already !== undefined && limit !== undefined) limit -= already.size;
  let cursor: AbstractCursor<EntryDoc>;
  try {
    // A sort no index serves is a blocking sort on the server: allowDiskUse lets one larger
    // than its memory limit (100 MB) spill to disk instead of failing (docs/mongo.md).
    // batchSize: the driver otherwise asks for batches of up to 16 MB, which a long walk (the
    // command's export) holds decoded at once — 870 MB at 1 M entries; 1,000 kept it flat and
    // walked 100,000 entries in 1.0 s instead of 5.8 s.
    if (await sortsMatchesAfterPlanning(scope, selector, options)) {
      cursor = scope.shared.collection.aggregate<EntryDoc>(creationOrderPipeline(filter, projection, skip), { allowDiskUse: true, batchSize: SCAN_BATCH });
    } else {
      const find = scope.shared.collection.find(filter, {
        projection,
        sort: plan.sort,
        allowDiskUse: spec.length > 0 ? true : undefined,
        batchSize: SCAN_BATCH,
      }) as FindCursor<EntryDoc>;
      if (!plan.reversedTies) {
        if (skip > 0) find.skip(skip);
        if (options.limit !== undefined) find.limit(options.limit);
      }
      cursor = find;
    }
  } catch (err) {
    throw toStoreError(err, 'find');
  }
  try {
    if (plan.reversedTies) {
      for await (const doc of tiesInCreationOrder(readDocs(cursor, sortRefusable(spec)), spec, skip, options.limit)) {
        const entry = await entryOf(scope, doc, options.values);
        if (entry) yield entry;
      }
      return;
    }
    for (let first = true; ; first = false) {
      // After entries limitedRead yielded, a refusal is an error: sorting here would yield them again.
      const doc = await nextDoc(cursor, first && sortRefusable(spec) && !already?.size);
      if (doc === null) return;
      // The rest of the batch the driver holds is taken without an await per document (each
      // still checked for expiry as it is yielded): cursor.next() costs several promise hops.
      for (const next of [doc, ...cursor.readBufferedDocuments()]) {
        let entry = entryOf(scope, next as EntryDoc, options.values);
        if (entry instanceof Promise) entry = await entry;
        if (entry === undefined || already?.has(entry.id)) continue;
        yield entry;
        if (limit !== undefined && already !== undefined && --limit <= 0) return;
      }
    }
  } finally {
    // Runs when the consumer stops early too (break, stream destroyed): releases the server cursor.
    await cursor.close().catch(() => undefined);
  }
}

/**
 * The cursor's next document, or null at its end. A failure is a StoreError, except MongoDB's
 * refusal of the sort on the data on the first read of a sort it may refuse
 * (`refusalPossible`): SortRefusedError, so the caller can sort here instead.
 */
export async function nextDoc(cursor: AbstractCursor<EntryDoc>, refusalPossible: boolean): Promise<EntryDoc | null> {
  try {
    return await cursor.next();
  } catch (err) {
    if (refusalPossible && isSortRefused(err)) throw new SortRefusedError();
    throw toStoreError(err, 'find');
  }
}

async function* readDocs(cursor: AbstractCursor<EntryDoc>, refusable: boolean): AsyncGenerator<EntryDoc> {
  for (let first = true; ; first = false) {
    const doc = await nextDoc(cursor, first && refusable);
    if (doc === null) return;
    yield doc;
  }
}

/**
 * Documents sorted with the tie-breaker reversed (sort.ts), with every run of equal sort keys
 * put back in creation order, then `skip` and `limit` applied: a run is read whole before it
 * is yielded, so reading stops at the end of the run that completes the window.
 */
async function* tiesInCreationOrder(docs: AsyncIterable<EntryDoc>, spec: SortSpec, skip: number, limit: number | undefined): AsyncGenerator<EntryDoc> {
  let run: EntryDoc[] = [];
  let runKeys: unknown[] = [];
  let seen = 0;
  let yielded = 0;
  function* flush(): Generator<EntryDoc> {
    for (let i = run.length - 1; i >= 0; i--) {
      if (seen++ < skip) continue;
      yield run[i];
      yielded++;
      if (limit !== undefined && yielded >= limit) return;
    }
  }
  for await (const doc of docs) {
    // A string key has no fields: every sort key of it is null (lib/query-sort.ts).
    const keys = sortKeysOf(typeof doc.k === 'string' ? doc.k : (doc.k ?? ''), spec);
    if (run.length > 0 && compareKeyLists(runKeys, keys, spec) !== 0) {
      yield* flush();
      if (limit !== undefined && yielded >= limit) return;
      run = [];
    }
    if (run.length === 0) runKeys = keys;
    run.push(doc);
  }
  yield* flush();
}

/**
 * The entry of a scanned document, or undefined when it expired since the cursor opened (SPEC
 * §12); a promise only when its value is a GridFS file to read.
 */
export function entryOf(scope: MongoScope, doc: EntryDoc, values: boolean): StoredEntry | undefined | Promise<StoredEntry | undefined> {
  const id = scannedId(scope.namespace, doc._id);
  const key = scannedKey(doc.k, id);
  // Expiry is checked per entry, when it is yielded (SPEC §12): the filter's check was
  // made when the cursor opened, and an iteration can outlive an entry.
  if (!isLive(doc, scope.clock.now(), id)) return undefined;
  const expiresAt = expiryOf(doc, id);
  if (!values) return { id, key, value: undefined, expiresAt };
  const value = decode(scope, doc, id);
  if (!(value instanceof Promise)) return { id, key, value, expiresAt };
  // It may expire while its file is read: checked again once the value is there.
  return value.then((v) => (isLive(doc, scope.clock.now(), id) ? { id, key, value: v, expiresAt } : undefined));
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
