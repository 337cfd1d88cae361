// ESM entry of memstorage-next: `import Store, { createStore, MemoryStore } from 'memstorage-next'`.
// It re-exports the CommonJS build, so ESM and CJS users share one module instance and the
// very same store classes (`instanceof` works across both). The build's `module.exports` is
// the factory itself, which Node exposes as the default export; the named exports below are
// its members. RedisStore, MongoStore and MultiStore are whatever index.ts exposes under those
// names (undefined until it does).
import Store from './dist/index.js';

export default Store;
export const {
  createStore,
  storeTypes,
  registerStore,
  BaseStore,
  NOT_SYNC,
  MemoryStore,
  RedisStore,
  MongoStore,
  MultiStore,
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
  ErrorCodes,
  ManualClock,
  defaultSerializer,
  ALLOWED_OPERATORS,
} = Store;
export { Store };
