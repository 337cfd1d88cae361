/**
 * The memory backend's per-path equality indexes: path -> token -> the entries' Slots, in
 * creation order. They serve equality and `$in` queries without a scan (keyspace.ts asks them
 * for candidates first and scans only when none applies).
 */
import type { KeyObject } from '../../keys';
import { QuerySelector, Selector, indexEntries, indexToken } from '../../query';
import { Slot } from './slot';

/**
 * The Slots under one (path, token). Holding Slots rather than ids means an index hit needs no
 * second lookup; a bucket holding one Slot is the Slot itself, because unique fields (`id`,
 * `email`) would otherwise cost a Set per entry. A live entry keeps its Slot for life
 * (overwrites update it in place), so the buckets never go stale.
 */
type Bucket = Slot | Set<Slot>;
type PathIndex = Map<string, Bucket>;

const NO_SLOTS: readonly Slot[] = [];

function bucketSize(bucket: Bucket | undefined): number {
  return bucket === undefined ? 0 : bucket instanceof Slot ? 1 : bucket.size;
}

function bucketHas(bucket: Bucket | undefined, slot: Slot): boolean {
  return bucket === undefined ? false : bucket instanceof Slot ? bucket === slot : bucket.has(slot);
}

function bucketSlots(bucket: Bucket): Iterable<Slot> {
  return bucket instanceof Slot ? [bucket] : bucket;
}

/** The Slots of several buckets (an `$in`), deduplicated and back in creation order. */
function mergeInCreationOrder(buckets: Bucket[]): Slot[] {
  const slots = new Set<Slot>();
  for (const bucket of buckets) for (const slot of bucketSlots(bucket)) slots.add(slot);
  return [...slots].sort((a, b) => a.seq - b.seq);
}

/** What the indexes offer for a query: candidates in creation order, and whether they match without a further test. */
export interface IndexCandidates {
  slots: Iterable<Slot>;
  exact: boolean;
}

/** The equality indexes of one keyspace: every object-key entry, under each of its (path, token) pairs. */
export class EqualityIndexes {
  private readonly paths = new Map<string, PathIndex>();

  /**
   * The entries an equality index offers for a query, in creation order, and whether they
   * match without a further test; undefined when no index applies (scan everything).
   */
  candidates(selector: Selector): IndexCandidates | undefined {
    if (selector.kind !== 'query' || selector.constraints.length === 0) return undefined;
    let best: Iterable<Slot> = NO_SLOTS;
    let bestSize = Infinity;
    for (const constraint of selector.constraints) {
      const index = this.paths.get(constraint.path);
      let size = 0;
      const buckets: Bucket[] = [];
      for (const v of constraint.values) {
        const bucket = index?.get(indexToken(v));
        if (bucket !== undefined) {
          buckets.push(bucket);
          size += bucketSize(bucket);
        }
      }
      if (size >= bestSize) continue;
      bestSize = size;
      best = buckets.length === 0 ? NO_SLOTS : buckets.length === 1 ? bucketSlots(buckets[0]) : mergeInCreationOrder(buckets);
    }
    // A bucket is exact for its constraint: with one constraint covering the query, no test is needed.
    return { slots: best, exact: selector.coveredByConstraints && selector.constraints.length === 1 };
  }

  /**
   * Whether `slot` meets every constraint of a query made only of indexed equalities: membership
   * checks, cheaper than the matcher (call only when `selector.coveredByConstraints`).
   */
  meetsConstraints(selector: QuerySelector, slot: Slot): boolean {
    for (const constraint of selector.constraints) {
      const index = this.paths.get(constraint.path);
      if (!constraint.values.some((v) => bucketHas(index?.get(indexToken(v)), slot))) return false;
    }
    return true;
  }

  /** Indexes a new object-key entry under each of its (path, token) pairs. */
  add(slot: Slot): void {
    for (const [path, token] of indexEntries(slot.key as KeyObject)) {
      let index = this.paths.get(path);
      if (!index) this.paths.set(path, (index = new Map()));
      const bucket = index.get(token);
      if (bucket === undefined) index.set(token, slot);
      else if (bucket instanceof Slot) {
        if (bucket !== slot) index.set(token, new Set([bucket, slot]));
      } else bucket.add(slot);
    }
  }

  /** Drops a removed entry, and every bucket and path it leaves empty. */
  remove(slot: Slot): void {
    for (const [path, token] of indexEntries(slot.key as KeyObject)) {
      const index = this.paths.get(path);
      const bucket = index?.get(token);
      if (bucket === undefined) continue;
      if (bucket instanceof Slot) {
        if (bucket === slot) index!.delete(token);
      } else {
        bucket.delete(slot);
        if (bucket.size === 1) index!.set(token, bucket.values().next().value as Slot);
        else if (bucket.size === 0) index!.delete(token);
      }
      if (index!.size === 0) this.paths.delete(path);
    }
  }

  clear(): void {
    this.paths.clear();
  }

  /** Number of (path, token) buckets; tests use it to prove cleanup. */
  get bucketCount(): number {
    let n = 0;
    for (const index of this.paths.values()) n += index.size;
    return n;
  }
}
