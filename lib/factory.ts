/**
 * The factory (SPEC §2): `Store({ type, settings })` picks a backend by name. Backends are
 * loaded on first use, so a memory-only user never loads the Redis or MongoDB drivers.
 */
import { StoreConfigError } from './errors';
import { isPlainObject } from './keys';
import type { BaseStore, CommonSettings } from './store';
import type { CallbackStyle } from './callbacks';

/** `Store()`/`createStore()` options. */
export interface StoreOptions {
  /** 'memory' (default), 'redis', 'mongo' or 'multi'. */
  type?: string;
  /** The backend's settings. */
  settings?: CommonSettings & Record<string, unknown>;
}

type StoreClass = new (settings: CommonSettings) => BaseStore;

/* eslint-disable @typescript-eslint/no-require-imports */
/** Store types by name, each loaded lazily. */
const BACKENDS: Record<string, () => StoreClass> = {
  memory: () => require('./stores/memory').MemoryStore,
  redis: () => require('./stores/redis').RedisStore,
  mongo: () => require('./stores/mongo').MongoStore,
  multi: () => require('./multi/multi-store').MultiStore,
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The valid `type` names. */
export function storeTypes(): string[] {
  return Object.keys(BACKENDS);
}

/** Builds a store; `defaultCallbacks` applies when the settings name no convention. */
export function buildStore(options: StoreOptions | undefined, defaultCallbacks: CallbackStyle): BaseStore {
  if (options === undefined || options === null) options = {};
  if (!isPlainObject(options)) throw new StoreConfigError('Store() takes an options object like { type, settings }');
  // memstorage lowercased the type, so 'Memory' and 'REDIS' keep working.
  const type = typeof options.type === 'string' ? options.type.toLowerCase() : (options.type ?? 'memory');
  const load = typeof type === 'string' && Object.prototype.hasOwnProperty.call(BACKENDS, type) ? BACKENDS[type] : undefined;
  if (!load) {
    throw new StoreConfigError(`unknown store type ${JSON.stringify(type)}; valid types are ${storeTypes().join(', ')}`);
  }
  const settings = options.settings ?? {};
  if (!isPlainObject(settings)) throw new StoreConfigError('setting settings must be a plain object');
  const StoreType = load();
  return new StoreType({ callbacks: defaultCallbacks, ...settings });
}

/** memstorage's factory: result-first callbacks unless `settings.callbacks` says otherwise. */
export function Store(options?: StoreOptions): BaseStore {
  return buildStore(options, 'result-first');
}

/** The modern factory: node-style callbacks (`cb(err, result)`) unless told otherwise. */
export function createStore(options?: StoreOptions): BaseStore {
  return buildStore(options, 'node');
}
