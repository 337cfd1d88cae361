/**
 * The public store (SPEC §4–§6): the API every store has — set/get/getOne/has/del/count/keys/
 * ttl/clear/copy/scope/stats/getOrSet here, iteration and value streams in
 * lib/core/store-streams.ts, connection, program order, failures and callbacks in
 * lib/core/store-core.ts. A backend written to the contract (lib/backend.ts) becomes a store
 * through lib/backend-store.ts; the multi store still implements the core's primitives itself.
 */
import { types } from 'node:util';
import type { EntryMeta } from './backend';
import type { Callback } from './callbacks';
import { InvalidArgumentError, StoreClosedError } from './errors';
import { Key, keyFromId, keyId, normalizeKey } from './keys';
import { compileQuery } from './query';
import type {
  KeyInput,
  Query,
  SetManyItem,
  SetOptions,
  StoreCallback,
  StoreFlags,
  StoreStats,
  UnknownFlags,
} from './store-types';
import { MAX_TTL_MS } from './limits';
import { checkValue } from './values';
import { callbackError, readSetOptions, splitArgs } from './core/arguments';
import { checkNamespace } from './core/settings';
import { RESOLVED, StoreCore } from './core/store-core';
import { StoreEntries } from './core/store-entries';
import { ComputeOnce } from './core/get-or-set';
import { GRACE_SCOPE } from './core/grace-copies';
import type { GetOrSetOptions } from './core/get-or-set-options';
import { NOT_SYNC, tierScope } from './core/tier-access';
import { TRACING, TraceContext, isTraced } from './core/tracing';

// The backend-facing types live in lib/backend.ts, the public call and result types in
// lib/store-types.ts; both are re-exported here for the files that import them from the store.
export type { BackendStats, Capabilities, EntryMeta, EntryWithExpiry, FindOptions, StoredEntry } from './backend';
// The public call and result types live in lib/store-types.ts; re-exported here for the files that import them from the store.
export type {
  CommonSettings,
  Entry,
  GetOptions,
  Page,
  PageOptions,
  QueryOptions,
  SortOrder,
  KeyedValue,
  KeyInput,
  Query,
  SetOptions,
  StoreStats,
  StoreFlags,
  UnknownFlags,
} from './store-types';
export type { GetOrSetOptions } from './core/get-or-set-options';
export { checkCommonSettings } from './core/settings';
export { chunksOf, toAsync, valueBytes } from './core/bytes';

/** Scope names starting with this are the store's own (getOrSet's records): scope() refuses them. */
export const RESERVED_SCOPE_PREFIX = '~memstorage:';

/**
 * The base every store extends. See the file comment. `V` is the value type and `F` what the
 * types know of the `includeKey`, `nullOnMiss` and `callbacks` settings (lib/store-types.ts):
 * the factories fill both in; a bare `BaseStore` is any store.
 */
export abstract class BaseStore<V = unknown, F extends StoreFlags = UnknownFlags> extends StoreEntries<V, F> {
  /** getOrSet's computes in flight (lib/core/get-or-set.ts). */
  private readonly computing = new ComputeOnce({
    getOne: (key) => this.getOne(key),
    set: (key, value, options) => this.set(key, value as V, options),
    refuse: (err) => this.refuse(err),
    store: this as BaseStore,
    hiddenScope: (name) => this.hiddenScope(name),
    lockRedis: () => (this.storage.lockRedis ? this.storage.lockRedis() : Promise.resolve(undefined)),
  });
  /** The backend's expiration and eviction counts at the last resetStats(), subtracted from its own. */
  private statsBaseline = { expirations: 0, evictions: 0 };

  /** Upserts `key` with `value`; `{ ttl }` in ms. */
  set(key: KeyInput, value: V, options?: SetOptions, cb?: StoreCallback<F, undefined, false>): Promise<void>;
  set(key: KeyInput, value: V, cb: StoreCallback<F, undefined, false>): Promise<void>;
  set(key: unknown, value: unknown, options?: unknown, callback?: unknown, ...extra: unknown[]): Promise<void> {
    if (isTraced(TRACING.set) && !this.inTrace) return this.traced('set', { key: key as Key }, [key, value, options, callback, ...extra], this.set);
    let cb: Callback | undefined;
    let p: Promise<void>;
    try {
      let ttl: number | null | undefined;
      let tags: string[] | undefined;
      if (options !== undefined || callback !== undefined || extra.length > 0) {
        const split = splitArgs([options, callback, ...extra], 0, 'set');
        cb = split.cb;
        ({ ttl, tags } = readSetOptions(split.options, 'set'));
        if (tags !== undefined) this.checkTagsSupported('set');
      } // else set(key, value): the hot path allocates no argument arrays
      if (this._setSync && this.isOpen) {
        // In-process fast path: only the id is computed; the backend copies the key if it keeps it.
        const id = keyId(key);
        checkValue(value);
        const expiresAt = this.expiryFor(ttl);
        if (this.orderGate.canWriteNow(id)) {
          this._setSync(id, key as Key, value, expiresAt, tags);
          this.counters.sets++;
          p = RESOLVED;
        } else p = this.run(() => this.storage.set(id, keyFromId(id), value, expiresAt, tags), this.countSet, 'write', id);
      } else {
        const normalized = normalizeKey(key);
        checkValue(value);
        const expiresAt = this.expiryFor(ttl);
        p = this.run(() => this.storage.set(normalized.id, normalized.key, value, expiresAt, tags), this.countSet, 'write', normalized.id);
      }
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('set', p, cb);
  }


  /** Upserts with a TTL in seconds (Redis SETEX). */
  setex(key: KeyInput, value: V, seconds: number, cb?: StoreCallback<F, undefined, false>): Promise<void>;
  setex(key: KeyInput, value: V, seconds: number, cb?: Callback): Promise<void> {
    if (typeof seconds !== 'number' || !(seconds > 0) || seconds * 1000 > MAX_TTL_MS) {
      const p = this.refuse<void>(new InvalidArgumentError(`setex: seconds must be a positive number up to ${MAX_TTL_MS / 1000} (100 years)`));
      return this.settle('setex', p, typeof cb === 'function' ? cb : undefined);
    }
    return (this as BaseStore<V>).set(key, value, { ttl: seconds * 1000 }, cb as Callback);
  }

  /** The value under the exact key, or undefined: the fast path. */
  getOne<T = V>(key: KeyInput, cb?: StoreCallback<F, T | undefined, never>): Promise<T | undefined>;
  getOne(key: KeyInput, cb?: Callback): Promise<unknown> {
    if (isTraced(TRACING.getOne) && !this.inTrace) return this.traced('getOne', { key: key as Key }, [key, cb], this.getOne);
    let p: Promise<unknown>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError('getOne', cb);
      const id = keyId(key);
      // readSync and storage.get report hits and misses while someone listens (lib/core/observe.ts).
      const value = this.readSync(id);
      p = value !== NOT_SYNC ? Promise.resolve(value) : this.run(() => this.storage.get(id), this.countRead, 'read', id);
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('getOne', p, cb);
  }

  /** Whether the exact key holds a live entry. */
  has(key: KeyInput, cb?: StoreCallback<F, boolean, never>): Promise<boolean>;
  has(key: KeyInput, cb?: Callback): Promise<boolean> {
    if (isTraced(TRACING.has) && !this.inTrace) return this.traced('has', { key: key as Key }, [key, cb], this.has);
    return this.exactOp('has', key, cb, (id) => this.storage.has(id), 'read');
  }

  /** Deletes every entry the query matches; resolves how many. */
  del(query: Query, cb?: StoreCallback<F, number, never>): Promise<number>;
  del(query: Query, cb?: Callback): Promise<number> {
    if (isTraced(TRACING.del) && !this.inTrace) return this.traced('del', { query }, [query, cb], this.del);
    let p: Promise<number>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError('del', cb);
      p = this.deleteSelected(compileQuery(query));
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('del', p, cb);
  }

  /** Remaining ms; null when the entry never expires; undefined when absent. */
  ttl(key: KeyInput, cb?: StoreCallback<F, number | null | undefined, never>): Promise<number | null | undefined>;
  ttl(key: KeyInput, cb?: Callback): Promise<number | null | undefined> {
    if (isTraced(TRACING.ttl) && !this.inTrace) return this.traced('ttl', { key: key as Key }, [key, cb], this.ttl);
    return this.exactOp(
      'ttl',
      key,
      cb,
      async (id) => {
        const expiresAt = await this.storage.expiresAt(id);
        if (expiresAt === undefined || expiresAt === null) return expiresAt;
        return Math.max(0, expiresAt - this.clock.now());
      },
      'read',
    );
  }

  /** Removes everything in this store (or scope). */
  clear(cb?: StoreCallback<F, undefined, false>): Promise<void>;
  clear(cb?: Callback): Promise<void> {
    if (isTraced(TRACING.clear) && !this.inTrace) return this.traced('clear', {}, [cb], this.clear);
    let p: Promise<void>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError('clear', cb);
      p = this.followDelete(this.run(() => this.storage.clear(), undefined, 'exclusive'), { run: (storage) => storage.clear(), order: 'exclusive' });
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('clear', p, cb);
  }

  /** Copies every live entry into `target`, keeping TTLs; resolves how many. */
  copy(target: BaseStore, cb?: StoreCallback<F, number, never>): Promise<number>;
  copy(target: BaseStore, cb?: Callback): Promise<number> {
    if (isTraced(TRACING.copy) && !this.inTrace) return this.traced('copy', {}, [target, cb], this.copy);
    let p: Promise<number>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError('copy', cb);
      // isProxy first: instanceof would run a Proxy's getPrototypeOf trap.
      if (types.isProxy(target) || !(target instanceof BaseStore)) throw new InvalidArgumentError('copy: target must be a store');
      // Admitted like a scan, then not holding the gate: the copy writes through target.set,
      // and the target may be a scope sharing this store's gate.
      p = this.admitted('scan').then(async () => {
        let copied = 0;
        for await (const entry of this.storage.find({ kind: 'all' }, { values: true })) {
          const expiresAt = entry.expiresAt !== undefined ? entry.expiresAt : await this.storage.expiresAt(entry.id);
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


  // The calls of lib/core/store-bulk.ts and store-entries.ts, traced here (lib/core/tracing.ts).

  getMany<T = V>(keys: readonly KeyInput[], cb?: StoreCallback<F, Array<T | undefined>, never>): Promise<Array<T | undefined>>;
  getMany(keys: readonly KeyInput[], cb?: Callback): Promise<unknown[]> {
    if (isTraced(TRACING.getMany) && !this.inTrace) return this.traced('getMany', { keys }, [keys, cb], super.getMany);
    return super.getMany(keys, cb);
  }

  setMany(items: ReadonlyArray<SetManyItem<V>>, cb?: StoreCallback<F, undefined, false>): Promise<void>;
  setMany(items: ReadonlyArray<SetManyItem<V>>, cb?: Callback): Promise<void> {
    if (isTraced(TRACING.setMany) && !this.inTrace) return this.traced('setMany', { items }, [items, cb], super.setMany);
    return super.setMany(items, cb as StoreCallback<F, undefined, false>);
  }

  delMany(keys: readonly KeyInput[], cb?: StoreCallback<F, number, never>): Promise<number>;
  delMany(keys: readonly KeyInput[], cb?: Callback): Promise<number> {
    if (isTraced(TRACING.delMany) && !this.inTrace) return this.traced('delMany', { keys }, [keys, cb], super.delMany);
    return super.delMany(keys, cb);
  }

  delKeys(pattern: Query, cb?: StoreCallback<F, number, never>): Promise<number>;
  delKeys(pattern: Query, ...rest: unknown[]): Promise<number> {
    if (isTraced(TRACING.delKeys) && !this.inTrace) return this.traced('delKeys', { query: pattern }, [pattern, ...rest], super.delKeys);
    return super.delKeys(pattern, ...(rest as [Callback]));
  }

  touch(key: KeyInput, ttl: number | null, cb?: StoreCallback<F, boolean, never>): Promise<boolean>;
  touch(key: KeyInput, ttl: number | null, cb?: Callback): Promise<boolean> {
    if (isTraced(TRACING.touch) && !this.inTrace) return this.traced('touch', { key: key as Key }, [key, ttl, cb], super.touch);
    return super.touch(key, ttl, cb);
  }

  getMeta(key: KeyInput, cb?: StoreCallback<F, EntryMeta | undefined, never>): Promise<EntryMeta | undefined>;
  getMeta(key: KeyInput, cb?: Callback): Promise<EntryMeta | undefined> {
    if (isTraced(TRACING.getMeta) && !this.inTrace) return this.traced('getMeta', { key: key as Key }, [key, cb], super.getMeta);
    return super.getMeta(key, cb);
  }

  delByTags(tags: readonly string[], cb?: StoreCallback<F, number, never>): Promise<number>;
  delByTags(tags: readonly string[], cb?: Callback): Promise<number> {
    if (isTraced(TRACING.delByTags) && !this.inTrace) return this.traced('delByTags', { tags }, [tags, cb], super.delByTags);
    return super.delByTags(tags, cb);
  }

  /**
   * A store over the same backend in an isolated namespace; `clear()` there clears only it.
   * One scope per namespace: while it is open, `scope(namespace)` returns that same store.
   */
  scope(namespace: string): BaseStore<V, F>;
  scope(namespace: string): BaseStore {
    checkNamespace(namespace, (m) => new InvalidArgumentError(`scope: namespace ${m}`));
    if (namespace.length === 0) throw new InvalidArgumentError('scope: namespace must not be empty');
    if (namespace.startsWith(RESERVED_SCOPE_PREFIX)) throw new InvalidArgumentError(`scope: namespaces starting with ${RESERVED_SCOPE_PREFIX} are the store's own`);
    return this.openOrMakeScope(namespace);
  }

  /**
   * A scope of this store as a tier of a layered store sees it (lib/multi/tier-building.ts):
   * the layered store checked the name already, and its own hidden scopes need their tiers'.
   */
  [tierScope](namespace: string): BaseStore {
    return this.openOrMakeScope(namespace);
  }

  /**
   * Once getOrSet has kept a grace copy here, a delete of any kind also deletes the copies of
   * what it deletes (lib/core/grace-copies.ts): a copy must not stand in for an entry deleted
   * after its TTL ended.
   */
  protected deleteFollowers(): readonly StoreCore[] | undefined {
    if (!this.computing.keepsCopies || this.closedInChain()) return undefined;
    return [this.hiddenScope(GRACE_SCOPE)];
  }

  /** A scope no user can open (its name starts with RESERVED_SCOPE_PREFIX): the store's own records. */
  protected hiddenScope(name: string): BaseStore {
    const scope = this.openOrMakeScope(RESERVED_SCOPE_PREFIX + name);
    // Its background failures (a tier down) are this store's: nobody else can listen to it.
    if (scope.listenerCount('error') === 0) scope.on('error', (err: Error) => this.reportError(err));
    return scope;
  }

  private openOrMakeScope(namespace: string): BaseStore {
    if (this.closedInChain()) throw new StoreClosedError('scope: the store is closed');
    const full = this.namespace ? `${this.namespace}/${namespace}` : namespace;
    const open = this.openScope(full);
    if (open !== undefined) return open as BaseStore;
    const child = this._scope(full);
    this.adoptScope(child);
    return child as BaseStore;
  }

  /** Counters: hits, misses, hitRate, sets, deletes, expirations, evictions, errors, items (since the store was made or resetStats()). */
  stats(cb?: StoreCallback<F, StoreStats, false>): Promise<StoreStats>;
  stats(cb?: Callback): Promise<StoreStats> {
    if (cb !== undefined && typeof cb !== 'function') return this.refuse(callbackError('stats', cb));
    const p = this.run(async () => {
      const backend = await this.storage.stats();
      const { hits, misses } = this.counters;
      return {
        ...this.counters,
        hitRate: hits + misses === 0 ? 0 : hits / (hits + misses),
        expirations: (backend.expirations ?? 0) - this.statsBaseline.expirations,
        evictions: (backend.evictions ?? 0) - this.statsBaseline.evictions,
        items: backend.items ?? 0,
      };
    }, undefined, 'read');
    return this.settle('stats', p, cb);
  }

  /** Starts the counters of stats() again from zero (items excepted: they are what is stored). */
  resetStats(cb?: StoreCallback<F, undefined, false>): Promise<void>;
  resetStats(cb?: Callback): Promise<void> {
    if (cb !== undefined && typeof cb !== 'function') return this.refuse(callbackError('resetStats', cb));
    const p = this.run(async () => {
      const backend = await this.storage.stats();
      for (const name of Object.keys(this.counters) as Array<keyof typeof this.counters>) this.counters[name] = 0;
      this.statsBaseline = { expirations: backend.expirations ?? 0, evictions: backend.evictions ?? 0 };
      this.resetOwnStats();
    }, undefined, 'read');
    return this.settle('resetStats', p, cb);
  }

  /** What a store class counts beside the core's counters, zeroed by resetStats() (the multi store's tiers). */
  protected resetOwnStats(): void {}

  /** The value under `key`, computing and storing it once when missing, even under concurrent callers (lib/core/get-or-set.ts). */
  getOrSet<T extends V = V>(key: KeyInput, compute: () => T | Promise<T>, options?: GetOrSetOptions): Promise<T> {
    // Traced as one span around its read, compute and write (which are traced on their own channels).
    if (isTraced(TRACING.getOrSet) && !this.inTrace) {
      const context: TraceContext = { method: 'getOrSet', store: this.constructor.name, namespace: this.namespace, key: key as Key };
      return TRACING.getOrSet.tracePromise(() => this.computing.getOrSet(key, compute, options), context);
    }
    return this.computing.getOrSet(key, compute, options);
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

}
