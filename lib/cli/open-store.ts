/**
 * Opens the store a URL names and connects it first, so that an unreachable server is reported
 * once, up front, as ERR_STORAGE_CONNECTION (exit code 4), before any output is written.
 */
import { createStore } from '../factory';
import type { BaseStore } from '../store';
import { parseStoreUrl } from './store-url';

/** A connected store for `url`; the caller closes it. */
export async function openStore(url: string): Promise<BaseStore> {
  const store = createStore(parseStoreUrl(url)) as BaseStore;
  try {
    await store.connect();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return store;
}

/** Runs `body` with the store open, and closes it whatever happens. */
export async function withStore<T>(url: string, body: (store: BaseStore) => Promise<T>): Promise<T> {
  const store = await openStore(url);
  try {
    return await body(store);
  } finally {
    await store.close().catch(() => undefined);
  }
}
