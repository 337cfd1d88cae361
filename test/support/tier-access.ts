/**
 * A store as a layered store (the multi store) reaches it as a tier (lib/core/tier-access.ts),
 * by key, for tests that check what a tier answers there: the symbol is not on the public API.
 */
import { keyId } from '../../lib/keys';
import { tierBackend } from '../../lib/core/tier-access';
import type { EntryWithExpiry } from '../../lib/backend';
import type { BaseStore, KeyInput } from '../../lib/store';

/** The value with its absolute expiry, as a tier promotion reads it. */
export function entryOf<V = unknown>(store: BaseStore, key: KeyInput): Promise<EntryWithExpiry<V> | undefined> {
  return store[tierBackend]().getEntry!(keyId(key)) as Promise<EntryWithExpiry<V> | undefined>;
}

/** One result per key, as a multi store's batched misses read them. */
export function entriesOf(store: BaseStore, keys: KeyInput[]): Promise<Array<EntryWithExpiry | undefined | Error>> {
  return store[tierBackend]().getEntries!(keys.map(keyId));
}

/** The synchronous read of a front tier: the value, undefined, or NOT_SYNC. Throws for an invalid key. */
export function readSyncOf(store: BaseStore, key: KeyInput): unknown {
  return store[tierBackend]().readSync(keyId(key));
}
