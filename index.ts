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
import * as publicTypes from './lib/store-types';
import type { CallbackStyle } from './lib/callbacks';
import type { Flags, InferredOptions, LiteralOptions, StoreFlags, UnknownFlags } from './lib/store-types';
import * as memory from './lib/backends/memory';
import * as mount from './lib/backends/mount';
import * as clock from './lib/clock';
import * as serializer from './lib/serializer';
import * as query from './lib/query';
import * as tracing from './lib/core/tracing';
import type * as watch from './lib/core/watch';
import type * as observe from './lib/core/observe';

/** memstorage's factory: `Store({ type, settings })`, result-first callbacks; typed as lib/factory.ts's `Store`. */
function Store<V = unknown, K extends boolean = false, N extends boolean = false, C extends CallbackStyle = 'result-first'>(options?: InferredOptions<K, N, C>): Store<V, Flags<K, N, C>>;
function Store<V>(options: LiteralOptions<true, false, 'result-first', 'result-first'>): Store<V, Flags<true, false, 'result-first'>>;
function Store<V>(options: LiteralOptions<false, true, 'result-first', 'result-first'>): Store<V, Flags<false, true, 'result-first'>>;
function Store<V>(options: LiteralOptions<true, true, 'result-first', 'result-first'>): Store<V, Flags<true, true, 'result-first'>>;
function Store<V>(options: LiteralOptions<false, false, 'node', 'result-first'>): Store<V, Flags<false, false, 'node'>>;
function Store<V>(options: LiteralOptions<true, false, 'node', 'result-first'>): Store<V, Flags<true, false, 'node'>>;
function Store<V>(options: LiteralOptions<false, true, 'node', 'result-first'>): Store<V, Flags<false, true, 'node'>>;
function Store<V>(options: LiteralOptions<true, true, 'node', 'result-first'>): Store<V, Flags<true, true, 'node'>>;
function Store<V = unknown>(options?: factory.StoreOptions): Store<V>;
function Store(options?: factory.StoreOptions): store.BaseStore {
  return factory.Store(options);
}

/** A store of values V whose settings the types know as F: what `Store<V>()`/`createStore<V>()` return. */
type Store<V = unknown, F extends StoreFlags = UnknownFlags> = store.BaseStore<V, F>;

// eslint-disable-next-line @typescript-eslint/no-namespace
namespace Store {
  export import StoreOptions = publicTypes.StoreOptions;
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
  export import MemoryStore = memory.MemoryStore;
  export import MemorySettings = memory.MemorySettings;
  export import MountStore = mount.MountStore;
  export type MountSettings = mount.MountSettings;
  export type MountSpec = mount.MountSpec;
  export import CommonSettings = publicTypes.CommonSettings;
  export import Capabilities = backend.Capabilities;
  export import StoreStats = publicTypes.StoreStats;
  export import Entry = publicTypes.Entry;
  export import KeyedValue = publicTypes.KeyedValue;
  export import SetOptions = publicTypes.SetOptions;
  export import SetManyItem = publicTypes.SetManyItem;
  export type GetOrSetOptions = store.GetOrSetOptions;
  export import GetOptions = publicTypes.GetOptions;
  export import QueryOptions = publicTypes.QueryOptions;
  export import PageOptions = publicTypes.PageOptions;
  export import Page = publicTypes.Page;
  export import SortOrder = publicTypes.SortOrder;
  /** A store of values V with settings known to the types as F (see StoreFlags). */
  export type Store<V = unknown, F extends StoreFlags = UnknownFlags> = store.BaseStore<V, F>;
  export import StoreFlags = publicTypes.StoreFlags;
  export import Flags = publicTypes.Flags;
  export import UnknownFlags = publicTypes.UnknownFlags;
  export import GetResult = publicTypes.GetResult;
  export import NodeCallback = publicTypes.NodeCallback;
  export import ResultFirstCallback = publicTypes.ResultFirstCallback;
  export import KeyInput = publicTypes.KeyInput;
  export import Query = publicTypes.Query;
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
  export import ComputeTimeoutError = errors.ComputeTimeoutError;
  export import ErrorCodes = errors.ErrorCodes;
  export import ManualClock = clock.ManualClock;
  export import Clock = clock.Clock;
  export import Serializer = serializer.Serializer;
  export import defaultSerializer = serializer.defaultSerializer;
  export import ALLOWED_OPERATORS = query.ALLOWED_OPERATORS;
  /** The public calls traced on diagnostics_channel, each on the channel CHANNEL_PREFIX + its name. */
  export import TRACED_METHODS = tracing.TRACED_METHODS;
  export import CHANNEL_PREFIX = tracing.CHANNEL_PREFIX;
  export type TraceContext = tracing.TraceContext;
  export type WatchEvent = watch.WatchEvent;
  export type WatchListener = watch.WatchListener;
  export type Unwatch = watch.Unwatch;
  export type KeyEvent = observe.KeyEvent;
  export type BulkDeleteEvent = observe.BulkDeleteEvent;
  // The classes of the stores that need a driver, loaded on first access (LAZY_CLASSES below)
  // so that a memory-only user never loads ioredis, mongodb or better-sqlite3.
  export type MongoSettings = import('./lib/backends/mongo').MongoSettings;
  export type MongoStore = import('./lib/backends/mongo').MongoStore;
  export declare const MongoStore: typeof import('./lib/backends/mongo').MongoStore;
  export type MultiSettings = import('./lib/multi/multi-store').MultiSettings;
  export type MultiStore = import('./lib/multi/multi-store').MultiStore;
  export declare const MultiStore: typeof import('./lib/multi/multi-store').MultiStore;
  export type RedisSettings = import('./lib/backends/redis').RedisSettings;
  export type RedisStore = import('./lib/backends/redis').RedisStore;
  export declare const RedisStore: typeof import('./lib/backends/redis').RedisStore;
}
/* eslint-disable @typescript-eslint/no-require-imports */
/** Store classes exposed on the entry but loaded on first access (index.mjs lists the same names). */
const LAZY_CLASSES: Record<string, () => unknown> = {
  MongoStore: () => require('./lib/backends/mongo').MongoStore,
  MultiStore: () => require('./lib/multi/multi-store').MultiStore,
  RedisStore: () => require('./lib/backends/redis').RedisStore,
};
/* eslint-enable @typescript-eslint/no-require-imports */
for (const [name, load] of Object.entries(LAZY_CLASSES)) Object.defineProperty(Store, name, { enumerable: true, configurable: true, get: load });
Object.defineProperty(Store, 'default', { value: Store, enumerable: false });
Object.defineProperty(Store, 'Store', { value: Store, enumerable: false });

export = Store;
