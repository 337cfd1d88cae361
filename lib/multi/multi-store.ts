/**
 * The multi-tier store (SPEC §8 multi, §9): a store over an ordered list of stores, fastest
 * first. It implements BaseStore's primitives with the tiers' public API only and never asks
 * what type a tier is — only its `supports` flags and this store's own settings.
 *
 * This class holds the tiers and the hot path; each concern is in its own file:
 * - settings.ts and tier-building.ts: the settings, and the tiers built from them;
 * - connection.ts: connect and close, with per-tier deadlines;
 * - read-path.ts: exact reads falling through the tiers, single-flight, batched reads below
 *   the front tier, promotion (the front tier's synchronous fast path is `getOne` here);
 * - write-path.ts: writes and deletes, complete tiers first, cache tiers made to forget on failure;
 * - complete-reads.ts: queries, counts, key listings, `ttl()` and streams from a complete tier;
 * - coherence.ts: invalidations published to and received from other processes;
 * - tier.ts: one tier's health (down until its backoff expires, probed back) and counters.
 * The state these parts share is one MultiContext (context.ts).
 */
import { StorageConnectionError, StoreConfigError } from '../errors';
import { Key, keyId } from '../keys';
import { Selector } from '../query';
import {
  BackendStats,
  BaseStore,
  Capabilities,
  EntryWithExpiry,
  FindOptions,
  StoredEntry,
  StoreStats,
} from '../store';
import type { Callback } from '../callbacks';
import { NOT_SYNC, readSyncById } from '../core/tier-access';
import { BackgroundWork } from './background-work';
import { Coherence } from './coherence';
import { CompleteReads } from './complete-reads';
import { closeTiers, connectTiers } from './connection';
import type { Hit, MultiContext } from './context';
import { InvalidationBus } from './invalidation';
import { ExactReads } from './read-path';
import { MULTI_DEFAULTS, MultiSettings, planTiers, scopeSettings } from './settings';
import { Flight, SingleFlight } from './single-flight';
import { Tier, TierStats } from './tier';
import { TierOwner, scopedTier, tierFromSpec } from './tier-building';
import { asStoreError } from './tier-failures';
import { WritePath } from './write-path';

export { MULTI_DEFAULTS };
export type { MultiSettings, TierSpec } from './settings';

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

/** Internal construction arguments for scopes. */
interface Inherited {
  tiers: Tier[];
  bus: InvalidationBus | undefined;
}

/** The multi-tier store; see the file comment. */
export class MultiStore extends BaseStore {
  readonly supports: Capabilities;
  /** The tiers, fastest first. */
  readonly tiers: readonly Tier[];
  /** Index of the first complete tier. */
  readonly queryTier: number;
  private readonly multiSettings: MultiSettings;
  /** Cache tier 0, read before joining a flight (undefined when tier 0 is complete). */
  private readonly front: Tier | undefined;
  private readonly flights = new SingleFlight<Hit | undefined>();
  private readonly bus: InvalidationBus | undefined;
  private readonly warm: boolean;
  private readonly context: MultiContext;
  private readonly reads: ExactReads;
  private readonly writes: WritePath;
  private readonly completeReads: CompleteReads;
  private readonly coherence: Coherence;

  constructor(settings: MultiSettings, inherited?: Inherited) {
    super(settings);
    this.multiSettings = settings;
    if (inherited) {
      this.tiers = inherited.tiers;
      this.queryTier = this.tiers.findIndex((t) => t.complete);
      this.bus = inherited.bus;
      this.warm = false;
    } else {
      const { specs, queryTier } = planTiers(settings);
      const owner = this.tierOwner();
      this.tiers = specs.map((spec, index) => tierFromSpec(spec, index, index >= queryTier, owner));
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
    this.context = {
      tiers: this.tiers,
      queryTier: this.queryTier,
      front: this.front,
      clock: this.clock,
      namespace: this.namespace,
      flights: this.flights,
      background: new BackgroundWork(),
      bus: this.bus,
      reportError: (err) => this.reportError(err),
      emit: (event, payload) => this.emit(event, payload),
    };
    this.coherence = new Coherence(this.context);
    this.reads = new ExactReads(this.context, this.coherence);
    this.writes = new WritePath(this.context, this.coherence);
    this.completeReads = new CompleteReads(this.context);
  }

  /** Emits 'tierDown' { index, name, error } and 'tierUp' { index, name }; a tier going down is also an 'error'. */
  private readonly tierChanged = (tier: Tier, state: 'up' | 'down', err?: unknown): void => {
    this.emit(state === 'down' ? 'tierDown' : 'tierUp', { index: tier.index, name: tier.name, error: err });
    if (state === 'down') this.reportError(err instanceof Error ? tier.wrap(err) : new StorageConnectionError(`tier ${tier.index} (${tier.name}) is down`));
  };

  /** This store as the owner of the tiers it builds: its settings, clock and namespace, and its tier events. */
  private tierOwner(): TierOwner {
    return { settings: this.multiSettings, clock: this.clock, namespace: this.namespace, onChange: this.tierChanged };
  }

  // ---- connection ----------------------------------------------------------------------

  protected async _connect(): Promise<void> {
    const timeout = this.multiSettings.connectTimeout ?? MULTI_DEFAULTS.connectTimeout;
    await connectTiers(this.context, timeout, this.warm);
    await this.coherence.start(timeout);
  }

  protected async _close(): Promise<void> {
    await this.coherence.stop();
    await closeTiers(this.context, this.multiSettings.connectTimeout ?? MULTI_DEFAULTS.connectTimeout);
  }

  // ---- exact reads ---------------------------------------------------------------------

  /**
   * The hot path: with an in-process front tier (no timeout), a hit costs that tier's own
   * synchronous read and one resolved promise; a miss joins the single-flight read of the tiers below.
   */
  getOne<V = unknown>(key: Key, cb?: Callback): Promise<V | undefined>;
  getOne(key: Key, cb?: Callback): Promise<unknown> {
    const front = this.front;
    if (cb !== undefined || front === undefined || front.timeout !== 0 || !this.isOpen) return super.getOne(key, cb);
    let id: string;
    try {
      id = keyId(key);
    } catch {
      return super.getOne(key); // rejects with the same InvalidKeyError, counted
    }
    // Calls in flight: this read goes ahead only if none of them must come first (SPEC §12
    // program order). A front tier that is down or may hold stale copies: check the key.
    const gate = this.orderGate;
    if (!(gate.idle || gate.canReadNow(id)) || !(front.clean || front.readable(id))) return super.getOne(key);
    // The id flows down: the front tier reads it without validating the key again.
    const value = front.store[readSyncById](id);
    if (value === NOT_SYNC) return super.getOne(key); // not open yet, or not in-process: the ordered path
    if (value !== undefined) {
      front.counters.hits++;
      this.counters.hits++;
      return Promise.resolve(value);
    }
    front.counters.misses++;
    return this.readBelowFront(id);
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
    const read = this.reads.readBelow(flight, id);
    const release = () => gate.leave('read', id);
    read.then(release, release);
    return read;
  };

  private readonly countBelow = (hit: Hit | undefined): unknown => {
    if (hit === undefined) this.counters.misses++;
    else this.counters.hits++;
    return hit?.value;
  };

  protected async _get(id: string): Promise<unknown> {
    return (await this.reads.read(id, false))?.value;
  }

  protected async _getEntry(id: string): Promise<EntryWithExpiry | undefined> {
    const hit = await this.reads.read(id, true);
    if (hit === undefined) return undefined;
    return { value: hit.value, expiresAt: hit.expiresAt ?? null };
  }

  protected async _has(id: string): Promise<boolean> {
    return (await this.reads.read(id, false)) !== undefined;
  }

  /** The value under `key` and the tier that served it, or undefined. */
  getWithSource<V = unknown>(key: Key): Promise<SourcedValue<V> | undefined> {
    let id: string;
    try {
      id = keyId(key);
    } catch (err) {
      return this.refuse(err);
    }
    return this.run(
      () => this.reads.read(id, false),
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

  // ---- writes (write-path.ts) ----------------------------------------------------------

  protected _set(id: string, key: Key, value: unknown, expiresAt: number | null): Promise<void> {
    return this.writes.set(id, key, value, expiresAt);
  }

  protected _delete(id: string): Promise<boolean> {
    return this.writes.delete(id);
  }

  protected _deleteMatching(selector: Selector): Promise<number> {
    return this.writes.deleteMatching(selector);
  }

  protected _clear(): Promise<void> {
    return this.writes.clear();
  }

  protected _setStream(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
    return this.writes.setStream(id, key, source, expiresAt);
  }

  // ---- reads answered by the complete tiers (complete-reads.ts) ------------------------

  protected _expiresAt(id: string): Promise<number | null | undefined> {
    return this.completeReads.expiresAt(id);
  }

  protected _count(selector: Selector): Promise<number> {
    return this.completeReads.count(selector);
  }

  protected _find(selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
    return this.completeReads.find(selector, options);
  }

  protected _valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    return this.completeReads.valueStream(id);
  }

  protected _stats(): Promise<BackendStats> {
    return this.completeReads.backendStats();
  }

  // ---- scopes, stats -------------------------------------------------------------------

  protected _scope(namespace: string): MultiStore {
    const relative = this.namespace ? namespace.slice(this.namespace.length + 1) : namespace;
    const owner = this.tierOwner();
    const tiers = this.tiers.map((tier) => scopedTier(tier, relative, owner));
    return new MultiStore({ ...scopeSettings(this.multiSettings), namespace }, { tiers, bus: this.bus });
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
    await this.context.background.idle();
    await Promise.all(this.tiers.map((t) => t.settled()));
  }
}
