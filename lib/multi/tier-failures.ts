/**
 * The errors the multi store raises about its tiers as a whole: a tier skipped while down, a
 * connect or close that did not finish in time, and anything else made a StoreError before it
 * is reported.
 */
import { StorageConnectionError, StoreError } from '../errors';
import type { Tier } from './tier';
import { Deadlines } from '../core/deadlines';

/** The error of an operation that needed `tier` while it is marked down. */
export function unavailable(tier: Tier): StorageConnectionError {
  return new StorageConnectionError(`tier ${tier.index} (${tier.name}) is down; it is retried with backoff`);
}

/** A StoreError as is; anything else as a connection failure keeping it as the cause. */
export function asStoreError(err: unknown): Error {
  return err instanceof StoreError ? err : new StorageConnectionError(String((err as Error)?.message ?? err), { cause: err });
}

/** Rejects when `p` has not settled within `ms`, naming the tier and what it did not do. */
export function withDeadline<T>(p: Promise<T>, ms: number, tier: Tier, what = 'connect'): Promise<T> {
  return new Deadlines(ms, () => new StorageConnectionError(`tier ${tier.index} (${tier.name}) did not ${what} within ${ms} ms`)).watch(p);
}
