/**
 * The mount store type (`{ type: 'mount', settings: { mounts, default, field } }`, SPEC §16),
 * registered in lib/builtin-stores.ts: string keys routed by prefix and object keys by a field
 * to different stores behind one API (backend.ts, routing.ts; docs/mount.md).
 */
import type { BackendFactory } from '../../backend';
import { BackendStore, ScopedBackend } from '../../backend-store';
import { keyId } from '../../keys';
import type { StoreFlags, UnknownFlags } from '../../store-types';
import { MountBackend } from './backend';
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

  /** A scope is a MountStore too, over every mount's scope. */
  protected _scope(namespace: string): MountStore<V, F> {
    return new MountStore<V, F>({ ...this.settings, namespace } as MountSettings, this.scopedBackend(namespace));
  }
}
