/**
 * The mount store's settings (SPEC §16): the mounts by prefix or field value, the default
 * mount and the key field, checked when the store is made (StoreConfigError naming the setting).
 */
import { StoreConfigError } from '../../errors';
import { isPlainObject } from '../../keys';
import type { StoreSpec } from '../../registry';
import { BaseStore, CommonSettings } from '../../store';

/** A mount: a store type and its settings (opened and owned by the mount store), or a store instance. */
export type MountSpec = StoreSpec | BaseStore;

/** Settings of the mount store. */
export interface MountSettings extends CommonSettings {
  /**
   * Mount name -> store. A string key goes to the mount whose name is its longest prefix; an
   * object key goes to the mount named by the string value of its `field`.
   */
  mounts?: Record<string, MountSpec>;
  /** Where every key no mount takes goes. Without it such a key is refused with ERR_INVALID_KEY. */
  default?: MountSpec;
  /** The top-level field of object keys whose string value names their mount. Without it object keys go to `default`. */
  field?: string;
}

/** The checked settings: mount names in settings order, each with its spec. */
export interface ResolvedMounts {
  named: Array<{ name: string; spec: MountSpec }>;
  fallback: MountSpec | undefined;
  field: string | undefined;
}

/** Checks the mount settings, naming the bad one. */
export function resolveMounts(settings: MountSettings): ResolvedMounts {
  const { mounts = {}, default: fallback, field } = settings;
  if (!isPlainObject(mounts)) throw new StoreConfigError('setting mounts must be a plain object of mount name -> { type, settings } or store');
  const named = Object.keys(mounts).map((name) => {
    if (name.length === 0) throw new StoreConfigError('setting mounts: a mount name must not be empty (use default for every other key)');
    checkSpec(mounts[name], `mounts[${JSON.stringify(name)}]`);
    return { name, spec: mounts[name] };
  });
  if (fallback !== undefined) checkSpec(fallback, 'default');
  if (named.length === 0 && fallback === undefined) throw new StoreConfigError('setting mounts: give at least one mount or a default');
  if (field !== undefined && (typeof field !== 'string' || field.length === 0 || field.includes('.') || field.startsWith('$'))) {
    throw new StoreConfigError('setting field must be a non-empty top-level field name (no dots, not starting with $)');
  }
  return { named, fallback, field };
}

function checkSpec(spec: unknown, setting: string): void {
  if (spec instanceof BaseStore) return;
  if (!isPlainObject(spec)) throw new StoreConfigError(`setting ${setting} must be { type, settings } or a store instance`);
  if (spec.type !== undefined && typeof spec.type !== 'string') throw new StoreConfigError(`setting ${setting}.type must be a store type name`);
  if (spec.settings !== undefined && !isPlainObject(spec.settings)) throw new StoreConfigError(`setting ${setting}.settings must be a plain object`);
}
