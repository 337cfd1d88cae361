// ESM entry of memstorage-next: `import Store, { createStore, MemoryStore } from 'memstorage-next'`.
// It re-exports the CommonJS build, so ESM and CJS users share one module instance and the
// very same store classes (`instanceof` works across both). The build's `module.exports` is
// the factory itself, which Node exposes as the default export; the named exports below are
// its members. RedisStore, MongoStore and MultiStore need a driver: they are exported as
// stand-ins that load the real class on first use (see lazyClass), so importing the package
// loads no driver and does not fail when one is not installed.
import Store from './dist/index.js';

/**
 * A stand-in for the class `Store[name]`, loaded when first constructed, extended, tested with
 * instanceof or read from: `new RedisStore()` builds the real class's instance, `x instanceof
 * RedisStore` sees the real prototype, `class Mine extends RedisStore` works. Without the
 * driver, that first use throws the StoreConfigError naming the package to install.
 */
function lazyClass(name) {
  const load = () => Store[name];
  const standIn = new Proxy(function () {}, {
    construct: (_target, args, newTarget) => Reflect.construct(load(), args, newTarget === standIn ? load() : newTarget),
    apply: (_target, thisArg, args) => Reflect.apply(load(), thisArg, args),
    get: (_target, property) => Reflect.get(load(), property),
    has: (_target, property) => Reflect.has(load(), property),
    getPrototypeOf: () => Reflect.getPrototypeOf(load()),
  });
  return standIn;
}

export default Store;
export const {
  createStore,
  storeTypes,
  registerStore,
  BaseStore,
  MemoryStore,
  MountStore,
  StoreError,
  StoreConfigError,
  StorageConnectionError,
  StorageOperationError,
  InvalidKeyError,
  InvalidQueryError,
  InvalidValueError,
  InvalidArgumentError,
  StoreClosedError,
  KeyNotFoundError,
  ComputeTimeoutError,
  ErrorCodes,
  ManualClock,
  defaultSerializer,
  ALLOWED_OPERATORS,
  TRACED_METHODS,
  CHANNEL_PREFIX,
} = Store;
export const RedisStore = lazyClass('RedisStore');
export const MongoStore = lazyClass('MongoStore');
export const MultiStore = lazyClass('MultiStore');
export { Store };
