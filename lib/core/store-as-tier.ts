/**
 * A store seen as a tier of another store (lib/core/tier-access.ts): the Backend contract on
 * canonical ids and compiled selectors, each call run through this store's lifecycle and
 * program order (lib/order-gate.ts) and counted in its stats, exactly as the public call it
 * stands for would be — minus the validation, done once by the store on top.
 */
import type { Backend, BackendContext, BackendStats, EntryWithExpiry, FindOptions, StoredEntry } from '../backend';
import type { Key } from '../keys';
import type { Selector } from '../query';
import type { StoreFlags, UnknownFlags } from '../store-types';
import { findOrdered } from './ordered-find';
import { asStoreError } from './promises';
import { RESOLVED, StoreCore } from './store-core';
import { NOT_SYNC, TierBackend, tierBackend, tierScope } from './tier-access';

/** See the file comment. F as on BaseStore (lib/store.ts). */
export abstract class StoreAsTier<F extends StoreFlags = UnknownFlags> extends StoreCore<F> {
  private tierView: TierBackend | undefined;

  /** This store as a tier backend; one object per store, made on first use. */
  [tierBackend](): TierBackend {
    return (this.tierView ??= this.makeTierView());
  }

  /** An exact read answered in-process (counted), or NOT_SYNC when the backend must be awaited. */
  protected readSync(id: string): unknown {
    if (!this._getSync || !this.isOpen || !this.orderGate.canReadNow(id)) return NOT_SYNC;
    return this.countRead(this._getSync(id));
  }

  /** Counts an exact read's hit or miss: the `after` of getOne. */
  protected readonly countRead = (value: unknown): unknown => {
    if (value === undefined) this.counters.misses++;
    else this.counters.hits++;
    return value;
  };

  /** Counts a delete that removed something: the `after` of exact deletes. */
  protected readonly countDelete = (existed: boolean): boolean => {
    if (existed) this.counters.deletes++;
    return existed;
  };

  /** `_set`, applied at once when the backend is synchronous and nothing orders it later (as `set`). */
  protected write(id: string, key: Key, value: unknown, expiresAt: number | null, tags?: readonly string[]): Promise<void> {
    if (this._setSync && this.isOpen && this.orderGate.canWriteNow(id)) {
      this._setSync(id, key, value, expiresAt, tags);
      this.counters.sets++;
      return RESOLVED;
    }
    return this.run(() => this.storage.set(id, key, value, expiresAt, tags), this.countSet, 'write', id);
  }

  /** The backend's `deleteByTags` (the store refuses tags before a backend without `supports.tags` sees them). */
  protected deleteTagged(tags: readonly string[]): Promise<number> {
    const remove = this.storage.deleteByTags;
    // A tier without tags holds no tagged entries: nothing to remove there.
    return remove ? remove(tags) : Promise.resolve(0);
  }

  /** The entries `selector` matches, admitted in program order like `entries()` (holding nothing while it runs). */
  private async *findInOrder(selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
    await this.admitted(selector.kind === 'exact' ? 'read' : 'scan');
    try {
      // sort and skip are honoured here whatever the backend: natively, or sorted by the core.
      yield* findOrdered(this.storage, selector, options.values, options, this.clock);
    } catch (err) {
      throw asStoreError(err);
    }
  }

  private makeTierView(): TierBackend {
    const view: TierBackend = {
      supports: this.supports,
      connect: () => this.ready(),
      close: () => this.close(),
      readSync: (id) => this.readSync(id),
      get: (id) => {
        const value = this.readSync(id);
        return value !== NOT_SYNC ? Promise.resolve(value) : this.run(() => this.storage.get(id), this.countRead, 'read', id);
      },
      getEntry: (id) => this.run(() => this.storage.getEntry(id), undefined, 'read', id),
      getEntries: (ids) => this.run((): Promise<Array<EntryWithExpiry | undefined | Error>> => this.storage.getEntries(ids), undefined, 'read', ids),
      has: (id) => this.run(() => this.storage.has(id), undefined, 'read', id),
      getMeta: (id) => this.run(() => this.storage.getMeta(id), undefined, 'read', id),
      expiresAt: (id) => this.run(() => this.storage.expiresAt(id), undefined, 'read', id),
      set: (id, key, value, expiresAt, tags) => this.write(id, key, value, expiresAt, tags),
      touch: (id, expiresAt) => this.run(() => this.storage.touch(id, expiresAt), undefined, 'write', id, this.storage.touchTakesSteps),
      // This store orders the steps of its backend's touch itself (run above): one call to the tier's caller.
      touchTakesSteps: false,
      lockRedis: this.storage.lockRedis ? () => this.run(() => this.storage.lockRedis!(), undefined, 'read') : undefined,
      deleteByTags: (tags) =>
        this.run(
          () => this.deleteTagged(tags),
          (removed: number) => {
            this.counters.deletes += removed;
            return removed;
          },
          'exclusive',
        ),
      delete: (id) => this.run(() => this.storage.delete(id), this.countDelete, 'write', id),
      setStream: (id, key, source, expiresAt) => this.run(() => this.storage.setStream(id, key, source, expiresAt), this.countSet, 'write', id, true),
      valueStream: (id) => this.run(() => this.storage.valueStream(id), undefined, 'read', id),
      find: (selector, options) => this.findInOrder(selector, options),
      count: (selector) => this.run(() => this.storage.count(selector), undefined, 'scan'),
      deleteMatching: (selector) =>
        this.run(
          () => this.storage.deleteMatching(selector),
          (removed: number) => {
            this.counters.deletes += removed;
            return removed;
          },
          'exclusive',
        ),
      clear: () => this.run(() => this.storage.clear(), undefined, 'exclusive'),
      stats: (): Promise<BackendStats> => this.run(() => this.storage.stats(), undefined, 'read'),
      scope: (namespace: string, _context?: BackendContext): Backend => {
        // Backend scopes are named in full; a store's scope() takes the part below its own namespace.
        const relative = this.namespace ? namespace.slice(this.namespace.length + 1) : namespace;
        return this[tierScope](relative)[tierBackend]();
      },
    };
    return view;
  }

  /** A store over the same backend in a namespace below this one's (lib/store.ts). */
  abstract scope(namespace: string): StoreAsTier<F>;
  /** `scope` as a tier of a layered store opens it: reserved names (the layered store's hidden scopes) included. */
  abstract [tierScope](namespace: string): StoreAsTier<F>;
}
