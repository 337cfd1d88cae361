/**
 * The Redis backend (SPEC §8 redis) on ioredis, standalone or Redis Cluster, written to the
 * backend contract (lib/backend.ts).
 *
 * Each entry is a string; per namespace, an order set keeps creation order, an expiry set lists
 * TTL'd ids, and one sorted set per (key path, value) indexes object keys — all in one hash
 * slot, written together by Lua scripts (layout.ts, set-scripts.ts, scripts.ts, docs/redis.md). Exact-key
 * reads and writes of one tick go out in batches (batching.ts); equality and `$in` queries read
 * an index, other queries narrow through an index when one applies and finish with sift, and a
 * query with nothing indexable walks the order set in batches (find.ts, walk.ts). Entries
 * expire natively (PEXPIREAT) and are also checked against the store's clock when read; a sweep
 * (on an unref'd timer, stopped by `close()`) frees the order, expiry and index records of
 * expired entries without reading them (sweeping.ts). Streamed values: streams.ts.
 */
import './driver'; // first: a missing ioredis is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import type { Backend, BackendContext, EntryMeta, LockRedis } from '../../backend';
import type { Clock } from '../../clock';
import { Compression, EncodedValue, ValueCodec, createValueCodec, frameText, isPromiseLike } from '../../compression';
import { StoreConfigError } from '../../errors';
import type { Key } from '../../keys';
import type { Selector } from '../../query';
import type { AsyncCapableSerializer } from '../../serializer';
import type { BackendStats, Capabilities, EntryWithExpiry, FindOptions, StoredEntry } from '../../store';
import { SetItem, readEntries, sendBatch } from './batching';
import { RedisClient, waitReady } from './client';
import { BatchItem, BatchKind, BatchOwner, RedisConnection, Sweepable } from './connection';
import { corrupt, expiryError, isWrongType, rethrow, toStoreError, validExpiry } from './errors';
import { readExpiry } from './read-expiry';
import { count, deleteMatching, find, findBatches } from './find';
import { FoundEntry } from './found-entry';
import { MALFORMED, RedisLayout, headExpiry, isCompressed, isStreamed, liveHead, timedHead } from './layout';
import type { SendCommand } from './lua-script';
import type { ResolvedRedisSettings } from './settings';
import { upgradeLayout } from './migrate';
import { nextSequence } from './sequence';
import { readWhole, setStream, valueStream } from './streams';
import { Sweeper, clearNamespace, drop } from './sweeping';
import { deleteByTags, touch } from './tags';
import { keyOfId } from './ids';

/** The Redis backend of one namespace; its scopes share its connection. */
export class RedisBackend implements Backend, BatchOwner, Sweepable {
  readonly supports: Capabilities = {
    nativeQueries: true,
    valueStreams: true,
    ttl: true,
    shared: true,
    evicts: false,
    persistent: true,
    // find honours sort, skip and limit (find.ts, sorted.ts), in lib/query-sort.ts's order.
    nativeSort: true,
    // set keeps tags with the entry, deleteByTags and touch are scripts of their own (tags.ts).
    tags: true,
  };
  /**
   * Exact calls are single commands (MGET batches, the write script, GETRANGE with HEXISTS in
   * the same tick, the drop script) on one connection, written in issue order (see
   * RedisConnection), so issue order holds by itself, with one exception that the backend
   * covers itself: a read of a streamed value takes several round trips (the entry string, then
   * its chunks), and a write or delete of the key issued after the read runs in between. Such a
   * write never frees the old chunks at once; it moves them to a grace key that expires after
   * `streamGraceMs`, and the read follows its generation there (openStreamed, nextChunk in
   * streams.ts), so it returns the value its entry string named, never a later one. Only a read
   * that stalls longer than the grace between two of its own round trips fails, with
   * ERR_STORAGE_OPERATION. setStream is tracked by the core (multi-step). (On a cluster,
   * ioredis may resend a command after TRYAGAIN later than others: docs/redis.md.) False with
   * an asynchronous serializer: a write is queued only once its text is there.
   */
  readonly ordersExactCalls: boolean;
  /** Values to their stored form and back: the serializer, and compression per the `compress` setting (lib/compression.ts). */
  readonly codec: ValueCodec;
  /** The `compress` setting, resolved (null: off). */
  readonly compression: Compression | null;
  /** Key names of this namespace. */
  readonly layout: RedisLayout;
  readonly namespace: string;
  readonly clock: Clock;
  readonly serializer: AsyncCapableSerializer;
  /** This namespace's expiry sweep. */
  readonly sweeper: Sweeper;
  /** Whether writes bring their creation sequence (every backend of a sharded namespace: sequence.ts). */
  readonly sequenced: boolean;
  private readonly client: RedisClient;
  /** Most exact calls per queued run (a sharded backend's runs are split per shard: shards.ts). */
  protected exactBatch: number;
  private attached = false;
  /** The clock reading `timesTail` was built at (see `head`). */
  private headAt = NaN;
  /** `.<now>.<now>v`: the part of a plain value's head after its expiry, at `headAt`. */
  private timesTail = '';
  /** `0.<now>.<now>v`: the head of a plain value without expiry, at `headAt`. */
  private noExpiryHead = '';
  /** Why connect() refused this namespace for good (its recorded shard count differs), if it did. */
  private refused: StoreConfigError | undefined;

  /** `shard`: which shard of a sharded namespace this backend is (shards.ts); none for the namespace itself. */
  constructor(
    /** The client and batch queue, shared with the scopes. */
    readonly connection: RedisConnection,
    readonly settings: ResolvedRedisSettings,
    protected readonly context: BackendContext,
    shard?: number,
  ) {
    this.namespace = context.namespace;
    this.clock = context.clock;
    this.serializer = context.serializer;
    this.layout = new RedisLayout(settings.prefix, this.namespace, settings.shards, shard);
    this.client = connection.client;
    this.exactBatch = settings.exactBatch;
    this.sequenced = settings.shards > 1;
    // The codec serializes and reads framed bytes back; compressing is this backend's (packed64).
    this.codec = createValueCodec(this.serializer, null);
    this.compression = settings.compress;
    // An asynchronous serializer queues a write only once its text is there, after calls issued later.
    this.ordersExactCalls = this.codec.sync;
    this.sweeper = new Sweeper(this);
  }

  /**
   * The ioredis client (shared with the scopes), after sending queued batches. Its
   * auto-pipeline is not tracked by the store: a command sent on it is ordered before the
   * store's later commands once it has been answered.
   */
  get redis(): RedisClient {
    this.connection.flush();
    return this.client;
  }

  /** Runs a command on the auto-pipeline, after the queued batches (RedisConnection.piped). */
  piped<T>(command: (client: RedisClient) => Promise<T>): Promise<T> {
    return this.connection.piped(command);
  }

  /** LuaScript.run's sender for scripts outside the batches. */
  get pipedSend(): SendCommand {
    return this.connection.pipedSend;
  }

  /**
   * The sender of a query's reads (its range and walk scripts, its MGETs): the batches' sender,
   * which writes a command straight to the socket when nothing auto-pipelined is unanswered,
   * in program order either way (RedisConnection.batchCommand). An auto-pipelined command
   * waits for the next tick and a pipeline of its own: about 100 µs more per round trip here.
   */
  get querySend(): SendCommand {
    return this.connection.batchCommand;
  }

  /** Several reads of a query sent together, in program order, in one socket write where they can be (RedisConnection.batchCommands). */
  querySendTogether(commands: Array<[string, Array<string | number>]>): Array<Promise<unknown>> {
    return this.connection.batchCommands(commands);
  }

  /** Reports an error no caller is waiting for (a background sweep's) as this namespace's store's 'error' event. */
  reportError(err: Error): void {
    this.context.events.reportError(err);
  }

  /** Whether the store has an 'expire' listener, so the sweep should say which entries it freed. */
  wantsExpireEvents(): boolean {
    const events = this.context.events;
    return events.wants !== undefined && events.wants('expire');
  }

  /** Emits the store's 'expire' event for an entry the sweep freed (an id that is no key the store writes is passed over). */
  emitExpired(id: string): void {
    let key: Key;
    try {
      key = keyOfId(id);
    } catch {
      return;
    }
    this.context.events.emit('expire', { id, key });
  }

  // ---- lifecycle ------------------------------------------------------------------------

  async connect(): Promise<void> {
    if (this.refused) throw this.refused;
    await this.connection.attach(this.namespace, this);
    this.attached = true;
    try {
      await this.prepareLayout();
    } catch (err) {
      // A namespace of another shard count (shards.ts) is refused for good: every later call
      // gets the same error without asking Redis (the connection stays held until close(), so
      // the store's other scopes keep working).
      if (err instanceof StoreConfigError) this.refused = err;
      throw err;
    }
  }

  /** On connect: checks and, for an older layout, rebuilds the namespace's records (migrate.ts). */
  protected async prepareLayout(): Promise<void> {
    await upgradeLayout(this);
  }

  async close(): Promise<void> {
    if (!this.attached) {
      this.connection.abandon();
      return;
    }
    this.attached = false;
    await this.connection.detach(this.namespace, this);
  }

  /**
   * `context` is the scope store's; without one (a sweep of a namespace nobody has open), this
   * backend's own, renamed, whose events report errors here but emit nothing (no store of that
   * namespace is listening here).
   */
  scope(namespace: string, context?: BackendContext): RedisBackend {
    return new RedisBackend(this.connection, this.settings, context ?? this.foreignContext(namespace));
  }

  /** The context of a backend for a namespace nobody has open here (see `scope`). */
  protected foreignContext(namespace: string): BackendContext {
    const events = this.context.events;
    return { ...this.context, namespace, events: { reportError: (err) => events.reportError(err), emit: () => undefined, wants: () => false } };
  }

  // ---- exact keys -------------------------------------------------------------------------

  get(id: string): Promise<unknown> {
    return new Promise((resolve, reject) => this.connection.enqueue(this, 'get', { id, resolve, reject }, this.exactBatch));
  }

  /** Batched like `get` (a multi store's lower-tier read is this, 1,000 misses at a time). */
  getEntry(id: string): Promise<EntryWithExpiry | undefined> {
    return new Promise((resolve, reject) => this.connection.enqueue(this, 'entry', { id, resolve, reject }, this.exactBatch));
  }

  /** A layered store's batch (a multi store's misses): one MGET, sent after whatever is queued. */
  getEntries(ids: string[]): Promise<Array<EntryWithExpiry | undefined | Error>> {
    return readEntries(this, ids);
  }

  /** The live entry's size, times, expiry and tags, without its value: batched like `get`, one script per batch (meta.ts). */
  getMeta(id: string): Promise<EntryMeta | undefined> {
    return new Promise((resolve, reject) => this.connection.enqueue(this, 'meta', { id, resolve, reject }, this.exactBatch));
  }

  has(id: string): Promise<boolean> {
    return readExpiry(this, id).then((expiresAt) => expiresAt !== undefined);
  }

  expiresAt(id: string): Promise<number | null | undefined> {
    return readExpiry(this, id);
  }

  /** A string key's value, or null when it is absent or holds another type (something else wrote it). */
  getString(key: string): Promise<string | null> {
    return this.piped((c) => c.get(key)).catch((err) => {
      if (isWrongType(err)) return null;
      throw toStoreError(err);
    });
  }

  set(id: string, key: Key, value: unknown, expiresAt: number | null, tags?: readonly string[]): Promise<void> {
    if (expiresAt !== null && !validExpiry(expiresAt)) return Promise.reject(expiryError(expiresAt));
    let encoded: EncodedValue | Promise<EncodedValue>;
    try {
      encoded = this.codec.encode(value);
    } catch (err) {
      return Promise.reject(err);
    }
    // An asynchronous serializer's text: queued once it is there (the core orders the calls then: ordersExactCalls is false).
    if (typeof encoded !== 'string') return Promise.resolve(encoded).then((text) => this.setText(id, key, text as string, expiresAt, tags));
    return this.setText(id, key, encoded, expiresAt, tags);
  }

  /** Queues the write of a value's serialized text: compressed first when the `compress` setting asks for it and it saves bytes. */
  private setText(id: string, key: Key, serialized: string, expiresAt: number | null, tags: readonly string[] | undefined): Promise<void> {
    const packed = this.compression === null ? undefined : packed64(serialized, this.compression);
    const text = packed === undefined ? this.head(expiresAt) + serialized : this.head(expiresAt).slice(0, -1) + 'z' + packed;
    return new Promise<unknown>((resolve, reject) => {
      const item: SetItem = { id, key, text, expiresAt, seq: this.sequenced ? nextSequence() : 0, tags, resolve, reject };
      this.connection.enqueue(this, 'set', item, this.exactBatch);
    }).then(() => {
      if (expiresAt !== null) this.sweeper.sweepIfDue();
    });
  }

  /**
   * The head of a plain value written now (layout.ts, timedHead): built once per clock
   * millisecond and expiry kind, so a storm of sets does not format the time for each.
   */
  private head(expiresAt: number | null): string {
    const now = this.clock.now();
    if (now !== this.headAt) {
      this.headAt = now;
      this.noExpiryHead = timedHead(null, now);
      this.timesTail = this.noExpiryHead.slice(1);
    }
    return expiresAt === null ? this.noExpiryHead : expiresAt + this.timesTail;
  }

  /** Sends a batch of queued reads or writes (called by the connection, in program order). */
  sendBatch(kind: BatchKind, items: BatchItem[]): void {
    sendBatch(this, kind, items);
  }

  /**
   * The entry an entry string holds (null, or not live by `now`: undefined), its value
   * deserialized (or not read, without `values`). A streamed value gives a promise of the entry
   * with its bytes read whole (see readWhole). A string the store did not write, or a value
   * that does not parse, is ERR_STORAGE_OPERATION naming the key (thrown). `found`: a query's
   * read of a plain value gets it as a FoundEntry, its key parsed on demand, so the query makes
   * no second object per entry.
   */
  entryOf(id: string, s: string | null, now: number, values = true, found = false): EntryWithExpiry | undefined | Promise<EntryWithExpiry | undefined> {
    const k = s === null ? -1 : liveHead(s, now);
    if (k < 0) {
      if (k === MALFORMED) throw corrupt(id, 'it has no <expiry>v or <expiry>c head');
      return undefined;
    }
    const text = s as string;
    const expiresAt = headExpiry(text, k);
    if (!values) return { value: undefined, expiresAt };
    if (isStreamed(text, k)) return readWhole(this, id, text, k);
    const value = this.parse(id, text, k);
    if (this.codec.sync || !isPromiseLike(value)) return found ? new FoundEntry(id, value, expiresAt) : { value, expiresAt };
    return (value as Promise<unknown>).then((read) => ({ value: read, expiresAt }));
  }

  /**
   * The value of a plain or compressed entry string (`k` from liveHead); one that does not
   * parse (or decompress) is ERR_STORAGE_OPERATION naming the key. A promise only with an
   * asynchronous serializer (`codec.sync` false). A plain value goes straight to the
   * serializer, as before compression existed: the read path of uncompressed values is unchanged.
   */
  parse(id: string, text: string, k: number): unknown {
    let value: unknown;
    try {
      if (isCompressed(text, k)) value = this.codec.decode(Buffer.from(text.slice(k + 1), 'base64'));
      else if (this.codec.sync) return this.serializer.deserialize(text.slice(k + 1));
      else value = this.codec.decode(text.slice(k + 1));
    } catch (err) {
      throw corrupt(id, 'its value does not parse', err);
    }
    if (this.codec.sync || !isPromiseLike(value)) return value;
    return Promise.resolve(value).catch((err: unknown) => {
      throw corrupt(id, 'its value does not parse', err);
    });
  }

  async delete(id: string): Promise<boolean> {
    return (await drop(this, [id], 'd')) > 0;
  }

  touch(id: string, expiresAt: number | null): Promise<boolean> {
    return touch(this, id, expiresAt);
  }

  deleteByTags(tags: readonly string[]): Promise<number> {
    return deleteByTags(this, tags);
  }

  /**
   * The client, ready, for getOrSet's cluster lock (lib/core/get-or-set.ts): the Cluster client
   * on a cluster. Its commands ride the auto-pipeline outside the store's batches.
   */
  async lockRedis(): Promise<LockRedis> {
    await waitReady(this.client, this.settings.connectTimeout).catch(rethrow);
    return this.client;
  }

  // ---- queries ------------------------------------------------------------------------------

  find(selector: Selector, options: FindOptions): AsyncIterable<StoredEntry> {
    return find(this, selector, options);
  }

  findBatches(selector: Selector, options: FindOptions): AsyncIterable<StoredEntry[]> {
    return findBatches(this, selector, options);
  }

  deleteMatching(selector: Selector): Promise<number> {
    return deleteMatching(this, selector);
  }

  count(selector: Selector): Promise<number> {
    return count(this, selector);
  }

  clear(): Promise<void> {
    return clearNamespace(this);
  }

  // ---- expiry ---------------------------------------------------------------------------

  /** Frees the records of this namespace's expired entries now; resolves how many (Sweeper.sweep). */
  sweep(): Promise<number> {
    return this.sweeper.sweep();
  }

  /** The earliest expiry recorded in this namespace, if any (for the due-namespace list). */
  nextDue(): Promise<number | undefined> {
    return this.sweeper.nextDue();
  }

  async stats(): Promise<BackendStats> {
    await this.sweeper.sweep();
    const items = await this.piped((c) => c.zcard(this.layout.order)).catch(rethrow);
    return { items, expirations: this.sweeper.expirations };
  }

  // ---- streamed values ------------------------------------------------------------------

  setStream(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
    return setStream(this, id, key, source, expiresAt);
  }

  valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    return valueStream(this, id);
  }
}

/**
 * The base64 of `text` compressed and framed (lib/compression.ts frameText), or undefined when
 * it is under the threshold or would not take fewer bytes than the text itself: entry strings
 * stay text (docs/redis.md, "Compression").
 */
function packed64(text: string, compression: Compression): string | undefined {
  const threshold = compression.threshold;
  // length ≤ UTF-8 bytes ≤ 3 × length: the exact count is needed only in between.
  if (text.length * 3 < threshold) return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes < threshold) return undefined;
  const framed = frameText(text, compression.algorithm);
  if (framed === undefined || Math.ceil(framed.length / 3) * 4 >= bytes) return undefined;
  return framed.toString('base64');
}
