/**
 * The mount backend (SPEC §16): one Backend over several stores, each reached as a tier backend
 * (lib/core/tier-access.ts) by the ids and selectors the store on top validated once. An exact
 * call goes to the one mount its key routes to (routing.ts); a scan, count, query delete, tag
 * delete or clear goes to every mount the selector can touch, mount by mount in settings order
 * (the default last). Each mount keeps its own TTLs, program order, connection and failures:
 * a mount that is down fails only the calls that need it.
 */
import type { Backend, BackendContext, BackendStats, Capabilities, EntryMeta, EntryWithExpiry, FindOptions, LockRedis, StoredEntry } from '../../backend';
import { tierBackend, tierScope, TierBackend } from '../../core/tier-access';
import type { Key } from '../../keys';
import type { Selector } from '../../query';
import { openStore } from '../../registry';
import { BaseStore } from '../../store';
import '../../factory'; // every built-in type (multi too), for mount specs even when MountStore is constructed directly
import { MountRouter, NO_MOUNT } from './routing';
import { MountSettings, MountSpec, resolveMounts } from './settings';
import { RemovalForwarding } from '../../core/removal-forwarding';

/** One mounted store. */
export interface Mount {
  /** The mount's (first) name in settings; the default mount is named 'default'. */
  readonly name: string;
  readonly store: BaseStore;
  readonly backend: TierBackend;
  /** Whether this backend opened the store (and so closes it). */
  readonly owned: boolean;
}

/** See the file comment. */
export class MountBackend implements Backend {
  readonly supports: Capabilities;
  /**
   * Each exact call is handed, in the tick it is issued, to the one mounted store its key goes
   * to, whose own program order (lib/order-gate.ts) keeps it in issue order with the calls on
   * that key before and after it: the mount store need not track exact calls itself.
   */
  readonly ordersExactCalls = true;
  readonly mounts: readonly Mount[];
  readonly router: MountRouter;

  /** `inherited` is given for a scope: the parent's mounts, scoped. */
  constructor(
    private readonly settings: MountSettings,
    private readonly context: BackendContext,
    inherited?: { mounts: Mount[]; router: MountRouter },
  ) {
    if (inherited) {
      this.mounts = inherited.mounts;
      this.router = inherited.router;
    } else {
      const { named, fallback, field } = resolveMounts(settings);
      const mounts: Mount[] = [];
      // A store instance given under several names (or as the default too) is mounted once, so scans list it once.
      const given = new Map<BaseStore, number>();
      const mountIndex = (name: string, spec: MountSpec): number => {
        const known = spec instanceof BaseStore ? given.get(spec) : undefined;
        if (known !== undefined) return known;
        if (spec instanceof BaseStore) given.set(spec, mounts.length);
        mounts.push(openMount(name, spec, context));
        return mounts.length - 1;
      };
      const names = named.map(({ name, spec }) => ({ name, index: mountIndex(name, spec) }));
      const fallbackIndex = fallback === undefined ? NO_MOUNT : mountIndex('default', fallback);
      this.mounts = mounts;
      this.router = new MountRouter(names, fallbackIndex, mounts.length, field);
    }
    for (const mount of this.mounts) {
      // An owned store's background failures are this store's: nobody else can listen to it.
      if (mount.owned && mount.store.listenerCount('error') === 0) mount.store.on('error', (err: Error) => context.events.reportError(err));
    }
    const every = (flag: keyof Capabilities) => this.mounts.every((m) => m.store.supports[flag] === true);
    this.supports = {
      nativeQueries: every('nativeQueries'),
      valueStreams: every('valueStreams'),
      ttl: every('ttl'),
      shared: every('shared'),
      evicts: this.mounts.some((m) => m.store.supports.evicts),
      persistent: every('persistent'),
      // Results are merged mount after mount: the core sorts, skips and pages them.
      nativeSort: false,
      nativePage: false,
      tags: every('tags'),
    };
  }

  // ---- connection ----------------------------------------------------------------------

  /**
   * Connects every mount; resolves once each has tried. A mount that could not connect is left
   * to connect on its own next call (which fails while it is down): only when none could does
   * this reject.
   */
  async connect(): Promise<void> {
    const results = await Promise.allSettled(this.mounts.map((m) => m.backend.connect()));
    if (results.every((r) => r.status === 'rejected')) throw (results[0] as PromiseRejectedResult).reason;
  }

  /** Closes the stores this backend opened (every one tried); given stores stay open. */
  async close(): Promise<void> {
    this.removalsWanted(false, false);
    await settleAll(this.mounts.filter((m) => m.owned).map((m) => m.backend.close()));
  }

  // ---- exact calls: the one mount the key routes to --------------------------------------

  private to(id: string, key?: Key): TierBackend {
    return this.mounts[this.router.mountOf(id, key)].backend;
  }

  async set(id: string, key: Key, value: unknown, expiresAt: number | null, tags?: readonly string[]): Promise<void> {
    return this.to(id, key).set(id, key, value, expiresAt, tags);
  }

  async get(id: string): Promise<unknown> {
    return this.to(id).get(id);
  }

  async getEntry(id: string): Promise<EntryWithExpiry | undefined> {
    return this.to(id).getEntry(id);
  }

  /** The owning mount's metadata: its own times, expiry, tags and stored size. */
  async getMeta(id: string): Promise<EntryMeta | undefined> {
    return this.to(id).getMeta(id);
  }

  async has(id: string): Promise<boolean> {
    return this.to(id).has(id);
  }

  async delete(id: string): Promise<boolean> {
    return this.to(id).delete(id);
  }

  async expiresAt(id: string): Promise<number | null | undefined> {
    return this.to(id).expiresAt(id);
  }

  async touch(id: string, expiresAt: number | null): Promise<boolean> {
    return this.to(id).touch(id, expiresAt);
  }

  async setStream(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
    return this.to(id, key).setStream(id, key, source, expiresAt);
  }

  async valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    return this.to(id).valueStream(id);
  }

  /** One batched read per mount; an id whose mount fails (or that no mount takes) gets that error alone. */
  async getEntries(ids: string[]): Promise<Array<EntryWithExpiry | undefined | Error>> {
    const results: Array<EntryWithExpiry | undefined | Error> = new Array(ids.length);
    const groups = new Map<number, number[]>();
    ids.forEach((id, i) => {
      const index = this.router.route(id);
      if (index < 0) {
        results[i] = this.router.noMount(id);
        return;
      }
      let group = groups.get(index);
      if (group === undefined) groups.set(index, (group = []));
      group.push(i);
    });
    await Promise.all(
      [...groups].map(async ([index, positions]) => {
        let found: Array<EntryWithExpiry | undefined | Error>;
        try {
          found = await this.mounts[index].backend.getEntries(positions.map((i) => ids[i]));
        } catch (err) {
          found = positions.map(() => err as Error);
        }
        positions.forEach((position, j) => (results[position] = found[j]));
      }),
    );
    return results;
  }

  // ---- calls that span the mounts the selector can touch ---------------------------------

  private touched(selector: Selector): Mount[] {
    return this.router.mountsFor(selector).map((index) => this.mounts[index]);
  }

  /** Each touched mount's matches in its own creation order, mount after mount, up to `limit` in all. */
  async *find(selector: Selector, options: FindOptions): AsyncIterable<StoredEntry> {
    let left = options.limit;
    for (const mount of this.touched(selector)) {
      if (left !== undefined && left <= 0) return;
      for await (const entry of mount.backend.find(selector, { values: options.values, limit: left })) {
        yield entry;
        if (left !== undefined && --left <= 0) return;
      }
    }
  }

  async count(selector: Selector): Promise<number> {
    return sum(await settleAll(this.touched(selector).map((m) => m.backend.count(selector))));
  }

  async deleteMatching(selector: Selector): Promise<number> {
    return sum(await settleAll(this.touched(selector).map((m) => m.backend.deleteMatching(selector))));
  }

  async deleteByTags(tags: readonly string[]): Promise<number> {
    return sum(await settleAll(this.mounts.map((m) => m.backend.deleteByTags!(tags))));
  }

  async clear(): Promise<void> {
    await settleAll(this.mounts.map((m) => m.backend.clear()));
  }

  /** The mounts' own counters, added up. */
  async stats(): Promise<BackendStats> {
    const all = await settleAll(this.mounts.map((m) => m.backend.stats()));
    const total: BackendStats = {};
    for (const stats of all) {
      for (const name of ['items', 'expirations', 'evictions'] as const) {
        if (stats[name] !== undefined) total[name] = (total[name] ?? 0) + stats[name]!;
      }
    }
    return total;
  }

  /** The first mount's Redis that has one, for cluster locks. */
  async lockRedis(): Promise<LockRedis | undefined> {
    for (const mount of this.mounts) {
      if (!mount.backend.lockRedis) continue;
      const client = await mount.backend.lockRedis().catch(() => undefined);
      if (client) return client;
    }
    return undefined;
  }

  // ---- scopes and events ---------------------------------------------------------------

  /** Every mount scoped to `namespace` (the scopes are owned: closing this releases only them). */
  scope(namespace: string, context: BackendContext): MountBackend {
    const own = this.context.namespace;
    const relative = own ? namespace.slice(own.length + 1) : namespace;
    const mounts = this.mounts.map((m): Mount => {
      const store = m.store[tierScope](relative);
      return { name: m.name, store, backend: store[tierBackend](), owned: true };
    });
    return new MountBackend(this.settings, context, { mounts, router: this.router });
  }

  private removals: RemovalForwarding | undefined;

  /** Forwards the mounts' 'expire' / 'evict' events as this store's while someone listens. */
  removalsWanted(expire: boolean, evict: boolean): void {
    this.removals ??= new RemovalForwarding(this.context.events, () => this.mounts.map((mount) => ({ store: mount.store })));
    this.removals.want(expire, evict);
  }
}

/**
 * Opens mount `name`: a spec's store in this store's namespace with its clock (owned, closed
 * with it); a store given as is is scoped to this store's namespace when it has one.
 */
function openMount(name: string, spec: MountSpec, context: BackendContext): Mount {
  let store: BaseStore;
  let owned = false;
  if (spec instanceof BaseStore) {
    store = spec;
    if (context.namespace && store.namespace !== context.namespace) store = store.scope(context.namespace);
  } else {
    const settings = { clock: context.clock, namespace: context.namespace, ...((spec.settings as object | undefined) ?? {}), callbacks: 'node' as const };
    store = openStore({ type: spec.type, settings }, 'node');
    owned = true;
  }
  return { name, store, backend: store[tierBackend](), owned };
}

/** Waits for every promise; rejects with the first failure once all have settled (so no mount is left mid-call). */
async function settleAll<T>(promises: Array<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

function sum(counts: number[]): number {
  return counts.reduce((a, b) => a + b, 0);
}
