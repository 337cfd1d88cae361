/**
 * The memory backend's settings, checked eagerly when the store is created (SPEC §10): a bad
 * one is ERR_STORE_CONFIG naming it.
 */
import { InvalidQueryError, StoreConfigError } from '../../errors';
import { checkPath } from '../../query';
import type { CommonSettings } from '../../store-types';

/** Settings of the memory store. */
export interface MemorySettings extends CommonSettings {
  /** Most entries per namespace before the least recently used is evicted. Default 0 (unbounded). */
  maxKeys?: number;
  /** Most approximate bytes per namespace before LRU eviction. Default 0 (unbounded). */
  maxBytes?: number;
  /** Copy values on write and read instead of keeping references. Default false (like Map). */
  clone?: boolean;
  /** How often expired entries are freed, in ms; 0 frees them only during writes and reads. Default 1000. */
  sweepInterval?: number;
  /**
   * The key paths to index (dotted, e.g. `['age', 'address.city']`): equality, `$in`, ranges and
   * `sort` on them use an ordered index; queries on other paths scan. Fewer paths hold less
   * memory and make writes of new object keys cheaper. Default: every path (undefined).
   */
  indexes?: string[];
}

/** Defaults of the memory store, one documented value per setting. */
export const MEMORY_DEFAULTS = {
  maxKeys: 0,
  maxBytes: 0,
  clone: false,
  sweepInterval: 1000,
} as const;

/** The memory settings with defaults applied: shared by a store and all its scopes. */
export interface ResolvedMemorySettings {
  maxKeys: number;
  maxBytes: number;
  clone: boolean;
  sweepInterval: number;
  /** The paths to index; null for every path. */
  indexes: ReadonlySet<string> | null;
}

/** Checks `settings` and applies the defaults; throws StoreConfigError naming the bad setting. */
export function resolveSettings(settings: MemorySettings): ResolvedMemorySettings {
  for (const name of ['maxKeys', 'maxBytes', 'sweepInterval'] as const) {
    const v = settings[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
      throw new StoreConfigError(`setting ${name} must be a non-negative integer`);
    }
  }
  if (settings.clone !== undefined && typeof settings.clone !== 'boolean') {
    throw new StoreConfigError('setting clone must be a boolean');
  }
  return {
    indexes: resolveIndexes(settings.indexes),
    maxKeys: settings.maxKeys ?? MEMORY_DEFAULTS.maxKeys,
    maxBytes: settings.maxBytes ?? MEMORY_DEFAULTS.maxBytes,
    clone: settings.clone ?? MEMORY_DEFAULTS.clone,
    sweepInterval: settings.sweepInterval ?? MEMORY_DEFAULTS.sweepInterval,
  };
}

/** Checks the `indexes` setting: undefined (every path) or an array of valid dotted paths. */
function resolveIndexes(indexes: unknown): ReadonlySet<string> | null {
  if (indexes === undefined) return null;
  if (!Array.isArray(indexes)) throw new StoreConfigError("setting indexes must be an array of key paths like ['age', 'address.city']");
  for (const path of indexes) {
    if (typeof path !== 'string') throw new StoreConfigError('setting indexes must hold key paths as strings');
    try {
      checkPath(path);
    } catch (err) {
      if (err instanceof InvalidQueryError) throw new StoreConfigError(`setting indexes: ${path} is not a key path: ${err.message}`);
      throw err;
    }
    if (path.split('.').some((part) => part.startsWith('$') || /^\d+$/.test(part))) {
      throw new StoreConfigError(`setting indexes: ${path} must name fields, not operators or array positions`);
    }
  }
  return new Set(indexes as string[]);
}
