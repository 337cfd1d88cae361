/**
 * Per-call tier skipping on a multi store (SPEC §15): `{ skipTiers: [index | name, ...] }` on
 * `get` (an exact key) and `set`, and on `getOrSet`'s read and write. A skipping call runs on
 * a view of the store's tiers without the skipped ones (its own read and write paths, the same
 * coherence and bus):
 * - a read neither reads nor promotes into a skipped tier; one that skips every complete tier
 *   reads only caches, and a miss there is a miss;
 * - a write never skips a complete tier (ERR_INVALID_ARGUMENT): the durable data must get it.
 *   A skipped cache tier does not get the value, but it forgets the key, so it can never serve
 *   the value the write replaced.
 * A query is answered by the complete tier whatever the option says, so naming that tier on a
 * query is refused too.
 */
import { InvalidArgumentError } from '../errors';
import { isPlainObject } from '../keys';
import type { Coherence } from './coherence';
import type { MultiContext } from './context';
import { dropKey } from './drops';
import { ExactReads } from './read-path';
import { SingleFlight } from './single-flight';
import type { Tier } from './tier';
import { WritePath } from './write-path';

/** The tiers a call skips: their indexes, and a key naming the set (to reuse views). */
export interface SkipRoute {
  readonly skipped: ReadonlySet<number>;
  readonly key: string;
}

/**
 * `options` without `skipTiers`, and the route it names; undefined when the options hold no
 * `skipTiers` (the call runs as usual). Refuses a malformed list, an unknown tier, and (for a
 * write or a query) a complete tier. `useOf` says which the call is.
 */
export function takeSkipTiers(
  options: unknown,
  tiers: readonly Tier[],
  method: string,
  useOf: () => 'read' | 'write' | 'query',
): { route: SkipRoute; rest: Record<string, unknown> } | undefined {
  if (!isPlainObject(options) || !Object.prototype.hasOwnProperty.call(options, 'skipTiers')) return undefined;
  // Asked only now: telling a read from a query compiles the query, which a call without the option never pays.
  const use = useOf();
  const field = Object.getOwnPropertyDescriptor(options, 'skipTiers')!;
  if (!('value' in field)) throw new InvalidArgumentError(`${method}: option skipTiers must be a plain data field, not a getter`);
  const list: unknown = field.value;
  if (!Array.isArray(list) || list.length === 0) throw new InvalidArgumentError(`${method}: skipTiers must be a non-empty array of tier indexes or names`);
  const skipped = new Set<number>();
  for (let i = 0; i < list.length; i++) {
    const at = Object.getOwnPropertyDescriptor(list, i);
    const item: unknown = at !== undefined && 'value' in at ? at.value : undefined;
    const named = tiers.filter((tier) => (typeof item === 'number' ? tier.index === item : typeof item === 'string' && tier.name === item));
    if (named.length === 0) {
      throw new InvalidArgumentError(`${method}: skipTiers[${i}] names no tier (give an index from 0 to ${tiers.length - 1} or a tier name: ${tiers.map((t) => t.name).join(', ')})`);
    }
    for (const tier of named) {
      if (tier.complete && use !== 'read') {
        throw new InvalidArgumentError(`${method}: skipTiers[${i}] names tier ${tier.index} (${tier.name}), which holds the whole data set: a ${use} cannot skip it`);
      }
      skipped.add(tier.index);
    }
  }
  if (skipped.size === tiers.length) throw new InvalidArgumentError(`${method}: skipTiers names every tier: nothing would be read`);
  const rest: Record<string, unknown> = {};
  for (const name of Object.keys(options)) if (name !== 'skipTiers') rest[name] = options[name];
  return { route: { skipped, key: [...skipped].sort((a, b) => a - b).join(',') }, rest };
}

/** The read and write paths of a multi store over its tiers minus the skipped ones. */
export class SkipView {
  readonly reads: ExactReads;
  private readonly writes: WritePath;
  private readonly skippedTiers: Tier[];

  constructor(ctx: MultiContext, coherence: Coherence, route: SkipRoute) {
    const tiers = ctx.tiers.filter((tier) => !route.skipped.has(tier.index));
    this.skippedTiers = ctx.tiers.filter((tier) => route.skipped.has(tier.index));
    const queryTier = Math.max(0, tiers.findIndex((tier) => tier.complete));
    const front = tiers[0] !== undefined && !tiers[0].complete ? tiers[0] : undefined;
    // Its own flights: a skipping read must not share the answer of a read that saw other tiers.
    const view: MultiContext = { ...ctx, tiers, queryTier, front, flights: new SingleFlight() };
    this.reads = new ExactReads(view, coherence);
    this.writes = new WritePath(view, coherence);
  }

  /** Writes through the tiers not skipped; the skipped ones forget the key. */
  async set(id: string, key: Parameters<WritePath['set']>[1], value: unknown, expiresAt: number | null, tags?: readonly string[]): Promise<void> {
    await this.writes.set(id, key, value, expiresAt, tags);
    const drop = dropKey(id);
    await Promise.all(this.skippedTiers.map((tier) => drop(tier)));
  }
}
