/**
 * The Redis store (SPEC §8 redis) on ioredis, standalone or Redis Cluster.
 *
 * Each entry is a hash; per namespace, an order set keeps creation order, an expiry set lists
 * TTL'd ids, and one sorted set per (key path, value) indexes object keys — all in one hash
 * slot, written together by Lua scripts (redis-layout.ts, redis-scripts.ts, docs/redis.md).
 * Equality and `$in` queries read an index; other queries narrow through an index when one
 * applies and finish with sift; a query with nothing indexable walks the order set in batches.
 * Entries expire natively (PEXPIREAT) and are also checked against the store's clock when
 * read; a sweep (on an unref'd timer, stopped by `close()`) frees the order, expiry and index
 * records of expired entries without reading them.
 */
import { Cluster, Redis, RedisOptions, ClusterOptions } from 'ioredis';
import { StoreConfigError, StorageOperationError } from '../errors';
import { Key, KeyObject, isObjectKeyId, isPlainObject, keyFromId } from '../keys';
import { IndexConstraint, QuerySelector, Selector } from '../query';
import {
  BackendStats,
  BaseStore,
  Capabilities,
  CommonSettings,
  EntryWithExpiry,
  FindOptions,
  StoredEntry,
  chunksOf,
  toAsync,
  valueBytes,
} from '../store';
import {
  BatchItem,
  BatchKind,
  BatchOwner,
  RedisClient,
  RedisConnection,
  Sweepable,
  clusterOptions,
  rethrow,
  standaloneOptions,
  toStoreError,
} from './redis-connection';
import { RedisLayout, headExpiry, isStreamed, liveHead, streamedOf, valueEntry } from './redis-layout';
import { DueNamespaces } from './redis-due-namespaces';
import { DROP_SCRIPT, FETCH_SCRIPT, SET_MANY_SCRIPT, SET_SCRIPT, SendCommand, UNION_SCRIPT, WALK_SCRIPT } from './redis-scripts';

/** A cluster node: `'host:port'` or `{ host, port }`. */
export type RedisNode = string | { host: string; port: number };

/** Settings of the Redis store. */
export interface RedisSettings extends CommonSettings {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). Exclusive with host/port and cluster. */
  url?: string;
  /** Server host. Default '127.0.0.1'. */
  host?: string;
  /** Server port. Default 6379. */
  port?: number;
  /** ACL user name. */
  username?: string;
  /** Password (AUTH). */
  password?: string;
  /** Database number (standalone only). Default 0. */
  db?: number;
  /** An ioredis Redis or Cluster client to use instead of creating one; the store never closes it. */
  client?: Redis | Cluster;
  /** Cluster startup nodes: the store creates an ioredis Cluster. */
  cluster?: RedisNode[];
  /** Start of every key the store writes. Default 'ms:'. */
  prefix?: string;
  /** A command without a reply fails after this many ms. Default 2000. */
  commandTimeout?: number;
  /** The first connection fails after this many ms. Default 2000. */
  connectTimeout?: number;
  /** How often expired entries' records are swept, in ms; 0 sweeps only during writes. Default 1000. */
  sweepInterval?: number;
  /** Entries per round trip when scanning, fetching or deleting in bulk. Default 1000. */
  batchSize?: number;
  /** Largest chunk of a streamed value, in bytes (pieces under a quarter of it are gathered). Default 32 KiB, so a chunk read back fits one socket read and is not copied again. */
  chunkSize?: number;
  /** Extra ioredis options for a client the store creates (for a cluster: ClusterOptions). */
  redisOptions?: RedisOptions & ClusterOptions;
}

/** Defaults of the Redis store, one documented value per setting. */
export const REDIS_DEFAULTS = {
  host: '127.0.0.1',
  port: 6379,
  db: 0,
  prefix: 'ms:',
  commandTimeout: 2000,
  connectTimeout: 2000,
  sweepInterval: 1000,
  batchSize: 1000,
  chunkSize: 32 * 1024,
  /** How long a half-written streamed value may linger if its writer dies, in ms. */
  streamLeaseMs: 60 * 60 * 1000,
} as const;

/**
 * Most exact-key reads or writes per script call. A storm of 1,000 concurrent getOne calls
 * becomes 4 script calls sent together: the client decodes the first reply while the server
 * runs the next (measured: 256 beats both 64 and 1,000 on CPU and wall time).
 */
const EXACT_BATCH = 256;

/**
 * Most index sets a query walk merges in the client, reading up to `batchSize` ids from each
 * per step. A longer `$in` is merged on the server first (see walkUnion), or, past
 * SERVER_MERGE_BATCHES, in the client a few ids per set at a time, so a query's memory stays
 * bounded whatever its length.
 */
const CLIENT_MERGE_MAX = 16;

/**
 * The server merges a long `$in` only when its index sets hold at most this many batches of
 * ids in all: ZUNIONSTORE runs as one command, and merging millions of ids would hold the
 * server (every namespace on it) for seconds.
 */
const SERVER_MERGE_BATCHES = 100;

/** Fewest ids read from each index set per step when the client merges very many sets. */
const MIN_READ_PER_SET = 16;

/** Settings checks, each naming its setting. */
function checkRedisSettings(s: RedisSettings): void {
  const str = (name: 'url' | 'host' | 'username' | 'password' | 'prefix') => {
    if (s[name] !== undefined && typeof s[name] !== 'string') throw new StoreConfigError(`setting ${name} must be a string`);
  };
  const int = (name: 'port' | 'db' | 'commandTimeout' | 'connectTimeout' | 'sweepInterval' | 'batchSize' | 'chunkSize', min: number, max: number) => {
    const v = s[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) {
      throw new StoreConfigError(`setting ${name} must be an integer from ${min} to ${max}`);
    }
  };
  str('url');
  str('host');
  str('username');
  str('password');
  str('prefix');
  int('port', 1, 65535);
  int('db', 0, 65535);
  int('commandTimeout', 1, 3_600_000);
  int('connectTimeout', 1, 3_600_000);
  int('sweepInterval', 0, 3_600_000);
  int('batchSize', 1, 100_000);
  int('chunkSize', 1024, 64 * 1024 * 1024);
  if (s.url !== undefined && !/^rediss?:\/\//.test(s.url)) throw new StoreConfigError('setting url must start with redis:// or rediss://');
  if (s.prefix !== undefined && /[{}]/.test(s.prefix)) {
    throw new StoreConfigError('setting prefix must not contain { or }: the store places its own hash tag after it');
  }
  if (s.prefix !== undefined && s.prefix.length > 256) throw new StoreConfigError('setting prefix must be at most 256 characters');
  const sources = (['url', 'cluster', 'client'] as const).filter((name) => s[name] !== undefined);
  if (sources.length > 1) throw new StoreConfigError(`settings ${sources.join(' and ')} are exclusive: give one`);
  if (sources.length === 1) {
    for (const name of ['host', 'port', 'db'] as const) {
      if (s[name] !== undefined) throw new StoreConfigError(`setting ${name} cannot be combined with ${sources[0]}`);
    }
  }
  if (s.client !== undefined) {
    const c = s.client as unknown as Record<string, unknown>;
    if (!c || typeof c.hmget !== 'function' || typeof c.evalsha !== 'function' || typeof c.status !== 'string') {
      throw new StoreConfigError('setting client must be an ioredis Redis or Cluster client');
    }
    for (const name of ['username', 'password', 'redisOptions'] as const) {
      // The client was built with its own credentials and options.
      if (s[name] !== undefined) throw new StoreConfigError(`setting ${name} cannot be combined with client: set it on the client`);
    }
  }
  if (s.cluster !== undefined) {
    if (!Array.isArray(s.cluster) || s.cluster.length === 0) throw new StoreConfigError('setting cluster must be a non-empty array of nodes');
    for (const node of s.cluster) {
      const ok =
        (typeof node === 'string' && /^[^:\s]+:\d{1,5}$/.test(node)) ||
        (isPlainObject(node) && typeof node.host === 'string' && Number.isInteger(node.port) && node.port > 0 && node.port < 65536);
      if (!ok) throw new StoreConfigError(`setting cluster has an invalid node ${JSON.stringify(node)}: use 'host:port' or { host, port }`);
    }
    if (s.db !== undefined) throw new StoreConfigError('setting db is not available on a cluster');
  }
  if (s.redisOptions !== undefined && !isPlainObject(s.redisOptions)) throw new StoreConfigError('setting redisOptions must be a plain object');
}

function createClient(s: RedisSettings): RedisClient {
  const timeouts = {
    commandTimeout: s.commandTimeout ?? REDIS_DEFAULTS.commandTimeout,
    connectTimeout: s.connectTimeout ?? REDIS_DEFAULTS.connectTimeout,
  };
  const auth: RedisOptions = {};
  if (s.username !== undefined) auth.username = s.username;
  if (s.password !== undefined) auth.password = s.password;
  if (s.cluster) {
    const nodes = s.cluster.map((node) => {
      if (typeof node !== 'string') return node;
      const at = node.lastIndexOf(':');
      return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
    });
    return new Cluster(nodes, clusterOptions(timeouts, auth, s.redisOptions));
  }
  const options = standaloneOptions(timeouts, { ...auth, ...s.redisOptions });
  if (s.url) return new Redis(s.url, options);
  return new Redis({
    host: s.host ?? REDIS_DEFAULTS.host,
    port: s.port ?? REDIS_DEFAULTS.port,
    db: s.db ?? REDIS_DEFAULTS.db,
    ...options,
  });
}

/** A queued write. */
interface SetItem extends BatchItem {
  key: Key;
  text: string;
  expiresAt: number | null;
}

/** An entry found by a walk; its key is parsed from the id only if someone asks. */
class FoundEntry implements StoredEntry {
  private parsedKey: Key | undefined;
  constructor(
    readonly id: string,
    readonly value: unknown,
    readonly expiresAt: number | null,
  ) {}
  get key(): Key {
    return (this.parsedKey ??= keyFromId(this.id));
  }
}

/** A candidate entry before its value is read. */
interface Candidate {
  id: string;
  key: Key;
}

/** ZRANGE ... WITHSCORES as [member, score] pairs, under RESP2 (flat) or RESP3 (nested). */
function scored(reply: unknown): Array<[string, number]> {
  const items = reply as unknown[];
  const out: Array<[string, number]> = [];
  if (items.length > 0 && Array.isArray(items[0])) {
    for (const pair of items as Array<[string, string | number]>) out.push([String(pair[0]), Number(pair[1])]);
  } else {
    for (let i = 0; i < items.length; i += 2) out.push([String(items[i]), Number(items[i + 1])]);
  }
  return out;
}

/** A streamed value changed under its reader (a StorageOperationError to callers). */
class StreamReplacedError extends StorageOperationError {}

/** The Redis store. */
export class RedisStore extends BaseStore implements Sweepable, BatchOwner {
  readonly supports: Capabilities = {
    nativeQueries: true,
    valueStreams: true,
    ttl: true,
    shared: true,
    evicts: false,
    persistent: true,
  };
  /** Key names of this store's namespace. */
  readonly layout: RedisLayout;
  private readonly redisSettings: RedisSettings;
  private readonly connection: RedisConnection;
  private readonly client: RedisClient;
  private readonly batchSize: number;
  /** Most getOne/set calls per script call: several smaller batches in flight keep client and server both busy. */
  private readonly exactBatch: number;
  private readonly chunkSize: number;
  private readonly sweepInterval: number;
  private lastSweep = 0;
  private expirations = 0;
  private attached = false;

  constructor(settings: RedisSettings = {}, connection?: RedisConnection) {
    super(settings);
    checkRedisSettings(settings);
    this.redisSettings = settings;
    this.batchSize = settings.batchSize ?? REDIS_DEFAULTS.batchSize;
    this.exactBatch = Math.min(this.batchSize, EXACT_BATCH);
    this.chunkSize = settings.chunkSize ?? REDIS_DEFAULTS.chunkSize;
    this.sweepInterval = settings.sweepInterval ?? REDIS_DEFAULTS.sweepInterval;
    this.layout = new RedisLayout(settings.prefix ?? REDIS_DEFAULTS.prefix, this.namespace);
    this.connection =
      connection ??
      new RedisConnection(
        settings.client ?? createClient(settings),
        settings.client === undefined,
        {
          commandTimeout: settings.commandTimeout ?? REDIS_DEFAULTS.commandTimeout,
          connectTimeout: settings.connectTimeout ?? REDIS_DEFAULTS.connectTimeout,
        },
        this.sweepInterval,
        (err) => this.reportError(err),
        {
          list: new DueNamespaces(this.layout.dueNamespaces),
          now: () => this.clock.now(),
          sweeperFor: (namespace) => new RedisStore({ ...settings, namespace }, this.connection),
        },
      );
    this.client = this.connection.client;
  }

  /**
   * The ioredis client (shared with the store's scopes), after sending queued batches. Its
   * auto-pipeline is not tracked by the store: a command sent on it is ordered before the
   * store's later commands once it has been answered.
   */
  get redis(): RedisClient {
    this.connection.flush();
    return this.client;
  }

  /** Runs a command on the auto-pipeline, after the queued batches (RedisConnection.piped). */
  private piped<T>(command: (client: RedisClient) => Promise<T>): Promise<T> {
    return this.connection.piped(command);
  }

  /** LuaScript.run's sender for scripts outside the batches. */
  private get pipedSend(): SendCommand {
    return this.connection.pipedSend;
  }

  // ---- lifecycle ------------------------------------------------------------------------

  protected async _connect(): Promise<void> {
    await this.connection.attach(this.namespace, this);
    this.attached = true;
  }

  protected async _close(): Promise<void> {
    if (!this.attached) {
      this.connection.abandon();
      return;
    }
    this.attached = false;
    await this.connection.detach(this.namespace, this);
  }

  /**
   * Exact calls are single commands (MGET batches, the write script, GETRANGE, the drop script)
   * on one connection, written in issue order (see RedisConnection), so issue order holds by
   * itself. (On a cluster, ioredis may resend a command after TRYAGAIN later than others:
   * docs/redis.md.)
   */
  protected get ordersExactCalls(): boolean {
    return true;
  }

  protected _scope(namespace: string): RedisStore {
    return new RedisStore({ ...this.redisSettings, namespace }, this.connection);
  }

  // ---- exact keys -------------------------------------------------------------------------

  protected _get(id: string): Promise<unknown> {
    return new Promise((resolve, reject) => this.connection.enqueue(this, 'get', { id, resolve, reject }, this.exactBatch));
  }

  /** Batched like `_get` (a multi store's lower-tier read is this, 1,000 misses at a time). */
  protected _getEntry(id: string): Promise<EntryWithExpiry | undefined> {
    return new Promise((resolve, reject) => this.connection.enqueue(this, 'entry', { id, resolve, reject }, this.exactBatch));
  }

  /** A layered store's batch (a multi store's misses): one MGET, sent after whatever is queued. */
  protected _getEntries(ids: string[]): Promise<Array<EntryWithExpiry | undefined | Error>> {
    const keys = new Array<string>(ids.length);
    for (let i = 0; i < ids.length; i++) keys[i] = this.layout.entry(ids[i]);
    return (this.connection.batchCommand('mget', keys) as Promise<Array<string | null>>).then((reply) => {
      const now = this.clock.now();
      const out = new Array<EntryWithExpiry | undefined | Error>(ids.length);
      let streamed: Array<Promise<void>> | undefined;
      for (let i = 0; i < ids.length; i++) {
        try {
          const entry = this.entryOf(ids[i], reply[i], now);
          if (entry instanceof Promise) {
            const whole = entry.then((found) => found ?? this._getEntry(ids[i])); // replaced meanwhile: read again
            (streamed ??= []).push(whole.then((found) => void (out[i] = found), (err: Error) => void (out[i] = err)));
          } else out[i] = entry;
        } catch (err) {
          out[i] = err as Error;
        }
      }
      return streamed ? Promise.all(streamed).then(() => out) : out;
    }, rethrow);
  }

  protected _has(id: string): Promise<boolean> {
    return this.expiryOf(id).then((expiresAt) => expiresAt !== undefined);
  }

  protected _expiresAt(id: string): Promise<number | null | undefined> {
    return this.expiryOf(id);
  }

  /** A live entry's expiry (null: none), read from the head of its string only; undefined if absent or expired. */
  private expiryOf(id: string): Promise<number | null | undefined> {
    return this.piped((c) => c.getrange(this.layout.entry(id), 0, 40)).then((head) => {
      const k = liveHead(head, this.clock.now());
      return k < 0 ? undefined : headExpiry(head, k);
    }, rethrow);
  }

  protected _set(id: string, key: Key, value: unknown, expiresAt: number | null): Promise<void> {
    const text = valueEntry(expiresAt, this.serializer.serialize(value));
    return new Promise<unknown>((resolve, reject) => {
      const item: SetItem = { id, key, text, expiresAt, resolve, reject };
      this.connection.enqueue(this, 'set', item, this.exactBatch);
    }).then(() => {
      if (expiresAt !== null) this.sweepIfDue();
    });
  }

  /** Sends a batch of queued reads or writes (called by the connection, in program order). */
  sendBatch(kind: BatchKind, items: BatchItem[]): void {
    if (kind === 'set') this.sendSets(items as SetItem[]);
    else this.sendReads(items, kind === 'entry');
  }

  /** One MGET for a batch (the entries share a slot): values, or entries with their expiry. */
  private sendReads(items: BatchItem[], entries: boolean): void {
    const keys = new Array<string>(items.length);
    for (let i = 0; i < items.length; i++) keys[i] = this.layout.entry(items[i].id);
    (this.connection.batchCommand('mget', keys) as Promise<Array<string | null>>).then(
      (reply) => {
        const now = this.clock.now();
        for (let i = 0; i < items.length; i++) this.settleRead(items[i], reply[i], entries, now);
      },
      (err) => {
        const error = toStoreError(err);
        for (const item of items) item.reject(error);
      },
    );
  }

  /** Resolves one queued read from its entry string (null: absent): its value, or with `entries` the entry. */
  private settleRead(item: BatchItem, s: string | null, entries: boolean, now: number): void {
    try {
      const entry = this.entryOf(item.id, s, now);
      if (entry instanceof Promise) {
        // A streamed value: read again from the start if it was replaced before its first chunk was read.
        const again = () => (entries ? this._getEntry(item.id) : this._get(item.id));
        entry.then((found) => (found === undefined ? again() : entries ? found : found.value)).then(item.resolve, item.reject);
      } else item.resolve(entries || entry === undefined ? entry : entry.value);
    } catch (err) {
      item.reject(err);
    }
  }

  /**
   * The entry an entry string holds (null, or not live by `now`: undefined), its value
   * deserialized (or not read, without `values`). A streamed value gives a promise of the entry
   * with its bytes read whole, or of undefined if it was replaced before its first chunk.
   */
  private entryOf(id: string, s: string | null, now: number, values = true): EntryWithExpiry | undefined | Promise<EntryWithExpiry | undefined> {
    const k = s === null ? -1 : liveHead(s, now);
    if (k < 0) return undefined;
    const text = s as string;
    const expiresAt = headExpiry(text, k);
    if (!values) return { value: undefined, expiresAt };
    if (!isStreamed(text, k)) return { value: this.serializer.deserialize(text.slice(k + 1)), expiresAt };
    return this.readWhole(id, text, k).then((value) => (value === undefined ? undefined : { value, expiresAt }));
  }

  private sendSets(items: SetItem[]): void {
    const l = this.layout;
    const done = () => {
      for (const item of items) item.resolve(undefined);
    };
    const failed = (err: unknown) => {
      const error = toStoreError(err);
      for (const item of items) item.reject(error);
    };
    if (items.length === 1) {
      const { id, key, text, expiresAt } = items[0];
      const e = l.entry(id);
      const fixed = [e, l.chunks(id), l.order, l.expiry, l.counter, l.registry, e];
      const keys = typeof key === 'string' ? fixed : [...fixed, ...l.indexesOf(key)];
      SET_SCRIPT.run(this.connection.batchCommand, keys, [id, this.clock.now(), expiresAt === null ? '0' : expiresAt, 'v', text]).then(done, failed);
      if (expiresAt !== null) this.connection.noteDue(this.namespace, expiresAt);
      return;
    }
    const keys = [l.order, l.expiry, l.counter, l.registry];
    const args: Array<string | number> = [this.clock.now()];
    let firstExpiry = Infinity;
    for (const { id, key, text, expiresAt } of items) {
      const indexes = typeof key === 'string' ? [] : l.indexesOf(key);
      keys.push(l.entry(id), l.chunks(id), ...indexes);
      args.push(id, expiresAt === null ? '0' : expiresAt, indexes.length, text);
      if (expiresAt !== null && expiresAt < firstExpiry) firstExpiry = expiresAt;
    }
    SET_MANY_SCRIPT.run(this.connection.batchCommand, keys, args).then(done, failed);
    if (firstExpiry !== Infinity) this.connection.noteDue(this.namespace, firstExpiry);
  }

  protected async _delete(id: string): Promise<boolean> {
    return (await this.drop([id], false)) > 0;
  }

  // ---- queries ------------------------------------------------------------------------------

  protected async *_find(selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
    let remaining = options.limit ?? Infinity;
    if (remaining <= 0) return;
    const direct = this.directSet(selector);
    if (direct !== undefined) {
      yield* this.walkAndRead(direct, options.values, remaining);
      return;
    }
    for await (const batch of this.candidates(selector)) {
      for (let start = 0; start < batch.length && remaining > 0; ) {
        const slice = batch.slice(start, start + Math.min(this.batchSize, remaining));
        start += slice.length;
        for (const entry of await this.fetch(slice, options.values)) {
          yield entry;
          if (--remaining <= 0) return;
        }
      }
    }
  }

  /** The one sorted set whose every member matches the selector, when there is one. */
  private directSet(selector: Selector): string | undefined {
    if (selector.kind === 'all') return this.layout.order;
    if (selector.kind === 'query' && selector.coveredByConstraints && selector.constraints.length === 1) {
      const { path, values } = selector.constraints[0];
      if (values.length === 1) return this.layout.indexFor(path, values[0]);
    }
    return undefined;
  }

  /** Walks a sorted set and reads its entries in the same round trip, a batch at a time. */
  private async *walkAndRead(set: string, values: boolean, limit: number): AsyncGenerator<StoredEntry> {
    let cursor = '-inf';
    let remaining = limit;
    for (;;) {
      const count = Math.min(this.batchSize, remaining);
      const reply = (await WALK_SCRIPT.run(this.pipedSend, [set], [cursor, count, this.clock.now(), values ? '1' : '0', this.layout.entryPrefix]).catch(
        rethrow,
      )) as Array<string | number>;
      for (let i = 2; i < reply.length; i += 2) {
        const id = reply[i] as string;
        const found = await this.entryFrom(id, reply[i + 1], values);
        if (found === undefined) continue;
        yield new FoundEntry(id, found.value, found.expiresAt);
        if (--remaining <= 0) return;
      }
      if (Number(reply[0]) < count) return;
      cursor = '(' + (reply[1] as string);
    }
  }

  protected async _deleteMatching(selector: Selector): Promise<number> {
    let removed = 0;
    for await (const batch of this.candidates(selector)) {
      if (batch.length > 0) removed += await this.drop(batch.map((c) => c.id), false, batch);
    }
    return removed;
  }

  protected async _count(selector: Selector): Promise<number> {
    // Counting a whole set is exact once the records of expired entries are gone.
    if (selector.kind === 'all') {
      await this.sweep();
      return this.piped((c) => c.zcard(this.layout.order)).catch(rethrow);
    }
    if (selector.kind === 'query' && selector.coveredByConstraints && selector.constraints.length === 1 && selector.constraints[0].values.length === 1) {
      const { path, values } = selector.constraints[0];
      await this.sweep();
      return this.piped((c) => c.zcard(this.layout.indexFor(path, values[0]))).catch(rethrow);
    }
    let n = 0;
    for await (const entry of this._find(selector, { values: false })) if (entry) n++;
    return n;
  }

  protected async _clear(): Promise<void> {
    const l = this.layout;
    for (;;) {
      const ids = (await this.piped((c) => c.zrange(l.order, 0, String(this.batchSize - 1))).catch(rethrow)) as string[];
      if (ids.length === 0) break;
      await this.drop(ids, false);
    }
    const leftovers = await this.piped((c) => c.smembers(l.registry)).catch(rethrow);
    await this.piped((c) => c.unlink(l.order, l.expiry, l.registry, l.counter, ...leftovers)).catch(rethrow);
  }

  /**
   * Candidate entries in creation order, in batches, already filtered on the key: through an
   * index when the query has an indexable constraint, otherwise by walking the order set.
   */
  private async *candidates(selector: Selector): AsyncGenerator<Candidate[]> {
    if (selector.kind === 'query' && (selector.constraints.length > 0 || selector.orConstraints)) {
      yield* this.indexCandidates(selector);
      return;
    }
    for await (const ids of this.walk([this.layout.order])) {
      const out: Candidate[] = [];
      for (const id of ids) {
        const objectKey = isObjectKeyId(id);
        switch (selector.kind) {
          case 'all':
            out.push({ id, key: objectKey ? keyFromId(id) : id });
            break;
          case 'glob':
            if (!objectKey && selector.regex.test(id)) out.push({ id, key: id });
            break;
          case 'query':
            if (objectKey) {
              const key = keyFromId(id) as KeyObject;
              if (selector.test(key)) out.push({ id, key });
            }
            break;
        }
      }
      yield out;
    }
  }

  /**
   * The non-empty index sets of the constraint with the fewest hits (the one that narrows
   * best), or none when some constraint has no hit at all (then nothing can match).
   */
  private async narrowest(constraints: IndexConstraint[]): Promise<{ keys: string[]; hits: number }> {
    const options = constraints.map((c) => [...new Set(c.values.map((v) => this.layout.indexFor(c.path, v)))]);
    const sizes = await Promise.all(options.map((keys) => Promise.all(keys.map((k) => this.piped((c) => c.zcard(k)))))).catch(rethrow);
    let best = 0;
    let bestSize = Infinity;
    sizes.forEach((counts, i) => {
      const total = counts.reduce((a, b) => a + b, 0);
      if (total < bestSize) {
        bestSize = total;
        best = i;
      }
    });
    return bestSize === 0 ? { keys: [], hits: 0 } : { keys: options[best].filter((_, i) => sizes[best][i] > 0), hits: bestSize };
  }

  private async *indexCandidates(selector: QuerySelector): AsyncGenerator<Candidate[]> {
    let keys: string[];
    let hits: number;
    if (selector.constraints.length > 0) ({ keys, hits } = await this.narrowest(selector.constraints));
    else {
      // A top-level $or: the union of each branch's narrowest index sets.
      const perBranch = await Promise.all((selector.orConstraints ?? []).map((branch) => this.narrowest(branch)));
      keys = [...new Set(perBranch.flatMap((branch) => branch.keys))];
      hits = perBranch.reduce((sum, branch) => sum + branch.hits, 0);
    }
    if (keys.length === 0) return;
    // One equality that is the whole query: index hits need no further test.
    const exact = selector.coveredByConstraints && selector.constraints.length === 1;
    let batches: AsyncGenerator<string[]>;
    if (keys.length <= CLIENT_MERGE_MAX) batches = this.walk(keys);
    else if (hits <= SERVER_MERGE_BATCHES * this.batchSize) batches = this.walkUnion(keys);
    // Too many to merge in one script without stalling the server: merge in the client, a few
    // ids from each set per step, so memory stays about max(16 × sets, batchSize) ids.
    else batches = this.walk(keys, Math.max(MIN_READ_PER_SET, Math.ceil(this.batchSize / keys.length)));
    for await (const ids of batches) {
      const out: Candidate[] = [];
      for (const id of ids) {
        const key = keyFromId(id) as KeyObject;
        if (exact || selector.test(key)) out.push({ id, key });
      }
      yield out;
    }
  }

  /**
   * walk() over more sets than CLIENT_MERGE_MAX (a long `$in`): they are merged on the server
   * into a temporary set of the namespace's slot (UNION_SCRIPT), which is walked alone, so
   * the client holds one batch at a time however long the list is. The set has a lease that
   * the walk renews; it is removed when the walk ends or is abandoned, and expires by itself if
   * this process dies.
   */
  private async *walkUnion(keys: string[]): AsyncGenerator<string[]> {
    const tmp = this.layout.temp();
    const lease = REDIS_DEFAULTS.streamLeaseMs;
    try {
      const merged = Number(await UNION_SCRIPT.run(this.pipedSend, [tmp, ...keys], [lease]).catch(rethrow));
      if (merged === 0) return;
      let renewed = Date.now();
      for await (const ids of this.walk([tmp])) {
        yield ids;
        if (Date.now() - renewed > lease / 4) {
          renewed = Date.now();
          // A reader that paused past the lease must not see a silently shortened result.
          if ((await this.piped((c) => c.pexpire(tmp, lease)).catch(rethrow)) === 0) {
            throw new StorageOperationError(`a query's merged index set expired: it was paused for more than ${lease} ms`);
          }
        }
      }
    } finally {
      // Best effort: if Redis cannot be reached now, the lease removes the set.
      await this.piped((c) => c.unlink(tmp)).catch(() => undefined);
    }
  }

  /**
   * Ids of the union of sorted sets, in score (creation) order, a batch at a time: each set is
   * read from the last score seen, `per` ids at most, and only the ids up to the lowest last
   * score among the sets that filled their window are taken (at most `batchSize` of them), so
   * nothing below the new cursor can have been missed.
   */
  private async *walk(keys: string[], per = this.batchSize): AsyncGenerator<string[]> {
    let cursor = '-inf';
    const size = this.batchSize;
    for (;;) {
      const replies = await Promise.all(
        keys.map((k) => this.piped((c) => c.zrange(k, cursor, '+inf', 'BYSCORE', 'LIMIT', 0, per, 'WITHSCORES'))),
      ).catch(rethrow);
      let pairs: Array<[string, number]>;
      let exhausted: boolean;
      if (replies.length === 1) {
        pairs = scored(replies[0]);
        exhausted = pairs.length < per;
      } else {
        let cutoff = Infinity;
        const seen = new Map<string, number>();
        for (const reply of replies) {
          const list = scored(reply);
          if (list.length >= per) cutoff = Math.min(cutoff, list[list.length - 1][1]);
          for (const [id, score] of list) seen.set(id, score);
        }
        pairs = [...seen].filter((p) => p[1] <= cutoff).sort((a, b) => a[1] - b[1]);
        exhausted = cutoff === Infinity;
        if (pairs.length > size) {
          pairs.length = size;
          exhausted = false;
        }
      }
      if (pairs.length > 0) {
        yield pairs.map((p) => p[0]);
        cursor = '(' + pairs[pairs.length - 1][1];
      }
      if (exhausted || pairs.length === 0) return;
    }
  }

  /** Reads the live entries among the candidates (one round trip), keeping their order. */
  private async fetch(batch: Candidate[], values: boolean): Promise<StoredEntry[]> {
    const reply = (await FETCH_SCRIPT.run(
      this.pipedSend,
      batch.map((c) => this.layout.entry(c.id)),
      [this.clock.now(), values ? '1' : '0'],
    ).catch(rethrow)) as Array<string | number>;
    const out: StoredEntry[] = [];
    for (let i = 0; i < batch.length; i++) {
      const { id, key } = batch[i];
      const found = await this.entryFrom(id, reply[i], values);
      if (found !== undefined) out.push({ id, key, value: found.value, expiresAt: found.expiresAt });
    }
    return out;
  }

  /**
   * An entry as a read script returned it (see EMIT: the entry string, or 0 when absent or
   * expired), with its value when `values` is set; undefined if it is gone.
   */
  private async entryFrom(id: string, stored: string | number, values: boolean): Promise<EntryWithExpiry | undefined> {
    return typeof stored === 'number' ? undefined : this.entryOf(id, stored, this.clock.now(), values); // replaced meanwhile: undefined
  }

  // ---- expiry ---------------------------------------------------------------------------

  /**
   * Removes entries and their order, expiry and index records, atomically per batch.
   * `onlyExpired` (the sweep) spares ids written again since they were listed.
   */
  private drop(ids: string[], onlyExpired: boolean, known?: Candidate[]): Promise<number> {
    const l = this.layout;
    const keys = [l.order, l.expiry, l.registry];
    const args: Array<string | number> = [this.clock.now(), onlyExpired ? '1' : '0'];
    ids.forEach((id, i) => {
      const key = known ? known[i].key : keyFromId(id);
      const indexes = typeof key === 'string' ? [] : l.indexesOf(key);
      keys.push(l.entry(id), l.chunks(id), ...indexes);
      args.push(id, indexes.length);
    });
    return DROP_SCRIPT.run(this.pipedSend, keys, args).then((n) => Number(n), rethrow);
  }

  /**
   * Frees every entry of this namespace that has expired by the store's clock, with its order,
   * expiry and index records, without reading values. Redis has usually freed the entry itself
   * already (PEXPIREAT); this removes what points at it. Resolves how many were freed.
   */
  async sweep(): Promise<number> {
    this.lastSweep = Date.now();
    let total = 0;
    for (;;) {
      const now = this.clock.now();
      const ids = (await this.piped((c) => c.zrange(this.layout.expiry, '-inf', String(now), 'BYSCORE', 'LIMIT', 0, this.batchSize)).catch(rethrow)) as string[];
      if (ids.length === 0) break;
      total += await this.drop(ids, true);
      if (ids.length < this.batchSize) break;
    }
    this.expirations += total;
    return total;
  }

  /** Writes sweep when no timer does (sweepInterval 0), at most once a second. */
  private sweepIfDue(): void {
    if (this.sweepInterval > 0 || Date.now() - this.lastSweep < 1000) return;
    this.sweep().catch((err) => {
      if (err?.code !== 'ERR_STORAGE_CONNECTION') this.reportError(err);
    });
    this.connection.visitDue();
  }

  /** The earliest expiry recorded in this namespace, if any (for the due-namespace list). */
  async nextDue(): Promise<number | undefined> {
    const first = scored(await this.piped((c) => c.zrange(this.layout.expiry, '0', '0', 'WITHSCORES')).catch(rethrow));
    return first.length === 1 ? first[0][1] : undefined;
  }

  protected async _stats(): Promise<BackendStats> {
    await this.sweep();
    const items = await this.piped((c) => c.zcard(this.layout.order)).catch(rethrow);
    return { items, expirations: this.expirations };
  }

  // ---- streamed values ------------------------------------------------------------------

  /**
   * Stores a byte stream in chunks under a temporary key of the namespace's slot, then renames
   * it onto the entry in the same script that records the entry: until that commit nothing is
   * visible, and a failed stream only leaves the temporary key, which is deleted (or expires
   * on its own after `streamLeaseMs` if this process dies).
   */
  protected async _setStream(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
    const l = this.layout;
    const tmp = l.temp();
    const generation = tmp.slice(tmp.lastIndexOf(':') + 1);
    let chunks = 0;
    let leaseRenewed = 0;
    const write = async (chunk: Buffer) => {
      const field = String(chunks++);
      const renew = Date.now() - leaseRenewed > REDIS_DEFAULTS.streamLeaseMs / 4;
      if (renew) leaseRenewed = Date.now();
      await Promise.all([
        this.piped((c) => c.hset(tmp, field, chunk)),
        renew ? this.piped((c) => c.pexpire(tmp, REDIS_DEFAULTS.streamLeaseMs)) : undefined,
      ]).catch(rethrow);
    };
    try {
      // Pieces of at least a quarter chunk are written as they come (no copy); smaller ones are
      // gathered first, and larger ones are cut into chunkSize views.
      const gatherBelow = this.chunkSize / 4;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (pendingBytes === 0) return;
        const gathered = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        await write(gathered);
      };
      for await (const piece of source) {
        if (piece.length === 0) continue;
        if (piece.length < gatherBelow) {
          pending.push(piece);
          pendingBytes += piece.length;
          if (pendingBytes >= gatherBelow) await flush();
          continue;
        }
        await flush();
        for (let offset = 0; offset < piece.length; offset += this.chunkSize) await write(piece.subarray(offset, offset + this.chunkSize));
      }
      await flush();
      if (chunks === 0) await write(Buffer.alloc(0));
      const e = l.entry(id);
      const keys = [e, l.chunks(id), l.order, l.expiry, l.counter, l.registry, tmp, ...(typeof key === 'string' ? [] : l.indexesOf(key))];
      await SET_SCRIPT.run(this.pipedSend, keys, [id, this.clock.now(), expiresAt === null ? '0' : expiresAt, 'c', chunks, generation]).catch(rethrow);
      if (expiresAt !== null) this.connection.noteDue(this.namespace, expiresAt);
    } catch (err) {
      await this.piped((c) => c.unlink(tmp)).catch(() => undefined);
      throw err;
    }
    if (expiresAt !== null) this.sweepIfDue();
  }

  protected async _valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    const s = await this.piped((c) => c.get(this.layout.entry(id))).catch(rethrow);
    const k = s === null ? -1 : liveHead(s, this.clock.now());
    if (k < 0) return undefined;
    const text = s as string;
    if (!isStreamed(text, k)) return toAsync(chunksOf(valueBytes(this.serializer.deserialize(text.slice(k + 1)))));
    const { count, generation } = streamedOf(text, k);
    return this.chunks(this.layout.chunks(id), count, generation);
  }

  /** The chunks of a streamed value, one round trip each; fails if the value is replaced meanwhile. */
  private async *chunks(chunkKey: string, count: number, generation: string): AsyncGenerator<Buffer> {
    for (let i = 0; i < count; i++) {
      const [g, chunk] = await this.piped((c) => c.hmgetBuffer(chunkKey, 'g', String(i))).catch(rethrow);
      if (g === null || g.toString() !== generation || chunk === null) {
        throw new StreamReplacedError('the streamed value was replaced or deleted while it was being read');
      }
      yield chunk;
    }
  }

  /**
   * A streamed value read whole (a read of a streamed entry; `s` is its entry string, `k` from
   * liveHead), or undefined if it was replaced or deleted before its first chunk was read.
   */
  private async readWhole(id: string, s: string, k: number): Promise<Buffer | undefined> {
    const { count, generation } = streamedOf(s, k);
    const parts: Buffer[] = [];
    try {
      for await (const chunk of this.chunks(this.layout.chunks(id), count, generation)) parts.push(chunk);
    } catch (err) {
      if (parts.length === 0 && err instanceof StreamReplacedError) return undefined;
      throw err;
    }
    return Buffer.concat(parts);
  }
}
