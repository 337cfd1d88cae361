/**
 * The backend contract (SPEC §13): what a backend author implements. A backend works on
 * canonical ids and validated keys; it never sees callbacks, user arguments, TTLs in
 * milliseconds-from-now or scopes' program order — the public store (lib/store.ts, through
 * lib/backend-store.ts) does all of that once, for every backend.
 *
 * Required: connect, close, set, get, delete, expiresAt, find, clear, scope. Everything else
 * is optional: the core falls back to the required primitives when a backend leaves it out.
 */
import type { Clock } from './clock';
import type { Key } from './keys';
import type { Selector } from './query';
import type { SortSpec } from './query-sort';
import type { AsyncCapableSerializer } from './serializer';

/** What a backend can do; the core, the multi store and the tests branch on this, never on a type name. */
export interface Capabilities {
  /** Queries run inside the backend (server-side filters or indexes) rather than by a scan here. */
  nativeQueries: boolean;
  /** Large values are stored and read in chunks, never whole in memory. */
  valueStreams: boolean;
  /** Entries can expire. */
  ttl: boolean;
  /** Several processes see the same data. */
  shared: boolean;
  /** Entries may disappear before their TTL (LRU bounds); such a store cannot answer queries for a tier stack. */
  evicts: boolean;
  /** Entries survive a restart of this process. */
  persistent: boolean;
  /**
   * `find` honours `sort` and `skip` (and `limit` after them), from an ordered index or the
   * server; without it the core sorts what `find` yields and skips by discarding (SPEC §14).
   */
  nativeSort?: boolean;
  /**
   * `find` honours `page` (keyset paging, SPEC §14): it yields the matches in page order,
   * strictly after the given position, up to `limit`; without it the core reads every match
   * per page and orders them itself. Implies `nativeSort`.
   */
  nativePage?: boolean;
  /**
   * `set` (and `setSync`) keep the entry's `tags`, `deleteByTags` removes by them, and `touch`
   * keeps them (SPEC §15). Without it the store refuses `tags` with ERR_INVALID_ARGUMENT.
   */
  tags?: boolean;
}

/** An entry as backends return it from `find`. */
export interface StoredEntry {
  id: string;
  key: Key;
  /** The value, or undefined when `_find` was asked for keys only. */
  value: unknown;
  /** Epoch ms or null, when the backend read it anyway; `copy()` asks `_expiresAt` otherwise. */
  expiresAt?: number | null;
}

/**
 * An entry's metadata (SPEC §16), read without its value (`getMeta`). Times are epoch ms from
 * the store's clock (`BackendContext.clock`), so tests can drive them.
 */
export interface EntryMeta {
  /**
   * Bytes the value takes where it is stored: the stored bytes (serialized, compressed when
   * compression is on; a streamed value's chunks added up, compressed ones where the backend
   * compresses chunks) on a byte-storing backend; on an
   * in-process backend, the length in bytes of its default serialized form (lib/serializer.ts).
   */
  size: number;
  /** When the entry was created: the first set since the key held no live entry. Null when the backend does not record it. */
  createdAt: number | null;
  /** When its value was last written (a set or a streamed set; `touch` does not count). Null when the backend does not record it. */
  updatedAt: number | null;
  /** Its expiry, or null for none. */
  expiresAt: number | null;
  /** Its tags (SPEC §15), in the order they were given; empty when it has none. */
  tags: string[];
}

/** Options for `find`. */
export interface FindOptions {
  /** Whether values are needed (false for `keys`, `count`, `del`). */
  values: boolean;
  /**
   * False when the caller reads only each entry's `value` and `expiresAt` (`get` without
   * `includeKey`, where `find` orders and windows the entries itself): a backend may then skip
   * reading ids and keys, its entries' `id` and `key` meaningless. Absent or true: they are
   * needed. A backend may ignore it and return keys anyway; a layer that passes `find` on to
   * another (multi, mount) may drop it.
   */
  keys?: boolean;
  /** Stop after this many entries (after `skip`). */
  limit?: number;
  /** Only for backends with `supports.nativeSort`: MongoDB's order over these key paths, ties in creation order (lib/query-sort.ts). */
  sort?: SortSpec;
  /** Only for backends with `supports.nativeSort`: leave out this many entries first (in sort order). */
  skip?: number;
  /**
   * Only for backends with `supports.nativePage`, and only from `page()`: order by `sort` (always
   * given, maybe empty) and then by id in code point order — never by creation — and yield only
   * entries whose position comes strictly after `page.after` (lib/core/page-cursor.ts
   * comparePositions). `skip` is then never given; `limit` is the page size plus one.
   */
  page?: { after?: PagePosition };
}

/**
 * A position in page order: an entry's sort keys (one per sort field, as lib/query-sort.ts
 * `sortKeysOf` gives them: `EMPTY_ARRAY_KEY` stands for an empty array) and its id.
 */
export interface PagePosition {
  keys: readonly unknown[];
  id: string;
}

/** Counters a backend reports itself; the base adds its own. */
export interface BackendStats {
  items?: number;
  expirations?: number;
  evictions?: number;
}

/** A value with its absolute expiry, for tier promotion. */
export interface EntryWithExpiry<V = unknown> {
  value: V;
  /** Epoch ms, or null for no expiry. */
  expiresAt: number | null;
}

/** What the core hands a backend when it builds one: resolved common settings. */
export interface BackendContext {
  /** The namespace ('' is the root): the backend keeps namespaces apart. */
  namespace: string;
  /** The time source for expiry checks: never read `Date.now()` directly. */
  clock: Clock;
  /**
   * How values become bytes, for backends that store bytes; it may be asynchronous (SPEC §16):
   * lib/compression.ts createValueCodec handles both kinds, and compression.
   */
  serializer: AsyncCapableSerializer;
  /**
   * The store's events, for what happens outside any call: a failed background sweep, a tier
   * going down. Errors given here reach the store's 'error' listeners (or a warning).
   */
  events: BackendEvents;
}

/** Where a backend reports what no caller is waiting for: the store that owns it (or the scope). */
export interface BackendEvents {
  /** Reports a background failure as the store's 'error' event (a warning when nobody listens). */
  reportError(err: Error): void;
  /** Emits one of the store's own events (the multi store's 'tierDown', 'invalidation', ...). */
  emit(event: string, payload: unknown): void;
  /**
   * Whether anyone listens to `event` (SPEC §15: 'expire' and 'evict' cost nothing when nobody
   * does). A backend that notices an entry expiring or being evicted emits
   * `emit('expire' | 'evict', { id, key })` only when this is true. Optional for callers that
   * build a context by hand: absent means nobody listens.
   */
  wants?(event: 'expire' | 'evict'): boolean;
}

/** A backend: promise-only primitives on canonical ids, plus optional capabilities. */
export interface Backend {
  /** What this backend can do; the core, the multi store and the tests branch on this. */
  readonly supports: Capabilities;
  /**
   * True when the backend keeps issue order among its exact-key calls by itself (each one step
   * down one ordered channel): the core then does not track them (lib/order-gate.ts).
   */
  readonly ordersExactCalls?: boolean;

  /** Opens connections or files. Called once, lazily, before the first operation. */
  connect(): Promise<void>;
  /** Releases sockets, files and timers; a shared resource is released by its last user. */
  close(): Promise<void>;
  /**
   * Upserts an entry; `expiresAt` is epoch ms or null. `tags` (only given to a backend with
   * `supports.tags`, checked and deduplicated by lib/tags.ts, never empty) replace the entry's
   * tags; a set without them leaves the entry with no tags — an upsert replaces the whole entry.
   */
  set(id: string, key: Key, value: unknown, expiresAt: number | null, tags?: readonly string[]): Promise<void>;
  /** The live value under `id`, or undefined (absent or expired). */
  get(id: string): Promise<unknown>;
  /** Removes `id`; resolves whether it existed and was live. */
  delete(id: string): Promise<boolean>;
  /** The live entry's expiry: epoch ms, null for none, undefined when absent. */
  expiresAt(id: string): Promise<number | null | undefined>;
  /** Live entries matching an 'all', 'glob' or 'query' selector, in creation order. */
  find(selector: Selector, options: FindOptions): AsyncIterable<StoredEntry>;
  /** Removes everything in this namespace. */
  clear(): Promise<void>;
  /**
   * The same storage in another namespace (sharing connections or files); `context` is the
   * scope store's own (its namespace, and its events for the scope's background work).
   */
  scope(namespace: string, context: BackendContext): Backend;

  /** The live value with its expiry, in one step. */
  getEntry?(id: string): Promise<EntryWithExpiry | undefined>;
  /** `getEntry` for many ids: one result per id (entry, undefined, or that id's own error). */
  getEntries?(ids: string[]): Promise<Array<EntryWithExpiry | undefined | Error>>;
  /**
   * The live entry's metadata without its value, or undefined when absent (SPEC §16). Backends
   * that batch a tick's exact reads should batch these too (the command's export asks for a
   * window of entries at once). Derived from `getEntry` when left out: size from the default
   * serialized form, no times, no tags — every built-in backend implements it.
   */
  getMeta?(id: string): Promise<EntryMeta | undefined>;
  /** Whether `id` is live, when cheaper than a read. */
  has?(id: string): Promise<boolean>;
  /** Removes every match in one step; resolves how many. */
  deleteMatching?(selector: Selector): Promise<number>;
  /** Counts matches without reading them. */
  count?(selector: Selector): Promise<number>;
  /** Stores a byte stream as one value without holding it whole (capability `valueStreams`). */
  setStream?(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void>;
  /** A value's bytes as chunks, or undefined when absent. */
  valueStream?(id: string): Promise<AsyncIterable<Buffer> | undefined>;
  /** Counters only the backend knows (items, expirations, evictions). */
  stats?(): Promise<BackendStats>;
  /**
   * Sets a live entry's expiry (epoch ms, or null for none), keeping its value, key and tags;
   * resolves whether the entry was live (nothing is written otherwise). Derived from
   * `getEntry` + `set` when left out, which is not atomic across processes and drops tags:
   * a backend with `supports.tags`, `supports.shared` or `ordersExactCalls` must implement it.
   */
  touch?(id: string, expiresAt: number | null): Promise<boolean>;
  /**
   * Removes every live entry carrying at least one of `tags` (1 or more, checked and
   * deduplicated); resolves how many. Required with `supports.tags`. The tag records
   * themselves must go when their entries go (delete, overwrite, expiry): no index that grows
   * with every tag ever used.
   */
  deleteByTags?(tags: readonly string[]): Promise<number>;
  /**
   * Called when the store starts or stops wanting 'expire' / 'evict' reports (someone listens).
   * A backend that reports them through `BackendEvents.wants` needs nothing here; a layered
   * backend (the multi store) passes it on to its tiers, whose reports it forwards.
   */
  removalsWanted?(expire: boolean, evict: boolean): void;
  /**
   * A connected Redis client on which `getOrSet(..., { lock: 'cluster' })` takes its locks
   * (SPEC §15), or undefined when this backend reaches no Redis. The Redis backend gives its
   * own client; the multi store a Redis tier's or its invalidation bus's.
   */
  lockRedis?(): Promise<LockRedis | undefined>;
  /** Synchronous `get`, for in-process backends (a multi store's front tier answers through it). */
  getSync?(id: string): unknown;
  /**
   * Synchronous `set`, for in-process backends: the contract of `set`, except that `key` is the
   * caller's own (validated) object — copy it (keyFromId) before keeping it.
   */
  setSync?(id: string, key: Key, value: unknown, expiresAt: number | null, tags?: readonly string[]): void;
  /** Synchronous `find`, for in-process backends: saves an async step per entry on big results. */
  findSync?(selector: Selector, options: FindOptions): Iterable<StoredEntry>;
  /**
   * `find` a batch at a time, for a backend that reads a batch per round trip: the same
   * entries in the same order, none in two batches, each live when its batch was yielded.
   * Collecting a result (`get`) then takes one async step per batch, not one per entry, and
   * makes none of an async generator's per-step promises and results: on a range of 5,000
   * entries over Redis that garbage was more than a third of the read's (bench/queries-redis).
   */
  findBatches?(selector: Selector, options: FindOptions): AsyncIterable<StoredEntry[]>;
  /**
   * The values `get(query)` returns, in creation order, when the backend can list them without
   * building entries (an in-process index hit); undefined to fall back to `find`.
   */
  valuesSync?(selector: Selector, limit: number): unknown[] | undefined;
}

/** The few commands a cluster lock needs; an ioredis `Redis` or `Cluster` client has them. */
export interface LockRedis {
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<'OK' | null>;
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  get(key: string): Promise<string | null>;
}

/** How a store type builds its backend from the user's settings. */
export type BackendFactory<S> = (settings: S, context: BackendContext) => Backend;
