/**
 * The core of every store (SPEC §4–§6, §12): settings, lazy connection, program order (every
 * call runs through `run`, lib/order-gate.ts), failures as StoreErrors, callbacks or promises
 * (`settle`), events, TTL arithmetic, over the store's Backend (lib/backend.ts), completed with
 * the primitives the core derives from the required ones (lib/core/backend-defaults.ts).
 * lib/store.ts builds the public API on it; lib/backend-store.ts is the concrete store class.
 */
import { EventEmitter } from 'node:events';
import { Callback, CallbackStyle, deliver } from '../callbacks';
import { Clock, systemClock } from '../clock';
import { InvalidArgumentError, StoreClosedError, StoreError } from '../errors';
import { Key, keyFromId } from '../keys';
import { OrderGate, OrderKind } from '../order-gate';
import type { Selector } from '../query';
import { Serializer, defaultSerializer } from '../serializer';
import type { CommonSettings, Query, StoreCallback, StoreFlags, UnknownFlags } from '../store-types';
import type { Backend, BackendContext, Capabilities, FindOptions, StoredEntry } from '../backend';
import { callbackError, failureValue } from './arguments';
import { CompleteBackend, completeBackend } from './backend-defaults';
import { checkCommonSettings } from './settings';
import { BackendNotes, KeyEvent, Observed, STORE_EVENTS, StoreEventName, isStoreEvent, observedBackend, selectorSubject } from './observe';
import { ObservedPromise, asStoreError, withinMs } from './promises';
import { LEADING_ARGS, TRACING, TraceContext, TraceSubject, TracedMethod } from './tracing';
import { Unwatch, WatchListener, Watchers, readWatchArgs } from './watch';

type State = 'idle' | 'connecting' | 'open' | 'closed';

/** One settled promise shared by every synchronous write (a settled promise cannot change). */
export const RESOLVED: Promise<void> = Promise.resolve();

/** How long close() lets calls issued before it finish before it releases the backend anyway. */
const CLOSE_DRAIN_MS = 5000;

/**
 * A key change another process published, as the multi store's 'invalidation' event carries it
 * (lib/multi/coherence.ts): a key ('k'), a query delete ('q') or everything ('c').
 */
interface RemoteChange {
  op: 'k' | 'q' | 'c';
  id?: string;
  /** The query of a 'q', when the event carries it. */
  q?: unknown;
  /** Whether a 'k' was a write or a delete, when the event carries it. */
  write?: 'set' | 'delete';
}

/** See the file comment. F as on BaseStore (lib/store.ts): what the types know of the settings. */
export abstract class StoreCore<F extends StoreFlags = UnknownFlags> extends EventEmitter {
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
  /**
   * The one scope per namespace made from this store and not closed (`scope()` hands it out
   * again): a scope made per request then costs a lookup, not a new store that connects and
   * stays held by this one until closed.
   */
  private scopesByNamespace: Map<string, StoreCore> | undefined;
  /**
   * For a scope: how many `scope()` calls handed it out and have not closed it. Its `close()`
   * ends it only when the last holder closes (or its parent closes), so one request closing
   * its scope cannot end another's that shares the namespace.
   */
  private holders = 0;
  protected readonly counters = { hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0 };

  /** The backend as it was built (a store class reaches its own backend's extras through it). */
  protected readonly backend: Backend;
  /**
   * The backend with every derivable primitive present (lib/core/backend-defaults.ts): what the
   * core calls. While someone listens to the per-operation events or watches, it is that
   * backend wrapped to report what it did (lib/core/observe.ts); otherwise the backend itself.
   */
  protected storage: CompleteBackend;
  /** `storage` unwrapped: what it is while nobody listens. */
  private readonly plainStorage: CompleteBackend;
  /** What `storage` reports now (lib/core/observe.ts): nothing, reads, writes or both. */
  private observing: Observed = { reads: false, writes: false };
  /** The backend's synchronous read, for in-process backends (the memory store's hot path); `storage`'s. */
  protected _getSync: ((id: string) => unknown) | undefined;
  /**
   * The backend's synchronous write, for in-process backends: the contract of `set`, except
   * that `key` is the caller's own (validated) object, which the backend copies if it keeps it.
   * `storage`'s, like `_getSync`.
   */
  protected _setSync: ((id: string, key: Key, value: unknown, expiresAt: number | null, tags?: readonly string[]) => void) | undefined;
  /**
   * True while someone listens to 'hit' or 'miss': the one flag a read fast path that bypasses
   * `storage` (the multi store's front tier) tests.
   */
  protected observedReads = false;
  /** Which per-operation events have listeners (kept by the 'newListener' / 'removeListener' hooks). */
  private readonly listening: Record<StoreEventName, boolean> = { hit: false, miss: false, set: false, delete: false, expire: false, evict: false };
  /** The open watches (lib/core/watch.ts), made on the first. */
  private watchers: Watchers | undefined;
  /**
   * True while a traced call runs its untraced body: `settle` hands back the bare promise (the
   * trace settles it), and calls made inside it (setex's set) are not traced again.
   */
  protected inTrace = false;
  /** The backend's synchronous `find`: saves an async step per entry on big results. */
  protected readonly _findSync: ((selector: Selector, options: FindOptions) => Iterable<StoredEntry>) | undefined;
  /** The values `get(query)` returns when the backend lists them without building entries; undefined to fall back to find. */
  protected readonly _valuesSync: ((selector: Selector, limit: number) => unknown[] | undefined) | undefined;

  /**
   * `openBackend` builds this store's backend from its context (the resolved common settings
   * and this store's events): a new one, or the scope of its parent's.
   */
  constructor(settings: CommonSettings, openBackend: (context: BackendContext) => Backend) {
    super();
    checkCommonSettings(settings);
    this.settings = settings;
    this.namespace = settings.namespace ?? '';
    this.clock = settings.clock ?? systemClock;
    this.serializer = settings.serializer ?? defaultSerializer;
    this.callbackStyle = settings.callbacks ?? 'node';
    this.backend = openBackend({
      namespace: this.namespace,
      clock: this.clock,
      serializer: this.serializer,
      events: {
        reportError: (err) => this.reportError(err),
        emit: (event, payload) => this.emitFromBackend(event, payload),
        wants: (event) => this.listening[event] === true,
      },
    });
    const storage = completeBackend(this.backend);
    this.storage = storage;
    this.plainStorage = storage;
    this._getSync = storage.getSync;
    this._setSync = storage.setSync;
    this._findSync = storage.findSync;
    this._valuesSync = storage.valuesSync;
    // A backend that keeps issue order among its single-step exact calls (one ordered channel)
    // is not tracked per id: the hot path stays free (lib/order-gate.ts).
    this.orderGate = new OrderGate(this.backend.ordersExactCalls === true);
    this.on('newListener', this.listenerAdded);
    this.on('removeListener', this.listenerRemoved);
  }

  /** What this store's backend can do. */
  get supports(): Capabilities {
    return this.backend.supports;
  }

  /** A store over the same backend, in another namespace (the store class's own kind). */
  protected abstract _scope(namespace: string): StoreCore;

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
      this.connecting = this.backend.connect().then(
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
      if (this.callbackStyle === 'result-first' && !this.inTrace) return this.reportIfUnobserved(promise);
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
      if (this.parent !== undefined && !this.parent.closedInChain() && --this.holders > 0) return;
      const wasConnecting = this.connecting;
      this.state = 'closed';
      if (wasConnecting) await wasConnecting.catch(() => undefined);
      // Calls issued before close() still run and are answered; a call stuck on a server that
      // went away is left to fail on its own once the backend is released.
      await withinMs(this.orderGate.whenIdle(), CLOSE_DRAIN_MS);
      this.endWatches();
      this.parent?.connectedScopes?.delete(this);
      if (this.parent?.scopesByNamespace?.get(this.namespace) === this) this.parent.scopesByNamespace.delete(this.namespace);
      const scopes = this.connectedScopes;
      this.connectedScopes = undefined;
      // Closing a store ends its scopes (SPEC §12) and releases what they hold, so the process can exit.
      if (scopes) await Promise.all([...scopes].map((scope) => scope.close()));
      await this.backend.close();
    })();
    return this.settle('close', p, cb);
  }


  /** Counts a write that succeeded: the `after` of every set-like call. */
  protected readonly countSet = (): void => {
    this.counters.sets++;
  };

  /** The scope of `namespace` (a full namespace) made from this store, while it is not closed. */
  protected openScope(namespace: string): StoreCore | undefined {
    const scope = this.scopesByNamespace?.get(namespace);
    if (scope === undefined || scope.state === 'closed') return undefined;
    scope.holders++;
    return scope;
  }

  // ---- events, watches and tracing (SPEC §15) ------------------------------------------

  /**
   * Calls `listener` with every set and delete whose key matches `query` (all when omitted; a
   * string is a glob, as in `keys()`): this store's own, and other processes' on a multi store
   * with an invalidation bus (lib/core/watch.ts). Returns the function that ends the watch
   * (idempotent); close() ends every watch. A listener that throws does not fail the write:
   * its error is reported as 'error'.
   */
  watch(listener: WatchListener): Unwatch;
  watch(query: Query | undefined, listener: WatchListener): Unwatch;
  watch(query: unknown, listener?: WatchListener): Unwatch {
    const watcher = readWatchArgs(query, listener);
    if (this.closedInChain()) throw new StoreClosedError('watch: the store is closed');
    const watchers = (this.watchers ??= new Watchers((err) => this.reportListenerError(err)));
    const unwatch = watchers.add(watcher, this.watchEnded);
    if (watchers.size === 1) {
      this.on('invalidation', this.remoteChanged);
      this.updateObserved();
    }
    return unwatch;
  }

  private readonly watchEnded = (): void => {
    if (this.watchers === undefined || this.watchers.size > 0) return;
    this.off('invalidation', this.remoteChanged);
    this.updateObserved();
  };

  /** Ends every watch (close()). */
  private endWatches(): void {
    if (this.watchers === undefined || this.watchers.size === 0) return;
    this.watchers.clear();
    this.watchEnded();
  }

  /** Another process's write, from the multi store's 'invalidation' event: told to the watchers. */
  private readonly remoteChanged = (change: RemoteChange): void => {
    const watchers = this.watchers;
    if (watchers === undefined || change === null || typeof change !== 'object') return;
    if (change.op === 'k' && typeof change.id === 'string') {
      let key: Key;
      try {
        key = keyFromId(change.id);
      } catch {
        return; // not an id this store makes: nothing a watcher could match
      }
      // Without the write kind in the message, a changed key is reported as written.
      watchers.keyChanged(change.write === 'delete' ? 'delete' : 'set', change.id, 'remote', key);
    } else if (change.op === 'q') {
      watchers.broadChange(change.q === undefined ? { op: 'delete', source: 'remote' } : { op: 'delete', query: change.q, source: 'remote' });
    } else if (change.op === 'c') {
      watchers.broadChange({ op: 'clear', source: 'remote' });
    }
  };

  /** Emits a per-operation event; a listener that throws is reported as 'error', never failing the call that fed it. */
  private emitSafely(event: StoreEventName, payload: unknown): void {
    try {
      this.emit(event, payload);
    } catch (err) {
      this.reportListenerError(err);
    }
  }

  private reportListenerError(err: unknown): void {
    this.reportError(err instanceof Error ? err : new Error(`a listener threw ${String(err)}`));
  }

  /** An event a backend emits: 'expire' and 'evict' carry `{ key }` (the backend's id stays inside). */
  private emitFromBackend(event: string, payload: unknown): void {
    if (event === 'expire' || event === 'evict') {
      const { id, key } = (payload ?? {}) as { id?: string; key?: Key };
      let known = key;
      try {
        if (known === undefined && typeof id === 'string') known = keyFromId(id);
      } catch {
        // an id this store does not make: the event names no key rather than failing the backend's sweep
      }
      this.emitSafely(event, { key: known });
      return;
    }
    this.emit(event, payload);
  }

  /** What the observed backend reports (lib/core/observe.ts), turned into events and watch calls. */
  private readonly notes: BackendNotes = {
    read: (id, value, tier, tierName) => {
      const event = value === undefined ? 'miss' : 'hit';
      if (!this.listening[event]) return;
      const payload: KeyEvent = { key: keyFromId(id) };
      if (tier !== undefined && value !== undefined) {
        payload.tier = tier;
        payload.tierName = tierName;
      }
      this.emitSafely(event, payload);
    },
    set: (id) => this.keyChanged('set', id),
    deleted: (id) => this.keyChanged('delete', id),
    deletedMatching: (selector, count) => {
      const query = selectorSubject(selector);
      if (this.listening.delete) this.emitSafely('delete', { query, count });
      this.watchers?.broadChange({ op: 'delete', query, source: 'local' });
    },
    deletedTagged: (tags, count) => {
      const copy = Object.freeze([...tags]);
      if (this.listening.delete) this.emitSafely('delete', { tags: copy, count });
      this.watchers?.broadChange({ op: 'delete', tags: copy, source: 'local' });
    },
    cleared: () => this.watchers?.broadChange({ op: 'clear', source: 'local' }),
  };

  private keyChanged(op: 'set' | 'delete', id: string): void {
    const event = this.listening[op];
    const watchers = this.watchers !== undefined && this.watchers.size > 0 ? this.watchers : undefined;
    if (!event && watchers === undefined) return;
    const key = keyFromId(id);
    if (event) this.emitSafely(op, { key } satisfies KeyEvent);
    watchers?.keyChanged(op, id, 'local', key);
  }

  /** Reports a hit or miss the store found without its `storage` (a multi store's front tier). */
  protected noteRead(id: string, value: unknown, tier?: number, tierName?: string): void {
    this.notes.read(id, value, tier, tierName);
  }

  /**
   * `storage` wrapped to report to `notes` what `observe` asks (lib/core/observe.ts). A store
   * whose backend knows more (the multi store: the tier of a hit) wraps its reads itself.
   */
  protected observeBackend(storage: CompleteBackend, notes: BackendNotes, observe: Observed): CompleteBackend {
    return observedBackend(storage, notes, observe);
  }

  private readonly listenerAdded = (event: string | symbol): void => {
    if (!isStoreEvent(event) || this.listening[event]) return;
    this.listening[event] = true; // 'newListener' comes before the listener is added
    this.updateObserved();
  };

  private readonly listenerRemoved = (event: string | symbol): void => {
    if (!isStoreEvent(event)) return;
    this.listening[event] = this.listenerCount(event) > 0;
    this.updateObserved();
  };

  /** removeAllListeners() removes the store's own listener hooks too: they are put back, and the flags read again. */
  removeAllListeners(event?: string | symbol): this {
    if (event === undefined) super.removeAllListeners();
    else super.removeAllListeners(event);
    if (!this.listeners('newListener').includes(this.listenerAdded)) this.on('newListener', this.listenerAdded);
    if (!this.listeners('removeListener').includes(this.listenerRemoved)) this.on('removeListener', this.listenerRemoved);
    if (this.watchers !== undefined && this.watchers.size > 0 && !this.listeners('invalidation').includes(this.remoteChanged)) this.on('invalidation', this.remoteChanged);
    for (const name of STORE_EVENTS) this.listening[name] = this.listenerCount(name) > 0;
    this.updateObserved();
    return this;
  }

  /**
   * Swaps in the backend wrapped for what is listened to — reads while anyone listens to hits
   * or misses, writes while anyone listens to sets or deletes or watches — and the bare one
   * when nobody does (listeners come and go rarely: a wrapper is made per change).
   */
  private updateObserved(): void {
    const { hit, miss, set } = this.listening;
    const reads = hit || miss;
    const writes = set || this.listening.delete || (this.watchers !== undefined && this.watchers.size > 0);
    if (reads === this.observing.reads && writes === this.observing.writes) return;
    this.observing = { reads, writes };
    this.observedReads = reads;
    const storage = reads || writes ? this.observeBackend(this.plainStorage, this.notes, this.observing) : this.plainStorage;
    this.storage = storage;
    this._getSync = storage.getSync;
    this._setSync = storage.setSync;
  }

  /**
   * Runs a public method traced on its diagnostics channels (lib/core/tracing.ts): `args` are
   * the call's own arguments; a callback among them is taken out, `body` (the untraced method)
   * runs with the rest inside the trace, and the callback gets the outcome as usual.
   */
  protected traced<T>(method: TracedMethod, subject: TraceSubject, args: ArrayLike<unknown>, body: (...args: never[]) => unknown): Promise<T> {
    const list = Array.prototype.slice.call(args) as unknown[];
    const leading = LEADING_ARGS[method];
    let end = list.length;
    while (end > leading && list[end - 1] === undefined) end--;
    let cb: Callback | undefined;
    if (end > leading && typeof list[end - 1] === 'function') {
      cb = list[end - 1] as Callback;
      end--;
    }
    list.length = end;
    const context: TraceContext = { method, store: this.constructor.name, namespace: this.namespace, ...subject };
    const traced = TRACING[method].tracePromise(() => {
      const outer = this.inTrace;
      this.inTrace = true;
      try {
        return (body as (...args: unknown[]) => Promise<T>).apply(this, list);
      } finally {
        this.inTrace = outer;
      }
    }, context);
    return this.settle(method, traced, cb);
  }

  /** Links a scope made from this store: one program order for both (SPEC §12); closing this store ends it. */
  protected adoptScope(child: StoreCore): void {
    child.orderGate = this.orderGate;
    child.parent = this;
    child.holders = 1;
    (this.scopesByNamespace ??= new Map()).set(child.namespace, child);
  }
}
