/**
 * Reads answered by the complete tiers (SPEC §9): queries, counts, key listings, `ttl()`, `getMeta()`,
 * stats and value streams. A cache tier may have evicted or expired entries, so these go to
 * the first complete tier (`queryTier`) that answers, and to the next complete one when it
 * fails: never a silently incomplete answer.
 */
import { StorageConnectionError } from '../errors';
import type { Selector } from '../query';
import type { BackendStats, EntryMeta, FindOptions, StoredEntry } from '../backend';
import type { MultiContext } from './context';
import type { Tier } from './tier';
import { unavailable } from './tier-failures';

/** See the file comment. One per multi store. */
export class CompleteReads {
  constructor(private readonly ctx: MultiContext) {}

  /** Runs `op` on the first complete tier that answers; the next complete tier on failure. */
  async fromComplete<T>(op: (tier: Tier) => Promise<T>, bulk = false): Promise<T> {
    const { tiers, queryTier } = this.ctx;
    let failure: Error | undefined;
    for (let i = queryTier; i < tiers.length; i++) {
      const tier = tiers[i];
      if (!tier.usable) {
        failure ??= unavailable(tier);
        continue;
      }
      try {
        return await tier.call(() => op(tier), undefined, bulk ? tier.bulkTimeout : tier.timeout);
      } catch (err) {
        failure = err as Error;
      }
    }
    throw failure ?? new StorageConnectionError('no complete tier could be read');
  }

  /** When `id` expires: epoch ms, null for never, undefined when absent. */
  expiresAt(id: string): Promise<number | null | undefined> {
    return this.fromComplete((tier) => tier.backend.expiresAt(id));
  }

  /**
   * The entry's metadata (SPEC §16) from the first complete tier that answers: a cache tier's
   * copy carries the time it was promoted and no tags, the complete tier the entry's own.
   */
  getMeta(id: string): Promise<EntryMeta | undefined> {
    return this.fromComplete((tier) => tier.backend.getMeta(id));
  }

  /** How many entries `selector` matches. */
  count(selector: Selector): Promise<number> {
    return this.fromComplete((tier) => tier.backend.count(selector), true);
  }

  /** The entries `selector` matches (keys only unless `options.values`), from one complete tier. */
  async *find(selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
    if (selector.kind === 'none') return;
    // Open the iterator on the first complete tier that yields its first entry in time.
    let it: AsyncIterator<StoredEntry> | undefined;
    let tier: Tier | undefined;
    let first: IteratorResult<StoredEntry> | undefined;
    await this.fromComplete(async (t) => {
      const candidate = t.backend.find(selector, options)[Symbol.asyncIterator]();
      try {
        first = await candidate.next();
      } catch (err) {
        await candidate.return?.();
        throw err;
      }
      it = candidate;
      tier = t;
    }, true);
    try {
      for (let r = first!; !r.done; r = await tier!.call(() => it!.next(), undefined, tier!.bulkTimeout)) yield r.value;
    } finally {
      await it!.return?.();
    }
  }

  /** The bytes under `id` from the first tier that holds them and may be read for it; undefined when a complete tier says absent. */
  async valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    const tiers = this.ctx.tiers;
    for (const tier of tiers) {
      if (!tier.complete && !tier.readable(id)) continue;
      let bytes: AsyncIterable<Buffer> | undefined;
      try {
        bytes = await tier.call(() => tier.backend.valueStream(id));
      } catch (err) {
        if (tier.complete && tier.index === tiers.length - 1) throw err;
        continue;
      }
      if (bytes !== undefined || tier.complete) return bytes;
    }
    throw new StorageConnectionError('no complete tier could be read');
  }

  /** Item and expiration counts of the first complete tier that answers (none when none does). */
  async backendStats(): Promise<BackendStats> {
    try {
      const s = await this.fromComplete((tier) => tier.backend.stats(), true);
      return { items: s.items, expirations: s.expirations, evictions: 0 };
    } catch {
      return {};
    }
  }
}
