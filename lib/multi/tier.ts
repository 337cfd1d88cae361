/**
 * One tier of a multi store: a store (reached as a backend), its place in the stack, its own TTL and timeout, its
 * health (up, or down until a backoff expires), the ids it may hold stale copies of, and its
 * counters. The multi store asks a tier whether it may be read or written; it never asks what
 * kind of store is inside.
 */
import { ErrorCode, ErrorCodes, StorageConnectionError, StorageOperationError, StoreError } from '../errors';
import { TierBackend, tierBackend } from '../core/tier-access';
import { keyId } from '../keys';
import type { BaseStore, StoreStats } from '../store';
import { Deadlines } from '../core/deadlines';

/** Counters kept per tier and reported by `MultiStore.stats()`. */
export interface TierCounters {
  /** Exact-key reads this tier answered with a value. */
  hits: number;
  /** Exact-key reads this tier was asked and did not hold. */
  misses: number;
  /** Operations on this tier that failed or timed out. */
  errors: number;
  /** Of `errors`, the ones that hit the tier timeout. */
  timeouts: number;
  /** Values copied into this tier from a lower one after a read. */
  promotions: number;
  /** Operations not sent to this tier because it was down (waiting for its backoff). */
  skips: number;
  /** Times this tier came back after being marked down. */
  recoveries: number;
}

/** A tier's entry in `MultiStore.stats().tiers`. */
export interface TierStats extends TierCounters {
  index: number;
  name: string;
  /** 'cache' tiers may miss entries; 'complete' tiers hold the whole data set and answer queries. */
  role: 'cache' | 'complete';
  state: 'up' | 'down';
  /** Ids this tier must drop before it is read again for them (writes it missed). */
  pendingDrops: number;
  /** The last failure that marked the tier down, or null. */
  lastError: string | null;
  /** The tier store's own stats(), or null when it could not be read. */
  store: StoreStats | null;
}

/** Health and timing settings of a tier. */
export interface TierOptions {
  name: string;
  index: number;
  complete: boolean;
  /** Upper bound on this tier's entries' TTL in ms (null: none). */
  ttl: number | null;
  /** Per-operation timeout in ms; 0 disables it. */
  timeout: number;
  /** Timeout of operations whose length grows with the data (queries, counts, listings, query deletes, clear); 0 disables it. */
  bulkTimeout: number;
  /** First backoff after a failure, in ms; it doubles up to `maxBackoff`. */
  backoff: number;
  maxBackoff: number;
  /** Whether the multi store built this store (and so closes it). */
  owned: boolean;
  /** Most ids remembered as pending drops before the tier is cleared wholesale on recovery. */
  maxPendingDrops: number;
  now: () => number;
  /** Called when the tier goes down (with the error) or comes back up. */
  onChange?: (tier: Tier, state: 'up' | 'down', err?: unknown) => void;
}

/** Error codes that say the request was bad, not that the tier is unhealthy. */
const CLIENT_CODES = new Set<ErrorCode>([
  ErrorCodes.INVALID_KEY,
  ErrorCodes.INVALID_QUERY,
  ErrorCodes.INVALID_VALUE,
  ErrorCodes.INVALID_ARGUMENT,
  ErrorCodes.NOT_FOUND,
  ErrorCodes.OPERATION,
]);

/** The id a recovery probe asks about: any id will do, this one names who asks. */
const PROBE_ID = keyId('memstorage-next:probe');

/** Raised when a tier does not answer within its timeout. */
export class TierTimeoutError extends StorageConnectionError {}

/** See the file comment. */
export class Tier {
  /** The tier's store, as given or opened: its own stats() are reported, and it is what users see. */
  readonly store: BaseStore;
  /** What the multi store calls: the store's backend by id and selector, in the store's program order. */
  readonly backend: TierBackend;
  readonly name: string;
  readonly index: number;
  readonly complete: boolean;
  readonly ttl: number | null;
  readonly timeout: number;
  /** See TierOptions.bulkTimeout (0 when the tier has no timeout). */
  readonly bulkTimeout: number;
  readonly owned: boolean;
  /** Not shared with other processes: invalidation messages drop entries here. */
  readonly local: boolean;
  readonly counters: TierCounters = { hits: 0, misses: 0, errors: 0, timeouts: 0, promotions: 0, skips: 0, recoveries: 0 };

  /** The message of the last failure that marked the tier down. */
  lastError: string | undefined;
  private down = false;
  private deadlines: Deadlines | undefined;
  /** Deadlines of the other timeouts calls pass (the bulk timeout): a tier has one or two. */
  private readonly otherDeadlines = new Map<number, Deadlines>();
  private retryAt = 0;
  private failures = 0;
  private probing: Promise<void> | undefined;
  /** Ids whose write or delete this tier missed: never read here until dropped. */
  private readonly dirty = new Set<string>();
  /** A query delete or clear was missed (or too many ids): the tier is cleared on recovery. */
  private dirtyAll = false;
  private readonly options: TierOptions;

  constructor(store: BaseStore, options: TierOptions) {
    this.store = store;
    this.backend = store[tierBackend]();
    this.options = options;
    this.name = options.name;
    this.index = options.index;
    this.complete = options.complete;
    this.ttl = options.ttl;
    this.timeout = options.timeout;
    this.bulkTimeout = options.timeout === 0 ? 0 : options.bulkTimeout;
    this.owned = options.owned;
    this.local = store.supports.shared === false;
  }

  /** Whether operations may be sent now. Past the backoff, starts one background probe. */
  get usable(): boolean {
    if (!this.down) return true;
    if (!this.probing && this.options.now() >= this.retryAt) this.probing = this.probe();
    this.counters.skips++;
    return false;
  }

  /** Whether an exact read of `id` may be served here (up, and not holding a stale copy). */
  readable(id: string): boolean {
    if (this.dirtyAll || (this.dirty.size > 0 && this.dirty.has(id))) {
      if (!this.down) this.probing ??= this.probe();
      return false;
    }
    return this.usable;
  }

  /** Up and holding no stale copies: every read may be served here without checking the key. */
  get clean(): boolean {
    return !this.down && !this.dirtyAll && this.dirty.size === 0;
  }

  /** True when the tier is marked down. */
  get isDown(): boolean {
    return this.down;
  }

  /**
   * Runs `op` against the tier under its timeout; failures are counted and may mark it down.
   * `blame` says whether a failure is the tier's (default yes); when it is not (a caller's
   * stream failed), the error passes through untouched. `timeout` overrides the tier's (0:
   * none), for operations whose length depends on the caller (streams).
   */
  /**
   * The one Deadlines of a timeout (the tier's, its bulk one): one per call would arm a timer
   * per call that stays pending, holding the call's closures, until the timeout elapses.
   */
  private deadlinesOf(timeout: number): Deadlines {
    if (timeout === this.timeout && this.deadlines !== undefined) return this.deadlines;
    let deadlines = this.otherDeadlines.get(timeout);
    if (deadlines === undefined) {
      deadlines = new Deadlines(timeout, () => new TierTimeoutError(`tier ${this.index} (${this.name}) did not answer within ${timeout} ms`));
      if (timeout === this.timeout) this.deadlines = deadlines;
      else this.otherDeadlines.set(timeout, deadlines);
    }
    return deadlines;
  }

  call<T>(op: () => Promise<T>, blame?: () => boolean, timeout = this.timeout): Promise<T> {
    let p: Promise<T>;
    try {
      p = op();
    } catch (err) {
      p = Promise.reject(err);
    }
    if (timeout > 0) p = this.deadlinesOf(timeout).watch(p);
    if (blame) {
      return p.then(this.succeeded as (v: T) => T, (err) => {
        if (!blame()) throw err;
        return this.failed(err);
      });
    }
    return p.then(this.succeeded as (v: T) => T, this.failed);
  }

  private readonly succeeded = <T>(value: T): T => {
    if (this.failures > 0) this.failures = 0;
    return value;
  };

  private readonly failed = (err: unknown): never => {
    this.recordFailure(err);
    throw this.wrap(err);
  };

  /** Counts a failure of an operation sent to this tier and marks the tier down unless the request was at fault. */
  recordFailure(err: unknown): void {
    this.counters.errors++;
    if (err instanceof TierTimeoutError) this.counters.timeouts++;
    if (!isClientError(err)) this.markDown(err);
  }

  /** Marks the tier down until its backoff expires (doubling with each consecutive failure). */
  markDown(err?: unknown): void {
    this.lastError = err === undefined ? this.lastError : String((err as Error)?.message ?? err);
    if (!this.down) this.options.onChange?.(this, 'down', err);
    this.failures++;
    const delay = Math.min(this.options.maxBackoff, this.options.backoff * 2 ** Math.min(this.failures - 1, 30));
    this.retryAt = this.options.now() + delay;
    this.down = true;
  }

  /** Marks the tier up after a successful connect (it was marked down by an earlier attempt). */
  markUp(): void {
    this.failures = 0;
    if (!this.down) return;
    this.down = false;
    this.counters.recoveries++;
    this.options.onChange?.(this, 'up');
  }

  /** The tier missed a write or delete of `id`: do not read `id` here until it is dropped. */
  noteStale(id: string): void {
    if (this.dirtyAll) return;
    if (this.dirty.size >= this.options.maxPendingDrops) this.noteAllStale();
    else this.dirty.add(id);
  }

  /** The tier missed a query delete or a clear: it is cleared before it is read again. */
  noteAllStale(): void {
    this.dirtyAll = true;
    this.dirty.clear();
  }

  /** A later write or delete of `id` reached the tier, so its copy is current again. */
  noteFresh(id: string): void {
    if (this.dirty.size > 0) this.dirty.delete(id);
  }

  /** Whether this tier may hold a stale copy of `id` (a write or delete of it missed this tier). */
  holdsStale(id: string): boolean {
    return this.dirtyAll || this.dirty.has(id);
  }

  /** Ids waiting to be dropped (or Infinity when the whole tier is). */
  get pendingDrops(): number {
    return this.dirtyAll ? Infinity : this.dirty.size;
  }

  /** Brings the tier back: drops what it missed (or clears it), then marks it up. */
  private async probe(): Promise<void> {
    try {
      if (this.dirtyAll) {
        await this.call(() => this.backend.clear(), undefined, this.bulkTimeout);
        this.dirtyAll = false;
      } else if (this.dirty.size > 0) {
        const ids = [...this.dirty];
        await this.call(() => Promise.all(ids.map((id) => this.backend.delete(id))), undefined, this.bulkTimeout);
        for (const id of ids) this.dirty.delete(id);
      } else {
        await this.call(() => this.backend.has(PROBE_ID));
      }
      if (this.down) {
        this.down = false;
        this.counters.recoveries++;
        this.options.onChange?.(this, 'up');
      }
    } catch (err) {
      // call() has marked the tier down again with a longer backoff, unless the failure looked
      // like a bad request; either way the probe must not be retried on the very next read.
      if (!this.down) this.markDown(err);
    } finally {
      this.probing = undefined;
    }
  }

  /** Waits for a running probe (tests and close()). */
  async settled(): Promise<void> {
    await this.probing;
  }

  /** This tier's line in `stats().tiers`. */
  async report(): Promise<TierStats> {
    let store: StoreStats | null = null;
    if (!this.down) {
      try {
        store = await this.call(() => this.store.stats(), undefined, this.bulkTimeout);
      } catch {
        store = null;
      }
    }
    return {
      index: this.index,
      name: this.name,
      role: this.complete ? 'complete' : 'cache',
      state: this.down ? 'down' : 'up',
      ...this.counters,
      pendingDrops: this.pendingDrops,
      lastError: this.lastError ?? null,
      store,
    };
  }

  /** A tier failure as a typed error naming the tier, keeping the code and cause. */
  wrap(err: unknown): Error {
    if (err instanceof TierTimeoutError) return err;
    if (err instanceof StoreError && CLIENT_CODES.has(err.code) && err.code !== ErrorCodes.OPERATION) return err;
    const message = `tier ${this.index} (${this.name}): ${(err as Error)?.message ?? String(err)}`;
    if (err instanceof StoreError && err.code === ErrorCodes.OPERATION) return new StorageOperationError(message, { cause: err });
    return new StorageConnectionError(message, { cause: err });
  }
}

function isClientError(err: unknown): boolean {
  return err instanceof StoreError && CLIENT_CODES.has(err.code);
}
