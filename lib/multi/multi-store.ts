/**
 * The multi-tier store (SPEC §8 multi, §9): a store over an ordered list of stores, fastest
 * first. It implements BaseStore's primitives with the tiers' public API only and never asks
 * what type a tier is — only its `supports` flags and this store's own settings.
 *
 * - Exact reads fall through the tiers; a hit below is promoted into the tiers above with
 *   TTL = min(remaining at the source, the upper tier's `ttl`); concurrent misses on one key
 *   share one lower-tier read (single-flight).
 * - Queries, counts, key listings, `ttl()` and streams are answered by the first complete
 *   tier (`queryTier`, default the last tier): a cache tier may have evicted entries.
 * - Writes and deletes reach the complete tiers first, bottom up (the last, durable tier
 *   first); a failure there fails the operation with a typed error after dropping the key
 *   from every tier above. A cache tier that fails is made to forget the key (now, or before
 *   it is read again), an 'error' event fires, and the operation succeeds.
 * - A failing or slow tier (per-tier timeout) is marked down and skipped until its backoff
 *   expires; a background probe brings it back, first dropping what it missed.
 * - With `invalidation: { redis }`, writes are published and other processes drop the
 *   affected entries from their in-process (`supports.shared === false`) tiers.
 */
import { InvalidArgumentError, StorageConnectionError, StoreConfigError, StoreError } from '../errors';
import { createStore } from '../factory';
import { Key, keyFromId, keyId, isPlainObject } from '../keys';
import { Selector } from '../query';
import {
  BackendStats,
  BaseStore,
  Capabilities,
  CommonSettings,
  EntryWithExpiry,
  FindOptions,
  KeyInput,
  NOT_SYNC,
  StoredEntry,
  StoreStats,
} from '../store';
import type { Callback } from '../callbacks';
import { InvalidationBus, InvalidationMessage, InvalidationSettings, checkInvalidationSettings, preciseNow } from './invalidation';
import { tierTtl } from './promotion';
import { BackgroundWork } from './background-work';
import { Flight, SingleFlight } from './single-flight';
import { Tier, TierStats } from './tier';

/** A tier given as store settings (built through the factory) or as a store instance with options. */
export interface TierSpec {
  /** Store type for the factory ('memory', 'redis', 'mongo', ...). */
  type?: string;
  /** That store's settings. */
  settings?: Record<string, unknown>;
  /** An existing store to use as this tier instead of `type`/`settings`. */
  store?: BaseStore;
  /** Longest time an entry stays in this tier, in ms (promotions and writes are capped by it). Default: none. */
  ttl?: number | null;
  /** Per-operation timeout for this tier in ms; 0 disables it. Default: the store's `timeout`. */
  timeout?: number;
  /** Name in stats and errors. Default: `type`, or the store's class name. */
  name?: string;
}

/** Settings of the multi store. */
export interface MultiSettings extends CommonSettings {
  /** The tiers, fastest first: store settings, `TierSpec`s or store instances. */
  stores?: Array<TierSpec | BaseStore>;
  /** memstorage's README spelling of `stores`. */
  store?: Array<TierSpec | BaseStore>;
  /** memstorage's `cache: true`: a memory tier in front, warmed by copying the complete tier at connect. An object gives that tier's memory settings and `ttl`. */
  cache?: boolean | (Record<string, unknown> & { ttl?: number | null });
  /** Index in `stores` of the first tier that holds the complete data set (it and every tier after it answer queries). Default: the last tier. */
  queryTier?: number;
  /** Default per-tier timeout in ms for tiers that are shared or persistent (in-process tiers get none). Default 1000. */
  timeout?: number;
  /** Timeout in ms of operations that grow with the data (queries, counts, key listings, query deletes, clear) on tiers that have a timeout; 0 disables it. Default 30000. */
  bulkTimeout?: number;
  /** First retry delay after a tier fails, in ms; doubles per consecutive failure. Default 100. */
  backoff?: number;
  /** Longest retry delay, in ms. Default 5000. */
  maxBackoff?: number;
  /** How long `connect()` waits for each tier, in ms. Default 10000. */
  connectTimeout?: number;
  /** Ids a failed cache tier remembers to drop before it is cleared wholesale on recovery. Default 10000. */
  maxPendingDrops?: number;
  /** Cross-process coherence through Redis pub/sub: `{ redis: url | client, channel? }`. Default: off. */
  invalidation?: InvalidationSettings;
}

/** Defaults of the multi store, one documented value per setting. */
export const MULTI_DEFAULTS = {
  timeout: 1000,
  bulkTimeout: 30_000,
  backoff: 100,
  maxBackoff: 5000,
  connectTimeout: 10_000,
  maxPendingDrops: 10_000,
} as const;

/** Where a `getWithSource` value came from. */
export interface SourcedValue<V = unknown> {
  value: V;
  /** Index of the tier that served it (0 is the fastest). */
  tier: number;
  /** That tier's name. */
  name: string;
}

/** `MultiStore.stats()`: the store's counters plus one line per tier. */
export interface MultiStats extends StoreStats {
  tiers: TierStats[];
  /** Invalidation messages published and received (0 without `invalidation`). */
  invalidations: { published: number; received: number; publishFailures: number };
}

/** A read that found the key. */
interface Hit {
  value: unknown;
  expiresAt: number | null | undefined;
  tier: number;
}

/**
 * Most reads below the front tier sent down as one batch: a burst of 1,000 misses goes as
 * several slices, each one bounded command (half the Redis store's own batch of 256), whose
 * answers are used as they arrive. Slices of 64 to 512 measured alike.
 */
const READ_SLICE = 128;

/** An exact read waiting to go down to the tiers below the front one (see readBelow). */
interface QueuedRead {
  id: string;
  key: Key;
  flight: Flight<Hit | undefined>;
  resolve(hit: Hit | undefined): void;
  reject(err: unknown): void;
  /** Why a complete tier could not answer, kept while lower tiers are tried. */
  failure: Error | undefined;
}

/** Internal construction arguments for scopes. */
interface Inherited {
  tiers: Tier[];
  bus: InvalidationBus | undefined;
}

/** How long a promotion into a shared tier is remembered for invalidation races, in ms. */
const RECENT_PROMOTION_MS = 10_000;

const NON_NEGATIVE_INT = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function checkMultiSettings(settings: MultiSettings): Array<TierSpec | BaseStore> {
  if (settings.stores !== undefined && settings.store !== undefined) {
    throw new StoreConfigError('settings stores and store are two spellings of one setting: give only one');
  }
  const list = settings.stores ?? settings.store;
  const name = settings.stores !== undefined ? 'stores' : 'store';
  if (!Array.isArray(list) || list.length === 0) {
    throw new StoreConfigError(`setting ${name} must be a non-empty array of store settings or stores, fastest first`);
  }
  list.forEach((spec, i) => {
    if (spec instanceof BaseStore) return;
    if (!isPlainObject(spec)) throw new StoreConfigError(`setting ${name}[${i}] must be store settings like { type, settings } or a store`);
    if (spec.store !== undefined) {
      if (!(spec.store instanceof BaseStore)) throw new StoreConfigError(`setting ${name}[${i}].store must be a store instance`);
      if (spec.type !== undefined || spec.settings !== undefined) {
        throw new StoreConfigError(`setting ${name}[${i}] gives both store and type/settings`);
      }
    } else if (spec.type !== undefined && typeof spec.type !== 'string') {
      throw new StoreConfigError(`setting ${name}[${i}].type must be a string`);
    }
    if (spec.settings !== undefined && !isPlainObject(spec.settings)) throw new StoreConfigError(`setting ${name}[${i}].settings must be a plain object`);
    if (spec.ttl !== undefined && spec.ttl !== null && !(typeof spec.ttl === 'number' && Number.isFinite(spec.ttl) && spec.ttl > 0)) {
      throw new StoreConfigError(`setting ${name}[${i}].ttl must be a positive number of milliseconds or null`);
    }
    if (spec.timeout !== undefined && !NON_NEGATIVE_INT(spec.timeout)) throw new StoreConfigError(`setting ${name}[${i}].timeout must be a non-negative integer (ms)`);
    if (spec.name !== undefined && typeof spec.name !== 'string') throw new StoreConfigError(`setting ${name}[${i}].name must be a string`);
  });
  for (const field of ['timeout', 'bulkTimeout', 'backoff', 'maxBackoff', 'connectTimeout', 'maxPendingDrops'] as const) {
    if (settings[field] !== undefined && !NON_NEGATIVE_INT(settings[field])) throw new StoreConfigError(`setting ${field} must be a non-negative integer`);
  }
  if (settings.cache !== undefined && typeof settings.cache !== 'boolean' && !isPlainObject(settings.cache)) {
    throw new StoreConfigError('setting cache must be true, false or the memory tier settings');
  }
  if (settings.queryTier !== undefined && !(NON_NEGATIVE_INT(settings.queryTier) && settings.queryTier < list.length)) {
    throw new StoreConfigError(`setting queryTier must be an index into ${name} (0..${list.length - 1})`);
  }
  if (settings.invalidation !== undefined) checkInvalidationSettings(settings.invalidation);
  return list;
}

/** The multi-tier store; see the file comment. */
export class MultiStore extends BaseStore {
  readonly supports: Capabilities;
  /** The tiers, fastest first. */
  readonly tiers: readonly Tier[];
  /** Index of the first complete tier. */
  readonly queryTier: number;
  private readonly multiSettings: MultiSettings;
  private readonly flights = new SingleFlight<Hit | undefined>();
  /** Reads started this tick, sent down together on the next (see readBelow). */
  private queuedReads: QueuedRead[] = [];
  private readonly bus: InvalidationBus | undefined;
  private unlisten: (() => void) | undefined;
  private readonly background = new BackgroundWork();
  /** Shared tiers this process promoted into recently: an invalidation must drop them there too. */
  private readonly recentSharedPromotions = new Map<string, number>();
  /** Cache tier 0, read before joining a flight (undefined when tier 0 is complete). */
  private readonly front: Tier | undefined;
  private readonly warm: boolean;

  constructor(settings: MultiSettings, inherited?: Inherited) {
    super(settings);
    this.multiSettings = settings;
    if (inherited) {
      this.tiers = inherited.tiers;
      this.queryTier = this.tiers.findIndex((t) => t.complete);
      this.bus = inherited.bus;
      this.warm = false;
    } else {
      const list = checkMultiSettings(settings);
      const offset = settings.cache ? 1 : 0;
      const queryTier = (settings.queryTier ?? list.length - 1) + offset;
      const specs: Array<TierSpec | BaseStore> = settings.cache
        ? [{ type: 'memory', name: 'cache', ...(isPlainObject(settings.cache) ? splitCache(settings.cache) : {}) }, ...list]
        : list;
      this.tiers = specs.map((spec, index) => this.buildTier(spec, index, index >= queryTier));
      this.queryTier = queryTier;
      this.bus = settings.invalidation ? new InvalidationBus(settings.invalidation, (err) => this.reportError(asStoreError(err))) : undefined;
      this.warm = Boolean(settings.cache);
    }
    for (const tier of this.tiers.slice(this.queryTier)) {
      if (tier.store.supports.evicts) {
        throw new StoreConfigError(
          `setting queryTier: tier ${tier.index} (${tier.name}) may evict entries, so it cannot answer queries; bound only tiers above queryTier`,
        );
      }
    }
    this.front = this.queryTier > 0 ? this.tiers[0] : undefined;
    const complete = this.tiers[this.queryTier].store.supports;
    const durable = this.tiers[this.tiers.length - 1].store.supports;
    this.supports = {
      nativeQueries: complete.nativeQueries,
      valueStreams: durable.valueStreams,
      ttl: this.tiers.every((t) => t.store.supports.ttl),
      shared: durable.shared,
      evicts: false,
      persistent: durable.persistent,
    };
  }

  /** Emits 'tierDown' { index, name, error } and 'tierUp' { index, name }; a tier going down is also an 'error'. */
  private readonly tierChanged = (tier: Tier, state: 'up' | 'down', err?: unknown): void => {
    this.emit(state === 'down' ? 'tierDown' : 'tierUp', { index: tier.index, name: tier.name, error: err });
    if (state === 'down') this.reportError(err instanceof Error ? tier.wrap(err) : new StorageConnectionError(`tier ${tier.index} (${tier.name}) is down`));
  };

  private buildTier(spec: TierSpec | BaseStore, index: number, complete: boolean): Tier {
    const s = this.multiSettings;
    let store: BaseStore;
    let owned = false;
    let name: string;
    let options: TierSpec = {};
    if (spec instanceof BaseStore) {
      store = spec;
      name = spec.constructor.name;
    } else if (spec.store) {
      options = spec;
      store = spec.store;
      name = spec.name ?? spec.store.constructor.name;
    } else {
      options = spec;
      const tierSettings = { clock: this.clock, namespace: this.namespace, ...(spec.settings ?? {}), callbacks: 'node' as const };
      store = createStore({ type: spec.type, settings: tierSettings });
      owned = true;
      name = spec.name ?? spec.type ?? 'memory';
    }
    if (!owned && this.namespace && store.namespace !== this.namespace) store = store.scope(this.namespace);
    const inProcess = store.supports.shared === false && store.supports.persistent === false;
    const timeout = options.timeout ?? (inProcess ? 0 : (s.timeout ?? MULTI_DEFAULTS.timeout));
    return new Tier(store, {
      name,
      index,
      complete,
      ttl: options.ttl ?? null,
      timeout,
      bulkTimeout: s.bulkTimeout ?? MULTI_DEFAULTS.bulkTimeout,
      backoff: s.backoff ?? MULTI_DEFAULTS.backoff,
      maxBackoff: s.maxBackoff ?? MULTI_DEFAULTS.maxBackoff,
      owned,
      maxPendingDrops: s.maxPendingDrops ?? MULTI_DEFAULTS.maxPendingDrops,
      now: () => Date.now(),
      onChange: this.tierChanged,
    });
  }

  // ---- connection ----------------------------------------------------------------------

  protected async _connect(): Promise<void> {
    const timeout = this.multiSettings.connectTimeout ?? MULTI_DEFAULTS.connectTimeout;
    // A cache tier delays startup by at most its own timeout; if it is not up by then it is
    // marked down and the background probe connects it later.
    const results = await Promise.allSettled(
      this.tiers.map((tier) => withDeadline(tier.store.connect(), tier.complete || tier.timeout === 0 ? timeout : Math.min(timeout, tier.timeout), tier)),
    );
    let completeUp = false;
    results.forEach((result, i) => {
      const tier = this.tiers[i];
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
    if (this.warm && !this.tiers[0].isDown) {
      const source = this.tiers.slice(this.queryTier).find((t) => !t.isDown)!;
      try {
        await source.store.copy(this.tiers[0].store);
      } catch (err) {
        this.reportError(asStoreError(err));
      }
    }
    if (this.bus) {
      this.unlisten = this.bus.listen(this.namespace, (message) => this.onInvalidation(message));
      await this.bus.start(timeout);
    }
  }

  protected async _close(): Promise<void> {
    this.unlisten?.();
    this.unlisten = undefined;
    if (this.bus) await this.bus.stop();
    await this.background.idle();
    await Promise.allSettled(this.tiers.map((t) => t.settled()));
    // A tier whose close() never settles must not make this close() hang.
    const timeout = this.multiSettings.connectTimeout ?? MULTI_DEFAULTS.connectTimeout;
    const closed = await Promise.allSettled(this.tiers.filter((t) => t.owned).map((t) => withDeadline(t.store.close(), timeout, t, 'close')));
    for (const result of closed) if (result.status === 'rejected') this.reportError(asStoreError(result.reason));
  }

  // ---- exact reads ---------------------------------------------------------------------

  /**
   * The value of `id`, falling through the tiers. Tier 0 (a cache) is read by every caller;
   * below it, concurrent callers share one read.
   */
  private async read(id: string, wantExpiry: boolean): Promise<Hit | undefined> {
    const front = this.front;
    if (front) {
      if (front.readable(id)) {
        try {
          const key = keyFromId(id);
          if (wantExpiry) {
            const entry = await front.call(() => front.store.getEntry(key));
            if (entry !== undefined) {
              front.counters.hits++;
              return { value: entry.value, expiresAt: entry.expiresAt, tier: 0 };
            }
          } else {
            const value = await front.call(() => front.store.getOne(key));
            if (value !== undefined) {
              front.counters.hits++;
              return { value, expiresAt: undefined, tier: 0 };
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
   * The hot path: with an in-process front tier (no timeout), a hit costs that tier's own
   * synchronous read and one resolved promise; a miss joins the single-flight read of the tiers below.
   */
  getOne<V = unknown>(key: Key, cb?: Callback): Promise<V | undefined>;
  getOne(key: Key, cb?: Callback): Promise<unknown> {
    const front = this.front;
    if (cb !== undefined || front === undefined || front.timeout !== 0 || !this.isOpen) return super.getOne(key, cb);
    // The id is computed here only when something must be checked first; else on a miss.
    let id: string | undefined;
    if (!this.orderGate.idle || !front.clean) {
      try {
        id = keyId(key);
      } catch {
        return super.getOne(key); // rejects with the same InvalidKeyError
      }
      // Calls in flight: this read goes ahead only if none of them must come first (SPEC §12
      // program order). A front tier that is down or may hold stale copies: check the key.
      if (!this.orderGate.canReadNow(id) || !front.readable(id)) return super.getOne(key);
    }
    // The front tier validates the key; its id is computed only on a miss.
    let sync: unknown;
    try {
      sync = front.store.getOneSync(key as KeyInput);
    } catch (err) {
      return Promise.reject(err); // an invalid key
    }
    if (sync !== NOT_SYNC) return Promise.resolve(this.afterFront(front, key, sync, id));
    // A front store that cannot answer synchronously (not open yet, or not in-process): the
    // ordered path, which reads it asynchronously.
    return super.getOne(key);
  }

  /** What the front tier said of `key` (id, when already known): its value, or on a miss the read of the tiers below. */
  private afterFront(front: Tier, key: Key, value: unknown, id: string | undefined): unknown {
    if (value !== undefined) {
      front.counters.hits++;
      this.counters.hits++;
      return value;
    }
    front.counters.misses++;
    return this.readBelowFront(id ?? keyId(key));
  }

  /**
   * A front-tier miss read below, in the same turn as the fast path found the order gate
   * letting it through (canReadNow).
   * The key's flight holds it in the gate as an exact read until it settles, so a write issued
   * after it waits its turn instead of being seen by it (SPEC §12); reads joining the flight
   * cost nothing more.
   */
  private readBelowFront(id: string): Promise<unknown> {
    return this.flights.run(id, this.readBelowHeld).then(this.countBelow, this.countFailure);
  }

  private readonly readBelowHeld = (flight: Flight<Hit | undefined>, id: string): Promise<Hit | undefined> => {
    const gate = this.orderGate;
    gate.hold('read', id);
    const read = this.readBelow(flight, id);
    const release = () => gate.leave('read', id);
    read.then(release, release);
    return read;
  };


  private readonly countBelow = (hit: Hit | undefined): unknown => {
    if (hit === undefined) this.counters.misses++;
    else this.counters.hits++;
    return hit?.value;
  };

  /**
   * Starts the read of `id` in the tiers below the front one (the flight's read). Reads started
   * in the same tick go down together: each tier gets one getEntries call per slice under one
   * deadline, instead of a timed call per key, which is what a burst of misses costs.
   */
  private readonly readBelow = (flight: Flight<Hit | undefined>, id: string): Promise<Hit | undefined> =>
    new Promise((resolve, reject) => {
      this.queuedReads.push({ id, key: keyFromId(id), flight, resolve, reject, failure: undefined });
      if (this.queuedReads.length === 1) process.nextTick(this.sendQueuedReads);
    });

  private readonly sendQueuedReads = (): void => {
    const queued = this.queuedReads;
    this.queuedReads = [];
    // Slices go down independently, so the first answers are used while later ones are on the way.
    for (let start = 0; start < queued.length; start += READ_SLICE) {
      const reads = queued.length <= READ_SLICE ? queued : queued.slice(start, start + READ_SLICE);
      this.fallThrough(reads).catch((err) => {
        for (const read of reads) read.reject(err);
      });
    }
  };

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
        results = await tier.call(() => tier.store.getEntries(asked.map((read) => read.key as KeyInput)));
      } catch (err) {
        // The whole batch failed or timed out (counted by the tier).
        for (const read of asked) {
          if (tier.complete) read.failure = err as Error;
          next.push(read);
        }
        continue;
      }
      let failed = false;
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
          if (i > 0 && !read.flight.stale) this.promote(read.id, read.key, entry, i);
          read.resolve({ value: entry.value, expiresAt: entry.expiresAt, tier: i });
        } else {
          tier.counters.misses++;
          if (tier.complete) read.resolve(undefined);
          else next.push(read);
        }
      }
    }
    for (const read of remaining) read.reject(read.failure ?? new StorageConnectionError('no complete tier could be read'));
  }

  /** Copies a value found in tier `from` into every usable tier above it (not awaited by the reader). */
  private promote(id: string, key: Key, entry: EntryWithExpiry, from: number): void {
    const now = this.clock.now();
    for (let j = 0; j < from; j++) {
      const tier = this.tiers[j];
      const ttl = tierTtl(entry.expiresAt, now, tier.ttl);
      if (ttl === undefined) return; // expired at the source since it was read
      if (!tier.usable) continue;
      if (this.bus && !tier.local) this.recentSharedPromotions.set(id, Date.now());
      this.background.start();
      tier.call(() => tier.store.set(key, entry.value, { ttl })).then(
        () => {
          tier.counters.promotions++;
          tier.noteFresh(id);
          this.background.done();
        },
        this.background.done, // counted by the tier; the value is still served from below
      );
    }
  }

  protected async _get(id: string): Promise<unknown> {
    return (await this.read(id, false))?.value;
  }

  protected async _getEntry(id: string): Promise<EntryWithExpiry | undefined> {
    const hit = await this.read(id, true);
    if (hit === undefined) return undefined;
    return { value: hit.value, expiresAt: hit.expiresAt ?? null };
  }

  protected async _has(id: string): Promise<boolean> {
    return (await this.read(id, false)) !== undefined;
  }

  /** The value under `key` and the tier that served it, or undefined. */
  getWithSource<V = unknown>(key: Key): Promise<SourcedValue<V> | undefined> {
    let id: string;
    try {
      id = keyIdOf(key);
    } catch (err) {
      return this.refuse(err);
    }
    return this.run(
      () => this.read(id, false),
      (hit) => {
        if (hit === undefined) {
          this.counters.misses++;
          return undefined;
        }
        this.counters.hits++;
        return { value: hit.value as V, tier: hit.tier, name: this.tiers[hit.tier].name };
      },
      'read',
      id,
    );
  }

  // ---- writes --------------------------------------------------------------------------

  /**
   * Runs `op` on the complete tiers, last first. On a failure, drops `id` (or everything,
   * for query writes) from every tier above the one that failed, then throws it.
   */
  private async writeComplete<T>(op: (tier: Tier) => Promise<T>, drop: (tier: Tier) => Promise<void>, bulk = false): Promise<T> {
    let result: T | undefined;
    for (let i = this.tiers.length - 1; i >= this.queryTier; i--) {
      const tier = this.tiers[i];
      if (!tier.usable) throw unavailable(tier);
      try {
        const r = await tier.call(() => op(tier), undefined, bulk ? tier.bulkTimeout : tier.timeout);
        if (i === this.tiers.length - 1) result = r;
      } catch (err) {
        await Promise.all(this.tiers.slice(0, i).map((upper) => drop(upper)));
        throw err;
      }
    }
    return result as T;
  }

  /** Applies a write to the cache tiers; a tier that fails forgets the key (now or before its next read). */
  private async writeCaches(op: (tier: Tier) => Promise<unknown>, drop: (tier: Tier) => Promise<void>, fresh?: string, bulk = false): Promise<void> {
    if (this.queryTier === 0) return;
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < this.queryTier; i++) {
      const tier = this.tiers[i];
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
            this.reportError(err);
            await drop(tier);
          },
        ),
      );
    }
    await Promise.all(jobs);
  }

  /** Makes `tier` forget `id`: deletes it now, or remembers to before `id` is read there again. */
  private dropKey(id: string): (tier: Tier) => Promise<void> {
    return async (tier) => {
      if (tier.usable) {
        try {
          await tier.call(() => tier.store.del(keyFromId(id)));
          tier.noteFresh(id);
          return;
        } catch {
          // fall through: remember it
        }
      }
      tier.noteStale(id);
    };
  }

  /** Makes `tier` forget everything matching a query (or everything): now, or by clearing it on recovery. */
  private dropMatching(query: Record<string, unknown> | undefined): (tier: Tier) => Promise<void> {
    return async (tier) => {
      if (tier.usable) {
        try {
          await tier.call<unknown>(() => (query ? tier.store.del(query) : tier.store.clear()), undefined, tier.bulkTimeout);
          return;
        } catch {
          // fall through
        }
      }
      tier.noteAllStale();
    };
  }

  protected async _set(id: string, key: Key, value: unknown, expiresAt: number | null): Promise<void> {
    this.flights.invalidate(id);
    const drop = this.dropKey(id);
    const write = (tier: Tier): Promise<unknown> => {
      const ttl = tierTtl(expiresAt, this.clock.now(), tier.ttl);
      return ttl === undefined ? tier.store.del(key) : tier.store.set(key, value, { ttl });
    };
    try {
      await this.writeComplete(write, drop);
    } catch (err) {
      this.publish('k', id);
      throw err;
    }
    await this.writeCaches(write, drop, id);
    this.flights.invalidate(id);
    this.publish('k', id);
  }

  protected async _delete(id: string): Promise<boolean> {
    this.flights.invalidate(id);
    const key = keyFromId(id);
    const drop = this.dropKey(id);
    let existed: number;
    try {
      existed = await this.writeComplete((tier) => tier.store.del(key), drop);
    } catch (err) {
      this.publish('k', id);
      throw err;
    }
    await this.writeCaches((tier) => tier.store.del(key), drop, id);
    this.flights.invalidate(id);
    this.publish('k', id);
    return existed > 0;
  }

  protected async _deleteMatching(selector: Selector): Promise<number> {
    const query = selectorQuery(selector);
    this.flights.invalidateAll();
    const drop = this.dropMatching(query);
    let removed: number;
    try {
      removed = await this.writeComplete((tier) => (query ? tier.store.del(query) : countThenClear(tier.store)), drop, true);
    } catch (err) {
      this.publish(query ? 'q' : 'c', undefined, query);
      throw err;
    }
    await this.writeCaches((tier) => (query ? tier.store.del(query) : tier.store.clear()), drop, undefined, true);
    this.flights.invalidateAll();
    this.publish(query ? 'q' : 'c', undefined, query);
    return removed;
  }

  protected async _clear(): Promise<void> {
    this.flights.invalidateAll();
    const drop = this.dropMatching(undefined);
    try {
      await this.writeComplete((tier) => tier.store.clear(), drop, true);
    } finally {
      await this.writeCaches((tier) => tier.store.clear(), drop, undefined, true);
      this.flights.invalidateAll();
      this.publish('c');
    }
  }

  protected async _setStream(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
    this.flights.invalidate(id);
    const drop = this.dropKey(id);
    const durable = this.tiers[this.tiers.length - 1];
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
    // A byte stream can be consumed once: it goes to the durable tier, the other complete
    // tiers copy it from there, and cache tiers forget the key (a read promotes it later).
    for (let i = this.tiers.length - 1; i >= this.queryTier; i--) {
      const tier = this.tiers[i];
      if (!tier.usable) throw unavailable(tier);
      const ttl = tierTtl(expiresAt, this.clock.now(), tier.ttl);
      try {
        if (ttl === undefined) await tier.call(() => tier.store.del(key));
        else {
          const bytes = tier === durable ? guarded : durable.store.createValueStream(key);
          await tier.call(() => tier.store.setStream(key, bytes, { ttl }), () => !sourceFailed, 0);
        }
      } catch (err) {
        if (!sourceFailed) {
          await Promise.all(this.tiers.slice(0, i).map((upper) => drop(upper)));
          this.publish('k', id);
        }
        throw err;
      }
    }
    await Promise.all(this.tiers.slice(0, this.queryTier).map((tier) => drop(tier)));
    this.flights.invalidate(id);
    this.publish('k', id);
  }

  // ---- reads answered by the complete tiers ----------------------------------------------

  /** Runs `op` on the first complete tier that answers; the next complete tier on failure. */
  private async fromComplete<T>(op: (tier: Tier) => Promise<T>, bulk = false): Promise<T> {
    let failure: Error | undefined;
    for (let i = this.queryTier; i < this.tiers.length; i++) {
      const tier = this.tiers[i];
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

  protected async _expiresAt(id: string): Promise<number | null | undefined> {
    const key = keyFromId(id);
    const remaining = await this.fromComplete((tier) => tier.store.ttl(key));
    if (remaining === undefined || remaining === null) return remaining;
    return this.clock.now() + remaining;
  }

  protected async _count(selector: Selector): Promise<number> {
    const query = selectorQuery(selector);
    if (selector.kind === 'query') return this.fromComplete((tier) => tier.store.count(query!), true);
    let n = 0;
    for await (const entry of this._find(selector, { values: false })) if (entry) n++;
    return n;
  }

  protected async *_find(selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
    if (selector.kind === 'none') return;
    if (!options.values) {
      const pattern = selector.kind === 'glob' ? selector.pattern : selectorQuery(selector);
      const keys = await this.fromComplete((tier) => (pattern === undefined ? tier.store.keys() : tier.store.keys(pattern)), true);
      let n = 0;
      for (const key of keys) {
        if (options.limit !== undefined && n++ >= options.limit) return;
        yield { id: keyIdOf(key), key, value: undefined };
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
          yield { id: keyIdOf(key), key, value };
          if (options.limit !== undefined && ++n >= options.limit) return;
        }
        r = await tier!.call(() => it!.next(), undefined, tier!.bulkTimeout);
      }
    } finally {
      await it!.return?.();
    }
  }

  protected async _valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    const key = keyFromId(id);
    for (const tier of this.tiers) {
      if (!tier.complete && !tier.readable(id)) continue;
      let has: boolean;
      try {
        has = await tier.call(() => tier.store.has(key));
      } catch (err) {
        if (tier.complete && tier.index === this.tiers.length - 1) throw err;
        continue;
      }
      if (has) return tier.store.createValueStream(key) as AsyncIterable<Buffer>;
      if (tier.complete) return undefined;
    }
    throw new StorageConnectionError('no complete tier could be read');
  }

  // ---- scopes, stats, coherence ----------------------------------------------------------

  protected _scope(namespace: string): MultiStore {
    const relative = this.namespace ? namespace.slice(this.namespace.length + 1) : namespace;
    const tiers = this.tiers.map(
      (tier) =>
        new Tier(tier.store.scope(relative), {
          name: tier.name,
          index: tier.index,
          complete: tier.complete,
          ttl: tier.ttl,
          timeout: tier.timeout,
          bulkTimeout: tier.bulkTimeout,
          backoff: this.multiSettings.backoff ?? MULTI_DEFAULTS.backoff,
          maxBackoff: this.multiSettings.maxBackoff ?? MULTI_DEFAULTS.maxBackoff,
          owned: true, // the scoped instance was made here; closing it releases only the scope
          maxPendingDrops: this.multiSettings.maxPendingDrops ?? MULTI_DEFAULTS.maxPendingDrops,
          now: () => Date.now(),
          onChange: this.tierChanged,
        }),
    );
    return new MultiStore({ ...this.commonSettings(), namespace }, { tiers, bus: this.bus });
  }

  private commonSettings(): CommonSettings {
    const { nullOnMiss, includeKey, defaultTtl, serializer, callbacks, clock, connectTimeout } = this.multiSettings as MultiSettings;
    const out: MultiSettings = { nullOnMiss, includeKey, defaultTtl, serializer, callbacks, clock, connectTimeout };
    for (const k of Object.keys(out) as Array<keyof MultiSettings>) if (out[k] === undefined) delete out[k];
    return out;
  }

  protected async _stats(): Promise<BackendStats> {
    try {
      const s = await this.fromComplete((tier) => tier.store.stats(), true);
      return { items: s.items, expirations: s.expirations, evictions: 0 };
    } catch {
      return {};
    }
  }

  /** The store's counters plus, per tier, hits, misses, errors, timeouts, promotions, skips, recoveries and state. */
  stats(cb?: Callback): Promise<MultiStats> {
    if (cb !== undefined && typeof cb !== 'function') return super.stats(cb) as Promise<MultiStats>; // refuses the callback like every store
    const p = super.stats().then(async (base) => ({
      ...base,
      tiers: await Promise.all(this.tiers.map((t) => t.report())),
      invalidations: { published: this.bus?.published ?? 0, received: this.bus?.received ?? 0, publishFailures: this.bus?.publishFailures ?? 0 },
    }));
    return this.settle('stats', p, cb);
  }

  /** Resolves when background work (promotions, tier probes) has finished: for tests and shutdown. */
  async idle(): Promise<void> {
    await this.background.idle();
    await Promise.all(this.tiers.map((t) => t.settled()));
  }

  private publish(op: 'k' | 'q' | 'c', id?: string, query?: Record<string, unknown>): void {
    if (!this.bus) return;
    if (op === 'q' && !isJsonFilter(query)) op = 'c'; // receivers drop everything local instead
    this.bus.publish(this.namespace, op, op === 'k' ? { id } : op === 'q' ? { q: query } : undefined);
  }

  /** Another process wrote: drop the affected entries from this process's in-process tiers. */
  private onInvalidation(message: InvalidationMessage): void {
    const work = this.applyInvalidation(message).then(
      (dropped) => this.emit('invalidation', { op: message.op, id: message.id, publishedAt: message.t, droppedAt: preciseNow(), dropped }),
      (err: Error) => this.reportError(asStoreError(err)),
    );
    this.background.track(work);
  }

  private async applyInvalidation(message: InvalidationMessage): Promise<number> {
    let dropped = 0;
    if (message.op === 'k' && typeof message.id === 'string') {
      const id = message.id;
      this.flights.invalidate(id);
      const promotedAt = this.recentSharedPromotions.get(id);
      const promotedRecently = promotedAt !== undefined && Date.now() - promotedAt < RECENT_PROMOTION_MS;
      if (promotedAt !== undefined) this.recentSharedPromotions.delete(id);
      this.pruneRecentPromotions();
      const jobs = this.tiers.map(async (tier) => {
        // A shared cache tier is dropped too when this process may just have promoted an older
        // value into it (its read raced the other process's write).
        if (!tier.local && (!promotedRecently || tier.complete)) return;
        const drop = this.dropKey(id);
        await drop(tier);
        dropped++;
      });
      await Promise.all(jobs);
      return dropped;
    }
    this.flights.invalidateAll();
    const query = message.op === 'q' && isPlainObject(message.q) ? message.q : undefined;
    await Promise.all(
      this.tiers
        .filter((tier) => tier.local)
        .map(async (tier) => {
          await this.dropMatching(query)(tier);
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

function splitCache(cache: Record<string, unknown> & { ttl?: number | null }): TierSpec {
  const { ttl, ...settings } = cache;
  return { ttl, settings };
}

function keyIdOf(key: Key): string {
  return keyId(key);
}

/** True when a filter survives JSON (no RegExp or Date operands), so it can travel in a message. */
function isJsonFilter(value: unknown): boolean {
  if (value instanceof RegExp || value instanceof Date) return false;
  if (Array.isArray(value)) return value.every(isJsonFilter);
  if (value !== null && typeof value === 'object') return Object.values(value).every(isJsonFilter);
  return true;
}

/** The public query for a selector: the key, the normalized filter, or undefined for 'all'. */
function selectorQuery(selector: Selector): Record<string, unknown> | undefined {
  if (selector.kind === 'query') return selector.filter;
  if (selector.kind === 'all') return undefined;
  throw new InvalidArgumentError(`a ${selector.kind} selector has no query form`);
}

async function countThenClear(store: BaseStore): Promise<number> {
  const n = (await store.keys()).length;
  await store.clear();
  return n;
}

function unavailable(tier: Tier): StorageConnectionError {
  return new StorageConnectionError(`tier ${tier.index} (${tier.name}) is down; it is retried with backoff`);
}

function asStoreError(err: unknown): Error {
  return err instanceof StoreError ? err : new StorageConnectionError(String((err as Error)?.message ?? err), { cause: err });
}

/** Rejects when `p` has not settled within `ms`. */
function withDeadline<T>(p: Promise<T>, ms: number, tier: Tier, what = 'connect'): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StorageConnectionError(`tier ${tier.index} (${tier.name}) did not ${what} within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
