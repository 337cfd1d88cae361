/**
 * The core of every store (SPEC §4–§6, §12): settings, lazy connection, program order (every
 * call runs through `run`, lib/order-gate.ts), failures as StoreErrors, callbacks or promises
 * (`settle`), events, TTL arithmetic, over the store's Backend (lib/backend.ts), completed with
 * the primitives the core derives from the required ones (lib/core/backend-defaults.ts).
 * lib/store.ts builds the public API on it; lib/backend-store.ts is the concrete store class.
 */
import { Callback, CallbackStyle, deliver } from '../callbacks';
import { Clock, systemClock } from '../clock';
import { InvalidArgumentError, StoreClosedError, StoreError } from '../errors';
import { OrderGate, OrderKind } from '../order-gate';
import type { Selector } from '../query';
import { AsyncCapableSerializer, defaultSerializer } from '../serializer';
import type { CommonSettings, StoreCallback, StoreFlags, UnknownFlags } from '../store-types';
import type { Backend, BackendContext, Capabilities, FindOptions, StoredEntry } from '../backend';
import { callbackError, failureValue } from './arguments';
import { CompleteBackend, completeBackend } from './backend-defaults';
import { checkCommonSettings } from './settings';
import { ObservedPromise, asStoreError, withinMs } from './promises';
import { StoreEvents } from './store-events';

type State = 'idle' | 'connecting' | 'open' | 'closed';

/** One settled promise shared by every synchronous write (a settled promise cannot change). */
export const RESOLVED: Promise<void> = Promise.resolve();

/** How long close() lets calls issued before it finish before it releases the backend anyway. */
const CLOSE_DRAIN_MS = 5000;

/** A delete's work on a store's backend, to repeat on the stores that follow its deletes. */
export interface DeleteWork {
  run(storage: CompleteBackend): Promise<unknown>;
  order: OrderKind;
  ids?: string | readonly string[];
}

/** See the file comment. F as on BaseStore (lib/store.ts): what the types know of the settings. */
export abstract class StoreCore<F extends StoreFlags = UnknownFlags> extends StoreEvents {
  /** The namespace this store instance reads and writes ('' is the root). */
  readonly namespace: string;
  /** The settings this store was created with. */
  protected readonly settings: CommonSettings;
  protected readonly clock: Clock;
  protected readonly serializer: AsyncCapableSerializer;
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
        wants: (event) => this.isListened(event),
      },
    });
    const storage = completeBackend(this.backend);
    this.useStorage(storage);
    this._findSync = storage.findSync;
    this._valuesSync = storage.valuesSync;
    // A backend that keeps issue order among its single-step exact calls (one ordered channel)
    // is not tracked per id: the hot path stays free (lib/order-gate.ts).
    this.orderGate = new OrderGate(this.backend.ordersExactCalls === true);
  }

  protected removalsWanted(expire: boolean, evict: boolean): void {
    this.backend.removalsWanted?.(expire, evict);
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

  /**
   * True when a scan `run` would start at once, synchronously: the store is open and the gate
   * admits a scan now. A scan served by a synchronous find (an in-process backend) may then run
   * right here with `ranNow`, without entering the gate: no other call can start while
   * synchronous code runs, so it sees exactly what `run` would have shown it.
   */
  protected scansNow(): boolean {
    return this.isOpen && this.orderGate.admitsNow('scan', undefined);
  }

  /**
   * `op` run now (see scansNow), settled as `run` settles a call: `after` applied to its result,
   * a throw counted and handed on as a StoreError. One promise, where `run` takes four.
   */
  protected ranNow<T, R>(op: () => T, after: (result: T) => R): Promise<R> {
    let result: T;
    try {
      result = op();
    } catch (err) {
      return Promise.reject(err).then(undefined, this.countFailure);
    }
    return Promise.resolve(after(result));
  }

  /**
   * The stores a delete on this one must reach too before it resolves (BaseStore: where
   * getOrSet keeps its grace copies), or undefined: the default, and the hot path.
   */
  protected deleteFollowers(): readonly StoreCore[] | undefined {
    return undefined;
  }

  /**
   * `p` (a delete already issued on this store), settled once `work` has also run on every
   * follower: issued now, so calls issued later find it done (SPEC §12); a follower's failure
   * fails the call, as the delete is then not complete.
   */
  protected followDelete<T>(p: Promise<T>, work: DeleteWork): Promise<T> {
    const followers = this.deleteFollowers();
    if (followers === undefined) return p;
    const also = followers.map((store) => store.run(() => work.run(store.storage), undefined, work.order, work.ids));
    return Promise.all([p, ...also]).then((done) => done[0] as T);
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

  /** Links a scope made from this store: one program order for both (SPEC §12); closing this store ends it. */
  protected adoptScope(child: StoreCore): void {
    child.orderGate = this.orderGate;
    child.parent = this;
    child.holders = 1;
    (this.scopesByNamespace ??= new Map()).set(child.namespace, child);
  }
}
