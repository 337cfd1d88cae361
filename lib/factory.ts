/**
 * The factory (SPEC §2): `Store({ type, settings })` picks a registered type by name
 * (lib/registry.ts). Backends are loaded on first use, so a memory-only user never loads the
 * Redis, MongoDB or SQLite drivers.
 */
import { StoreConfigError } from './errors';
import { isPlainObject } from './keys';
import type { BaseStore, CommonSettings } from './store';
import type { CallbackStyle } from './callbacks';
import { storeDefinition, storeTypes } from './registry';
import './builtin-stores';

/** `Store()`/`createStore()` options. */
export interface StoreOptions {
  /** 'memory' (default), 'redis', 'mongo', 'multi', or a type added with `registerStore`. */
  type?: string;
  /** The backend's settings. */
  settings?: (CommonSettings & Record<string, unknown>) | CommonSettings;
}

/** The valid `type` names. */
export { storeTypes };

/** Builds a store; `defaultCallbacks` applies when the settings name no convention. */
export function buildStore(options: StoreOptions | undefined, defaultCallbacks: CallbackStyle): BaseStore {
  if (options === undefined || options === null) options = {};
  if (!isPlainObject(options)) throw new StoreConfigError('Store() takes an options object like { type, settings }');
  // memstorage lowercased the type, so 'Memory' and 'REDIS' keep working.
  const type = typeof options.type === 'string' ? options.type.toLowerCase() : (options.type ?? 'memory');
  const definition = typeof type === 'string' ? storeDefinition(type) : undefined;
  if (!definition) {
    throw new StoreConfigError(`unknown store type ${JSON.stringify(type)}; valid types are ${storeTypes().join(', ')}`);
  }
  const settings = options.settings ?? {};
  if (!isPlainObject(settings)) throw new StoreConfigError('setting settings must be a plain object');
  return definition.open({ callbacks: defaultCallbacks, ...(settings as Record<string, unknown>) });
}

/** memstorage's factory: result-first callbacks unless `settings.callbacks` says otherwise. */
export function Store(options?: StoreOptions): BaseStore {
  return buildStore(options, 'result-first');
}

/** The modern factory: node-style callbacks (`cb(err, result)`) unless told otherwise. */
export function createStore(options?: StoreOptions): BaseStore {
  return buildStore(options, 'node');
}
