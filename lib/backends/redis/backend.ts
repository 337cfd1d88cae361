/**
 * The Redis store (SPEC §8 redis) on ioredis, standalone or Redis Cluster.
 *
 * Each entry is a string; per namespace, an order set keeps creation order, an expiry set lists
 * TTL'd ids, and one sorted set per (key path, value) indexes object keys — all in one hash
 * slot, written together by Lua scripts (redis-layout.ts, redis-scripts.ts, docs/redis.md).
 * Equality and `$in` queries read an index; other queries narrow through an index when one
 * applies and finish with sift; a query with nothing indexable walks the order set in batches.
 * Entries expire natively (PEXPIREAT) and are also checked against the store's clock when
 * read; a sweep (on an unref'd timer, stopped by `close()`) frees the order, expiry and index
 * records of expired entries without reading them.
 */
import './driver'; // first: a missing ioredis is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { Cluster, Redis, RedisOptions, ClusterOptions, ReplyError } from 'ioredis';
import { InvalidArgumentError, InvalidValueError, StoreConfigError, StorageOperationError } from '../../errors';
import { Key, KeyObject, isObjectKeyId, isPlainObject } from '../../keys';
import { IndexConstraint, QuerySelector, Selector } from '../../query';
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
} from '../../store';
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
} from './connection';
import { EXPIRED, MALFORMED, MAX_EXPIRY_MS, RedisLayout, graceable, headExpiry, isStreamed, liveHead, streamedOf, valueEntry } from './layout';
import { DueNamespaces } from './due-namespaces';
import { DROP_SCRIPT, FETCH_SCRIPT, SET_MANY_SCRIPT, SET_SCRIPT, SendCommand, UNION_SCRIPT, WALK_SCRIPT } from './scripts';

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

/**
 * How long the chunks of a streamed value stay readable after the value was replaced or
 * deleted, in command timeouts (at least STREAM_GRACE_MIN_MS): a read that holds the old entry
 * string is at most a round trip or two behind, each bounded by the command timeout, and a
 * read that keeps reading renews the grace (see nextChunk).
 */
const STREAM_GRACE_TIMEOUTS = 4;

/** The shortest grace, in ms, whatever the command timeout: an event-loop stall is not a failure. */
const STREAM_GRACE_MIN_MS = 1000;

/** A key as error messages name it: a string key as JSON, an object key as its canonical JSON. */
function keyName(id: string): string {
  return isObjectKeyId(id) ? id.slice(1) : JSON.stringify(id);
}

/** Stored data under `id` that the store did not write, or that lost a part (SPEC §12: ERR_STORAGE_OPERATION naming the key). */
function corrupt(id: string, what: string, cause?: unknown): StorageOperationError {
  return new StorageOperationError(`corrupt entry under key ${keyName(id)} in Redis: ${what}`, { cause });
}

/** Whether an expiry can be sent: a whole number of epoch ms that the scripts accept (see MAX_EXPIRY_MS). */
function validExpiry(expiresAt: number): boolean {
  return expiresAt > 0 && expiresAt <= MAX_EXPIRY_MS && Number.isInteger(expiresAt);
}

/** A write's expiry that Redis cannot store, rejected before anything is sent. */
function expiryError(expiresAt: number): InvalidArgumentError {
  return new InvalidArgumentError(`the expiry ${expiresAt} is not a whole number of epoch ms from 1 to ${MAX_EXPIRY_MS}`);
}

/** Whether a command failed because its key holds another type (something else wrote it). */
function isWrongType(err: unknown): boolean {
  return err instanceof ReplyError && String((err as Error).message).startsWith('WRONGTYPE');
}

/**
 * The object key of an id read from one of the store's sets, or undefined when it is not one
 * the store writes (garbage written by something else): such a member matches no query.
 */
function objectKeyOf(id: string): KeyObject | undefined {
  if (!isObjectKeyId(id)) return undefined;
  try {
    const key: unknown = JSON.parse(id.slice(1));
    return isPlainObject(key) ? (key as KeyObject) : undefined;
  } catch {
    return undefined;
  }
}

/** The key of an id read from one of the store's sets; ERR_STORAGE_OPERATION when it is not a key. */
function keyOfId(id: string): Key {
  if (!isObjectKeyId(id)) return id;
  const key = objectKeyOf(id);
  if (key === undefined) throw corrupt(id, 'its id is not a key the store writes');
  return key;
}

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

/**
 * An entry found by a walk; its key is parsed from the id only if someone asks (then an id
 * that is not a key is ERR_STORAGE_OPERATION).
 */
class FoundEntry implements StoredEntry {
  private parsedKey: Key | undefined;
  constructor(
    readonly id: string,
    readonly value: unknown,
    readonly expiresAt: number | null,
  ) {}
  get key(): Key {
    return (this.parsedKey ??= keyOfId(this.id));
  }
}

/**
 * A candidate entry before its value is read. `key` is undefined for a member of a set that is
 * not a key the store writes: a read reports it if an entry is stored under it, and skips it
 * otherwise; a delete by query passes over it.
 */
interface Candidate {
  id: string;
  key: Key | undefined;
}

/**
 * Where a read of one streamed value takes its chunks from: the entry's chunk hash while the
 * value is the entry's, then, once a later write or delete has retired it, the grace key named
 * by its generation (docs/redis.md, "Streams").
 */
interface ChunkCursor {
  readonly id: string;
  readonly generation: string;
  /** The hash read now: the chunk key, or the grace key once `onGrace`. */
  key: string;
  onGrace: boolean;
  /** When this read last renewed the grace key's expiry (Date.now()), 0 before. */
  renewedAt: number;
  /** The generation the chunk key held when this read left it (null: no such hash). */
  leftBehind: string | null;
}

/** A streamed value opened for reading: its first chunk read, and where to read the others. */
interface OpenedStream {
  first: Buffer;
  count: number;
  cursor: ChunkCursor;
  expiresAt: number | null;
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
  /**
   * How long, in ms, a replaced or deleted streamed value's chunks stay under their grace key,
   * so that a read issued before the write can finish (STREAM_GRACE_TIMEOUTS command timeouts,
   * at least STREAM_GRACE_MIN_MS).
   */
  readonly streamGraceMs: number;
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
    this.streamGraceMs = Math.max(STREAM_GRACE_MIN_MS, STREAM_GRACE_TIMEOUTS * (settings.commandTimeout ?? REDIS_DEFAULTS.commandTimeout));
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
   * Exact calls are single commands (MGET batches, the write script, GETRANGE with HEXISTS in
   * the same tick, the drop script) on one connection, written in issue order (see
   * RedisConnection), so issue order holds by itself, with one exception that the store covers
   * itself: a read of a streamed value takes several round trips (the entry string, then its
   * chunks), and a write or delete of the key issued after the read runs in between. Such a
   * write never frees the old chunks at once; it moves them to a grace key that expires after
   * `streamGraceMs`, and the read follows its generation there (openStreamed, nextChunk), so
   * it returns the value its entry string named, never a later one. Only a read that stalls
   * longer than the grace between two of its own round trips fails, with
   * ERR_STORAGE_OPERATION. setStream is tracked by the core (multi-step). (On a cluster,
   * ioredis may resend a command after TRYAGAIN later than others: docs/redis.md.)
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
            (streamed ??= []).push(entry.then((found) => void (out[i] = found), (err: Error) => void (out[i] = err)));
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

  /**
   * A live entry's expiry (null: none), read from the head of its string only; undefined if
   * absent or expired, or a key of another type, or a streamed value whose chunks are gone (as
   * reads see them). A string without an entry head is ERR_STORAGE_OPERATION naming the key.
   * The chunk hash is asked about in the same tick as the head, so both answers come from one
   * moment of this connection's command order, before any command of a later call.
   */
  private expiryOf(id: string): Promise<number | null | undefined> {
    const head = this.piped((c) => c.getrange(this.layout.entry(id), 0, 40));
    const chunks = this.piped((c) => c.hexists(this.layout.chunks(id), 'g'));
    chunks.catch(() => undefined); // answered below only for a streamed head
    return head.then(
      (h) => {
        const k = liveHead(h, this.clock.now());
        if (k < 0) {
          if (k === MALFORMED) throw corrupt(id, 'it has no <expiry>v or <expiry>c head');
          return undefined;
        }
        const expiresAt = headExpiry(h, k);
        if (!isStreamed(h, k)) return expiresAt;
        if (streamedOf(h, k) === null) throw corrupt(id, 'its chunk count or generation does not parse');
        return chunks.then(
          (n) => (n === 1 ? expiresAt : undefined),
          (err) => {
            throw isWrongType(err) ? corrupt(id, 'its chunks are not a hash', err) : toStoreError(err);
          },
        );
      },
      (err) => {
        if (isWrongType(err)) return undefined; // another type at the entry's name: no entry
        throw toStoreError(err);
      },
    );
  }

  /** A string key's value, or null when it is absent or holds another type (something else wrote it). */
  private getString(key: string): Promise<string | null> {
    return this.piped((c) => c.get(key)).catch((err) => {
      if (isWrongType(err)) return null;
      throw toStoreError(err);
    });
  }

  protected _set(id: string, key: Key, value: unknown, expiresAt: number | null): Promise<void> {
    if (expiresAt !== null && !validExpiry(expiresAt)) return Promise.reject(expiryError(expiresAt));
    let text: string;
    try {
      text = valueEntry(expiresAt, this.serialize(value));
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<unknown>((resolve, reject) => {
      const item: SetItem = { id, key, text, expiresAt, resolve, reject };
      this.connection.enqueue(this, 'set', item, this.exactBatch);
    }).then(() => {
      if (expiresAt !== null) this.sweepIfDue();
    });
  }

  /** The serializer's text for a value; a serializer that throws or returns no string is the caller's InvalidValueError. */
  private serialize(value: unknown): string {
    let text: unknown;
    try {
      text = this.serializer.serialize(value);
    } catch (err) {
      throw new InvalidValueError('the serializer failed on the value', { cause: err });
    }
    if (typeof text !== 'string') throw new InvalidValueError(`the serializer returned ${typeof text}, not a string`);
    return text;
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
      if (entry instanceof Promise) entry.then((found) => (entries || found === undefined ? found : found.value)).then(item.resolve, item.reject);
      else item.resolve(entries || entry === undefined ? entry : entry.value);
    } catch (err) {
      item.reject(err);
    }
  }

  /**
   * The entry an entry string holds (null, or not live by `now`: undefined), its value
   * deserialized (or not read, without `values`). A streamed value gives a promise of the entry
   * with its bytes read whole (see readWhole). A string the store did not write, or a value
   * that does not parse, is ERR_STORAGE_OPERATION naming the key (thrown).
   */
  private entryOf(id: string, s: string | null, now: number, values = true): EntryWithExpiry | undefined | Promise<EntryWithExpiry | undefined> {
    const k = s === null ? -1 : liveHead(s, now);
    if (k < 0) {
      if (k === MALFORMED) throw corrupt(id, 'it has no <expiry>v or <expiry>c head');
      return undefined;
    }
    const text = s as string;
    const expiresAt = headExpiry(text, k);
    if (!values) return { value: undefined, expiresAt };
    if (!isStreamed(text, k)) return { value: this.parse(id, text, k), expiresAt };
    return this.readWhole(id, text, k);
  }

  /** The value of a plain entry string (`k` from liveHead); one that does not parse is ERR_STORAGE_OPERATION naming the key. */
  private parse(id: string, text: string, k: number): unknown {
    try {
      return this.serializer.deserialize(text.slice(k + 1));
    } catch (err) {
      throw corrupt(id, 'its value does not parse', err);
    }
  }

  private sendSets(items: SetItem[]): void {
    const l = this.layout;
    const done = () => {
      for (const item of items) item.resolve(undefined);
    };
    // SET_MANY answers which writes it could not make (each left nothing behind); the others were made.
    const settle = (reply: unknown) => {
      const failures = reply as Array<number | string>;
      if (failures.length === 0) return done();
      const reasons = new Map<number, string>();
      for (let i = 0; i < failures.length; i += 2) reasons.set(Number(failures[i]), String(failures[i + 1]));
      items.forEach((item, i) => {
        const reason = reasons.get(i);
        if (reason === undefined) item.resolve(undefined);
        else item.reject(new StorageOperationError(`Redis could not write key ${keyName(item.id)}: ${reason}`));
      });
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
      const args = [id, this.clock.now(), expiresAt === null ? '0' : expiresAt, 'v', text, '', l.gracePrefix, this.streamGraceMs];
      SET_SCRIPT.run(this.connection.batchCommand, keys, args).then(done, failed);
      if (expiresAt !== null) this.connection.noteDue(this.namespace, expiresAt);
      return;
    }
    const keys = [l.order, l.expiry, l.counter, l.registry];
    const args: Array<string | number> = [this.clock.now(), l.gracePrefix, this.streamGraceMs];
    let firstExpiry = Infinity;
    for (const { id, key, text, expiresAt } of items) {
      const indexes = typeof key === 'string' ? [] : l.indexesOf(key);
      keys.push(l.entry(id), l.chunks(id), ...indexes);
      args.push(id, expiresAt === null ? '0' : expiresAt, indexes.length, text);
      if (expiresAt !== null && expiresAt < firstExpiry) firstExpiry = expiresAt;
    }
    SET_MANY_SCRIPT.run(this.connection.batchCommand, keys, args).then(settle, failed);
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
          // Expiry is checked as each entry is yielded (SPEC §12): the iteration may have outlived it.
          if (typeof entry.expiresAt === 'number' && entry.expiresAt <= this.clock.now()) continue;
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
      const l = this.layout;
      const reply = (await WALK_SCRIPT.run(this.pipedSend, [set], [cursor, count, this.clock.now(), values ? '1' : '0', l.entryPrefix, l.chunkPrefix]).catch(
        rethrow,
      )) as Array<string | number>;
      for (let i = 2; i < reply.length; i += 2) {
        const id = reply[i] as string;
        const found = await this.entryFrom(id, reply[i + 1], values);
        // Expiry is checked as each entry is yielded (SPEC §12): a streamed value's read takes a while.
        if (found === undefined || (found.expiresAt !== null && found.expiresAt <= this.clock.now())) continue;
        yield new FoundEntry(id, found.value, found.expiresAt);
        if (--remaining <= 0) return;
      }
      if (Number(reply[0]) < count) return;
      cursor = '(' + (reply[1] as string);
    }
  }

  protected async _deleteMatching(selector: Selector): Promise<number> {
    let removed = 0;
    for await (const candidates of this.candidates(selector)) {
      // A member that is not a key matches no query; deleting everything takes it too.
      const batch = selector.kind === 'all' ? candidates : candidates.filter((c) => c.key !== undefined);
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
    // Records of another type (written by something else) cannot be walked: they are just removed.
    const orNone = (err: unknown): string[] => {
      if (isWrongType(err)) return [];
      throw toStoreError(err);
    };
    for (;;) {
      // Each DROP takes its ids out of the order set whatever they point at, so this ends.
      const ids = (await this.piped((c) => c.zrange(l.order, 0, String(this.batchSize - 1))).catch(orNone)) as string[];
      if (ids.length === 0) break;
      await this.drop(ids, false);
    }
    const leftovers = await this.piped((c) => c.smembers(l.registry)).catch(orNone);
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
            out.push({ id, key: objectKey ? objectKeyOf(id) : id });
            break;
          case 'glob':
            if (!objectKey && selector.regex.test(id)) out.push({ id, key: id });
            break;
          case 'query':
            if (objectKey) {
              const key = objectKeyOf(id);
              if (key === undefined || selector.test(key)) out.push({ id, key });
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
        const key = objectKeyOf(id);
        if (key === undefined || exact || selector.test(key)) out.push({ id, key });
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
    const l = this.layout;
    const reply = (await FETCH_SCRIPT.run(
      this.pipedSend,
      batch.map((c) => l.entry(c.id)),
      [this.clock.now(), values ? '1' : '0', l.entryPrefix.length, l.chunkPrefix],
    ).catch(rethrow)) as Array<string | number>;
    const out: StoredEntry[] = [];
    for (let i = 0; i < batch.length; i++) {
      const { id, key } = batch[i];
      const found = await this.entryFrom(id, reply[i], values);
      if (found === undefined) continue;
      if (key === undefined) throw corrupt(id, 'its id is not a key the store writes');
      out.push({ id, key, value: found.value, expiresAt: found.expiresAt });
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
    const args: Array<string | number> = [this.clock.now(), onlyExpired ? '1' : '0', l.gracePrefix, this.streamGraceMs];
    ids.forEach((id, i) => {
      // An id that is not an object key (garbage in a set) has no index records to compute.
      const key = known ? known[i].key : objectKeyOf(id);
      const indexes = key === undefined || typeof key === 'string' ? [] : this.indexesOf(id, key);
      keys.push(l.entry(id), l.chunks(id), ...indexes);
      args.push(id, indexes.length);
    });
    return DROP_SCRIPT.run(this.pipedSend, keys, args).then((n) => Number(n), rethrow);
  }

  /** The index keys of an object key read back from the store (none if it cannot be indexed). */
  private indexesOf(id: string, key: KeyObject): string[] {
    try {
      return this.layout.indexesOf(key);
    } catch {
      return []; // garbage that parses but is no key the store writes: nothing was indexed
    }
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
    if (expiresAt !== null && !validExpiry(expiresAt)) throw expiryError(expiresAt);
    const l = this.layout;
    // The creation position is taken when the call starts, as for a set (SPEC §12): a set of
    // another key issued after this one commits first but must come after it in creation order.
    const position = this.piped((c) => c.incr(l.counter));
    position.catch(() => undefined); // answered at the commit
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
      const reserved = await position.catch(rethrow);
      const args = [id, this.clock.now(), expiresAt === null ? '0' : expiresAt, 'c', chunks, generation, l.gracePrefix, this.streamGraceMs, reserved];
      await SET_SCRIPT.run(this.pipedSend, keys, args).catch(rethrow);
      if (expiresAt !== null) this.connection.noteDue(this.namespace, expiresAt);
    } catch (err) {
      await this.piped((c) => c.unlink(tmp)).catch(() => undefined);
      throw err;
    }
    if (expiresAt !== null) this.sweepIfDue();
  }

  protected async _valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    const s = await this.getString(this.layout.entry(id));
    const k = s === null ? -1 : liveHead(s, this.clock.now());
    if (k < 0) {
      if (k === MALFORMED) throw corrupt(id, 'it has no <expiry>v or <expiry>c head');
      return undefined;
    }
    const text = s as string;
    if (!isStreamed(text, k)) return toAsync(chunksOf(valueBytes(this.parse(id, text, k))));
    const opened = await this.openStreamed(id, text, k);
    return opened === undefined ? undefined : this.restOf(opened);
  }

  /** Every chunk of an opened streamed value: the first, already read, then the others. */
  private async *restOf(opened: OpenedStream): AsyncGenerator<Buffer> {
    yield opened.first;
    yield* this.chunks(opened.cursor, opened.count, 1);
  }

  /**
   * The chunks of a streamed value from `from` on, one round trip each, from wherever its
   * generation is (see nextChunk). A value whose chunks are gone meanwhile (replaced or
   * deleted longer than the grace ago, or evicted) fails, so it is never spliced with another;
   * a chunk missing from its own generation is corrupt data. Both are ERR_STORAGE_OPERATION.
   */
  private async *chunks(cursor: ChunkCursor, count: number, from: number): AsyncGenerator<Buffer> {
    for (let i = from; i < count; i++) {
      const chunk = await this.nextChunk(cursor, i);
      if (chunk === undefined) {
        throw new StorageOperationError(
          `the streamed value under key ${keyName(cursor.id)} was replaced or deleted while it was being read, and its chunks are no longer kept`,
        );
      }
      if (chunk === null) throw corrupt(cursor.id, `chunk ${i} of its ${count} is missing`);
      yield chunk;
    }
  }

  /**
   * Chunk `i` of the cursor's generation: read from the entry's chunk hash until that holds
   * another generation or none, then from the grace key a later write or delete moved the
   * chunks to (RETIRE in redis-scripts.ts), renewing its expiry while this read goes on. The
   * bytes; null when the generation's hash is there but lacks the chunk (corrupt); undefined
   * when the generation is in neither place.
   */
  private async nextChunk(cursor: ChunkCursor, i: number): Promise<Buffer | null | undefined> {
    if (!cursor.onGrace) {
      const [g, chunk] = await this.readChunk(cursor.id, cursor.key, i);
      const generation = g === null ? null : g.toString();
      if (generation === cursor.generation) return chunk;
      cursor.leftBehind = generation;
      if (!graceable(cursor.generation)) return undefined;
      cursor.onGrace = true;
      cursor.key = this.layout.graceChunks(cursor.generation);
    }
    // Renewed with the first read there and then every quarter grace, in the same tick as a
    // chunk read: a read that goes on keeps the chunks as long as it pauses less than 3/4 grace.
    const renew = Date.now() - cursor.renewedAt >= this.streamGraceMs / 4;
    if (renew) cursor.renewedAt = Date.now();
    const key = cursor.key;
    const [[g, chunk]] = await Promise.all([
      this.readChunk(cursor.id, key, i),
      renew ? this.piped((c) => c.pexpire(key, this.streamGraceMs)).catch(rethrow) : undefined,
    ]);
    return g !== null && g.toString() === cursor.generation ? chunk : undefined;
  }

  /** One chunk of a streamed value with the generation of its hash (null where absent). */
  private readChunk(id: string, chunkKey: string, i: number): Promise<Array<Buffer | null>> {
    return this.piped((c) => c.hmgetBuffer(chunkKey, 'g', String(i))).catch((err) => {
      throw isWrongType(err) ? corrupt(id, 'its chunks are not a hash', err) : toStoreError(err);
    });
  }

  /**
   * Reads the first chunk of a streamed entry (`s` its entry string, `k` from liveHead), of the
   * generation that string names, wherever it is (nextChunk): a write or delete issued after
   * this read cannot make it return the newer value or none (SPEC §12 program order). When the
   * generation is nowhere, the entry string is read again, once: if it did not change, its
   * chunk hash is gone as a whole (what eviction under a `volatile-*` policy, or an operator's
   * DEL, does) and the entry reads as absent (undefined), as has() and queries see it too, or
   * the hash holds another generation, which is corrupt data (ERR_STORAGE_OPERATION). If the
   * entry is gone or expired meanwhile, it reads as absent; if it holds another value, the old
   * one's chunks were not kept long enough, which is ERR_STORAGE_OPERATION: never the new value.
   */
  private async openStreamed(id: string, s: string, k: number): Promise<OpenedStream | undefined> {
    const head = streamedOf(s, k);
    if (head === null) throw corrupt(id, 'its chunk count or generation does not parse');
    const cursor: ChunkCursor = { id, generation: head.generation, key: this.layout.chunks(id), onGrace: false, renewedAt: 0, leftBehind: null };
    const first = await this.nextChunk(cursor, 0);
    if (first === null) throw corrupt(id, 'its first chunk is missing');
    if (first !== undefined) return { first, count: head.count, cursor, expiresAt: headExpiry(s, k) };
    const again = await this.getString(this.layout.entry(id));
    if (again === s) {
      if (cursor.leftBehind === null) return undefined;
      throw corrupt(id, 'its chunks belong to another value');
    }
    if (again === null || liveHead(again, this.clock.now()) === EXPIRED) return undefined;
    throw new StorageOperationError(`the streamed value under key ${keyName(id)} was replaced while it was being read, and its chunks are no longer kept`);
  }

  /** A streamed entry read whole (`s` its entry string, `k` from liveHead), or undefined if it reads as absent (see openStreamed). */
  private async readWhole(id: string, s: string, k: number): Promise<EntryWithExpiry | undefined> {
    const opened = await this.openStreamed(id, s, k);
    if (opened === undefined) return undefined;
    const parts: Buffer[] = [];
    for await (const chunk of this.restOf(opened)) parts.push(chunk);
    return { value: Buffer.concat(parts), expiresAt: opened.expiresAt };
  }
}
