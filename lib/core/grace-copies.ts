/**
 * getOrSet's stale copies (`grace`, SPEC §15). Ordinary reads must not see an entry past its
 * TTL, so the value a getOrSet stores is written twice: the entry itself with TTL `ttl`, and a
 * copy `{ v: value, g: grace }` with TTL `ttl + grace` in the store's hidden scope `grace`
 * (same backend, a namespace no user can open, so no user read, query, count or clear sees it).
 *
 * The copy stands in only for an entry that *expired*, never for one deleted:
 * - Once a getOrSet with grace has run on a store, every delete the store makes — `del` (a key
 *   or a query), `delMany`, `delKeys`, `delByTags` (the copy carries the entry's tags), `clear` —
 *   is repeated on the copies before it resolves (lib/core/store-core.ts `followDelete`): the
 *   copy's key is the entry's, so the same query selects it. A process that never ran a
 *   getOrSet with grace on the store sends no such deletes (they would cost every delete a
 *   second one); the check below then still covers its deletes made while the entry was live.
 * - When getOrSet misses the entry, the copy's remaining TTL tells when the entry was due to
 *   expire (remaining − g). If that moment is still ahead, the entry was deleted (or evicted)
 *   rather than expired: the copy is deleted and never served.
 * What is left: a process that never used grace deleting the entry after its TTL ended, or an
 * eviction; the copy is then served for what is left of its grace. A plain `set` of the key does
 * not touch the copy: while the entry is live the copy is never read.
 */
import type { BaseStore, KeyInput } from '../store';

/** The scope name (under the reserved prefix) that holds the copies. */
export const GRACE_SCOPE = 'grace';

/**
 * Two writes made in one tick may read the clock a millisecond apart (and round up): the copy
 * may outlive `ttl + grace` by that much, which must not read as "the entry was deleted".
 */
const CLOCK_SLACK_MS = 50;

/** A stale value that may stand in for a failed or late compute. */
export interface StaleValue<T> {
  value: T;
}

/** The copies of one store. */
export class GraceCopies {
  constructor(
    private readonly scope: () => BaseStore,
    /** Where a background failure (dropping an obsolete copy) goes: the store's 'error' event. */
    private readonly report: (err: unknown) => void,
  ) {}

  /** Writes the copy of a value just stored with TTL `ttl` (and `tags`, for delByTags), kept `grace` ms longer. */
  write(key: KeyInput, value: unknown, ttl: number, grace: number, tags?: string[]): Promise<void> {
    return this.scope().set(key, { v: value, g: grace }, { ttl: ttl + grace, tags });
  }

  /**
   * The copy of `key` when its entry (just missed) expired no more than `grace` ms ago, else
   * undefined; a copy whose entry should still be live is deleted (see the file comment).
   */
  async read<T>(key: KeyInput, grace: number): Promise<StaleValue<T> | undefined> {
    const scope = this.scope();
    const [copy, remaining] = await Promise.all([scope.getOne(key), scope.ttl(key)]);
    if (!isCopy(copy) || typeof remaining !== 'number') return undefined;
    const sinceExpiry = copy.g - remaining; // ms since the entry's TTL ended (< 0: not yet)
    if (sinceExpiry < -CLOCK_SLACK_MS) {
      scope.del(key).catch(this.report);
      return undefined;
    }
    return sinceExpiry <= grace ? { value: copy.v as T } : undefined;
  }
}

function isCopy(value: unknown): value is { v: unknown; g: number } {
  return typeof value === 'object' && value !== null && 'v' in value && typeof (value as { g?: unknown }).g === 'number';
}
