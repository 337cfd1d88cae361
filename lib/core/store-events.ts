/**
 * What every store tells beyond a call's result (SPEC §15): the per-operation events ('hit',
 * 'miss', 'set', 'delete', 'expire', 'evict'), emitted only while someone listens; watches of
 * local and remote changes (lib/core/watch.ts); diagnostics_channel tracing of the public calls
 * (lib/core/tracing.ts); and the 'error' event. The store's backend is used bare while nobody
 * listens or watches, and wrapped to report what it did otherwise (lib/core/observe.ts), so
 * the hot paths pay nothing for any of this. lib/core/store-core.ts builds on it.
 */
import { EventEmitter } from 'node:events';
import type { Callback } from '../callbacks';
import { StoreClosedError, StoreError } from '../errors';
import { Key, keyFromId } from '../keys';
import type { Query } from '../store-types';
import type { CompleteBackend } from './backend-defaults';
import { BackendNotes, KeyEvent, Observed, STORE_EVENTS, StoreEventName, isStoreEvent, observedBackend, selectorSubject } from './observe';
import { LEADING_ARGS, TRACING, TraceContext, TraceSubject, TracedMethod } from './tracing';
import { Unwatch, WatchListener, Watchers, readWatchArgs } from './watch';

/**
 * A key change another process published, as the multi store's 'invalidation' event carries it
 * (lib/multi/coherence.ts): a key ('k'), a query delete ('q') or everything ('c').
 */
interface RemoteChange {
  op: 'k' | 'q' | 'c' | 't';
  id?: string;
  /** The query of a 'q', when the event carries it. */
  q?: unknown;
  /** The tags of a 't' (a delete by tags). */
  tags?: string[];
  /** Whether a 'k' was a write, a delete or a touch, when the event carries it. */
  write?: 'set' | 'delete' | 'touch';
}

/** See the file comment. */
export abstract class StoreEvents extends EventEmitter {
  /** The namespace this store instance reads and writes ('' is the root). */
  abstract readonly namespace: string;
  /**
   * The backend with every derivable primitive present (lib/core/backend-defaults.ts): what the
   * core calls. While someone listens to the per-operation events or watches, it is that
   * backend wrapped to report what it did (lib/core/observe.ts); otherwise the backend itself.
   */
  protected storage!: CompleteBackend;
  /** `storage` unwrapped: what it is while nobody listens. */
  private plainStorage!: CompleteBackend;
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

  constructor() {
    super();
    this.on('newListener', this.listenerAdded);
    this.on('removeListener', this.listenerRemoved);
  }

  /** Sets the backend the store calls (once, by the store's constructor): used bare until someone listens. */
  protected useStorage(storage: CompleteBackend): void {
    this.storage = storage;
    this.plainStorage = storage;
    this._getSync = storage.getSync;
    this._setSync = storage.setSync;
  }

  /** Whether anyone listens to `event` now (BackendEvents.wants). */
  protected isListened(event: StoreEventName): boolean {
    return this.listening[event] === true;
  }

  /** True once this store, or a store it is a scope of, is closed. */
  protected abstract closedInChain(): boolean;
  /** Returns the promise, or hands it to the callback (lib/core/store-core.ts). */
  protected abstract settle<T>(method: string, promise: Promise<T>, cb: Callback | undefined): Promise<T>;

  /** Emits 'error', or warns through process.emitWarning when nobody listens (never crashes). */
  reportError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else process.emitWarning(err.message, { type: 'StoreWarning', code: (err as StoreError).code, detail: err.stack });
  }

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
  protected endWatches(): void {
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
      // A touch changes neither value nor presence: nothing to tell. Without the write kind (a
      // process of an older version), a changed key is reported as written.
      if (change.write === 'touch') return;
      watchers.keyChanged(change.write === 'delete' ? 'delete' : 'set', change.id, 'remote', key);
    } else if (change.op === 'q') {
      watchers.broadChange(change.q === undefined ? { op: 'delete', source: 'remote' } : { op: 'delete', query: change.q, source: 'remote' });
    } else if (change.op === 't' && Array.isArray(change.tags)) {
      watchers.broadChange({ op: 'delete', tags: Object.freeze([...change.tags]), source: 'remote' });
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
  protected emitFromBackend(event: string, payload: unknown): void {
    if (event === 'expire' || event === 'evict') {
      const { id, key, tier, tierName } = (payload ?? {}) as { id?: string; key?: Key; tier?: number; tierName?: string };
      let known = key;
      try {
        if (known === undefined && typeof id === 'string') known = keyFromId(id);
      } catch {
        // an id this store does not make: the event names no key rather than failing the backend's sweep
      }
      // A layered store's tiers say which tier the entry left (lib/multi/multi-backend.ts).
      this.emitSafely(event, tier === undefined ? { key: known } : { key: known, tier, tierName });
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
    if (event === 'expire' || event === 'evict') this.removalsWanted(this.listening.expire, this.listening.evict);
  };

  private readonly listenerRemoved = (event: string | symbol): void => {
    if (!isStoreEvent(event)) return;
    const was = this.listening[event];
    this.listening[event] = this.listenerCount(event) > 0;
    this.updateObserved();
    if ((event === 'expire' || event === 'evict') && was !== this.listening[event]) this.removalsWanted(this.listening.expire, this.listening.evict);
  };

  /** Someone started or stopped listening to 'expire' or 'evict': the store tells its backend (Backend.removalsWanted). */
  protected abstract removalsWanted(expire: boolean, evict: boolean): void;

  /** removeAllListeners() removes the store's own listener hooks too: they are put back, and the flags read again. */
  removeAllListeners(event?: string | symbol): this {
    if (event === undefined) super.removeAllListeners();
    else super.removeAllListeners(event);
    if (!this.listeners('newListener').includes(this.listenerAdded)) this.on('newListener', this.listenerAdded);
    if (!this.listeners('removeListener').includes(this.listenerRemoved)) this.on('removeListener', this.listenerRemoved);
    if (this.watchers !== undefined && this.watchers.size > 0 && !this.listeners('invalidation').includes(this.remoteChanged)) this.on('invalidation', this.remoteChanged);
    for (const name of STORE_EVENTS) this.listening[name] = this.listenerCount(name) > 0;
    this.updateObserved();
    this.removalsWanted(this.listening.expire, this.listening.evict);
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

}
