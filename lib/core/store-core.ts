/**
 * The core of every store (SPEC §4–§6, §12): settings, lazy connection, program order (every
 * call runs through `run`, lib/order-gate.ts), failures as StoreErrors, callbacks or promises
 * (`settle`), events, TTL arithmetic, and the primitives a backend supplies (`_get`, `_set`,
 * ...) with the defaults the core derives from the required ones. lib/store.ts builds the
 * public API on it; lib/backend-store.ts supplies the primitives from a Backend.
 */
import { EventEmitter } from 'node:events';
import { Callback, CallbackStyle, deliver } from '../callbacks';
import { Clock, systemClock } from '../clock';
import { InvalidArgumentError, StoreClosedError, StoreError } from '../errors';
import type { Key } from '../keys';
import { OrderGate, OrderKind } from '../order-gate';
import type { Selector } from '../query';
import { Serializer, defaultSerializer } from '../serializer';
import type { CommonSettings, StoreCallback, StoreFlags, UnknownFlags } from '../store-types';
import type { BackendStats, Capabilities, EntryWithExpiry, FindOptions, StoredEntry } from '../backend';
import { cloneValue } from '../values';
import { callbackError, failureValue } from './arguments';
import { checkCommonSettings } from './settings';
import { chunksOf, toAsync, valueBytes } from './bytes';
import { ObservedPromise, asError, asStoreError, withinMs } from './promises';

type State = 'idle' | 'connecting' | 'open' | 'closed';

/** One settled promise shared by every synchronous write (a settled promise cannot change). */
export const RESOLVED: Promise<void> = Promise.resolve();

/** How long close() lets calls issued before it finish before it releases the backend anyway. */
const CLOSE_DRAIN_MS = 5000;

/** See the file comment. F as on BaseStore (lib/store.ts): what the types know of the settings. */
export abstract class StoreCore<F extends StoreFlags = UnknownFlags> extends EventEmitter {
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
  private parent: StoreCore | undefined;
  /**
   * Calls that reached their turn before the store was open, started in issue order the
   * moment it opens (whenOpen). While any is left the store does not count as open, so a call
   * issued meanwhile cannot start ahead of them.
   */
  private startWhenOpen: Array<{ start: () => void; fail: (err: unknown) => void }> = [];
  /** Scopes made from this store that connected and are not closed yet: closed with it. */
  private connectedScopes: Set<StoreCore> | undefined;
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
  protected abstract _scope(namespace: string): StoreCore;

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
  protected closedInChain(): boolean {
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


  /** Counts a write that succeeded: the `after` of every set-like call. */
  protected readonly countSet = (): void => {
    this.counters.sets++;
  };

  /** Links a scope made from this store: one program order for both (SPEC §12); closing this store ends it. */
  protected adoptScope(child: StoreCore): void {
    child.orderGate = this.orderGate;
    child.parent = this;
  }
}
