/**
 * The multi-tier backend (SPEC §8 multi, §9, §13): a Backend over an ordered list of tiers,
 * fastest first, each reached as a backend (lib/core/tier-access.ts) by the ids and selectors
 * the store on top validated once. It never asks what type a tier is — only its `supports`
 * flags and this store's own settings. MultiStore (multi-store.ts) is the public store over it.
 *
 * This class holds the tiers; each concern is in its own file:
 * - settings.ts and tier-building.ts: the settings, and the tiers built from them;
 * - connection.ts: connect and close, with per-tier deadlines;
 * - read-path.ts: exact reads falling through the tiers, single-flight, batched reads below
 *   the front tier, promotion (the front tier's synchronous fast path is MultiStore.getOne's);
 * - write-path.ts: writes and deletes, complete tiers first, cache tiers made to forget on failure;
 * - complete-reads.ts: queries, counts, key listings, expiry and streams from a complete tier;
 * - coherence.ts: invalidations published to and received from other processes;
 * - tier.ts: one tier's health (down until its backoff expires, probed back) and counters.
 * The state these parts share is one MultiContext (context.ts).
 */
import type { Backend, BackendContext, BackendStats, Capabilities, EntryMeta, EntryWithExpiry, FindOptions, LockRedis, StoredEntry } from '../backend';
import { StorageConnectionError, StoreConfigError } from '../errors';
import type { Key } from '../keys';
import type { Selector } from '../query';
import { BackgroundWork } from './background-work';
import { Coherence } from './coherence';
import { CompleteReads } from './complete-reads';
import { closeTiers, connectTiers } from './connection';
import type { Hit, MultiContext } from './context';
import { InvalidationBus } from './invalidation';
import { ExactReads } from './read-path';
import { MULTI_DEFAULTS, MultiSettings, TierPlan, planTiers } from './settings';
import { SingleFlight } from './single-flight';
import type { Tier, TierStats } from './tier';
import { TierOwner, scopedTier, tierFromSpec } from './tier-building';
import { asStoreError } from './tier-failures';
import { WritePath } from './write-path';
import { RemovalForwarding } from '../core/removal-forwarding';
import { SkipRoute, SkipView } from './skip-tiers';

/** Invalidation messages published and received (all 0 without `invalidation`). */
export interface InvalidationCounts {
  published: number;
  received: number;
  /** Publish attempts that failed (each retried in order). */
  publishFailures: number;
  /** Messages given up after too many waited behind a failed publish. */
  publishDrops: number;
  /** Messages waiting now for a retry. */
  pendingPublishes: number;
  /** Gaps seen in another process's message numbers (each dropped everything local). */
  gaps: number;
}

/** What a scope's backend takes over from its parent's: the scoped tiers and the shared bus. */
interface Inherited {
  tiers: Tier[];
  bus: InvalidationBus | undefined;
  /** A union cache (memstorage's cache: true) is warmed in a scope too: it answers the scope's queries. */
  warm: TierPlan['warm'];
}

/** See the file comment. */
export class MultiBackend implements Backend {
  readonly supports: Capabilities;
  /** The tiers, fastest first. */
  readonly tiers: readonly Tier[];
  /** Index of the first complete tier. */
  readonly queryTier: number;
  /** Cache tier 0, read before joining a flight (undefined when tier 0 is complete). */
  readonly front: Tier | undefined;
  /** Exact reads below the front tier in flight, one per id. */
  readonly flights = new SingleFlight<Hit | undefined>();
  /** Exact reads through the tiers (the store's fast path sends its front-tier misses to `reads.readBelow`). */
  readonly reads: ExactReads;
  private readonly bus: InvalidationBus | undefined;
  private readonly warm: TierPlan['warm'];
  private readonly context: MultiContext;
  private readonly writes: WritePath;
  private readonly completeReads: CompleteReads;
  private readonly coherence: Coherence;

  /** `inherited` is given for a scope; otherwise the tiers are built from the settings. */
  constructor(
    private readonly settings: MultiSettings,
    private readonly backendContext: BackendContext,
    inherited?: Inherited,
  ) {
    const events = backendContext.events;
    if (inherited) {
      this.tiers = inherited.tiers;
      this.queryTier = this.tiers.findIndex((t) => t.complete);
      this.bus = inherited.bus;
      this.warm = inherited.warm;
    } else {
      const { specs, queryTier, warm } = planTiers(settings);
      const owner = tierOwner(settings, backendContext);
      this.tiers = specs.map((spec, index) => tierFromSpec(spec, index, index >= queryTier, owner));
      this.queryTier = queryTier;
      this.bus = settings.invalidation ? new InvalidationBus(settings.invalidation, (err) => events.reportError(asStoreError(err))) : undefined;
      this.warm = warm;
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
      // A union cache answers every read from this process's memory: another process's writes
      // are not seen (as in memstorage), so the store does not count as shared.
      shared: this.warm === 'union' ? false : durable.shared,
      evicts: false,
      persistent: durable.persistent,
      // The complete tier's view (lib/core/store-as-tier.ts) sorts and skips, natively or not.
      nativeSort: true,
      // ...and pages the same way (natively where that tier can, else by the core's reading).
      nativePage: true,
      // A tagged entry may land in any tier: each must keep its tags for delByTags to find it.
      // memstorage's union cache is filled by copying entries, which carry no tags: none there.
      tags: this.warm !== 'union' && this.tiers.every((t) => t.store.supports.tags === true),
    };
    this.context = {
      tiers: this.tiers,
      queryTier: this.queryTier,
      front: this.front,
      clock: backendContext.clock,
      namespace: backendContext.namespace,
      flights: this.flights,
      background: new BackgroundWork(),
      bus: this.bus,
      reportError: (err) => events.reportError(err),
      emit: (event, payload) => events.emit(event, payload),
    };
    this.coherence = new Coherence(this.context);
    this.reads = new ExactReads(this.context, this.coherence);
    this.writes = new WritePath(this.context, this.coherence);
    this.completeReads = new CompleteReads(this.context);
  }

  // ---- connection ----------------------------------------------------------------------

  async connect(): Promise<void> {
    const timeout = this.settings.connectTimeout ?? MULTI_DEFAULTS.connectTimeout;
    await connectTiers(this.context, timeout, this.warm);
    await this.coherence.start(timeout);
  }

  async close(): Promise<void> {
    this.removalsWanted(false, false);
    await this.coherence.stop();
    await closeTiers(this.context, this.settings.connectTimeout ?? MULTI_DEFAULTS.connectTimeout);
  }

  // ---- exact reads (read-path.ts) ------------------------------------------------------

  async get(id: string): Promise<unknown> {
    return (await this.readsFor(this.takeRoute()).read(id, false))?.value;
  }

  async getEntry(id: string): Promise<EntryWithExpiry | undefined> {
    const hit = await this.readsFor(this.takeRoute()).read(id, true);
    if (hit === undefined) return undefined;
    return { value: hit.value, expiresAt: hit.expiresAt ?? null };
  }

  async has(id: string): Promise<boolean> {
    return (await this.readsFor(this.takeRoute()).read(id, false)) !== undefined;
  }

  /** The value of `id` with the index of the tier that served it. */
  read(id: string): Promise<Hit | undefined> {
    return this.readsFor(this.takeRoute()).read(id, false);
  }

  // ---- writes (write-path.ts) ----------------------------------------------------------

  set(id: string, key: Key, value: unknown, expiresAt: number | null, tags?: readonly string[]): Promise<void> {
    const route = this.takeRoute();
    if (route !== undefined) return this.skipView(route).set(id, key, value, expiresAt, tags);
    return this.writes.set(id, key, value, expiresAt, tags);
  }

  // ---- per-call tier skipping (skip-tiers.ts) ------------------------------------------

  /** The route of the call now starting (set by `routed`), taken once. */
  private route: SkipRoute | undefined;
  /** The views made for the routes used so far (at most one per set of skipped tiers). */
  private readonly skipViews = new Map<string, SkipView>();

  /**
   * Runs `start` — which must call one primitive of this backend synchronously (the store's
   * operation) — with `route` in force for that call alone.
   */
  routed<T>(route: SkipRoute, start: () => T): T {
    this.route = route;
    try {
      return start();
    } finally {
      this.route = undefined;
    }
  }

  private takeRoute(): SkipRoute | undefined {
    const route = this.route;
    this.route = undefined;
    return route;
  }

  private skipView(route: SkipRoute): SkipView {
    let view = this.skipViews.get(route.key);
    if (view === undefined) this.skipViews.set(route.key, (view = new SkipView(this.context, this.coherence, route)));
    return view;
  }

  private readsFor(route: SkipRoute | undefined): ExactReads {
    return route === undefined ? this.reads : this.skipView(route).reads;
  }

  touch(id: string, expiresAt: number | null): Promise<boolean> {
    return this.writes.touch(id, expiresAt);
  }

  deleteByTags(tags: readonly string[]): Promise<number> {
    return this.writes.deleteByTags(tags);
  }

  /** The first tier's Redis that has one (its own client), else the invalidation bus's publisher. */
  async lockRedis(): Promise<LockRedis | undefined> {
    for (const tier of this.tiers) {
      if (!tier.usable || !tier.backend.lockRedis) continue;
      const client = await tier.call(() => tier.backend.lockRedis!()).catch(() => undefined);
      if (client) return client;
    }
    return this.bus?.commandClient as LockRedis | undefined;
  }

  delete(id: string): Promise<boolean> {
    return this.writes.delete(id);
  }

  deleteMatching(selector: Selector): Promise<number> {
    return this.writes.deleteMatching(selector);
  }

  clear(): Promise<void> {
    return this.writes.clear();
  }

  setStream(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
    return this.writes.setStream(id, key, source, expiresAt);
  }

  // ---- reads answered by the complete tiers (complete-reads.ts) ------------------------

  expiresAt(id: string): Promise<number | null | undefined> {
    return this.completeReads.expiresAt(id);
  }

  getMeta(id: string): Promise<EntryMeta | undefined> {
    return this.completeReads.getMeta(id);
  }

  count(selector: Selector): Promise<number> {
    return this.completeReads.count(selector);
  }

  find(selector: Selector, options: FindOptions): AsyncIterable<StoredEntry> {
    return this.completeReads.find(selector, options);
  }

  valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    return this.completeReads.valueStream(id);
  }

  stats(): Promise<BackendStats> {
    return this.completeReads.backendStats();
  }

  // ---- scopes, reports -----------------------------------------------------------------

  /** The same tiers, each scoped to `namespace` (the scopes are owned: closing it releases only them), on the same bus. */
  scope(namespace: string, context: BackendContext): MultiBackend {
    const own = this.backendContext.namespace;
    const relative = own ? namespace.slice(own.length + 1) : namespace;
    const owner = tierOwner(this.settings, context);
    return new MultiBackend(this.settings, context, { tiers: this.tiers.map((tier) => scopedTier(tier, relative, owner)), bus: this.bus, warm: this.warm === 'union' ? 'union' : 'none' });
  }

  /**
   * Forwards the tiers' 'expire' / 'evict' events as this store's, with the tier, while this
   * store wants them (someone listens): a tier's store reports them only while listened to.
   */
  removalsWanted(expire: boolean, evict: boolean): void {
    this.removals ??= new RemovalForwarding(this.backendContext.events, () =>
      this.tiers.map((tier) => ({ store: tier.store, extra: { tier: tier.index, tierName: tier.name } })),
    );
    this.removals.want(expire, evict);
  }

  private removals: RemovalForwarding | undefined;

  /** Zeroes every tier's counters (the multi store's resetStats()). */
  resetTierCounters(): void {
    for (const tier of this.tiers) for (const name of Object.keys(tier.counters) as Array<keyof typeof tier.counters>) tier.counters[name] = 0;
  }

  /** One line per tier: its counters, state and its store's own stats. */
  tierReports(): Promise<TierStats[]> {
    return Promise.all(this.tiers.map((t) => t.report()));
  }

  /** Invalidation messages published and received so far. */
  get invalidations(): InvalidationCounts {
    const bus = this.bus;
    return {
      published: bus?.published ?? 0,
      received: bus?.received ?? 0,
      publishFailures: bus?.publishFailures ?? 0,
      publishDrops: bus?.publishDrops ?? 0,
      pendingPublishes: bus?.pendingPublishes ?? 0,
      gaps: bus?.gaps ?? 0,
    };
  }

  /** Resolves when background work (promotions, tier probes) has finished: for tests and shutdown. */
  async idle(): Promise<void> {
    await this.context.background.idle();
    await Promise.all(this.tiers.map((t) => t.settled()));
  }
}

/** The owner of the tiers a multi backend builds: its settings, clock and namespace, and the events of its store. */
function tierOwner(settings: MultiSettings, context: BackendContext): TierOwner {
  const events = context.events;
  return {
    settings,
    clock: context.clock,
    namespace: context.namespace,
    // 'tierDown' { index, name, error } and 'tierUp' { index, name }; a tier going down is also an 'error'.
    onChange: (tier, state, err) => {
      events.emit(state === 'down' ? 'tierDown' : 'tierUp', { index: tier.index, name: tier.name, error: err });
      if (state === 'down') events.reportError(err instanceof Error ? tier.wrap(err) : new StorageConnectionError(`tier ${tier.index} (${tier.name}) is down`));
    },
  };
}
