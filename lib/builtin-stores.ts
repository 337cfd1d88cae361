/**
 * The built-in store types, registered through the same `registerStore` a third-party backend
 * uses. Each loader requires its module on first use only. The multi store registers in
 * lib/factory.ts: it imports this file to open its tiers.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import { registerStore } from './registry';
import type { BaseStore, CommonSettings } from './store';

type StoreClass = new (settings: CommonSettings) => BaseStore;
const classDefinition = (load: () => StoreClass) => () => {
  const StoreType = load();
  return { open: (settings: CommonSettings) => new StoreType(settings) };
};

registerStore('memory', classDefinition(() => require('./backends/memory').MemoryStore));
registerStore('redis', classDefinition(() => require('./backends/redis').RedisStore));
registerStore('mongo', classDefinition(() => require('./backends/mongo').MongoStore));
registerStore('sqlite', () => require('./backends/sqlite'));
registerStore('mount', classDefinition(() => require('./backends/mount').MountStore));
