/**
 * The multi-tier store (SPEC §8 multi, §9): the public store over MultiBackend
 * (multi-backend.ts), as every other store is over its backend. What it adds is what only a
 * tier stack has: the hot path of an in-process front tier, the tier that served a read
 * (`getWithSource`), per-tier stats, and `idle()`.
 */
import type { BackendFactory, EntryWithExpiry } from '../backend';
import { BackendStore, ScopedBackend } from '../backend-store';
import type { Callback } from '../callbacks';
import type { CompleteBackend } from '../core/backend-defaults';
import type { BackendNotes, Observed } from '../core/observe';
import { asError } from '../core/promises';
import { bulkList } from '../core/store-bulk';
import { NOT_SYNC } from '../core/tier-access';
import { TRACING, isTraced } from '../core/tracing';
import { Key, isPlainObject, keyId } from '../keys';
import type { OrderKind } from '../order-gate';
import { compileQuery } from '../query';
import { SkipRoute, takeSkipTiers } from './skip-tiers';
import type { StoreStats } from '../store';
import type { StoreFlags, UnknownFlags } from '../store-types';
import type { Hit } from './context';
import { InvalidationCounts, MultiBackend } from './multi-backend';
import { MULTI_DEFAULTS, MultiSettings } from './settings';
import type { Flight } from './single-flight';
import type { Tier, TierStats } from './tier';

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
  invalidations: InvalidationCounts;
}

/** Builds the backend of a new multi store: the settings are checked and the tiers built now (ERR_STORE_CONFIG). */
export const createBackend: BackendFactory<MultiSettings> = (settings, context) => new MultiBackend(settings, context);

/** The multi-tier store; see the file comment. */
export class MultiStore<V = unknown, F extends StoreFlags = UnknownFlags> extends BackendStore<MultiSettings, V, F, MultiBackend> {
  /** `scoped` is given only by `_scope`: the parent's tiers, scoped. */
  constructor(settings: MultiSettings & { callbacks?: F['callbacks'] }, scoped?: ScopedBackend<MultiBackend>) {
    super(settings, createBackend, scoped);
  }

  /** The tiers, fastest first. */
  get tiers(): readonly Tier[] {
    return this.backend.tiers;
  }

  /** Index of the first complete tier. */
  get queryTier(): number {
    return this.backend.queryTier;
  }

  /**
   * The hot path: with an in-process front tier (no timeout), a hit costs that tier's own
   * synchronous read and one resolved promise; a miss joins the single-flight read of the tiers below.
   */
  getOne<T = V>(key: Key, cb?: Callback): Promise<T | undefined>;
  getOne(key: Key, cb?: Callback): Promise<unknown> {
    if (isTraced(TRACING.getOne) && !this.inTrace) return this.traced('getOne', { key }, [key, cb], this.getOne);
    const front = this.backend.front;
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
    const value = front.backend.readSync(id);
    if (value === NOT_SYNC) return super.getOne(key); // not open yet, or not in-process: the ordered path
    if (value !== undefined) {
      front.counters.hits++;
      this.counters.hits++;
      if (this.observedReads) this.noteRead(id, value, 0, front.name);
      return Promise.resolve(value);
    }
    front.counters.misses++;
    return this.readBelowFront(id);
  }

  /**
   * getMany's hot path, as getOne's for many keys at once: the front tier answers what it holds
   * synchronously, and the misses join their keys' single-flight reads below, which go down
   * together as one batch per tier (read-path.ts). Instead of a full read chain per key — an
   * ordered call on the front tier and one on the multi store — a key costs its front read and,
   * on a miss, its flight. Anything unusual (a callback, tracing, listeners of reads, calls in
   * flight on these keys, a front tier with a timeout) takes the general path; a key the front tier cannot read
   * synchronously reads as getOne would.
   */
  getMany<T = V>(keys: readonly Key[], cb?: Callback): Promise<Array<T | undefined>>;
  getMany(keys: readonly Key[], cb?: Callback): Promise<unknown[]> {
    const front = this.backend.front;
    // Observed reads go the general way too: it reports them in the order of the keys.
    if (cb !== undefined || front === undefined || front.timeout !== 0 || !this.isOpen || this.observedReads || isTraced(TRACING.getMany)) {
      return super.getMany(keys, cb);
    }
    let list: Key[];
    let ids: string[];
    try {
      list = bulkList(keys, 'getMany', 'keys');
      ids = list.map((key) => keyId(key));
    } catch {
      return super.getMany(keys); // rejects with the same error, counted
    }
    const gate = this.orderGate;
    if (!gate.idle) for (const id of ids) if (!gate.canReadNow(id)) return super.getMany(keys);
    return this.readManyNow(list, ids, front);
  }

  /** See getMany: every id may be read now (the gate let them through) and the front tier has no timeout. */
  private readManyNow(keys: readonly Key[], ids: readonly string[], front: Tier): Promise<unknown[]> {
    const values: unknown[] = new Array(ids.length);
    let below: Array<Promise<unknown>> | undefined;
    let belowAt: number[] | undefined;
    const clean = front.clean;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      let read: Promise<unknown>;
      if (clean || front.readable(id)) {
        const value = front.backend.readSync(id);
        if (value === NOT_SYNC) {
          // Not open yet, not in-process, or busy with this key: this key reads as getOne would.
          read = super.getOne(keys[i]);
        } else if (value !== undefined) {
          front.counters.hits++;
          this.counters.hits++;
          values[i] = value;
          continue;
        } else {
          front.counters.misses++;
          read = this.readBelowFront(id);
        }
      } else {
        read = this.readBelowFront(id);
      }
      (below ??= []).push(read);
      (belowAt ??= []).push(i);
    }
    if (below === undefined) return Promise.resolve(values);
    const at = belowAt as number[];
    return Promise.all(below).then((found) => {
      for (let j = 0; j < found.length; j++) values[at[j]] = found[j];
      return values;
    });
  }

  /**
   * A front-tier miss read below, in the same turn as the fast path found the order gate
   * letting it through (canReadNow).
   * The key's flight holds it in the gate as an exact read until it settles, so a write issued
   * after it waits its turn instead of being seen by it (SPEC §12); reads joining the flight
   * cost nothing more.
   */
  private readBelowFront(id: string): Promise<unknown> {
    const read = this.backend.flights.run(id, this.readBelowHeld);
    if (this.observedReads) {
      return read.then((hit) => {
        this.countBelow(hit);
        return this.noteHit(id, hit);
      }, this.countFailure);
    }
    return read.then(this.countBelow, this.countFailure);
  }

  /** Reports a read's hit (with its tier) or miss while someone listens; resolves the value. */
  private noteHit(id: string, hit: Hit | undefined): unknown {
    if (hit === undefined) this.noteRead(id, undefined);
    else this.noteRead(id, hit.value, hit.tier, this.tiers[hit.tier].name);
    return hit?.value;
  }

  /** The observed backend (lib/core/observe.ts) reads through the tiers itself, so a hit names its tier. */
  protected observeBackend(storage: CompleteBackend, notes: BackendNotes, observe: Observed): CompleteBackend {
    const observed = super.observeBackend(storage, notes, observe);
    if (!observe.reads) return observed;
    const backend = this.backend;
    const reads = backend.reads;
    const name = (tier: number) => this.tiers[tier].name;
    const note = (id: string, hit: Hit | undefined): void => {
      if (hit === undefined) notes.read(id, undefined);
      else notes.read(id, hit.value, hit.tier, name(hit.tier));
    };
    return {
      ...observed,
      // backend.read, not reads.read: a call that skips tiers (skip-tiers.ts) reads its own way.
      get: (id) =>
        backend.read(id).then((hit) => {
          note(id, hit);
          return hit?.value;
        }),
      // As the derived getEntries: one read per id (batched below the front tier by the read
      // path), each failing alone; reported in the order of the ids once all are answered.
      getEntries: async (ids) => {
        const hits = await Promise.all(ids.map((id) => reads.read(id, true).catch(asError)));
        return hits.map((hit, i): EntryWithExpiry | undefined | Error => {
          if (hit instanceof Error) return hit;
          note(ids[i], hit);
          return hit === undefined ? undefined : { value: hit.value, expiresAt: hit.expiresAt ?? null };
        });
      },
    };
  }

  private readonly readBelowHeld = (flight: Flight<Hit | undefined>, id: string): Promise<Hit | undefined> => {
    const gate = this.orderGate;
    gate.hold('read', id);
    const read = this.backend.reads.readBelow(flight, id);
    const release = () => gate.leave('read', id);
    read.then(release, release);
    return read;
  };

  private readonly countBelow = (hit: Hit | undefined): unknown => {
    if (hit === undefined) this.counters.misses++;
    else this.counters.hits++;
    return hit?.value;
  };

  /** `set`, taking `{ skipTiers }` too (lib/multi/skip-tiers.ts): the skipped cache tiers forget the key instead. */
  set(key: Key, value: V, options?: unknown, ...rest: unknown[]): Promise<void> {
    let taken: ReturnType<typeof takeSkipTiers>;
    try {
      taken = takeSkipTiers(options, this.tiers, 'set', () => 'write');
    } catch (err) {
      return this.refuseWithCallback('set', err, rest);
    }
    if (taken === undefined) return (super.set as (...args: unknown[]) => Promise<void>).call(this, key, value, options, ...rest);
    const { route, rest: others } = taken;
    return this.routedCall(route, () => (super.set as (...args: unknown[]) => Promise<void>).call(this, key, value, others, ...rest));
  }

  /** `get`, taking `{ skipTiers }` too: an exact key read skipping tiers (a query is always answered by the complete tier). */
  get(...args: unknown[]): Promise<never> {
    let taken: ReturnType<typeof takeSkipTiers>;
    try {
      const query = args[0];
      taken = takeSkipTiers(args[1], this.tiers, 'get', () =>
        typeof query === 'string' || (isPlainObject(query) && compileQuery(query).kind === 'exact') ? 'read' : 'query',
      );
    } catch (err) {
      return this.refuseWithCallback('get', err, args.slice(1));
    }
    const get = super.get as (...a: unknown[]) => Promise<never>;
    if (taken === undefined) return get.apply(this, args);
    const { route, rest } = taken;
    return this.routedCall(route, () => get.call(this, args[0], rest, ...args.slice(2)));
  }

  /** The route the next `run` passes to its backend call (set only while a routed call is being issued). */
  private nextRoute: SkipRoute | undefined;

  /** Issues a public call whose backend operation runs with `route` (skip-tiers.ts). */
  private routedCall<T>(route: SkipRoute, issue: () => T): T {
    this.nextRoute = route;
    try {
      return issue();
    } finally {
      this.nextRoute = undefined;
    }
  }

  /** A call issued under a route runs its backend operation under it, whenever its turn comes. */
  protected run<T, R = T>(op: () => Promise<T>, after?: (result: T) => R, order?: OrderKind, ids?: string | readonly string[], multiStep?: boolean): Promise<R> {
    const route = this.nextRoute;
    if (route !== undefined) {
      this.nextRoute = undefined;
      const backend = this.backend;
      const inner = op;
      op = () => backend.routed(route, inner);
    }
    return super.run(op, after, order, ids, multiStep);
  }

  /** Refuses a call's bad `skipTiers` as the call itself would refuse a bad option (its callback gets it). */
  private refuseWithCallback<T>(method: string, err: unknown, rest: unknown[]): Promise<T> {
    const cb = rest.find((arg): arg is Callback => typeof arg === 'function');
    return this.settle(method, this.refuse<T>(err), cb);
  }

  /** The value under `key` and the tier that served it, or undefined. */
  getWithSource<T = V>(key: Key): Promise<SourcedValue<T> | undefined> {
    let id: string;
    try {
      id = keyId(key);
    } catch (err) {
      return this.refuse(err);
    }
    return this.run(
      () => this.backend.read(id),
      (hit) => {
        if (this.observedReads) this.noteHit(id, hit);
        if (hit === undefined) {
          this.counters.misses++;
          return undefined;
        }
        this.counters.hits++;
        return { value: hit.value as T, tier: hit.tier, name: this.tiers[hit.tier].name };
      },
      'read',
      id,
    );
  }

  /** A scope is a MultiStore too, over the same tiers scoped (closing it releases only the scopes). */
  protected _scope(namespace: string): MultiStore<V, F> {
    return new MultiStore<V, F>({ ...(this.settings as MultiSettings), namespace }, this.scopedBackend(namespace));
  }

  /** The store's counters plus, per tier, hits, misses, errors, timeouts, promotions, skips, recoveries and state. */
  stats(cb?: Callback): Promise<MultiStats> {
    if (cb !== undefined && typeof cb !== 'function') return super.stats(cb) as Promise<MultiStats>; // refuses the callback like every store
    const p = super.stats().then(async (base) => ({ ...base, tiers: await this.backend.tierReports(), invalidations: this.backend.invalidations }));
    return this.settle('stats', p, cb);
  }

  /** resetStats() also zeroes the tiers' counters. */
  protected resetOwnStats(): void {
    this.backend.resetTierCounters();
  }

  /** Resolves when background work (promotions, tier probes) has finished: for tests and shutdown. */
  idle(): Promise<void> {
    return this.backend.idle();
  }
}
