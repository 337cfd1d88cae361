/**
 * The multi store's settings (SPEC §8 multi): the tier list, its defaults, and the eager check
 * that refuses a bad one with a StoreConfigError naming the setting.
 */
import { StoreConfigError } from '../errors';
import { isPlainObject } from '../keys';
import { BaseStore, CommonSettings } from '../store';
import { InvalidationSettings, checkInvalidationSettings } from './invalidation';

/** A tier given as store settings (opened through the store registry) or as a store instance with options. */
export interface TierSpec {
  /** Store type, as registered ('memory', 'redis', 'mongo', ...). */
  type?: string;
  /** That store's settings. */
  settings?: Record<string, unknown>;
  /** An existing store to use as this tier instead of `type`/`settings`. */
  store?: BaseStore;
  /** Longest time an entry stays in this tier, in ms (promotions and writes are capped by it). Default: none. */
  ttl?: number | null;
  /** Per-operation timeout for this tier in ms; 0 disables it. Default: the store's `timeout`. */
  timeout?: number;
  /** Name in stats and errors. Default: `type`, or the store's class name. */
  name?: string;
}

/** Settings of the multi store. */
export interface MultiSettings extends CommonSettings {
  /** The tiers, fastest first: store settings, `TierSpec`s or store instances. */
  stores?: Array<TierSpec | BaseStore>;
  /** memstorage's README spelling of `stores`. */
  store?: Array<TierSpec | BaseStore>;
  /** memstorage's `cache: true`: a memory tier in front, warmed by copying the complete tier at connect. An object gives that tier's memory settings and `ttl`. */
  cache?: boolean | (Record<string, unknown> & { ttl?: number | null });
  /** Index in `stores` of the first tier that holds the complete data set (it and every tier after it answer queries). Default: the last tier. */
  queryTier?: number;
  /** Default per-tier timeout in ms for tiers that are shared or persistent (in-process tiers get none). Default 1000. */
  timeout?: number;
  /** Timeout in ms of operations that grow with the data (queries, counts, key listings, query deletes, clear) on tiers that have a timeout; 0 disables it. Default 30000. */
  bulkTimeout?: number;
  /** First retry delay after a tier fails, in ms; doubles per consecutive failure. Default 100. */
  backoff?: number;
  /** Longest retry delay, in ms. Default 5000. */
  maxBackoff?: number;
  /** How long `connect()` waits for each tier, in ms. Default 10000. */
  connectTimeout?: number;
  /** Ids a failed cache tier remembers to drop before it is cleared wholesale on recovery. Default 10000. */
  maxPendingDrops?: number;
  /** Cross-process coherence through Redis pub/sub: `{ redis: url | client, channel? }`. Default: off. */
  invalidation?: InvalidationSettings;
}

/** Defaults of the multi store, one documented value per setting. */
export const MULTI_DEFAULTS = {
  timeout: 1000,
  bulkTimeout: 30_000,
  backoff: 100,
  maxBackoff: 5000,
  connectTimeout: 10_000,
  maxPendingDrops: 10_000,
} as const;

/** The tiers to build, fastest first (the `cache` tier included), and the index of the first complete one. */
export interface TierPlan {
  specs: Array<TierSpec | BaseStore>;
  queryTier: number;
  /**
   * What connect copies into the cache tier: nothing, the first complete tier that is up, or
   * (memstorage's `cache: true`) every store, last first, so that the first store wins a key
   * both hold — the cache is then the union and answers every read, queries included.
   */
  warm: 'none' | 'complete' | 'union';
}

const NON_NEGATIVE_INT = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Checks the settings eagerly and says which tiers to build. */
export function planTiers(settings: MultiSettings): TierPlan {
  const list = checkMultiSettings(settings);
  const offset = settings.cache ? 1 : 0;
  const specs: Array<TierSpec | BaseStore> = settings.cache
    ? [{ type: 'memory', name: 'cache', ...(isPlainObject(settings.cache) ? splitCache(settings.cache) : {}) }, ...list]
    : list;
  // memstorage's cache: an unbounded in-process union of the stores, serving every read. Only
  // where nothing else writes it away: another process's writes (an invalidation bus) would
  // drop keys from it, and then it would no longer hold every entry a query must find.
  if (settings.cache === true && settings.queryTier === undefined && settings.invalidation === undefined) {
    return { specs, queryTier: 0, warm: 'union' };
  }
  return { specs, queryTier: (settings.queryTier ?? list.length - 1) + offset, warm: settings.cache ? 'complete' : 'none' };
}

/** The tier list of valid settings; throws StoreConfigError naming the first bad setting. */
export function checkMultiSettings(settings: MultiSettings): Array<TierSpec | BaseStore> {
  if (settings.stores !== undefined && settings.store !== undefined) {
    throw new StoreConfigError('settings stores and store are two spellings of one setting: give only one');
  }
  const list = settings.stores ?? settings.store;
  const name = settings.stores !== undefined ? 'stores' : 'store';
  if (!Array.isArray(list) || list.length === 0) {
    throw new StoreConfigError(`setting ${name} must be a non-empty array of store settings or stores, fastest first`);
  }
  list.forEach((spec, i) => {
    if (spec instanceof BaseStore) return;
    if (!isPlainObject(spec)) throw new StoreConfigError(`setting ${name}[${i}] must be store settings like { type, settings } or a store`);
    if (spec.store !== undefined) {
      if (!(spec.store instanceof BaseStore)) throw new StoreConfigError(`setting ${name}[${i}].store must be a store instance`);
      if (spec.type !== undefined || spec.settings !== undefined) {
        throw new StoreConfigError(`setting ${name}[${i}] gives both store and type/settings`);
      }
    } else if (spec.type !== undefined && typeof spec.type !== 'string') {
      throw new StoreConfigError(`setting ${name}[${i}].type must be a string`);
    }
    if (spec.settings !== undefined && !isPlainObject(spec.settings)) throw new StoreConfigError(`setting ${name}[${i}].settings must be a plain object`);
    if (spec.ttl !== undefined && spec.ttl !== null && !(typeof spec.ttl === 'number' && Number.isFinite(spec.ttl) && spec.ttl > 0)) {
      throw new StoreConfigError(`setting ${name}[${i}].ttl must be a positive number of milliseconds or null`);
    }
    if (spec.timeout !== undefined && !NON_NEGATIVE_INT(spec.timeout)) throw new StoreConfigError(`setting ${name}[${i}].timeout must be a non-negative integer (ms)`);
    if (spec.name !== undefined && typeof spec.name !== 'string') throw new StoreConfigError(`setting ${name}[${i}].name must be a string`);
  });
  for (const field of ['timeout', 'bulkTimeout', 'backoff', 'maxBackoff', 'connectTimeout', 'maxPendingDrops'] as const) {
    if (settings[field] !== undefined && !NON_NEGATIVE_INT(settings[field])) throw new StoreConfigError(`setting ${field} must be a non-negative integer`);
  }
  if (settings.cache !== undefined && typeof settings.cache !== 'boolean' && !isPlainObject(settings.cache)) {
    throw new StoreConfigError('setting cache must be true, false or the memory tier settings');
  }
  if (settings.queryTier !== undefined && !(NON_NEGATIVE_INT(settings.queryTier) && settings.queryTier < list.length)) {
    throw new StoreConfigError(`setting queryTier must be an index into ${name} (0..${list.length - 1})`);
  }
  if (settings.invalidation !== undefined) checkInvalidationSettings(settings.invalidation);
  return list;
}

/** `cache: { ttl, ...memory settings }` as the front tier's spec. */
export function splitCache(cache: Record<string, unknown> & { ttl?: number | null }): TierSpec {
  const { ttl, ...settings } = cache;
  return { ttl, settings };
}
