/**
 * The concrete public store over a `Backend` (lib/backend.ts): the core's argument handling,
 * callbacks, TTL arithmetic, stats, program order and scopes (lib/store.ts, lib/core/) over the
 * backend a store type's factory builds. A backend written to the contract never subclasses
 * the store; a store class (MemoryStore, RedisStore, ...) extends this one only to offer what
 * its backend alone does (sweep(), migrateLegacy(), ...) and to keep its class name.
 */
import type { Backend, BackendContext, BackendFactory } from './backend';
import { BaseStore, CommonSettings } from './store';
import type { StoreFlags, UnknownFlags } from './store-types';

/** A scope's backend, built once the scope store exists (so its events are the scope's own). */
export type ScopedBackend<B extends Backend = Backend> = (context: BackendContext) => B;

/**
 * S: the backend's settings; V and F: the value type and what the types know of the settings
 * (lib/store-types.ts), as on every public store; B: the backend's own type, for a store class
 * that offers what only its backend does.
 */
export class BackendStore<S extends CommonSettings = CommonSettings, V = unknown, F extends StoreFlags = UnknownFlags, B extends Backend = Backend> extends BaseStore<V, F> {
  /** The backend this store runs on (a scope's shares the root's connection or keyspaces). */
  protected declare readonly backend: B;
  private readonly createBackend: BackendFactory<S>;

  /**
   * `scoped` is given for a scope: the parent backend's scope, made with this store's context
   * (scopedBackend); otherwise `createBackend` builds the backend.
   */
  constructor(settings: S, createBackend: BackendFactory<S>, scoped?: ScopedBackend<B>) {
    super(settings, (context) => (scoped ? scoped(context) : createBackend(settings, context)));
    this.createBackend = createBackend;
  }

  protected _scope(namespace: string): BaseStore {
    return new BackendStore<S>({ ...this.settings, namespace } as S, this.createBackend, this.scopedBackend(namespace));
  }

  /** The backend of this store's scope `namespace`, made with the scope store's context: what a store class's `_scope` passes on. */
  protected scopedBackend(namespace: string): ScopedBackend<B> {
    return (context) => this.backend.scope(namespace, context) as B;
  }
}
