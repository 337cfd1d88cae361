/**
 * What the parts of one multi store share (the read path, the write path, complete-tier reads,
 * coherence, connection): one object made by the store when it is constructed, so each part
 * holds one reference to it instead of a back reference to the store. A scope has its own,
 * over its scoped tiers, sharing the parent's invalidation bus.
 */
import type { Clock } from '../clock';
import type { InvalidationBus } from './invalidation';
import type { BackgroundWork } from './background-work';
import type { SingleFlight } from './single-flight';
import type { Tier } from './tier';

/** A read that found the key. */
export interface Hit {
  value: unknown;
  expiresAt: number | null | undefined;
  tier: number;
}

/** See the file comment. */
export interface MultiContext {
  /** The tiers, fastest first. */
  readonly tiers: readonly Tier[];
  /** Index of the first complete tier: it and every tier below it hold the whole data set. */
  readonly queryTier: number;
  /** Cache tier 0, read before joining a flight (undefined when tier 0 is complete). */
  readonly front: Tier | undefined;
  /** The store's clock, for TTL arithmetic between tiers. */
  readonly clock: Clock;
  /** The store's namespace (the invalidation messages it publishes and listens to carry it). */
  readonly namespace: string;
  /** Exact reads of the tiers below the front one in flight, one per id. */
  readonly flights: SingleFlight<Hit | undefined>;
  /** Promotions and invalidations still running, awaited by `idle()` and `close()`. */
  readonly background: BackgroundWork;
  /** Cross-process coherence, when the `invalidation` setting is given. */
  readonly bus: InvalidationBus | undefined;
  /** The store's 'error' event (or a warning when nobody listens). */
  readonly reportError: (err: Error) => void;
  /** Emits one of the store's events. */
  readonly emit: (event: string, payload: unknown) => void;
}
