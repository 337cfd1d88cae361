/**
 * Making a tier forget what a write changed, used by the write path (a write that failed part
 * way, a cache tier that failed) and by coherence (another process wrote). A tier that cannot
 * be reached remembers instead, and drops the entries before it is read again for them.
 */
import type { Selector } from '../query';
import type { Tier } from './tier';

/** How a tier is made to forget something. */
export type Drop = (tier: Tier) => Promise<void>;

/** Makes a tier forget `id`: deletes it now, or remembers to before `id` is read there again. */
export function dropKey(id: string): Drop {
  return async (tier) => {
    if (tier.usable) {
      try {
        await tier.call(() => tier.backend.delete(id));
        tier.noteFresh(id);
        return;
      } catch {
        // fall through: remember it
      }
    }
    tier.noteStale(id);
  };
}

/** Makes a tier forget everything `selector` matches (everything when undefined): now, or by clearing it on recovery. */
export function dropMatching(selector: Selector | undefined): Drop {
  return dropInBulk((tier) => forget(tier, selector));
}

/** Runs a bulk forget on a tier that is up; a tier that is down or fails it is cleared on recovery instead. */
function dropInBulk(forgetIn: (tier: Tier) => Promise<unknown>): Drop {
  return async (tier) => {
    if (tier.usable) {
      try {
        await tier.call<unknown>(() => forgetIn(tier), undefined, tier.bulkTimeout);
        return;
      } catch {
        // fall through
      }
    }
    tier.noteAllStale();
  };
}

/** Deletes what `selector` matches from `tier` (everything when undefined or 'all'): a query delete, or a clear. */
export function forget(tier: Tier, selector: Selector | undefined): Promise<unknown> {
  return selector === undefined || selector.kind === 'all' ? tier.backend.clear() : tier.backend.deleteMatching(selector);
}

/** Makes a tier forget every entry carrying one of `tags`: by tags where it keeps them, else everything (now, or on recovery). */
export function dropTagged(tags: readonly string[]): Drop {
  return dropInBulk((tier) => forgetTagged(tier, tags));
}

/**
 * Deletes the entries carrying one of `tags` from `tier`. Only a complete tier knows every
 * entry's tags: a cache tier also holds entries promoted from below, which arrive without
 * them, so it is cleared (as is a tier that keeps no tags).
 */
export function forgetTagged(tier: Tier, tags: readonly string[]): Promise<unknown> {
  const remove = tier.backend.deleteByTags;
  return tier.complete && tier.store.supports.tags && remove ? remove(tags) : tier.backend.clear();
}
