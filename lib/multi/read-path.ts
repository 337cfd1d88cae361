/**
 * The exact-read path (SPEC §9): a read falls through the tiers in order; a hit below the front
 * tier is promoted into the tiers above it with TTL = min(remaining at the source, the upper
 * tier's `ttl`). Below the front tier, concurrent reads of one key share one read
 * (single-flight), and the reads started in one tick go down together, one batch per tier.
 * The front tier's synchronous fast path is MultiStore.getOne's; its misses come here.
 */
import { StorageConnectionError } from '../errors';
import { Key, keyFromId } from '../keys';
import type { EntryWithExpiry } from '../backend';
import { TickQueue } from '../core/tick-queue';
import type { BackgroundWork } from './background-work';
import type { Coherence } from './coherence';
import type { Hit, MultiContext } from './context';
import { tierExpiry } from './promotion';
import type { Flight, SingleFlight } from './single-flight';
import type { Tier } from './tier';
import { unavailable } from './tier-failures';

/**
 * Most reads below the front tier sent down as one batch: a burst of 1,000 misses goes as
 * several slices, each one bounded command (half the Redis store's own batch of 256), whose
 * answers are used as they arrive. Slices of 64 to 512 measured alike.
 */
const READ_SLICE = 128;

/** An exact read waiting to go down to the tiers below the front one (see readBelow). */
interface QueuedRead {
  id: string;
  flight: Flight<Hit | undefined>;
  resolve(hit: Hit | undefined): void;
  reject(err: unknown): void;
  /** Why a complete tier could not answer, kept while lower tiers are tried. */
  failure: Error | undefined;
}

/** See the file comment. One per multi store. */
export class ExactReads {
  // The context's fields read on every miss, held here directly.
  private readonly tiers: readonly Tier[];
  private readonly front: Tier | undefined;
  private readonly flights: SingleFlight<Hit | undefined>;
  private readonly background: BackgroundWork;
  /** False for a read that skips every complete tier (skip-tiers.ts): a miss everywhere is then a miss, not a failure. */
  private readonly anyComplete: boolean;
  /** Reads started this tick, sent down together when it ends, in slices (see readBelow). */
  private readonly queuedReads = new TickQueue<QueuedRead>({ max: READ_SLICE, send: (reads) => this.fallThrough(reads) });

  constructor(
    private readonly ctx: MultiContext,
    private readonly coherence: Coherence,
  ) {
    this.tiers = ctx.tiers;
    this.front = ctx.front;
    this.flights = ctx.flights;
    this.background = ctx.background;
    this.anyComplete = ctx.tiers.some((tier) => tier.complete);
  }

  /**
   * The value of `id`, falling through the tiers. Tier 0 (a cache) is read by every caller;
   * below it, concurrent callers share one read.
   */
  async read(id: string, wantExpiry: boolean): Promise<Hit | undefined> {
    const front = this.front;
    if (front) {
      if (front.readable(id)) {
        try {
          if (wantExpiry) {
            const entry = await front.call(() => front.backend.getEntry(id));
            if (entry !== undefined) {
              front.counters.hits++;
              return { value: entry.value, expiresAt: entry.expiresAt, tier: front.index };
            }
          } else {
            const value = await front.call(() => front.backend.get(id));
            if (value !== undefined) {
              front.counters.hits++;
              return { value, expiresAt: undefined, tier: front.index };
            }
          }
          front.counters.misses++;
        } catch {
          // counted by the tier; fall through to the tiers below
        }
      }
    }
    return this.flights.run(id, this.readBelow);
  }

  /**
   * Starts the read of `id` in the tiers below the front one (the flight's read). Reads started
   * in the same tick go down together: each tier gets one getEntries call per slice under one
   * deadline, instead of a timed call per key, which is what a burst of misses costs.
   */
  readonly readBelow = (flight: Flight<Hit | undefined>, id: string): Promise<Hit | undefined> =>
    new Promise((resolve, reject) => this.queuedReads.add({ id, flight, resolve, reject, failure: undefined }));

  /** Reads a batch through the tiers below the front one, in order, until each read is answered. */
  private async fallThrough(reads: QueuedRead[]): Promise<void> {
    let remaining = reads;
    for (let i = this.front ? 1 : 0; i < this.tiers.length && remaining.length > 0; i++) {
      const tier = this.tiers[i];
      const asked: QueuedRead[] = [];
      const next: QueuedRead[] = [];
      for (const read of remaining) {
        if (tier.readable(read.id)) asked.push(read);
        else {
          if (tier.complete) read.failure ??= unavailable(tier);
          next.push(read);
        }
      }
      remaining = next; // what this tier does not answer (pushed below too) goes on to the next
      if (asked.length === 0) continue;
      let results: Array<EntryWithExpiry | undefined | Error>;
      try {
        // One result per key: a key that fails (a value that no longer parses) fails alone.
        results = await tier.call(() => tier.backend.getEntries(asked.map((read) => read.id)));
      } catch (err) {
        // The whole batch failed or timed out (counted by the tier).
        for (const read of asked) {
          if (tier.complete) read.failure = err as Error;
          next.push(read);
        }
        continue;
      }
      let failed = false;
      let now: number | undefined; // the clock read once per batch, for the promotions' TTLs
      for (let j = 0; j < asked.length; j++) {
        const read = asked[j];
        const entry = results[j];
        if (entry instanceof Error) {
          // One failure marks the tier down; the other keys of the batch count as errors only.
          if (failed) tier.counters.errors++;
          else tier.recordFailure(entry);
          failed = true;
          if (tier.complete) read.failure = tier.wrap(entry);
          next.push(read);
          continue;
        }
        if (entry !== undefined) {
          tier.counters.hits++;
          if (i > 0 && !read.flight.stale) this.promote(read.id, entry, i, (now ??= this.ctx.clock.now()));
          read.resolve({ value: entry.value, expiresAt: entry.expiresAt, tier: tier.index });
        } else {
          tier.counters.misses++;
          if (tier.complete) read.resolve(undefined);
          else next.push(read);
        }
      }
    }
    for (const read of remaining) {
      // A read that skips the complete tiers (skipTiers) ends in a miss when no tier it reads holds the key.
      if (read.failure === undefined && !this.anyComplete) read.resolve(undefined);
      else read.reject(read.failure ?? new StorageConnectionError('no complete tier could be read'));
    }
  }

  /** Copies a value found in tier `from` into every usable tier above it (not awaited by the reader). */
  private promote(id: string, entry: EntryWithExpiry, from: number, now: number): void {
    let key: Key | undefined; // the key object, rebuilt from the id once, when a tier takes the value
    const background = this.background;
    for (let j = 0; j < from; j++) {
      const tier = this.tiers[j];
      const at = tierExpiry(entry.expiresAt, now, tier.ttl);
      if (at === undefined) return; // expired at the source since it was read
      if (!tier.usable) continue;
      if (this.ctx.bus && !tier.local) this.coherence.notePromotion(id);
      background.start();
      key ??= keyFromId(id);
      const promoted = key;
      tier.call(() => tier.backend.set(id, promoted, entry.value, at)).then(
        () => {
          tier.counters.promotions++;
          tier.noteFresh(id);
          background.done();
        },
        background.done, // counted by the tier; the value is still served from below
      );
    }
  }
}
