/**
 * The mount store type (`{ type: 'mount', settings: { mounts, default, field } }`, SPEC §16),
 * registered in lib/builtin-stores.ts: string keys routed by prefix and object keys by a field
 * to different stores behind one API (backend.ts, routing.ts; docs/mount.md).
 */
import type { BackendFactory } from '../../backend';
import { BackendStore, ScopedBackend } from '../../backend-store';
import type { Callback } from '../../callbacks';
import type { InvalidKeyError } from '../../errors';
import { isPlainObject, keyId } from '../../keys';
import type { KeyInput, SetManyItem, StoreCallback, StoreFlags, UnknownFlags } from '../../store-types';
import { MountBackend } from './backend';
import { NO_MOUNT } from './routing';
import type { MountSettings } from './settings';

export type { MountSettings, MountSpec } from './settings';
export { MountBackend } from './backend';

/** Builds the backend of a new mount store: settings are checked and the mounted stores made now. */
export const createBackend: BackendFactory<MountSettings> = (settings, context): MountBackend => new MountBackend(settings ?? {}, context);

/** The public mount store. */
export class MountStore<V = unknown, F extends StoreFlags = UnknownFlags> extends BackendStore<MountSettings, V, F, MountBackend> {
  /** `scoped` is given only by `_scope`: a scope scopes every mount. */
  constructor(settings: MountSettings & { callbacks?: F['callbacks'] } = {}, scoped?: ScopedBackend<MountBackend>) {
    super(settings, createBackend, scoped);
  }

  /**
   * The mount name that takes `key` (its longest prefix, or its field's value; 'default' for the default mount), or undefined when
   * none takes it; throws ERR_INVALID_KEY for an invalid key.
   */
  mountOf(key: string | Record<string, unknown>): string | undefined {
    return this.backend.router.nameOf(keyId(key));
  }

  /**
   * `setMany`, refusing the whole call with ERR_INVALID_KEY when some key no mount takes (only
   * possible without a default), before anything is written: the core checks keys alone, and the
   * backend finds an unroutable key only when that item's write is sent.
   */
  setMany(items: ReadonlyArray<SetManyItem<V>>, cb?: StoreCallback<F, undefined, false>): Promise<void>;
  setMany(items: ReadonlyArray<SetManyItem<V>>, cb?: Callback): Promise<void> {
    const keys = Array.isArray(items) ? items.map((item: unknown) => (isPlainObject(item) ? Object.getOwnPropertyDescriptor(item, 'key')?.value : undefined)) : [];
    const refused = this.unroutable(keys, cb);
    if (refused) return this.settle('setMany', this.refuse(refused), cb);
    return (super.setMany as (items: unknown, cb?: Callback) => Promise<void>).call(this, items, cb);
  }

  /** `delMany`, refusing the whole call (nothing deleted) when some key no mount takes, as `setMany`. */
  delMany(keys: readonly KeyInput[], cb?: StoreCallback<F, number, never>): Promise<number>;
  delMany(keys: readonly KeyInput[], cb?: Callback): Promise<number> {
    const refused = this.unroutable(Array.isArray(keys) ? keys : [], cb);
    if (refused) return this.settle('delMany', this.refuse(refused), cb);
    return (super.delMany as (keys: unknown, cb?: Callback) => Promise<number>).call(this, keys, cb);
  }

  /** The error for the first valid key no mount takes; undefined when every key routes (or the core will refuse the call anyway). */
  private unroutable(keys: readonly unknown[], cb: unknown): InvalidKeyError | undefined {
    const router = this.backend.router;
    if (router.fallback !== NO_MOUNT || (cb !== undefined && typeof cb !== 'function')) return undefined;
    for (const key of keys) {
      let id: string;
      try {
        id = keyId(key);
      } catch {
        return undefined; // an invalid key: the core refuses the call with its own error
      }
      if (router.route(id) === NO_MOUNT) return router.noMount(id);
    }
    return undefined;
  }

  /** A scope is a MountStore too, over every mount's scope. */
  protected _scope(namespace: string): MountStore<V, F> {
    return new MountStore<V, F>({ ...this.settings, namespace } as MountSettings, this.scopedBackend(namespace));
  }
}
