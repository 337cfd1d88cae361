/**
 * The MongoDB backend (SPEC §8 mongo), written to the backend contract (lib/backend.ts) on the
 * official driver. One document per entry (layout.ts and docs/mongo.md): exact keys are `_id`
 * lookups, batched per tick (TickQueue, lib/core/tick-queue.ts; reads.ts, writes.ts); queries
 * are translated to native filters over `k.<path>` (query.ts) and run on the server (scans.ts);
 * touch and tags are single server-side updates and deletes (entries.ts); getMeta reads an
 * entry's times, tags and size without its value, batched per tick too (meta.ts);
 * expiry is a TTL index plus a read-time check; large values live in GridFS (gridfs.ts,
 * streams.ts). Collections written by memstorage 0.5.3 are detected at connect and converted by
 * a one-command migration (migrate.ts).
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { ObjectId } from 'mongodb';
import type { Backend, BackendContext, BackendEvents, EntryMeta } from '../../backend';
import type { Clock } from '../../clock';
import { ValueCodec, createValueCodec } from '../../compression';
import { withinMs } from '../../core/promises';
import { TickQueue } from '../../core/tick-queue';
import { StoreClosedError, StoreConfigError } from '../../errors';
import type { Key } from '../../keys';
import type { Selector } from '../../query';
import type { AsyncCapableSerializer } from '../../serializer';
import type { BackendStats, Capabilities, EntryWithExpiry, FindOptions, StoredEntry } from '../../store';
import { MongoScope, SharedMongo } from './connection';
import { deleteTagged, touchEntry } from './entries';
import { docId, isStorableExpiry, toStoreError } from './layout';
import { QueuedMeta, metaMany, metaOne } from './meta';
import { MigrationProgress, MigrationResult, migrateCollection } from './migrate';
import { QueuedRead, readEntry, readExpiry, readMany, readOne, readValueStream } from './reads';
import { clearNamespace, countMatching, deleteMatching, findEntries, namespaceStats } from './scans';
import { writeStream } from './streams';
import { checkedSerializer, encodeValue, unstorableExpiry } from './values';
import { QueuedWrite, deleteEntry, writeMany, writeOne } from './writes';

/** Most calls one coalesced round trip carries. */
const BATCH_MAX = 1000;

/** How long close() waits for calls already made before it closes the client anyway. */
const CLOSE_DRAIN_MS = 5000;

/** The MongoDB backend of one namespace; its scopes share its connection (SharedMongo). */
export class MongoBackend implements Backend, MongoScope {
  readonly supports: Capabilities = {
    nativeQueries: true,
    valueStreams: true,
    ttl: true,
    shared: true,
    evicts: false,
    persistent: true,
    nativeSort: true,
    nativePage: true,
    tags: true,
  };
  readonly namespace: string;
  readonly clock: Clock;
  readonly serializer: AsyncCapableSerializer;
  /** Values to what `v` holds and back: the serializer, compressing per the `compress` setting (values.ts). */
  readonly codec: ValueCodec;
  /** The owning store's events: failures of the periodic sweep are reported there while this backend is attached. */
  readonly events: BackendEvents;
  private attached = false;
  private closed = false;
  /** getOnes of one tick: a lone one is a findOne, several one find (reads.ts). */
  private readonly reads = new TickQueue<QueuedRead>({
    max: BATCH_MAX,
    send: (batch) => (batch.length === 1 ? readOne(this, batch[0]._id).then(batch[0].resolve, batch[0].reject) : readMany(this, batch)),
  });
  /** getMetas of one tick: a lone one is a findOne, several one find, like getOnes (meta.ts). */
  private readonly metas = new TickQueue<QueuedMeta>({
    max: BATCH_MAX,
    send: (batch) => (batch.length === 1 ? metaOne(this, batch[0]._id).then(batch[0].resolve, batch[0].reject) : metaMany(this, batch)),
  });
  /** sets of one tick: a lone one is an updateOne, several ordered update commands (writes.ts). */
  private readonly writes = new TickQueue<QueuedWrite>({
    max: BATCH_MAX,
    send: (batch) => (batch.length === 1 ? writeOne(this, batch[0]).then(batch[0].resolve, batch[0].reject) : writeMany(this, batch)),
  });

  constructor(
    /** The connection, collection and GridFS bucket, shared with the scopes. */
    readonly shared: SharedMongo,
    context: BackendContext,
  ) {
    this.namespace = context.namespace;
    this.clock = context.clock;
    this.serializer = context.serializer;
    this.codec = createValueCodec(checkedSerializer(context.serializer), shared.compression);
    this.events = context.events;
  }

  /** Frees the GridFS files of expired streamed values now (a timer does it every `sweepInterval` ms); resolves how many. */
  async sweep(): Promise<number> {
    try {
      return (await this.shared.removeExpiredFiles(this.clock.now())) + (await this.shared.collectGarbage());
    } catch (err) {
      throw toStoreError(err, 'sweep');
    }
  }

  /**
   * Converts the memstorage 0.5.3 documents of this collection into this store's layout, in
   * this namespace; resumable, reports progress. See docs/mongo.md.
   */
  async migrateLegacy(onProgress?: (progress: MigrationProgress) => void): Promise<MigrationResult> {
    if (this.closed) throw new StoreClosedError();
    await this.openShared();
    try {
      return await migrateCollection(this.shared.collection, this.namespace, this.serializer, onProgress);
    } catch (err) {
      throw toStoreError(err, 'migrating memstorage documents');
    }
  }

  /** Connects the shared client and registers this backend as one of its users (close() releases it). */
  private async openShared(): Promise<void> {
    await this.shared.open();
    if (!this.attached) {
      this.attached = true;
      this.shared.attach(this);
    }
  }

  async connect(): Promise<void> {
    await this.openShared();
    if (await this.shared.hasLegacyDocuments()) {
      if (this.shared.settings.migrateLegacy) await this.migrateLegacy();
      else {
        throw new StoreConfigError(
          `collection ${this.shared.collection.collectionName} holds documents written by memstorage 0.5.3; ` +
            'convert them once with the migration command in docs/mongo.md, or set migrateLegacy: true',
        );
      }
    }
  }

  async close(): Promise<void> {
    // Calls made before close() was called are still sent and answered — but close() never
    // hangs on them: a call stuck on a server that went away is left to fail on its own once
    // the client below is closed (seen after a stop/restart of the engine under load).
    await withinMs(Promise.all([this.reads.idle(), this.writes.idle(), this.metas.idle()]), CLOSE_DRAIN_MS);
    this.closed = true;
    if (!this.attached) return;
    this.attached = false;
    try {
      await this.shared.detach(this);
    } catch (err) {
      throw toStoreError(err, 'close');
    }
  }

  scope(namespace: string, context: BackendContext): MongoBackend {
    return new MongoBackend(this.shared, context);
  }

  get(id: string): Promise<unknown> {
    const _id = docId(this.namespace, id);
    return new Promise((resolve, reject) => this.reads.add({ _id, resolve, reject }));
  }

  async set(id: string, key: Key, value: unknown, expiresAt: number | null, tags?: readonly string[]): Promise<void> {
    if (expiresAt !== null && !isStorableExpiry(expiresAt)) throw unstorableExpiry(expiresAt);
    const encoded = encodeValue(this, id, value);
    // Position and time are taken now, when the call starts in program order, not when its
    // batch is sent: a setStream started later but finished sooner must still come after it.
    const s = new ObjectId();
    const now = this.clock.now();
    // An asynchronous serializer's text is awaited before the write is queued (the core orders
    // calls on the same key: this backend does not declare ordersExactCalls).
    const v = typeof encoded === 'string' || encoded instanceof Uint8Array ? encoded : await encoded;
    return new Promise((resolve, reject) => this.writes.add({ id, key, v, expiresAt, tags, s, now, resolve, reject }));
  }

  delete(id: string): Promise<boolean> {
    return deleteEntry(this, id);
  }

  /**
   * Not queued with the sets: an update command reports how many statements matched, not
   * which, and touch answers per call. The core orders it after earlier calls on the key
   * (this backend does not declare ordersExactCalls).
   */
  touch(id: string, expiresAt: number | null): Promise<boolean> {
    return touchEntry(this, id, expiresAt);
  }

  deleteByTags(tags: readonly string[]): Promise<number> {
    return deleteTagged(this, tags);
  }

  expiresAt(id: string): Promise<number | null | undefined> {
    return readExpiry(this, id);
  }

  getEntry(id: string): Promise<EntryWithExpiry | undefined> {
    return readEntry(this, id);
  }

  /** The live entry's times, expiry, tags and stored size, without its value (meta.ts). */
  getMeta(id: string): Promise<EntryMeta | undefined> {
    const _id = docId(this.namespace, id);
    return new Promise((resolve, reject) => this.metas.add({ _id, resolve, reject }));
  }

  async has(id: string): Promise<boolean> {
    return (await readExpiry(this, id)) !== undefined;
  }

  find(selector: Selector, options: FindOptions): AsyncIterable<StoredEntry> {
    return findEntries(this, selector, options);
  }

  deleteMatching(selector: Selector): Promise<number> {
    return deleteMatching(this, selector);
  }

  count(selector: Selector): Promise<number> {
    return countMatching(this, selector);
  }

  clear(): Promise<void> {
    return clearNamespace(this);
  }

  setStream(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
    return writeStream(this, id, key, source, expiresAt);
  }

  valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    return readValueStream(this, id);
  }

  stats(): Promise<BackendStats> {
    return namespaceStats(this);
  }
}
