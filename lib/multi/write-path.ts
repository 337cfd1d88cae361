/**
 * The write path (SPEC §9): writes and deletes reach the complete tiers first, bottom up (the
 * last, durable tier first); a failure there fails the operation with a typed error after
 * dropping the key from every tier above. A cache tier that fails is made to forget the key
 * (now, or before it is read again), an 'error' event fires, and the operation succeeds.
 * Every write marks the reads in flight of what it touches stale (no promotion of an older
 * value) and is published to other processes, whether it succeeded or not.
 */
import { StorageOperationError } from '../errors';
import type { Key } from '../keys';
import type { Selector } from '../query';
import type { Coherence } from './coherence';
import type { MultiContext } from './context';
import { Drop, dropKey, dropMatching, dropTagged, forget, forgetTagged } from './drops';
import { tierExpiry } from './promotion';
import type { Tier } from './tier';
import { unavailable } from './tier-failures';

/** See the file comment. One per multi store. */
export class WritePath {
  constructor(
    private readonly ctx: MultiContext,
    private readonly coherence: Coherence,
  ) {}

  /** Writes `value` under `id` in every tier (a tier whose TTL cap has already passed deletes it instead). */
  async set(id: string, key: Key, value: unknown, expiresAt: number | null, tags?: readonly string[]): Promise<void> {
    const { flights, clock } = this.ctx;
    flights.invalidate(id);
    const drop = dropKey(id);
    const write = (tier: Tier): Promise<unknown> => {
      const at = tierExpiry(expiresAt, clock.now(), tier.ttl);
      return at === undefined ? tier.backend.delete(id) : tier.backend.set(id, key, value, at, tags);
    };
    try {
      await this.writeComplete(write, drop);
    } catch (err) {
      this.coherence.publish('k', id, undefined, undefined, 's');
      throw err;
    }
    await this.writeCaches(write, drop, id);
    flights.invalidate(id);
    this.coherence.publish('k', id, undefined, undefined, 's');
  }

  /** Deletes `id` from every tier; whether the durable tier held it. */
  async delete(id: string): Promise<boolean> {
    const flights = this.ctx.flights;
    flights.invalidate(id);
    const drop = dropKey(id);
    let existed: boolean;
    try {
      existed = await this.writeComplete((tier) => tier.backend.delete(id), drop);
    } catch (err) {
      this.coherence.publish('k', id, undefined, undefined, 'd');
      throw err;
    }
    await this.writeCaches((tier) => tier.backend.delete(id), drop, id);
    flights.invalidate(id);
    this.coherence.publish('k', id, undefined, undefined, 'd');
    return existed;
  }

  /**
   * Sets `id`'s expiry in every tier (each capped by its tier's TTL; a tier whose cap has
   * passed deletes it); whether the query tier held it. Published like a write: other
   * processes drop their copy, which carries the old expiry.
   */
  async touch(id: string, expiresAt: number | null): Promise<boolean> {
    const { flights, clock } = this.ctx;
    flights.invalidate(id);
    const drop = dropKey(id);
    const op = (tier: Tier): Promise<boolean> => {
      const at = tierExpiry(expiresAt, clock.now(), tier.ttl);
      return at === undefined ? tier.backend.delete(id) : tier.backend.touch(id, at);
    };
    let live: boolean;
    try {
      live = await this.writeComplete(op, drop);
    } catch (err) {
      this.coherence.publish('k', id, undefined, undefined, 't');
      throw err;
    }
    // A cache tier that still holds the key when the complete tier did not must not keep it.
    await this.writeCaches(live ? op : (tier) => tier.backend.delete(id), drop, id);
    flights.invalidate(id);
    this.coherence.publish('k', id, undefined, undefined, 't');
    return live;
  }

  /**
   * Deletes the entries carrying one of `tags` from every complete tier, and empties the cache
   * tiers (drops.ts forgetTagged: their promoted entries carry no tags); how many the query
   * tier removed. Published as a delete by tags.
   */
  async deleteByTags(tags: readonly string[]): Promise<number> {
    const flights = this.ctx.flights;
    flights.invalidateAll();
    const drop = dropTagged(tags);
    const list = [...tags];
    let removed: number;
    try {
      removed = await this.writeComplete((tier) => forgetTagged(tier, tags) as Promise<number>, drop, true);
    } catch (err) {
      this.coherence.publish('t', undefined, undefined, list);
      throw err;
    }
    await this.writeCaches((tier) => forgetTagged(tier, tags), drop, undefined, true);
    flights.invalidateAll();
    this.coherence.publish('t', undefined, undefined, list);
    return removed;
  }

  /**
   * Deletes what `selector` matches (a query, a glob, or everything) from every tier; how many
   * entries the query tier removed. Other processes are told the query; a glob has no message
   * form of its own, so they drop everything local (a clear message) instead.
   */
  async deleteMatching(selector: Selector): Promise<number> {
    const flights = this.ctx.flights;
    const query = selector.kind === 'query' ? selector.filter : undefined;
    const message = query === undefined ? 'c' : 'q';
    flights.invalidateAll();
    const drop = dropMatching(selector);
    let removed: number;
    try {
      removed = await this.writeComplete((tier) => (selector.kind === 'all' ? countThenClear(tier) : tier.backend.deleteMatching(selector)), drop, true);
    } catch (err) {
      this.coherence.publish(message, undefined, query);
      throw err;
    }
    await this.writeCaches((tier) => forget(tier, selector), drop, undefined, true);
    flights.invalidateAll();
    this.coherence.publish(message, undefined, query);
    return removed;
  }

  /** Clears every tier; the cache tiers even when a complete one failed. */
  async clear(): Promise<void> {
    const flights = this.ctx.flights;
    flights.invalidateAll();
    const drop = dropMatching(undefined);
    try {
      await this.writeComplete((tier) => tier.backend.clear(), drop, true);
    } finally {
      await this.writeCaches((tier) => tier.backend.clear(), drop, undefined, true);
      flights.invalidateAll();
      this.coherence.publish('c');
    }
  }

  /**
   * Writes a byte stream under `id`. A stream can be consumed once: it goes to the durable
   * tier, the other complete tiers copy it from there, and cache tiers forget the key (a read
   * promotes it later).
   */
  async setStream(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
    const { tiers, queryTier, flights, clock } = this.ctx;
    flights.invalidate(id);
    const drop = dropKey(id);
    const durable = tiers[tiers.length - 1];
    // A failure of the caller's stream is not the tier's: it must not mark the tier down.
    let sourceFailed = false;
    const guarded = (async function* () {
      try {
        yield* source;
      } catch (err) {
        sourceFailed = true;
        throw err;
      }
    })();
    for (let i = tiers.length - 1; i >= queryTier; i--) {
      const tier = tiers[i];
      if (!tier.usable) throw unavailable(tier);
      const at = tierExpiry(expiresAt, clock.now(), tier.ttl);
      try {
        if (at === undefined) await tier.call(() => tier.backend.delete(id));
        else {
          const bytes = tier === durable ? guarded : await copiedBytes(durable, id);
          await tier.call(() => tier.backend.setStream(id, key, bytes, at), () => !sourceFailed, 0);
        }
      } catch (err) {
        if (!sourceFailed) {
          await Promise.all(tiers.slice(0, i).map((upper) => drop(upper)));
          this.coherence.publish('k', id, undefined, undefined, 's');
        }
        throw err;
      }
    }
    await Promise.all(tiers.slice(0, queryTier).map((tier) => drop(tier)));
    flights.invalidate(id);
    this.coherence.publish('k', id, undefined, undefined, 's');
  }

  /**
   * Runs `op` on the complete tiers, last first, and resolves the query tier's answer (the
   * tier queries read: with memstorage's cache, the union of the stores, so a delete counts a
   * key only the first store held). On a failure, drops `id` (or everything, for query
   * writes) from every tier above the one that failed, then throws it.
   */
  private async writeComplete<T>(op: (tier: Tier) => Promise<T>, drop: Drop, bulk = false): Promise<T> {
    const { tiers, queryTier } = this.ctx;
    let result: T | undefined;
    for (let i = tiers.length - 1; i >= queryTier; i--) {
      const tier = tiers[i];
      if (!tier.usable) throw unavailable(tier);
      try {
        const r = await tier.call(() => op(tier), undefined, bulk ? tier.bulkTimeout : tier.timeout);
        if (i === queryTier) result = r;
      } catch (err) {
        await Promise.all(tiers.slice(0, i).map((upper) => drop(upper)));
        throw err;
      }
    }
    return result as T;
  }

  /** Applies a write to the cache tiers; a tier that fails forgets the key (now or before its next read). */
  private async writeCaches(op: (tier: Tier) => Promise<unknown>, drop: Drop, fresh?: string, bulk = false): Promise<void> {
    const { tiers, queryTier, reportError } = this.ctx;
    if (queryTier === 0) return;
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < queryTier; i++) {
      const tier = tiers[i];
      if (!tier.usable) {
        jobs.push(drop(tier));
        continue;
      }
      jobs.push(
        tier.call(() => op(tier), undefined, bulk ? tier.bulkTimeout : tier.timeout).then(
          () => {
            if (fresh !== undefined) tier.noteFresh(fresh);
          },
          async (err: Error) => {
            reportError(err);
            await drop(tier);
          },
        ),
      );
    }
    await Promise.all(jobs);
  }
}

/** Clears a tier and says how many entries it held (a query-less delete resolves that count). */
async function countThenClear(tier: Tier): Promise<number> {
  const n = await tier.backend.count({ kind: 'all' });
  await tier.backend.clear();
  return n;
}

/** The bytes the durable tier just stored under `id`, for another complete tier to copy. */
async function copiedBytes(durable: Tier, id: string): Promise<AsyncIterable<Buffer>> {
  const bytes = await durable.call(() => durable.backend.valueStream(id));
  if (bytes === undefined) throw new StorageOperationError(`tier ${durable.index} (${durable.name}) lost the value it just stored under ${id}`);
  return bytes;
}
