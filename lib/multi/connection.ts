/**
 * Connecting and closing a multi store's tiers. A cache tier delays startup by at most its own
 * timeout: if it is not up by then it is marked down and the background probe connects it
 * later. The store opens once one complete tier is up; a close never hangs on a tier.
 */
import { StorageConnectionError } from '../errors';
import type { MultiContext } from './context';
import type { TierPlan } from './settings';
import { tierExpiry } from './promotion';
import type { Tier } from './tier';
import { asStoreError, withDeadline } from './tier-failures';

/**
 * Connects every tier, each within `timeout` (a cache tier with a timeout: within the smaller
 * of the two); throws when no complete tier could connect. `warm` 'complete' copies the first
 * complete tier that is up into tier 0; 'union' (memstorage's cache) copies every store into
 * it, last first so the first store wins, and throws when one could not be copied: the cache
 * answers every read, so a store missing from it would be a store silently missing.
 */
export async function connectTiers(ctx: MultiContext, timeout: number, warm: TierPlan['warm']): Promise<void> {
  const { tiers, queryTier } = ctx;
  const results = await Promise.allSettled(
    tiers.map((tier) => withDeadline(tier.backend.connect(), tier.complete || tier.timeout === 0 ? timeout : Math.min(timeout, tier.timeout), tier)),
  );
  let completeUp = false;
  results.forEach((result, i) => {
    const tier = tiers[i];
    if (result.status === 'fulfilled') {
      if (tier.complete) completeUp = true;
      tier.markUp(); // after an earlier failed connect()
      return;
    }
    tier.markDown(result.reason); // reported through 'tierDown' and 'error'
  });
  if (!completeUp) {
    const reason = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    throw new StorageConnectionError(`no complete tier could connect: ${(reason.reason as Error)?.message}`, { cause: reason.reason });
  }
  if (warm === 'union') {
    for (let i = tiers.length - 1; i >= 1; i--) {
      const tier = tiers[i];
      if (tier.isDown) throw new StorageConnectionError(`cache: store ${i - 1} (${tier.name}) could not connect, so the cache cannot hold its entries`);
      try {
        await warmFrom(tier, tiers[0], ctx.clock.now());
      } catch (err) {
        throw new StorageConnectionError(`cache: could not copy store ${i - 1} (${tier.name}) into the cache`, { cause: err });
      }
    }
    return;
  }
  if (warm === 'complete' && !tiers[0].isDown) {
    const source = tiers.slice(queryTier).find((t) => !t.isDown)!;
    try {
      await warmFrom(source, tiers[0], ctx.clock.now());
    } catch (err) {
      ctx.reportError(asStoreError(err));
    }
  }
}

/**
 * Waits for the background work and tier probes, then closes the tiers this store opened, each
 * within `timeout` (a tier whose close() never settles must not make this close() hang).
 */
export async function closeTiers(ctx: MultiContext, timeout: number): Promise<void> {
  const tiers = ctx.tiers;
  await ctx.background.idle();
  await Promise.allSettled(tiers.map((t) => t.settled()));
  const closed = await Promise.allSettled(tiers.filter((t) => t.owned).map((t) => withDeadline(t.backend.close(), timeout, t, 'close')));
  for (const result of closed) if (result.status === 'rejected') ctx.reportError(asStoreError(result.reason));
}

/** Copies every live entry of `source` into the cache tier `front`, within the front tier's own TTL cap. */
async function warmFrom(source: Tier, front: Tier, now: number): Promise<void> {
  for await (const entry of source.backend.find({ kind: 'all' }, { values: true })) {
    const expiresAt = entry.expiresAt !== undefined ? entry.expiresAt : await source.backend.expiresAt(entry.id);
    if (expiresAt === undefined) continue; // expired or deleted since it was listed
    const at = tierExpiry(expiresAt, now, front.ttl);
    if (at !== undefined) await front.backend.set(entry.id, entry.key, entry.value, at);
  }
}
