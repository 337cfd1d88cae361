/**
 * Opens the store a URL names and connects it first, so that an unreachable server is reported
 * once, up front, as ERR_STORAGE_CONNECTION (exit code 4), before any output is written.
 */
import { createStore } from '../factory';
import type { BaseStore } from '../store';
import { parseStoreUrl } from './store-url';

/**
 * How long the command waits for one Redis command (the store's default is 2 s, for a cache's
 * hot path): a batch of a command-line copy, or one large value, takes longer on a busy machine —
 * a 64 MB value timed out at 2 s (exit code 4) at a load average of 24 on 2 cores.
 */
export const CLI_REDIS_COMMAND_TIMEOUT_MS = 60_000;

/** A connected store for `url`; the caller closes it. */
export async function openStore(url: string): Promise<BaseStore> {
  const options = parseStoreUrl(url);
  if (options.type === 'redis') options.settings = { commandTimeout: CLI_REDIS_COMMAND_TIMEOUT_MS, ...options.settings };
  const store = createStore(options) as BaseStore;
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
