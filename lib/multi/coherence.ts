/**
 * Coherence across processes (SPEC §9), the multi store's side of lib/multi/invalidation.ts:
 * its writes are published, and what other processes publish is dropped from this process's
 * in-process tiers — and from a shared cache tier this process may just have promoted an
 * older value into.
 */
import { isPlainObject } from '../keys';
import { Selector, compileQuery } from '../query';
import { checkTags } from '../tags';
import type { MultiContext } from './context';
import { Drop, dropKey, dropMatching, dropTagged } from './drops';
import { InvalidationMessage, preciseNow } from './invalidation';
import { asStoreError } from './tier-failures';

/** How long a promotion into a shared tier is remembered for invalidation races, in ms. */
const RECENT_PROMOTION_MS = 10_000;

/** What a published message says was written: a key ('k'), a query delete ('q'), everything ('c') or what carried some tags ('t'). */
export type WriteKind = 'k' | 'q' | 'c' | 't';

/** What happened to a key ('k' messages): set ('s'), deleted ('d') or its TTL touched ('t'). */
export type KeyWrite = 's' | 'd' | 't';

/** The 'invalidation' event's name for a key write. */
const WRITE_NAMES = { s: 'set', d: 'delete', t: 'touch' } as const;

/** See the file comment. One per multi store (a scope has its own, on the shared bus). */
export class Coherence {
  private unlisten: (() => void) | undefined;
  /** Shared tiers this process promoted into recently: an invalidation must drop them there too. */
  private readonly recentSharedPromotions = new Map<string, number>();

  constructor(private readonly ctx: MultiContext) {}

  /** Starts receiving other processes' invalidations (no-op without a bus). */
  async start(timeout: number): Promise<void> {
    const bus = this.ctx.bus;
    if (!bus) return;
    this.unlisten = bus.listen(this.ctx.namespace, (message) => this.onInvalidation(message));
    await bus.start(timeout);
  }

  /** Stops receiving invalidations and releases the bus. */
  async stop(): Promise<void> {
    this.unlisten?.();
    this.unlisten = undefined;
    if (this.ctx.bus) await this.ctx.bus.stop();
  }

  /** Tells other processes what this one wrote. */
  /** `write` says what happened to a key ('k'): set, deleted or touched — for other processes' watchers. */
  publish(op: WriteKind, id?: string, query?: Record<string, unknown>, tags?: string[], write?: KeyWrite): void {
    const bus = this.ctx.bus;
    if (!bus) return;
    if (op === 'q' && !isJsonFilter(query)) op = 'c'; // receivers drop everything local instead
    // A shared cache tier this write could not reach still holds the old copy for everyone: say so.
    const missed = op === 'k' && id !== undefined && this.ctx.tiers.some((t) => !t.local && !t.complete && t.holdsStale(id));
    bus.publish(this.ctx.namespace, op, op === 'k' ? { id, w: write, ...(missed ? { m: 1 } : {}) } : op === 'q' ? { q: query } : op === 't' ? { tags } : undefined);
  }

  /** This process is promoting `id` into a shared tier: an invalidation of `id` soon after must drop it there too. */
  notePromotion(id: string): void {
    this.recentSharedPromotions.set(id, Date.now());
  }

  /** Another process wrote: drop the affected entries from this process's in-process tiers. */
  private onInvalidation(message: InvalidationMessage): void {
    const work = this.applyInvalidation(message).then(
      (dropped) =>
        this.ctx.emit('invalidation', {
          op: message.op,
          id: message.id,
          // What the other process did, for watchers (lib/core/store-events.ts): a key's write, a query, the tags.
          write: message.op === 'k' && typeof message.w === 'string' ? WRITE_NAMES[message.w as KeyWrite] : undefined,
          q: message.op === 'q' ? message.q : undefined,
          tags: message.op === 't' ? message.tags : undefined,
          publishedAt: message.t,
          droppedAt: preciseNow(),
          dropped,
        }),
      (err: Error) => this.ctx.reportError(asStoreError(err)),
    );
    this.ctx.background.track(work);
  }

  private async applyInvalidation(message: InvalidationMessage): Promise<number> {
    const { tiers, flights } = this.ctx;
    let dropped = 0;
    if (message.op === 'k' && typeof message.id === 'string') {
      const id = message.id;
      flights.invalidate(id);
      const promotedAt = this.recentSharedPromotions.get(id);
      const promotedRecently = promotedAt !== undefined && Date.now() - promotedAt < RECENT_PROMOTION_MS;
      if (promotedAt !== undefined) this.recentSharedPromotions.delete(id);
      this.pruneRecentPromotions();
      const jobs = tiers.map(async (tier) => {
        // A shared cache tier is dropped too when this process may just have promoted an older
        // value into it (its read raced the other process's write).
        if (!tier.local && !tier.complete && message.m === 1) {
          // The writer missed this shared tier: do not read the key there until it is dropped.
          tier.noteStale(id);
          dropped++;
          return;
        }
        if (!tier.local && (!promotedRecently || tier.complete)) return;
        const drop = dropKey(id);
        await drop(tier);
        dropped++;
      });
      await Promise.all(jobs);
      return dropped;
    }
    flights.invalidateAll();
    const tags = message.op === 't' ? receivedTags(message.tags) : undefined;
    // A delete by tags is repeated on the local tiers that keep tags; one that cannot (or bad tags) forgets everything.
    const drop: Drop = tags !== undefined ? dropTagged(tags) : dropMatching(message.op === 'q' ? receivedSelector(message.q) : undefined);
    await Promise.all(
      tiers
        .filter((tier) => tier.local)
        .map(async (tier) => {
          await drop(tier);
          dropped++;
        }),
    );
    return dropped;
  }

  private pruneRecentPromotions(): void {
    if (this.recentSharedPromotions.size < 1000) return;
    const cutoff = Date.now() - RECENT_PROMOTION_MS;
    for (const [id, at] of this.recentSharedPromotions) if (at < cutoff) this.recentSharedPromotions.delete(id);
  }
}

/** The tags of a received delete by tags, checked once (they came over the wire); undefined when malformed. */
function receivedTags(tags: unknown): string[] | undefined {
  try {
    return checkTags(tags, 'invalidation', true);
  } catch {
    return undefined;
  }
}

/** True when a filter survives JSON (no RegExp or Date operands), so it can travel in a message. */
function isJsonFilter(value: unknown): boolean {
  if (value instanceof RegExp || value instanceof Date) return false;
  if (Array.isArray(value)) return value.every(isJsonFilter);
  if (value !== null && typeof value === 'object') return Object.values(value).every(isJsonFilter);
  return true;
}

/**
 * The selector of a query another process published, validated here once (it came over the
 * wire); undefined — drop everything local — when it is missing or not a query this store accepts.
 */
function receivedSelector(query: unknown): Selector | undefined {
  if (!isPlainObject(query)) return undefined;
  try {
    return compileQuery(query);
  } catch {
    return undefined;
  }
}
