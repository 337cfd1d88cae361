/**
 * Entries read earlier, checked for expiry as they are handed on (SPEC §12): a backend's batches
 * (Backend.findBatches) one at a time, for a reader that may hold each a while (the core's
 * streams, a batching backend's own `find`), and the core's sorted windows (ordered-find.ts).
 */
import type { StoredEntry } from '../backend';
import type { Clock } from '../clock';

export async function* entriesOfBatches(batches: AsyncIterable<StoredEntry[]>, clock: Clock): AsyncGenerator<StoredEntry> {
  for await (const batch of batches) for (const entry of batch) if (liveNow(entry, clock)) yield entry;
}

/**
 * Whether an entry read earlier is still live as it is handed on, by the expiry its backend
 * gave (SPEC §12): what a batch or a sort held back may have expired meanwhile.
 */
export function liveNow(entry: StoredEntry, clock: Clock): boolean {
  return entry.expiresAt == null || entry.expiresAt > clock.now();
}
