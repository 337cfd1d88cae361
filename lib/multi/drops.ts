/**
 * Making a tier forget what a write changed, used by the write path (a write that failed part
 * way, a cache tier that failed) and by coherence (another process wrote). A tier that cannot
 * be reached remembers instead, and drops the entries before it is read again for them.
 */
import { deleteById } from '../core/tier-access';
import type { Tier } from './tier';

/** How a tier is made to forget something. */
export type Drop = (tier: Tier) => Promise<void>;

/** Makes a tier forget `id`: deletes it now, or remembers to before `id` is read there again. */
export function dropKey(id: string): Drop {
  return async (tier) => {
    if (tier.usable) {
      try {
        await tier.call(() => tier.store[deleteById](id));
        tier.noteFresh(id);
        return;
      } catch {
        // fall through: remember it
      }
    }
    tier.noteStale(id);
  };
}

/** Makes a tier forget everything matching a query (or everything): now, or by clearing it on recovery. */
export function dropMatching(query: Record<string, unknown> | undefined): Drop {
  return async (tier) => {
    if (tier.usable) {
      try {
        await tier.call<unknown>(() => (query ? tier.store.del(query) : tier.store.clear()), undefined, tier.bulkTimeout);
        return;
      } catch {
        // fall through
      }
    }
    tier.noteAllStale();
  };
}
