/**
 * The store-type registry (SPEC §13): `registerStore(name, loader)` adds a type to
 * `Store()`/`createStore()`. The built-in types register the same way (lib/builtin-stores.ts).
 * A loader runs on the first store of its type, so a backend's driver is loaded only when used.
 */
import { StoreConfigError } from './errors';
import { isPlainObject } from './keys';
import type { CallbackStyle } from './callbacks';
import { BackendStore } from './backend-store';
import type { BackendFactory } from './backend';
import type { BaseStore, CommonSettings } from './store';

/** How a registered type opens a store from the user's settings (already merged with defaults). */
export interface StoreDefinition {
  open(settings: CommonSettings & Record<string, unknown>): BaseStore;
}

/** What a loader may return: a full definition, or just the backend factory. */
export type StoreLoader = () => StoreDefinition | { createBackend: BackendFactory<CommonSettings & Record<string, unknown>> };

const loaders = new Map<string, StoreLoader>();
const loaded = new Map<string, StoreDefinition>();

/** Adds (or replaces) the store type `name`; types are case-insensitive, as memstorage's were. */
export function registerStore(name: string, loader: StoreLoader): void {
  if (typeof name !== 'string' || !/^[a-z][a-z0-9_-]*$/i.test(name)) {
    throw new StoreConfigError(`registerStore: name must be letters, digits, - or _, starting with a letter (got ${JSON.stringify(name)})`);
  }
  if (typeof loader !== 'function') throw new StoreConfigError('registerStore: loader must be a function');
  const type = name.toLowerCase();
  loaders.set(type, loader);
  loaded.delete(type);
}

/** The registered type names. */
export function storeTypes(): string[] {
  return [...loaders.keys()];
}

/** The definition of `type`, loading it on first use; undefined when no such type is registered. */
export function storeDefinition(type: string): StoreDefinition | undefined {
  const known = loaded.get(type);
  if (known) return known;
  const loader = loaders.get(type);
  if (!loader) return undefined;
  const result = loader();
  const definition: StoreDefinition =
    'open' in result && typeof result.open === 'function'
      ? result
      : { open: (settings) => new BackendStore(settings, (result as { createBackend: BackendFactory<typeof settings> }).createBackend) };
  loaded.set(type, definition);
  return definition;
}

/** What `Store()`/`createStore()` and a multi store's tier specs give: a type and its settings. */
export interface StoreSpec {
  type?: unknown;
  settings?: unknown;
}

/**
 * Opens a store of a registered type from `{ type, settings }` (the default type is memory);
 * `defaultCallbacks` applies when the settings name no convention. Throws StoreConfigError for
 * an unknown type or settings that are not a plain object.
 */
export function openStore(options: StoreSpec | undefined | null, defaultCallbacks: CallbackStyle): BaseStore {
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
  return definition.open({ callbacks: defaultCallbacks, ...settings });
}
