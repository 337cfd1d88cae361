/**
 * memstorage-next: `require('memstorage-next')` is the factory itself (as memstorage's was),
 * and every class, error and helper hangs off it, so `import Store, { createStore } from
 * 'memstorage-next'` works from TypeScript and (through index.mjs) from ESM.
 */
import * as factory from './lib/factory';
import * as registry from './lib/registry';
import * as backend from './lib/backend';
import * as errors from './lib/errors';
import * as store from './lib/store';
import * as memory from './lib/stores/memory';
import * as clock from './lib/clock';
import * as serializer from './lib/serializer';
import * as query from './lib/query';

/** memstorage's factory: `Store({ type, settings })`, result-first callbacks. */
function Store(options?: factory.StoreOptions): store.BaseStore {
  return factory.Store(options);
}

// eslint-disable-next-line @typescript-eslint/no-namespace
namespace Store {
  export import StoreOptions = factory.StoreOptions;
  export const createStore = factory.createStore;
  export const storeTypes = factory.storeTypes;
  /** Adds a store type to `Store()`/`createStore()` (SPEC §13). */
  export const registerStore = registry.registerStore;
  export import StoreLoader = registry.StoreLoader;
  export import StoreDefinition = registry.StoreDefinition;
  export import Backend = backend.Backend;
  export import BackendContext = backend.BackendContext;
  export import BackendFactory = backend.BackendFactory;
  export import BaseStore = store.BaseStore;
  /** What `getOneSync` returns when a store cannot answer synchronously. */
  export const NOT_SYNC = store.NOT_SYNC;
  export import MemoryStore = memory.MemoryStore;
  export import MemorySettings = memory.MemorySettings;
  export import CommonSettings = store.CommonSettings;
  export import Capabilities = store.Capabilities;
  export import StoreStats = store.StoreStats;
  export import Entry = store.Entry;
  export import KeyedValue = store.KeyedValue;
  export import SetOptions = store.SetOptions;
  export import GetOptions = store.GetOptions;
  export import StoreError = errors.StoreError;
  export import StoreConfigError = errors.StoreConfigError;
  export import StorageConnectionError = errors.StorageConnectionError;
  export import StorageOperationError = errors.StorageOperationError;
  export import InvalidKeyError = errors.InvalidKeyError;
  export import InvalidQueryError = errors.InvalidQueryError;
  export import InvalidValueError = errors.InvalidValueError;
  export import InvalidArgumentError = errors.InvalidArgumentError;
  export import StoreClosedError = errors.StoreClosedError;
  export import KeyNotFoundError = errors.KeyNotFoundError;
  export import ErrorCodes = errors.ErrorCodes;
  export import ManualClock = clock.ManualClock;
  export import Clock = clock.Clock;
  export import Serializer = serializer.Serializer;
  export import defaultSerializer = serializer.defaultSerializer;
  export import ALLOWED_OPERATORS = query.ALLOWED_OPERATORS;
  // The MongoDB store, loaded on first access so memory-only users never load the driver.
  export type MongoSettings = import('./lib/stores/mongo').MongoSettings;
  export type MongoStore = import('./lib/stores/mongo').MongoStore;
  export declare const MongoStore: typeof import('./lib/stores/mongo').MongoStore;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  Object.defineProperty(Store, 'MongoStore', { enumerable: true, configurable: true, get: () => require('./lib/stores/mongo').MongoStore });
  // The multi-tier store, loaded on first access like the backends it builds.
  export type MultiSettings = import('./lib/multi/multi-store').MultiSettings;
  export type MultiStore = import('./lib/multi/multi-store').MultiStore;
  export declare const MultiStore: typeof import('./lib/multi/multi-store').MultiStore;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  Object.defineProperty(Store, 'MultiStore', { enumerable: true, configurable: true, get: () => require('./lib/multi/multi-store').MultiStore });
  // The Redis store, loaded on first access so memory-only users never load ioredis.
  export type RedisSettings = import('./lib/stores/redis').RedisSettings;
  export type RedisStore = import('./lib/stores/redis').RedisStore;
  export declare const RedisStore: typeof import('./lib/stores/redis').RedisStore;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  Object.defineProperty(Store, 'RedisStore', { enumerable: true, configurable: true, get: () => require('./lib/stores/redis').RedisStore });
}
Object.defineProperty(Store, 'default', { value: Store, enumerable: false });
Object.defineProperty(Store, 'Store', { value: Store, enumerable: false });

export = Store;
