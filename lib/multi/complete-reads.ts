/**
 * Reads answered by the complete tiers (SPEC §9): queries, counts, key listings, `ttl()`,
 * stats and value streams. A cache tier may have evicted or expired entries, so these go to
 * the first complete tier (`queryTier`) that answers, and to the next complete one when it
 * fails: never a silently incomplete answer.
 */
import { StorageConnectionError } from '../errors';
import { Key, keyFromId, keyId } from '../keys';
import type { Selector } from '../query';
import type { BackendStats, FindOptions, StoredEntry } from '../store';
import type { MultiContext } from './context';
import { selectorQuery } from './selector-query';
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
  async expiresAt(id: string): Promise<number | null | undefined> {
    const key = keyFromId(id);
    const remaining = await this.fromComplete((tier) => tier.store.ttl(key));
    if (remaining === undefined || remaining === null) return remaining;
    return this.ctx.clock.now() + remaining;
  }

  /** How many entries `selector` matches. */
  async count(selector: Selector): Promise<number> {
    const query = selectorQuery(selector);
    if (selector.kind === 'query') return this.fromComplete((tier) => tier.store.count(query!), true);
    let n = 0;
    for await (const entry of this.find(selector, { values: false })) if (entry) n++;
    return n;
  }

  /** The entries `selector` matches (keys only unless `options.values`), from one complete tier. */
  async *find(selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
    if (selector.kind === 'none') return;
    if (!options.values) {
      const pattern = selector.kind === 'glob' ? selector.pattern : selectorQuery(selector);
      const keys = await this.fromComplete((tier) => (pattern === undefined ? tier.store.keys() : tier.store.keys(pattern)), true);
      let n = 0;
      for (const key of keys) {
        if (options.limit !== undefined && n++ >= options.limit) return;
        yield { id: keyId(key), key, value: undefined };
      }
      return;
    }
    const query = selectorQuery(selector);
    const regex = selector.kind === 'glob' ? selector.regex : undefined;
    // Open the iterator on the first complete tier that yields its first entry in time.
    let it: AsyncIterator<{ key: Key; value: unknown }> | undefined;
    let tier: Tier | undefined;
    let first: IteratorResult<{ key: Key; value: unknown }> | undefined;
    await this.fromComplete(async (t) => {
      const candidate = (query ? t.store.entries(query) : t.store.entries())[Symbol.asyncIterator]();
      try {
        first = await candidate.next();
      } catch (err) {
        await candidate.return?.();
        throw err;
      }
      it = candidate;
      tier = t;
    }, true);
    let n = 0;
    try {
      let r = first!;
      while (!r.done) {
        const { key, value } = r.value;
        if (!regex || (typeof key === 'string' && regex.test(key))) {
          yield { id: keyId(key), key, value };
          if (options.limit !== undefined && ++n >= options.limit) return;
        }
        r = await tier!.call(() => it!.next(), undefined, tier!.bulkTimeout);
      }
    } finally {
      await it!.return?.();
    }
  }

  /** The bytes under `id` from the first tier that holds them and may be read for it; undefined when a complete tier says absent. */
  async valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    const tiers = this.ctx.tiers;
    const key = keyFromId(id);
    for (const tier of tiers) {
      if (!tier.complete && !tier.readable(id)) continue;
      let has: boolean;
      try {
        has = await tier.call(() => tier.store.has(key));
      } catch (err) {
        if (tier.complete && tier.index === tiers.length - 1) throw err;
        continue;
      }
      if (has) return tier.store.createValueStream(key) as AsyncIterable<Buffer>;
      if (tier.complete) return undefined;
    }
    throw new StorageConnectionError('no complete tier could be read');
  }

  /** Item and expiration counts of the first complete tier that answers (none when none does). */
  async backendStats(): Promise<BackendStats> {
    try {
      const s = await this.fromComplete((tier) => tier.store.stats(), true);
      return { items: s.items, expirations: s.expirations, evictions: 0 };
    } catch {
      return {};
    }
  }
}
