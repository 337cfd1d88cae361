/**
 * Building a multi store's tiers: from the `stores` settings when the store is made, and over
 * the scoped stores when a scope of it is made. Both go through `newTier`, the one place a
 * Tier's options are written.
 */
import type { Clock } from '../clock';
import { openStore } from '../registry';
import { BaseStore } from '../store';
import '../builtin-stores'; // the built-in types, for tier specs even when MultiStore is constructed directly
import { tierScope } from '../core/tier-access';
import { MULTI_DEFAULTS, MultiSettings, TierSpec } from './settings';
import { Tier, TierOptions } from './tier';

/** What a tier reports its state changes to (the multi store's 'tierUp'/'tierDown' events). */
export type TierChangeListener = NonNullable<TierOptions['onChange']>;

/** The store a tier is built for: where its settings come from and what its own tiers inherit. */
export interface TierOwner {
  readonly settings: MultiSettings;
  readonly clock: Clock;
  readonly namespace: string;
  readonly onChange: TierChangeListener;
}

/** A tier's own options: from its spec, or from the tier a scope is made of. */
type OwnOptions = Pick<TierOptions, 'name' | 'index' | 'complete' | 'ttl' | 'timeout' | 'bulkTimeout' | 'owned'>;

const wallClock = (): number => Date.now();

/**
 * Tier `index` of a multi store, from its spec or store as given in the settings: a spec's
 * store is opened here (and owned: closed with the multi store) in the multi store's
 * namespace, with its clock; a store given as is is scoped to that namespace.
 */
export function tierFromSpec(spec: TierSpec | BaseStore, index: number, complete: boolean, owner: TierOwner): Tier {
  const s = owner.settings;
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
    const tierSettings = { clock: owner.clock, namespace: owner.namespace, ...(spec.settings ?? {}), callbacks: 'node' as const };
    store = openStore({ type: spec.type, settings: tierSettings }, 'node');
    owned = true;
    name = spec.name ?? spec.type ?? 'memory';
  }
  if (!owned && owner.namespace && store.namespace !== owner.namespace) store = store.scope(owner.namespace);
  const inProcess = store.supports.shared === false && store.supports.persistent === false;
  const timeout = options.timeout ?? (inProcess ? 0 : (s.timeout ?? MULTI_DEFAULTS.timeout));
  const bulkTimeout = s.bulkTimeout ?? MULTI_DEFAULTS.bulkTimeout;
  return newTier(store, { name, index, complete, ttl: options.ttl ?? null, timeout, bulkTimeout, owned }, owner);
}

/** `tier` of a multi store, in its scope `relative` (made here, so closing it releases only the scope). */
export function scopedTier(tier: Tier, relative: string, owner: TierOwner): Tier {
  const { name, index, complete, ttl, timeout, bulkTimeout } = tier;
  return newTier(tier.store[tierScope](relative), { name, index, complete, ttl, timeout, bulkTimeout, owned: true }, owner);
}

/** The one place a Tier's options are written: its own, and the health settings of the store that owns it. */
function newTier(store: BaseStore, own: OwnOptions, owner: TierOwner): Tier {
  const s = owner.settings;
  return new Tier(store, {
    ...own,
    backoff: s.backoff ?? MULTI_DEFAULTS.backoff,
    maxBackoff: s.maxBackoff ?? MULTI_DEFAULTS.maxBackoff,
    maxPendingDrops: s.maxPendingDrops ?? MULTI_DEFAULTS.maxPendingDrops,
    now: wallClock,
    onChange: owner.onChange,
  });
}
