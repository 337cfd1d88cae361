/**
 * The public store over a `Backend` (lib/backend.ts): the core's argument handling, callbacks,
 * TTL arithmetic, stats, program order and scopes, delegating storage to the backend's
 * primitives. A backend written to the contract never subclasses the store.
 */
import type { Key } from './keys';
import type { Selector } from './query';
import { OrderGate } from './order-gate';
import { BaseStore, BackendStats, Capabilities, CommonSettings, EntryWithExpiry, FindOptions, StoredEntry } from './store';
import type { Backend, BackendContext, BackendFactory } from './backend';
import type { StoreFlags, UnknownFlags } from './store-types';
import { defaultSerializer } from './serializer';
import { systemClock } from './clock';

/** A scope's backend, built once the scope store exists (so its events are the scope's own). */
export type ScopedBackend<B extends Backend = Backend> = (context: BackendContext) => B;

/**
 * S: the backend's settings; V and F: the value type and what the types know of the settings
 * (lib/store-types.ts), as on every public store; B: the backend's own type, for a store class
 * that offers what only its backend does (sweep(), migrateLegacy(), ...).
 */
export class BackendStore<S extends CommonSettings = CommonSettings, V = unknown, F extends StoreFlags = UnknownFlags, B extends Backend = Backend> extends BaseStore<V, F> {
  /** The backend this store runs on (a scope's shares the root's connection or keyspaces). */
  protected readonly backend: B;

  /**
   * `scoped` is given for a scope: the parent backend's scope, made with this store's context
   * (scopedBackend); otherwise `createBackend` builds the backend.
   */
  constructor(settings: S, createBackend: BackendFactory<S>, scoped?: ScopedBackend<B>) {
    super(settings);
    const context: BackendContext = {
      namespace: this.namespace,
      clock: settings.clock ?? systemClock,
      serializer: settings.serializer ?? defaultSerializer,
      events: { reportError: (err) => this.reportError(err), emit: (event, payload) => this.emit(event, payload) },
    };
    this.backend = scoped ? scoped(context) : (createBackend(settings, context) as B);
    // BaseStore made its gate before the backend existed: make it again with the backend's word.
    this.orderGate = new OrderGate(this.backend.ordersExactCalls === true);
    this.createBackend = createBackend;
    // The synchronous fast paths exist on the store only when the backend has them: the core
    // tests for their presence. Bound once here, not per call.
    const b = this.backend;
    if (b.getSync) this._getSync = b.getSync.bind(b);
    if (b.setSync) this._setSync = b.setSync.bind(b);
    if (b.findSync) this._findSync = b.findSync.bind(b);
    if (b.valuesSync) this._valuesSync = b.valuesSync.bind(b);
  }

  private readonly createBackend: BackendFactory<S>;

  get supports(): Capabilities {
    return this.backend.supports;
  }

  protected _connect(): Promise<void> {
    return this.backend.connect();
  }
  protected _close(): Promise<void> {
    return this.backend.close();
  }
  protected _set(id: string, key: Key, value: unknown, expiresAt: number | null): Promise<void> {
    return this.backend.set(id, key, value, expiresAt);
  }
  protected _get(id: string): Promise<unknown> {
    return this.backend.get(id);
  }
  protected _delete(id: string): Promise<boolean> {
    return this.backend.delete(id);
  }
  protected _expiresAt(id: string): Promise<number | null | undefined> {
    return this.backend.expiresAt(id);
  }
  protected _find(selector: Selector, options: FindOptions): AsyncIterable<StoredEntry> {
    return this.backend.find(selector, options);
  }
  protected _clear(): Promise<void> {
    return this.backend.clear();
  }
  protected _scope(namespace: string): BaseStore {
    return new BackendStore<S>({ ...this.settings, namespace } as S, this.createBackend, this.scopedBackend(namespace));
  }

  /** The backend of this store's scope `namespace`, made with the scope store's context: what a store class's `_scope` passes on. */
  protected scopedBackend(namespace: string): ScopedBackend<B> {
    return (context) => this.backend.scope(namespace, context) as B;
  }

  protected _getEntry(id: string): Promise<EntryWithExpiry | undefined> {
    return this.backend.getEntry ? this.backend.getEntry(id) : super._getEntry(id);
  }
  protected _getEntries(ids: string[]): Promise<Array<EntryWithExpiry | undefined | Error>> {
    return this.backend.getEntries ? this.backend.getEntries(ids) : super._getEntries(ids);
  }
  protected _has(id: string): Promise<boolean> {
    return this.backend.has ? this.backend.has(id) : super._has(id);
  }
  protected _deleteMatching(selector: Selector): Promise<number> {
    return this.backend.deleteMatching ? this.backend.deleteMatching(selector) : super._deleteMatching(selector);
  }
  protected _count(selector: Selector): Promise<number> {
    return this.backend.count ? this.backend.count(selector) : super._count(selector);
  }
  protected _setStream(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
    return this.backend.setStream ? this.backend.setStream(id, key, source, expiresAt) : super._setStream(id, key, source, expiresAt);
  }
  protected _valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    return this.backend.valueStream ? this.backend.valueStream(id) : super._valueStream(id);
  }
  protected _stats(): Promise<BackendStats> {
    // A backend that keeps no counters still has a size: the core counts its live entries.
    return this.backend.stats ? this.backend.stats() : this._count({ kind: 'all' }).then((items) => ({ items }));
  }
}
