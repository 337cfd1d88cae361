/**
 * The store base (SPEC §4–§6). It owns argument handling, validation, callbacks, TTL
 * arithmetic, lazy connection, events and stats; a backend extends it and implements a small
 * set of promise-only primitives (`_get`, `_set`, `_delete`, `_find`, ...) that receive
 * exactly the validated arguments. A new backend is one file in `lib/stores/`.
 */
import { EventEmitter } from 'node:events';
import { types } from 'node:util';
import { Readable } from 'readable-stream';
import { Callback, CallbackStyle, deliver } from './callbacks';
import { Clock, systemClock } from './clock';
import {
  InvalidArgumentError,
  InvalidValueError,
  KeyNotFoundError,
  StoreClosedError,
  StoreConfigError,
  StoreError,
  StorageOperationError,
} from './errors';
import { Key, keyFromId, keyId, normalizeKey, isPlainObject, isWellFormed } from './keys';
import { MAX_TTL_MS } from './limits';
import { OrderGate, OrderKind } from './order-gate';
import { Selector, compileGlob, compileQuery } from './query';
import { Serializer, defaultSerializer } from './serializer';
import type {
  CommonSettings,
  Entry,
  GetOptions,
  GetResult,
  KeyInput,
  Query,
  SetOptions,
  StoreCallback,
  StoreFlags,
  StoreGetResult,
  StoreStats,
  UnknownFlags,
} from './store-types';
import { checkValue, cloneValue } from './values';

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
}

/** An entry as backends return it from `_find`. */
export interface StoredEntry {
  id: string;
  key: Key;
  /** The value, or undefined when `_find` was asked for keys only. */
  value: unknown;
  /** Epoch ms or null, when the backend read it anyway; `copy()` asks `_expiresAt` otherwise. */
  expiresAt?: number | null;
}

/** Options for `_find`. */
export interface FindOptions {
  /** Whether values are needed (false for `keys`, `count`, `del`). */
  values: boolean;
  /** Stop after this many entries. */
  limit?: number;
}

/** Counters a backend reports itself; the base adds its own. */
export interface BackendStats {
  items?: number;
  expirations?: number;
  evictions?: number;
}

// The public call and result types live in lib/store-types.ts; re-exported here for the files that import them from the store.
export type {
  CommonSettings,
  Entry,
  GetOptions,
  KeyedValue,
  KeyInput,
  Query,
  SetOptions,
  StoreStats,
  StoreFlags,
  UnknownFlags,
} from './store-types';

/** A value with its absolute expiry, for tier promotion. */
export interface EntryWithExpiry<V = unknown> {
  value: V;
  /** Epoch ms, or null for no expiry. */
  expiresAt: number | null;
}

type State = 'idle' | 'connecting' | 'open' | 'closed';

/** One settled promise shared by every synchronous write (a settled promise cannot change). */
const RESOLVED: Promise<void> = Promise.resolve();

/** What `getOneSync` returns when the store cannot answer synchronously. */
export const NOT_SYNC: unique symbol = Symbol('memstorage-next: not answered synchronously');

/**
 * The key of `getOneSync` by an id already validated, for stores layered over this one (the
 * multi store's front tier): a symbol the package entry does not export, so it is no part of
 * the public API, and the id computed once at the top flows down without validation again.
 */
export const readByIdSync: unique symbol = Symbol('memstorage-next: synchronous read by id');

const CHUNK_SIZE = 64 * 1024;
/** How long close() lets calls issued before it finish before it releases the backend anyway. */
const CLOSE_DRAIN_MS = 5000;

/** What result-first callbacks receive on failure, per method (memstorage's values). */
function failureValue(method: string, nullOnMiss: boolean): unknown {
  switch (method) {
    case 'get':
      return nullOnMiss ? null : [];
    case 'getOne':
    case 'ttl':
      return undefined;
    case 'keys':
      return [];
    case 'count':
    case 'del':
    case 'copy':
      return 0;
    default:
      return false;
  }
}

/** Checks the shared settings eagerly, naming the bad one. */
export function checkCommonSettings(settings: CommonSettings): void {
  if (!isPlainObject(settings as unknown)) throw new StoreConfigError('settings must be a plain object');
  const bool = (name: keyof CommonSettings) => {
    if (settings[name] !== undefined && typeof settings[name] !== 'boolean') {
      throw new StoreConfigError(`setting ${name} must be a boolean`);
    }
  };
  bool('nullOnMiss');
  bool('includeKey');
  if (settings.defaultTtl !== undefined && settings.defaultTtl !== null && !isTtl(settings.defaultTtl)) {
    throw new StoreConfigError(`setting defaultTtl must be a number of milliseconds from 0 to ${MAX_TTL_MS} (100 years)`);
  }
  if (settings.namespace !== undefined) checkNamespace(settings.namespace, (m) => new StoreConfigError(`setting namespace ${m}`));
  if (settings.serializer !== undefined) {
    const s = settings.serializer;
    if (!s || typeof s.serialize !== 'function' || typeof s.deserialize !== 'function') {
      throw new StoreConfigError('setting serializer must have serialize and deserialize functions');
    }
  }
  if (settings.callbacks !== undefined && settings.callbacks !== 'node' && settings.callbacks !== 'result-first') {
    throw new StoreConfigError("setting callbacks must be 'node' or 'result-first'");
  }
  if (settings.clock !== undefined && (!settings.clock || typeof settings.clock.now !== 'function')) {
    throw new StoreConfigError('setting clock must have a now() function');
  }
}

/** A TTL in ms every backend can store: 0 up to MAX_TTL_MS (lib/limits.ts). */
function isTtl(ttl: unknown): ttl is number {
  return typeof ttl === 'number' && ttl >= 0 && ttl <= MAX_TTL_MS;
}

function checkNamespace(ns: unknown, error: (message: string) => Error): asserts ns is string {
  if (typeof ns !== 'string') throw error('must be a string');
  if (ns.includes('\u0000')) throw error('must not contain the NUL character');
  if (ns.length > 256) throw error('must be at most 256 characters');
  // Redis and BSON would fold a lone surrogate into U+FFFD, so two namespaces would become one.
  if (!isWellFormed(ns)) throw error('must be well-formed Unicode (it holds a lone surrogate)');
}

/**
 * Splits `(fixed..., [options], [callback])`: the callback is the last argument when it is a
 * function; anything else past the fixed arguments and options is an error.
 */
function splitArgs(args: unknown[], fixed: number, method: string): { options: unknown; cb: Callback | undefined } {
  let cb: Callback | undefined;
  let end = args.length;
  while (end > fixed && args[end - 1] === undefined) end--; // trailing undefined: an omitted argument
  if (end > fixed && typeof args[end - 1] === 'function') {
    cb = args[end - 1] as Callback;
    end--;
  }
  if (end > fixed + 1) {
    throw new InvalidArgumentError(`${method}: argument ${end} is in the callback position but is a ${typeof args[end - 1]}, not a function`);
  }
  return { options: end > fixed ? args[fixed] : undefined, cb };
}

/**
 * The base every store extends. See the file comment. `V` is the value type and `F` what the
 * types know of the `includeKey`, `nullOnMiss` and `callbacks` settings (lib/store-types.ts):
 * the factories fill both in; a bare `BaseStore` is any store.
 */
export abstract class BaseStore<V = unknown, F extends StoreFlags = UnknownFlags> extends EventEmitter {
  /** What this backend can do. */
  abstract readonly supports: Capabilities;
  /** The namespace this store instance reads and writes ('' is the root). */
  readonly namespace: string;
  /** The settings this store was created with. */
  protected readonly settings: CommonSettings;
  protected readonly clock: Clock;
  protected readonly serializer: Serializer;
  /** The callback convention of this store. */
  readonly callbackStyle: CallbackStyle;

  private state: State = 'idle';
  private connecting: Promise<void> | undefined;
  /**
   * Keeps program order (SPEC §12) for this store and every scope made from it: see
   * lib/order-gate.ts. Replaced by the parent's gate when this store is a scope.
   */
  protected orderGate: OrderGate;
  /** The store this one is a scope of: once it is closed, so is this one. */
  private parent: BaseStore | undefined;
  /**
   * Calls that reached their turn before the store was open, started in issue order the
   * moment it opens (whenOpen). While any is left the store does not count as open, so a call
   * issued meanwhile cannot start ahead of them.
   */
  private startWhenOpen: Array<{ start: () => void; fail: (err: unknown) => void }> = [];
  /** Scopes made from this store that connected and are not closed yet: closed with it. */
  private connectedScopes: Set<BaseStore> | undefined;
  private readonly inflightCompute = new Map<string, Promise<unknown>>();
  protected readonly counters = { hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0 };

  constructor(settings: CommonSettings = {}) {
    super();
    checkCommonSettings(settings);
    this.settings = settings;
    this.namespace = settings.namespace ?? '';
    this.clock = settings.clock ?? systemClock;
    this.serializer = settings.serializer ?? defaultSerializer;
    this.callbackStyle = settings.callbacks ?? 'node';
    this.orderGate = new OrderGate(this.ordersExactCalls);
  }

  /**
   * True when the backend keeps issue order among its exact-key calls by itself: each is one
   * step sent down one ordered channel (see lib/order-gate.ts). Then the core does not track
   * them, which keeps the hot path free. A backend that coalesces or fans out exact calls over
   * several channels leaves this false, and the core orders conflicting calls per id.
   */
  protected get ordersExactCalls(): boolean {
    return false;
  }

  // ---- primitives a backend implements (promise-only, validated arguments) -------------

  /** Opens connections. Called once, lazily, before the first operation. */
  protected abstract _connect(): Promise<void>;
  /** Releases sockets and timers. */
  protected abstract _close(): Promise<void>;
  /** Upserts an entry; `expiresAt` is epoch ms or null. */
  protected abstract _set(id: string, key: Key, value: unknown, expiresAt: number | null): Promise<void>;
  /** The live value under `id`, or undefined (absent or expired). */
  protected abstract _get(id: string): Promise<unknown>;
  /** Removes `id`; resolves whether it existed (and was live). */
  protected abstract _delete(id: string): Promise<boolean>;
  /** The live entry's expiry: epoch ms, null for none, undefined when absent. */
  protected abstract _expiresAt(id: string): Promise<number | null | undefined>;
  /** Live entries matching an 'all', 'glob' or 'query' selector, in creation order. */
  protected abstract _find(selector: Selector, options: FindOptions): AsyncIterable<StoredEntry>;
  /** Removes everything in this namespace. */
  protected abstract _clear(): Promise<void>;
  /** A store over the same backend, in another namespace. */
  protected abstract _scope(namespace: string): BaseStore;

  /** Optional synchronous fast path for in-process backends: the same contract as `_get`. */
  protected _getSync?(id: string): unknown;
  /**
   * Optional synchronous fast path for in-process backends: the contract of `_set`, except that
   * `key` is the caller's own (validated) object — copy it (keyFromId) before keeping it.
   */
  protected _setSync?(id: string, key: Key, value: unknown, expiresAt: number | null): void;

  /** Optional synchronous `_find` for in-process backends: saves an async step per entry on big results. */
  protected _findSync?(selector: Selector, options: FindOptions): Iterable<StoredEntry>;

  /**
   * Optional: the values `get(query)` returns, in creation order, when the backend can list
   * them without building entries (an in-process index hit); undefined to fall back to `_find`.
   */
  protected _valuesSync?(selector: Selector, limit: number): unknown[] | undefined;

  /** The live value with its expiry; backends override to do it in one round trip. */
  protected async _getEntry(id: string): Promise<EntryWithExpiry | undefined> {
    const [value, expiresAt] = await Promise.all([this._get(id), this._expiresAt(id)]);
    return value === undefined || expiresAt === undefined ? undefined : { value, expiresAt };
  }
  /**
   * `_getEntry` for many ids at once, one result per id in order: the entry, undefined, or the
   * error that id alone failed with. Rejects only when the whole read failed. Backends that
   * can read a batch in one command override it.
   */
  protected _getEntries(ids: string[]): Promise<Array<EntryWithExpiry | undefined | Error>> {
    return Promise.all(ids.map((id) => this._getEntry(id).catch((err: unknown) => asError(err))));
  }

  /** Whether `id` is live; backends override when cheaper than a read. */
  protected async _has(id: string): Promise<boolean> {
    return (await this._get(id)) !== undefined;
  }
  /** Removes every match; backends override with a bulk delete. */
  protected async _deleteMatching(selector: Selector): Promise<number> {
    const ids: string[] = [];
    for await (const entry of this._find(selector, { values: false })) ids.push(entry.id);
    let removed = 0;
    for (const id of ids) if (await this._delete(id)) removed++;
    return removed;
  }
  /** Counts matches; backends override with a server-side count. */
  protected async _count(selector: Selector): Promise<number> {
    let n = 0;
    for await (const entry of this._find(selector, { values: false })) if (entry) n++;
    return n;
  }
  /** Stores a byte stream as one value; the default buffers it (backends with valueStreams chunk it). */
  protected async _setStream(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of source) chunks.push(chunk);
    await this._set(id, key, Buffer.concat(chunks), expiresAt);
  }
  /** The bytes of a value as chunks, or undefined when absent. */
  protected async _valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    const value = await this._get(id);
    if (value === undefined) return undefined;
    return toAsync(chunksOf(valueBytes(value)));
  }
  /** Counters only the backend knows. */
  protected async _stats(): Promise<BackendStats> {
    return {};
  }

  // ---- shared plumbing ----------------------------------------------------------------

  /** True once connected and not closed (nor any store this one is a scope of): lets fast paths skip the connect promise. */
  protected get isOpen(): boolean {
    return this.state === 'open' && this.startWhenOpen.length === 0 && (this.parent === undefined || !this.parent.closedInChain());
  }

  /** Runs `op` now when open, else as soon as the store opens, in issue order with every other such call. */
  private whenOpen<T>(op: () => Promise<T>): Promise<T> {
    if (this.isOpen) return op();
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        try {
          op().then(resolve, reject);
        } catch (err) {
          reject(err);
        }
      };
      this.startWhenOpen.push({ start, fail: reject });
      if (this.startWhenOpen.length === 1) this.ready().then(this.startQueued, this.failQueued);
    });
  }

  /** Starts the calls that waited for the store to open, one by one: a call one of them issues joins the end. */
  private readonly startQueued = (): void => {
    const queue = this.startWhenOpen;
    while (queue.length > 0) {
      queue[0].start();
      queue.shift();
    }
  };

  private readonly failQueued = (err: unknown): void => {
    const queue = this.startWhenOpen;
    this.startWhenOpen = [];
    for (const call of queue) call.fail(err);
  };

  /** True when this store or one it is a scope of was closed. */
  private closedInChain(): boolean {
    return this.state === 'closed' || (this.parent !== undefined && this.parent.closedInChain());
  }

  /** Connects once; later calls share the same promise. */
  protected ready(): Promise<void> {
    if (this.parent !== undefined && this.parent.closedInChain()) return Promise.reject(new StoreClosedError('the store this scope was made from is closed'));
    if (this.state === 'open') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(new StoreClosedError());
    if (!this.connecting) {
      this.state = 'connecting';
      this.connecting = this._connect().then(
        () => {
          if (this.state === 'connecting') this.state = 'open';
          // A scope that connected holds a share of the backend: its parent's close() releases it.
          if (this.parent !== undefined) (this.parent.connectedScopes ??= new Set()).add(this);
        },
        (err) => {
          this.state = 'idle';
          this.connecting = undefined;
          throw err;
        },
      );
    }
    return this.connecting;
  }

  /**
   * Runs `op` once connected and once program order allows (SPEC §12, lib/order-gate.ts), then
   * `after` on its result; counts failures. `order` says what the call does (`exclusive`, the
   * default, is always safe); `ids` are the exact ids it touches; `multiStep` marks an exact
   * call that takes several round trips (a value stream), which is then ordered per id even
   * on an ordered backend. An untracked call admitted at once costs no extra promise.
   */
  protected run<T, R = T>(
    op: () => Promise<T>,
    after?: (result: T) => R,
    order: OrderKind = 'exclusive',
    ids?: string | readonly string[],
    multiStep = false,
  ): Promise<R> {
    const gate = this.orderGate;
    if (!gate.tracks(order, multiStep) && gate.admitsNow(order, ids)) {
      return this.whenOpen(op).then(after as (result: T) => R, this.countFailure);
    }
    return this.runGated(op, order, ids, gate.tracks(order, multiStep)).then(after as (result: T) => R, this.countFailure);
  }

  /** `run` for a call that is tracked or must wait: it starts when the gate admits it and leaves the gate when it settles. */
  private runGated<T>(op: () => Promise<T>, order: OrderKind, ids: string | readonly string[] | undefined, tracked: boolean): Promise<T> {
    const gate = this.orderGate;
    // A call issued while the store was open runs even if close() came after it: close() waits for it.
    const issuedOpen = this.isOpen;
    return new Promise<T>((resolve, reject) => {
      gate.enter(order, ids, tracked, () => {
        let started: Promise<T>;
        try {
          started = issuedOpen ? op() : this.whenOpen(op);
        } catch (err) {
          started = Promise.reject(err);
        }
        if (!tracked) return void started.then(resolve, reject);
        started.then(
          (result) => {
            gate.leave(order, ids);
            resolve(result);
          },
          (err: unknown) => {
            gate.leave(order, ids);
            reject(err);
          },
        );
      });
    });
  }

  /** Resolves once every call issued before it (of a kind that conflicts with `order`) lets it start; holds nothing after. */
  protected admitted(order: OrderKind): Promise<void> {
    const opened = () => this.whenOpen(() => RESOLVED);
    if (this.orderGate.admitsNow(order, undefined)) return opened();
    return new Promise<void>((resolve) => this.orderGate.enter(order, undefined, false, resolve)).then(opened);
  }

  /** A rejected promise for a call refused before it started (bad argument): counted in stats().errors. */
  protected refuse<T>(err: unknown): Promise<T> {
    this.counters.errors++;
    // Only StoreErrors reach the caller (SPEC §12): anything else thrown while reading the
    // caller's arguments is a bad argument.
    return Promise.reject(err instanceof StoreError ? err : new InvalidArgumentError(`the call's arguments could not be read: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
  }

  /** Counts a failed call and hands it on as a StoreError: the rejection handler of every call. */
  protected readonly countFailure = (err: unknown): never => {
    this.counters.errors++;
    throw asStoreError(err);
  };

  /** Returns the promise, or hands it to the callback (and returns undefined). */
  protected settle<T>(method: string, promise: Promise<T>, cb: Callback | undefined): Promise<T> {
    if (typeof cb !== 'function') {
      // memstorage made every callback optional: a legacy fire-and-forget call that fails must
      // not crash the process with an unhandled rejection. Its failure is reported as 'error'
      // (or a warning); whoever awaits the promise still gets the rejection.
      if (this.callbackStyle === 'result-first') return this.reportIfUnobserved(promise);
      return promise;
    }
    deliver(promise, cb, this.callbackStyle, failureValue(method, this.settings.nullOnMiss === true), (err) =>
      this.reportError(err),
    );
    return undefined as unknown as Promise<T>;
  }

  /**
   * The promise of a callback-less call on a result-first store: when nobody ever attaches a
   * handler (legacy fire-and-forget), a failure is reported as 'error'/warning instead of
   * crashing the process; when the caller awaits it, the rejection is theirs alone.
   */
  private reportIfUnobserved<T>(promise: Promise<T>): Promise<T> {
    const observable = new ObservedPromise<T>((resolve, reject) => promise.then(resolve, reject));
    Promise.prototype.then.call(observable, undefined, () => undefined); // never an unhandled rejection itself
    promise.catch((err: Error) => {
      setImmediate(() => {
        if (!observable.observed) this.reportError(err);
      });
    });
    return observable;
  }

  /** Emits 'error', or warns through process.emitWarning when nobody listens (never crashes). */
  reportError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else process.emitWarning(err.message, { type: 'StoreWarning', code: (err as StoreError).code, detail: err.stack });
  }

  /** Absolute expiry for a write, from `ttl` or the store's `defaultTtl`. */
  protected expiryFor(ttl: number | null | undefined): number | null {
    const effective = ttl === undefined ? this.settings.defaultTtl : ttl;
    if (!effective) return null;
    // Whole milliseconds: every backend stores expiry as an integer (Redis PXAT requires one).
    // At least one ms ahead: a TTL too small to move `now` (1e-320) must not store an entry
    // that is already expired.
    const now = this.clock.now();
    return Math.max(Math.ceil(now + effective), Math.floor(now) + 1);
  }

  /** Copies a value when `clone` is on (the memory store); other backends copy by serializing. */
  protected copyValue<T>(value: T): T {
    return cloneValue(value);
  }

  // ---- the public API ------------------------------------------------------------------

  /** Connects now (optional: the first operation connects). Result-first callback gets `true`/`false`. */
  connect(cb?: StoreCallback<F, undefined, false, true>): Promise<void>;
  connect(cb?: Callback): Promise<void> {
    if (cb !== undefined && typeof cb !== 'function') return this.refuse(callbackError('connect', cb));
    const p = this.ready();
    if (cb && this.callbackStyle === 'result-first') {
      return this.settle('connect', p.then(() => true as unknown as void), cb);
    }
    return this.settle('connect', p, cb);
  }

  /** Releases sockets and timers so the process can exit. Idempotent. */
  close(cb?: StoreCallback<F, undefined, false>): Promise<void>;
  close(cb?: Callback): Promise<void> {
    if (cb !== undefined && typeof cb !== 'function') return this.refuse(callbackError('close', cb));
    const p = (async () => {
      if (this.state === 'closed') return;
      const wasConnecting = this.connecting;
      this.state = 'closed';
      if (wasConnecting) await wasConnecting.catch(() => undefined);
      // Calls issued before close() still run and are answered; a call stuck on a server that
      // went away is left to fail on its own once the backend is released.
      await withinMs(this.orderGate.whenIdle(), CLOSE_DRAIN_MS);
      this.parent?.connectedScopes?.delete(this);
      const scopes = this.connectedScopes;
      this.connectedScopes = undefined;
      // Closing a store ends its scopes (SPEC §12) and releases what they hold, so the process can exit.
      if (scopes) await Promise.all([...scopes].map((scope) => scope.close()));
      await this._close();
    })();
    return this.settle('close', p, cb);
  }

  /** Upserts `key` with `value`; `{ ttl }` in ms. */
  set(key: KeyInput, value: V, options?: SetOptions, cb?: StoreCallback<F, undefined, false>): Promise<void>;
  set(key: KeyInput, value: V, cb: StoreCallback<F, undefined, false>): Promise<void>;
  set(key: unknown, value: unknown, options?: unknown, callback?: unknown, ...extra: unknown[]): Promise<void> {
    let cb: Callback | undefined;
    let p: Promise<void>;
    try {
      let ttl: number | null | undefined;
      if (options !== undefined || callback !== undefined || extra.length > 0) {
        const split = splitArgs([options, callback, ...extra], 0, 'set');
        cb = split.cb;
        ttl = readTtlOption(split.options, 'set');
      } // else set(key, value): the hot path allocates no argument arrays
      if (this._setSync && this.isOpen) {
        // In-process fast path: only the id is computed; the backend copies the key if it keeps it.
        const id = keyId(key);
        checkValue(value);
        const expiresAt = this.expiryFor(ttl);
        if (this.orderGate.canWriteNow(id)) {
          this._setSync(id, key as Key, value, expiresAt);
          this.counters.sets++;
          p = RESOLVED;
        } else p = this.run(() => this._set(id, keyFromId(id), value, expiresAt), this.countSet, 'write', id);
      } else {
        const normalized = normalizeKey(key);
        checkValue(value);
        const expiresAt = this.expiryFor(ttl);
        p = this.run(() => this._set(normalized.id, normalized.key, value, expiresAt), this.countSet, 'write', normalized.id);
      }
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('set', p, cb);
  }

  private readonly countSet = (): void => {
    this.counters.sets++;
  };

  /** Upserts with a TTL in seconds (Redis SETEX). */
  setex(key: KeyInput, value: V, seconds: number, cb?: StoreCallback<F, undefined, false>): Promise<void>;
  setex(key: KeyInput, value: V, seconds: number, cb?: Callback): Promise<void> {
    if (typeof seconds !== 'number' || !(seconds > 0) || seconds * 1000 > MAX_TTL_MS) {
      const p = this.refuse<void>(new InvalidArgumentError(`setex: seconds must be a positive number up to ${MAX_TTL_MS / 1000} (100 years)`));
      return this.settle('setex', p, typeof cb === 'function' ? cb : undefined);
    }
    return (this as BaseStore<V>).set(key, value, { ttl: seconds * 1000 }, cb as Callback);
  }

  /** Every value whose key matches (memstorage semantics): `[]` on a miss, or `null` with `nullOnMiss`. */
  get<T = V>(query: Query, cb: StoreCallback<F, StoreGetResult<T, F>, never>): Promise<StoreGetResult<T, F>>;
  get<T = V>(query: Query, options?: GetOptions & { includeKey?: undefined }, cb?: StoreCallback<F, StoreGetResult<T, F>, never>): Promise<StoreGetResult<T, F>>;
  get<T = V>(query: Query, options: GetOptions & { includeKey: true }, cb?: StoreCallback<F, GetResult<T, true, F['nullOnMiss']>, never>): Promise<GetResult<T, true, F['nullOnMiss']>>;
  get<T = V>(query: Query, options: GetOptions & { includeKey: false }, cb?: StoreCallback<F, GetResult<T, false, F['nullOnMiss']>, never>): Promise<GetResult<T, false, F['nullOnMiss']>>;
  get<T = V>(query: Query, options: GetOptions, cb?: StoreCallback<F, GetResult<T, boolean, F['nullOnMiss']>, never>): Promise<GetResult<T, boolean, F['nullOnMiss']>>;
  get(...args: unknown[]): Promise<unknown> {
    let cb: Callback | undefined;
    let p: Promise<unknown>;
    try {
      const split = splitArgs(args.slice(1), 0, 'get');
      cb = split.cb;
      const options = readGetOptions(split.options);
      const selector = compileQuery(args[0]);
      const includeKey = options.includeKey ?? this.settings.includeKey ?? false;
      p = this.run(
        () => this.collect(selector, includeKey, options.limit),
        (results) => {
          if (results.length > 0) this.counters.hits++;
          else this.counters.misses++;
          return results.length === 0 && this.settings.nullOnMiss ? null : results;
        },
        selector.kind === 'exact' ? 'read' : 'scan',
        selector.kind === 'exact' ? selector.id : undefined,
      );
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('get', p, cb);
  }

  private async collect(selector: Selector, includeKey: boolean, limit?: number): Promise<unknown[]> {
    if (selector.kind === 'none' || limit === 0) return [];
    if (selector.kind === 'exact') {
      const value = await this._get(selector.id);
      if (value === undefined) return [];
      return [includeKey ? { key: selector.key, val: value } : value];
    }
    if (!includeKey && this._valuesSync) {
      const values = this._valuesSync(selector, limit ?? Infinity);
      if (values !== undefined) return values;
    }
    const out: unknown[] = [];
    if (this._findSync) {
      for (const entry of this._findSync(selector, { values: true, limit })) {
        out.push(includeKey ? { key: entry.key, val: entry.value } : entry.value);
      }
      return out;
    }
    for await (const entry of this._find(selector, { values: true, limit })) {
      out.push(includeKey ? { key: entry.key, val: entry.value } : entry.value);
      if (limit !== undefined && out.length >= limit) break;
    }
    return out;
  }

  /** The value under the exact key, or undefined: the fast path. */
  getOne<T = V>(key: KeyInput, cb?: StoreCallback<F, T | undefined, never>): Promise<T | undefined>;
  getOne(key: KeyInput, cb?: Callback): Promise<unknown> {
    let p: Promise<unknown>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError('getOne', cb);
      const id = keyId(key);
      const value = this.readSync(id);
      p = value !== NOT_SYNC ? Promise.resolve(value) : this.run(() => this._get(id), this.countRead, 'read', id);
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('getOne', p, cb);
  }

  /** An exact read answered in-process (counted), or NOT_SYNC when the backend must be awaited. */
  private readSync(id: string): unknown {
    if (!this._getSync || !this.isOpen || !this.orderGate.canReadNow(id)) return NOT_SYNC;
    return this.countRead(this._getSync(id));
  }

  private readonly countRead = (value: unknown): unknown => {
    if (value === undefined) this.counters.misses++;
    else this.counters.hits++;
    return value;
  };

  /**
   * `getOne` answered synchronously, for stores layered over this one (a multi store's front
   * tier): the value, or undefined on a miss; NOT_SYNC when this store cannot answer without
   * waiting (not an in-process store, or not open yet). Counts hits and misses like getOne;
   * throws InvalidKeyError for a bad key.
   */
  getOneSync(key: KeyInput): unknown {
    return this.readSync(keyId(key));
  }

  /** `getOneSync` by a canonical id (see readByIdSync). */
  [readByIdSync](id: string): unknown {
    return this.readSync(id);
  }

  /** The value with its absolute expiry (for tier promotion), or undefined. */
  getEntry<V = unknown>(key: KeyInput): Promise<EntryWithExpiry<V> | undefined> {
    try {
      const id = keyId(key);
      return this.run(() => this._getEntry(id), undefined, 'read', id) as Promise<EntryWithExpiry<V> | undefined>;
    } catch (err) {
      return this.refuse(err);
    }
  }

  /**
   * `getEntry` for many keys, for stores layered over this one (a multi store's batched
   * misses): one result per key, in order — the entry, undefined, or the error that key alone
   * failed with (a value that no longer parses). Rejects when the keys are invalid or the read
   * as a whole failed (the backend is unreachable).
   */
  getEntries(keys: KeyInput[]): Promise<Array<EntryWithExpiry | undefined | Error>> {
    try {
      const ids = keys.map(keyId);
      return this.run(() => this._getEntries(ids), undefined, 'read', ids);
    } catch (err) {
      return this.refuse(err);
    }
  }

  /** Whether the exact key holds a live entry. */
  has(key: KeyInput, cb?: StoreCallback<F, boolean, never>): Promise<boolean>;
  has(key: KeyInput, cb?: Callback): Promise<boolean> {
    return this.exactOp('has', key, cb, (id) => this._has(id), 'read');
  }

  /** Deletes every entry the query matches; resolves how many. */
  del(query: Query, cb?: StoreCallback<F, number, never>): Promise<number>;
  del(query: Query, cb?: Callback): Promise<number> {
    return this.selectorOp(
      'del',
      query,
      cb,
      async (selector) => {
        let removed = 0;
        if (selector.kind === 'exact') removed = (await this._delete(selector.id)) ? 1 : 0;
        else if (selector.kind !== 'none') removed = await this._deleteMatching(selector);
        this.counters.deletes += removed;
        return removed;
      },
      'write',
      'exclusive',
    );
  }

  /** How many live entries the query matches. */
  count(query: Query, cb?: StoreCallback<F, number, never>): Promise<number>;
  count(query: Query, cb?: Callback): Promise<number> {
    return this.selectorOp(
      'count',
      query,
      cb,
      async (selector) => {
        if (selector.kind === 'none') return 0;
        if (selector.kind === 'exact') return (await this._has(selector.id)) ? 1 : 0;
        return this._count(selector);
      },
      'read',
      'scan',
    );
  }

  /** Keys of live entries: all, a glob over string keys (`user:*`), or a query over object keys. */
  keys(cb: StoreCallback<F, Key[], never>): Promise<Key[]>;
  keys(pattern?: Query, cb?: StoreCallback<F, Key[], never>): Promise<Key[]>;
  keys(pattern?: Query | Callback, cb?: Callback): Promise<Key[]> {
    if (typeof pattern === 'function' && cb === undefined) return (this as BaseStore<V>).keys(undefined, pattern as Callback);
    let p: Promise<Key[]>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError('keys', cb);
      const selector: Selector =
        pattern === undefined ? { kind: 'all' } : typeof pattern === 'string' ? compileGlob(pattern) : compileQuery(pattern);
      p = this.run(async () => {
        const out: Key[] = [];
        if (selector.kind === 'none') return out;
        if (this._findSync) for (const entry of this._findSync(selector, { values: false })) out.push(entry.key);
        else for await (const entry of this._find(selector, { values: false })) out.push(entry.key);
        return out;
      }, undefined, 'scan');
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('keys', p, cb);
  }

  /** Remaining ms; null when the entry never expires; undefined when absent. */
  ttl(key: KeyInput, cb?: StoreCallback<F, number | null | undefined, never>): Promise<number | null | undefined>;
  ttl(key: KeyInput, cb?: Callback): Promise<number | null | undefined> {
    return this.exactOp(
      'ttl',
      key,
      cb,
      async (id) => {
        const expiresAt = await this._expiresAt(id);
        if (expiresAt === undefined || expiresAt === null) return expiresAt;
        return Math.max(0, expiresAt - this.clock.now());
      },
      'read',
    );
  }

  /** Removes everything in this store (or scope). */
  clear(cb?: StoreCallback<F, undefined, false>): Promise<void>;
  clear(cb?: Callback): Promise<void> {
    let p: Promise<void>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError('clear', cb);
      p = this.run(() => this._clear(), undefined, 'exclusive');
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('clear', p, cb);
  }

  /** Copies every live entry into `target`, keeping TTLs; resolves how many. */
  copy(target: BaseStore, cb?: StoreCallback<F, number, never>): Promise<number>;
  copy(target: BaseStore, cb?: Callback): Promise<number> {
    let p: Promise<number>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError('copy', cb);
      // isProxy first: instanceof would run a Proxy's getPrototypeOf trap.
      if (types.isProxy(target) || !(target instanceof BaseStore)) throw new InvalidArgumentError('copy: target must be a store');
      // Admitted like a scan, then not holding the gate: the copy writes through target.set,
      // and the target may be a scope sharing this store's gate.
      p = this.admitted('scan').then(async () => {
        let copied = 0;
        for await (const entry of this._find({ kind: 'all' }, { values: true })) {
          const expiresAt = entry.expiresAt !== undefined ? entry.expiresAt : await this._expiresAt(entry.id);
          if (expiresAt === undefined) continue; // expired or deleted since it was listed
          const ttl = expiresAt === null ? null : expiresAt - this.clock.now();
          if (ttl !== null && ttl <= 0) continue;
          await target.set(entry.key, entry.value, { ttl });
          copied++;
        }
        return copied;
      }).catch(this.countFailure);
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('copy', p, cb);
  }

  /** Live entries matching `query` (all when omitted), in creation order, in constant memory. */
  entries<T = V>(query?: Query): AsyncIterable<Entry<T>>;
  entries<V = unknown>(query?: Query): AsyncIterable<Entry<V>> {
    const selector: Selector = query === undefined ? { kind: 'all' } : compileQuery(query);
    return this.iterate<V>(selector);
  }

  /**
   * An iteration is admitted in program order (it sees every write issued before it) but
   * holds nothing while it runs: the caller may write to the store inside the loop. Writes
   * issued after it started may or may not be seen, as with a database cursor.
   */
  private async *iterate<V>(selector: Selector): AsyncGenerator<Entry<V>> {
    await this.admitted(selector.kind === 'exact' ? 'read' : 'scan');
    if (selector.kind === 'none') return;
    if (selector.kind === 'exact') {
      const value = await this._get(selector.id);
      if (value !== undefined) yield { key: selector.key, value: value as V };
      return;
    }
    try {
      for await (const entry of this._find(selector, { values: true })) yield { key: entry.key, value: entry.value as V };
    } catch (err) {
      throw asStoreError(err);
    }
  }

  /** `entries(query)` as an object-mode Readable with backpressure; destroying it releases the cursor. */
  createReadStream(query?: Query): Readable {
    let iterable: AsyncIterable<Entry>;
    try {
      iterable = this.entries(query);
    } catch (err) {
      const failed = new Readable({ objectMode: true, read() {} });
      process.nextTick(() => failed.destroy(err as Error));
      return failed;
    }
    // No read-ahead: an entry is checked for expiry when the reader takes it, not earlier (SPEC §12).
    return Readable.from(iterable, { objectMode: true, highWaterMark: 0 });
  }

  /** Stores a byte stream as the value of `key`; nothing is visible unless the whole stream arrives. */
  setStream(key: KeyInput, source: AsyncIterable<unknown>, options?: SetOptions, cb?: StoreCallback<F, undefined, false>): Promise<void>;
  setStream(key: KeyInput, source: AsyncIterable<unknown>, cb: StoreCallback<F, undefined, false>): Promise<void>;
  setStream(...args: unknown[]): Promise<void> {
    let cb: Callback | undefined;
    let p: Promise<void>;
    try {
      const split = splitArgs(args.slice(2), 0, 'setStream');
      cb = split.cb;
      const ttl = readTtlOption(split.options, 'setStream');
      const { id, key } = normalizeKey(args[0]);
      const source = args[1] as AsyncIterable<unknown>;
      if (!source || types.isProxy(source) || typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
        throw new InvalidValueError('setStream: source must be a readable stream or async iterable of bytes');
      }
      const expiresAt = this.expiryFor(ttl);
      p = this.run(() => this._setStream(id, key, asBuffers(source), expiresAt), this.countSet, 'write', id, true);
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('setStream', p, cb);
  }

  /** The value of `key` as a byte stream; errors with KeyNotFoundError when absent. */
  createValueStream(key: KeyInput): Readable {
    return Readable.from(this.valueChunks(key), { objectMode: false });
  }

  private async *valueChunks(key: KeyInput): AsyncGenerator<Buffer> {
    const id = keyId(key);
    const chunks = await this.run(() => this._valueStream(id), undefined, 'read', id);
    if (chunks === undefined) throw new KeyNotFoundError(`no value under key ${typeof key === 'string' ? key : JSON.stringify(key)}`);
    yield* chunks;
  }

  /** A store over the same backend in an isolated namespace; `clear()` there clears only it. */
  scope(namespace: string): BaseStore<V, F>;
  scope(namespace: string): BaseStore {
    checkNamespace(namespace, (m) => new InvalidArgumentError(`scope: namespace ${m}`));
    if (namespace.length === 0) throw new InvalidArgumentError('scope: namespace must not be empty');
    if (this.closedInChain()) throw new StoreClosedError('scope: the store is closed');
    const child = this._scope(this.namespace ? `${this.namespace}/${namespace}` : namespace);
    // One program order for a store and its scopes (SPEC §12); closing this store ends them.
    child.orderGate = this.orderGate;
    child.parent = this;
    return child;
  }

  /** Counters: hits, misses, sets, deletes, expirations, evictions, errors, items. */
  stats(cb?: StoreCallback<F, StoreStats, false>): Promise<StoreStats>;
  stats(cb?: Callback): Promise<StoreStats> {
    if (cb !== undefined && typeof cb !== 'function') return this.refuse(callbackError('stats', cb));
    const p = this.run(async () => {
      const backend = await this._stats();
      return {
        ...this.counters,
        expirations: backend.expirations ?? 0,
        evictions: backend.evictions ?? 0,
        items: backend.items ?? 0,
      };
    }, undefined, 'read');
    return this.settle('stats', p, cb);
  }

  /** The value under `key`, computing and storing it once when missing, even under concurrent callers. */
  getOrSet<T extends V = V>(key: KeyInput, compute: () => T | Promise<T>, options?: SetOptions): Promise<T> {
    let id: string;
    try {
      id = keyId(key);
      if (typeof compute !== 'function') throw new InvalidArgumentError('getOrSet: compute must be a function');
      readTtlOption(options, 'getOrSet'); // refused before compute runs
    } catch (err) {
      return this.refuse(err);
    }
    const pending = this.inflightCompute.get(id);
    if (pending) return pending as Promise<T>;
    const p = (async () => {
      const existing = await this.getOne<T>(key);
      if (existing !== undefined) return existing;
      // What compute throws or rejects with is the caller's own error and passes through as
      // is; what it returns is a value like any other, checked by set() — a Proxy is refused
      // before anything reads it (awaiting it would run its traps).
      const result = compute();
      if (types.isProxy(result)) throw new InvalidValueError('getOrSet: compute returned a Proxy; only plain data can be stored');
      const value = await result;
      await this.set(key, value, options);
      return value;
    })();
    this.inflightCompute.set(id, p);
    const forget = () => {
      this.inflightCompute.delete(id);
    };
    p.then(forget, forget);
    return p;
  }

  private exactOp<T>(method: string, key: KeyInput, cb: Callback | undefined, op: (id: string) => Promise<T>, order: 'read' | 'write'): Promise<T> {
    let p: Promise<T>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError(method, cb);
      const id = keyId(key);
      p = this.run(() => op(id), undefined, order, id);
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle(method, p, cb);
  }

  /** A call on a query: ordered as `exact` when the query is one exact key, else as `many`. */
  private selectorOp<T>(
    method: string,
    query: Query,
    cb: Callback | undefined,
    op: (s: Selector) => Promise<T>,
    exact: 'read' | 'write',
    many: 'scan' | 'exclusive',
  ): Promise<T> {
    let p: Promise<T>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError(method, cb);
      const selector = compileQuery(query);
      const isExact = selector.kind === 'exact';
      p = this.run(() => op(selector), undefined, isExact ? exact : many, isExact ? selector.id : undefined);
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle(method, p, cb);
  }
}

/** A promise that records whether anyone attached a handler (then/catch/finally/await). */
class ObservedPromise<T> extends Promise<T> {
  observed = false;
  static get [Symbol.species](): PromiseConstructor {
    return Promise;
  }
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.observed = true;
    return super.then(onFulfilled, onRejected);
  }
}

function callbackError(method: string, cb: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${method}: the callback must be a function, got ${typeof cb}`);
}

/**
 * An option's own data value, read once without running anything: a getter on an options
 * object is refused (it could answer differently each time it is read), and nothing inherited
 * is read (a polluted Object.prototype cannot inject an option).
 */
function optionField(options: Record<string, unknown>, name: string, method: string): unknown {
  const field = Object.getOwnPropertyDescriptor(options, name);
  if (field === undefined) return undefined;
  if (!('value' in field)) throw new InvalidArgumentError(`${method}: option ${name} must be a plain data field, not a getter`);
  return field.value;
}

function readTtlOption(options: unknown, method: string): number | null | undefined {
  if (options === undefined || options === null) return undefined;
  if (!isPlainObject(options)) throw new InvalidArgumentError(`${method}: options must be an object like { ttl }`);
  const ttl = optionField(options, 'ttl', method);
  if (ttl === undefined || ttl === null) return ttl as undefined | null;
  if (!isTtl(ttl)) throw new InvalidArgumentError(`${method}: ttl must be a number of milliseconds from 0 to ${MAX_TTL_MS} (100 years)`);
  return ttl;
}

function readGetOptions(options: unknown): GetOptions {
  if (options === undefined || options === null) return {};
  if (!isPlainObject(options)) throw new InvalidArgumentError('get: options must be an object like { limit, includeKey }');
  const limit = optionField(options, 'limit', 'get') as GetOptions['limit'];
  const includeKey = optionField(options, 'includeKey', 'get') as GetOptions['includeKey'];
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0)) {
    throw new InvalidArgumentError('get: limit must be a non-negative integer');
  }
  if (includeKey !== undefined && typeof includeKey !== 'boolean') throw new InvalidArgumentError('get: includeKey must be a boolean');
  return { limit, includeKey };
}

/** The bytes of a stored value: Buffer/Uint8Array as is, strings as UTF-8. */
export function valueBytes(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  throw new StorageOperationError('the value is not bytes or a string, so it cannot be streamed');
}

/** Splits a buffer into stream-sized chunks. */
export function* chunksOf(buffer: Buffer, size = CHUNK_SIZE): Generator<Buffer> {
  for (let offset = 0; offset < buffer.length; offset += size) yield buffer.subarray(offset, offset + size);
}

/** Normalizes stream chunks (Buffer, Uint8Array, string) to Buffers. */
async function* asBuffers(source: AsyncIterable<unknown>): AsyncGenerator<Buffer> {
  let iterator: AsyncIterator<unknown>;
  try {
    iterator = source[Symbol.asyncIterator]();
  } catch (err) {
    throw sourceFailed(err);
  }
  for (;;) {
    let step: IteratorResult<unknown>;
    try {
      step = await iterator.next();
    } catch (err) {
      throw sourceFailed(err);
    }
    if (step.done) return;
    const chunk = step.value;
    if (Buffer.isBuffer(chunk)) yield chunk;
    else if (chunk instanceof Uint8Array) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else if (typeof chunk === 'string') yield Buffer.from(chunk, 'utf8');
    else {
      await iterator.return?.();
      throw new InvalidValueError('setStream: the source must yield bytes or strings');
    }
  }
}

/** The caller's byte source failed: the same typed error on every backend, the source's error as cause. */
function sourceFailed(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  return new InvalidValueError(`setStream: the source failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** A StoreError as is; anything else a backend let through is an operation failure (SPEC §12: only StoreErrors reach the caller). */
function asStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  return new StorageOperationError(`the operation failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** Resolves when `promise` settles or after `ms`, whichever comes first (the timer never holds the process). */
function withinMs(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A sync iterable as an async one. */
export async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

/** A thrown value as an Error (stores only throw Errors; this guards against anything else). */
function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
