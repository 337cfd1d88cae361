/**
 * The two stores the event, watch and tracing tests run on — an in-process memory store and a
 * multi store [memory, redis] over a real redis-server — and a `describe` per store with a
 * fresh, connected store for each test (cleared and closed after it).
 */
import { MemoryStore } from '../../lib/backends/memory';
import { MultiStore } from '../../lib/multi/multi-store';
import type { BaseStore } from '../../lib/store';
import { sharedRedis } from './redis-server';
import { freshNamespace } from './store-configs';

/** A store a test group runs on. */
export interface StoreSetup {
  name: string;
  open(): Promise<BaseStore>;
}

/** The memory store and a multi store [memory, redis] whose namespaces start with `prefix`. */
export function memoryAndMultiRedis(prefix: string): StoreSetup[] {
  return [
    { name: 'memory', open: async () => new MemoryStore() },
    {
      name: 'multi [memory, redis]',
      open: async () => {
        const { url } = await sharedRedis();
        return new MultiStore({ namespace: freshNamespace(prefix), stores: [{ type: 'memory' }, { type: 'redis', settings: { url } }] });
      },
    },
  ];
}

/** `describe(title(setup))` per setup; `body` reads the test's store through `current()`. */
export function describeEachStore<S extends StoreSetup>(setups: readonly S[], title: (setup: S) => string, body: (setup: S, current: () => BaseStore) => void): void {
  for (const setup of setups) {
    describe(title(setup), function () {
      this.timeout(30_000);
      let store: BaseStore;

      beforeEach(async () => {
        store = await setup.open();
        await store.connect();
      });

      afterEach(async () => {
        await store.clear().catch((err: { code?: string }) => {
          if (err.code !== 'ERR_STORE_CLOSED') throw err; // the test closed it itself
        });
        await store.close();
      });

      body(setup, () => store);
    });
  }
}
