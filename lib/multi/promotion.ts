/**
 * TTL arithmetic between tiers. A tier's own `ttl` caps how long it keeps an entry; an entry
 * never outlives its expiry at the source. `ttl: 0` means "no expiry" to a store, so a
 * remaining time that rounds to nothing is reported as expired instead.
 */

/**
 * The `ttl` option for writing an entry that expires at `expiresAt` (epoch ms or null) into a
 * tier whose own cap is `tierTtl` (ms or null): a positive number, null for no expiry, or
 * undefined when the entry has already expired and must not be written.
 */
export function tierTtl(expiresAt: number | null, now: number, tierTtl: number | null): number | null | undefined {
  if (expiresAt === null) return tierTtl;
  const remaining = expiresAt - now;
  if (remaining <= 0) return undefined;
  return tierTtl === null ? remaining : Math.min(remaining, tierTtl);
}

/**
 * The absolute expiry (epoch ms, a whole number) of an entry that expires at `expiresAt`
 * written into a tier with cap `tierTtl`: null for none, undefined when it has already
 * expired. At least one ms ahead, as every store's own writes (lib/core/store-core.ts expiryFor).
 */
export function tierExpiry(expiresAt: number | null, now: number, cap: number | null): number | null | undefined {
  const ttl = tierTtl(expiresAt, now, cap);
  if (ttl === undefined || ttl === null) return ttl;
  if (expiresAt !== null && ttl === expiresAt - now && Number.isInteger(expiresAt)) return expiresAt;
  return Math.max(Math.ceil(now + ttl), Math.floor(now) + 1);
}
