/**
 * The memory store's planner: which entries a query needs to test. Every candidate index is
 * sized first — an equality or `$in` by its buckets, a range by walking its bounds (stopping
 * as soon as it is no better than the best so far), a top-level `$or` as the sum of its
 * branches' best — and the smallest wins; an index whose hits would have to be merged back into
 * creation order is taken only while that is cheaper than a scan. The query's other equalities
 * then narrow the candidates: tested on each one, or, when the chosen index is many runs and an
 * equality one or two, the equality's runs walked instead, kept by seq (seq-intersect.ts). The caller always finishes
 * with the shared matcher (unless the one equality it used decides the query alone), so a plan
 * only narrows: results are the matcher's.
 */
import type { IndexConstraint, QuerySelector } from '../../query';
import { indexConstraints } from '../../query-index';
import { Bucket, OrderedIndexes, PathIndex, bucketHas, bucketSize, compareScalars, slotChunks, slotsOf } from './ordered-indexes';
import type { Scalar } from './key-paths';
import { Slot } from './slot';
import { drivenByMembership, drivingPays, membershipCost, seqSpan } from './seq-intersect';

/** A range on one path within one type bracket (MongoDB's comparisons never cross brackets). */
export interface Range {
  path: string;
  low?: Scalar;
  lowInclusive: boolean;
  high?: Scalar;
  highInclusive: boolean;
  /** The path's condition is these bounds and nothing else (so the range alone can decide it). */
  whole: boolean;
}

/** What the planner chose: the candidates in creation order, or a scan. */
export interface Plan {
  /** Candidates in creation order; undefined: scan every entry. */
  slots: Iterable<Slot> | undefined;
  /** How many candidates (the whole keyspace for a scan). */
  size: number;
  /** The candidates all match: the one equality used decides the query alone. */
  exact: boolean;
  /** What was used, for tests and diagnostics: 'scan', 'eq(kind)', 'range(age)', 'or(eq(a), range(b))'. */
  describe: string;
}

interface Candidate {
  buckets: Bucket[];
  size: number;
  exact: boolean;
  describe: string;
  /** The top-level path whose whole condition this index decides alone, if any. */
  decides?: string;
}

const COMPARISONS = ['$gt', '$gte', '$lt', '$lte'] as const;

function isRangeOperand(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && !Number.isNaN(v));
}

/** The ranges of a filter's top level (and its `$and`s): one per path, in the bracket of its first bound. */
export function rangesOf(filter: Record<string, unknown>): Range[] {
  const out: Range[] = [];
  for (const path of Object.keys(filter)) {
    const cond = filter[path];
    if (path === '$and') {
      for (const sub of cond as Record<string, unknown>[]) out.push(...rangesOf(sub));
      continue;
    }
    if (path.startsWith('$') || cond === null || typeof cond !== 'object' || Array.isArray(cond)) continue;
    if (path.split('.').some((segment) => /^\d+$/.test(segment))) continue; // positions are not indexed
    let range: Range | undefined;
    for (const op of COMPARISONS) {
      if (!Object.prototype.hasOwnProperty.call(cond, op)) continue;
      const operand = (cond as Record<string, unknown>)[op];
      if (!isRangeOperand(operand)) continue;
      if (range === undefined) range = { path, lowInclusive: false, highInclusive: false, whole: true };
      const bracket = range.low !== undefined ? typeof range.low : range.high !== undefined ? typeof range.high : typeof operand;
      if (typeof operand !== bracket) {
        range.whole = false;
        continue; // bounds in two brackets match nothing; the matcher says so
      }
      // Two bounds on one side (`$lt` and `$lte`): either one's hits hold every match, but not exactly.
      if ((op === '$gt' || op === '$gte' ? range.low : range.high) !== undefined) range.whole = false;
      if (op === '$gt' || op === '$gte') {
        range.low = operand;
        range.lowInclusive = op === '$gte';
      } else {
        range.high = operand;
        range.highInclusive = op === '$lte';
      }
    }
    if (range !== undefined) {
      if (Object.keys(cond).some((op) => !(COMPARISONS as readonly string[]).includes(op) || !isRangeOperand((cond as Record<string, unknown>)[op]))) range.whole = false;
      out.push(range);
    }
  }
  return out;
}

/** The first value of a type bracket, to start a walk with one open end. */
function bracketStart(sample: Scalar): Scalar {
  return typeof sample === 'number' ? -Infinity : typeof sample === 'string' ? '' : false;
}

/** The buckets of `range` in `index`, or undefined as soon as they hold more than `cutoff` entries. */
export function rangeBuckets(index: PathIndex, range: Range, cutoff: number): { buckets: Bucket[]; size: number } | undefined {
  const { low, high } = range;
  const sample = (low ?? high) as Scalar;
  const type = typeof sample;
  const buckets: Bucket[] = [];
  let size = 0;
  const reused: Array<Scalar | Bucket> = [];
  for (const [value, bucket] of index.tree.entries(low ?? bracketStart(sample), reused as never)) {
    if (typeof value !== type) break;
    if (low !== undefined && !range.lowInclusive && compareScalars(value, low) === 0) continue;
    if (high !== undefined) {
      const c = compareScalars(value, high);
      if (c > 0 || (c === 0 && !range.highInclusive)) break;
    }
    buckets.push(bucket);
    size += bucketSize(bucket);
    if (size > cutoff) return undefined;
  }
  return { buckets, size };
}

/** The best index for a filter, or undefined when none beats `cutoff` entries. */
function bestCandidate(
  indexes: OrderedIndexes,
  filter: Record<string, unknown>,
  constraints: readonly IndexConstraint[],
  exactWhenAlone: boolean,
  cutoff: number,
  single = false,
): Candidate | undefined {
  let best: Candidate | undefined;
  const bound = () => (best === undefined ? cutoff : best.size - 1);
  for (const constraint of constraints) {
    if (!indexes.indexes(constraint.path)) continue;
    const buckets: Bucket[] = [];
    let size = 0;
    // Equal values of an `$in` (1 and 1.0, 0 and -0) share a bucket: take it once.
    const taken = constraint.values.length > 1 ? new Set<Bucket>() : null;
    for (const v of constraint.values) {
      const bucket = indexes.bucket(constraint.path, v);
      if (bucket !== undefined && (taken === null || !taken.has(bucket))) {
        taken?.add(bucket);
        buckets.push(bucket);
        size += bucketSize(bucket);
      }
    }
    if (size > bound()) continue;
    const decides = isPureEquality(filter[constraint.path]) ? constraint.path : undefined;
    best = { buckets, size, exact: exactWhenAlone && constraints.length === 1, describe: `eq(${constraint.path})`, decides };
  }
  for (const range of rangesOf(filter)) {
    if (!indexes.indexes(range.path)) continue;
    const index = indexes.path(range.path);
    if (index === undefined) {
      // Only values of the bound's bracket compare, and every one of them would be indexed here.
      best = { buckets: [], size: 0, exact: false, describe: `range(${range.path})` };
      break;
    }
    // On a multikey path each bound may be met by a different element: use one bound at a time.
    const tries: Range[] =
      index.multikey > 0 && range.low !== undefined && range.high !== undefined
        ? [
            { ...range, high: undefined },
            { ...range, low: undefined },
          ]
        : [range];
    // A filter that is this one range, walked whole, needs no further test.
    const exact = single && range.whole && tries.length === 1;
    for (const r of tries) {
      const found = rangeBuckets(index, r, bound());
      if (found === undefined) continue;
      best = { ...found, exact, describe: `range(${range.path})`, decides: range.whole && tries.length === 1 ? range.path : undefined };
    }
  }
  const or = filter.$or;
  if (Array.isArray(or)) {
    const parts: Candidate[] = [];
    let size = 0;
    for (const branch of or as Record<string, unknown>[]) {
      const part = bestCandidate(indexes, branch, indexConstraints(branch).constraints, false, bound() - size);
      if (part === undefined) {
        parts.length = 0;
        break;
      }
      parts.push(part);
      size += part.size;
    }
    if (parts.length > 0 && size <= bound()) {
      // A filter that is this `$or` alone, each branch one condition its index decides: the union is the answer.
      const decided = Object.keys(filter).length === 1 && parts.every((p, i) => p.decides !== undefined && Object.keys(or[i] as object).length === 1);
      best = {
        buckets: parts.flatMap((p) => p.buckets),
        size,
        exact: decided,
        describe: `or(${parts.map((p) => p.describe).join(', ')})`,
      };
    }
  }
  return best;
}

/**
 * The Slots of buckets, in creation order, each once: a k-way merge of the buckets (each a run
 * in creation order) on a binary heap of their heads, O(m log k) with no comparator sort. One
 * entry in several buckets has one seq, so its copies come out together and are dropped there.
 * Runs are read by position, chunk by chunk (an iterator per run costs more per Slot).
 */
function inCreationOrder(buckets: Array<Bucket | Slot[]>): Slot[] {
  const heap: RunCursor[] = [];
  for (const bucket of buckets) {
    const chunks = Array.isArray(bucket) ? [bucket] : slotChunks(bucket);
    if (chunks.length > 0 && chunks[0].length > 0) heap.push({ head: chunks[0][0], chunks, chunk: 0, at: 0 });
  }
  const out: Slot[] = [];
  let n = heap.length;
  const down = (i: number): void => {
    const moving = heap[i];
    const seq = moving.head.seq;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heap[r].head.seq < heap[l].head.seq ? r : l;
      if (seq <= heap[c].head.seq) break;
      heap[i] = heap[c];
      i = c;
    }
    heap[i] = moving;
  };
  for (let i = (n >> 1) - 1; i >= 0; i--) down(i);
  let last: Slot | undefined;
  while (n > 0) {
    const top = heap[0];
    if (top.head !== last) out.push((last = top.head));
    let part = top.chunks[top.chunk];
    if (++top.at >= part.length) {
      top.at = 0;
      if (++top.chunk >= top.chunks.length) {
        heap[0] = heap[--n];
        if (n > 0) down(0);
        continue;
      }
      part = top.chunks[top.chunk];
    }
    top.head = part[top.at];
    down(0);
  }
  return out;
}

/** Where a merge stands in one run: its head Slot, at chunk `chunk`, position `at`. */
interface RunCursor {
  head: Slot;
  chunks: readonly (readonly Slot[])[];
  chunk: number;
  at: number;
}

/** A bucket's Slots as candidates: copied only when read (a sort walk may need just the count). */
function lazily(bucket: Bucket): Iterable<Slot> {
  return { [Symbol.iterator]: () => slotsOf(bucket)[Symbol.iterator]() };
}

function isIndexable(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && !Number.isNaN(v));
}

/** Whether a field's condition is one equality or `$in` of scalars: its index buckets decide it exactly. */
function isPureEquality(cond: unknown): boolean {
  if (isIndexable(cond)) return true;
  if (cond === null || typeof cond !== 'object' || Array.isArray(cond)) return false;
  const ops = Object.keys(cond);
  if (ops.length !== 1) return false;
  const operand = (cond as Record<string, unknown>)[ops[0]];
  return ops[0] === '$eq' ? isIndexable(operand) : ops[0] === '$in' && Array.isArray(operand) && operand.every(isIndexable);
}

/** Most values of an `$in` whose buckets are used to intersect (more would cost more than the matcher). */
const MAX_INTERSECT_VALUES = 4;

/** One equality to intersect with: its accepted values and their buckets. */
interface Membership {
  path: string;
  /** A top-level field (no dot): a scalar there in a kept parsed key is compared directly, cheaper than a bucket lookup. */
  flat: boolean;
  values: readonly Scalar[];
  /** The values' buckets, each once. */
  buckets: Bucket[];
  /** Slots in them. */
  size: number;
  describe: string;
}

/** Whether `slot` holds one of the values at the path (an equality's exact answer, as its buckets give it). */
function isMember(m: Membership, slot: Slot): boolean {
  if (m.flat && slot.parsed !== undefined) {
    const v = (slot.parsed as Record<string, unknown>)[m.path];
    // A scalar field holds that one value; anything else (an array, an object, missing) asks the buckets.
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return m.values.includes(v);
  }
  // No parsed key kept (slot.ts): a binary search of each bucket by seq.
  for (const bucket of m.buckets) if (bucketHas(bucket, slot)) return true;
  return false;
}

/**
 * The query's other equalities (top level), to intersect the chosen candidates with: a
 * membership test per candidate instead of the matcher. Undefined when none applies.
 */
function intersecters(indexes: OrderedIndexes, selector: QuerySelector, chosen: string): { sets: Membership[]; paths: string[]; describe: string } | undefined {
  const sets: Membership[] = [];
  const paths: string[] = [];
  const names: string[] = [];
  for (const constraint of selector.constraints) {
    if (`eq(${constraint.path})` === chosen || constraint.values.length > MAX_INTERSECT_VALUES || !indexes.indexes(constraint.path)) continue;
    const buckets: Bucket[] = [];
    let size = 0;
    for (const v of constraint.values) {
      const bucket = indexes.bucket(constraint.path, v);
      // Equal values of an `$in` (1 and 1.0) share a bucket: take it once.
      if (bucket !== undefined && !buckets.includes(bucket)) {
        buckets.push(bucket);
        size += bucketSize(bucket);
      }
    }
    const describe = `eq(${constraint.path})`;
    sets.push({ path: constraint.path, flat: !constraint.path.includes('.'), values: constraint.values, buckets, size, describe });
    paths.push(constraint.path);
    names.push(describe);
  }
  return sets.length === 0 ? undefined : { sets, paths, describe: names.join(' ∩ ') };
}

/** The Slots of `bucket` that are in some bucket of every set. */
function intersected(bucket: Bucket, sets: Membership[]): Slot[] {
  const out: Slot[] = [];
  for (const chunk of slotChunks(bucket)) for (const slot of chunk) {
    let keep = true;
    for (const set of sets) {
      if (!isMember(set, slot)) {
        keep = false;
        break;
      }
    }
    if (keep) out.push(slot);
  }
  return out;
}

/**
 * The candidates driven from one of the other equalities instead, when seq-intersect.ts's cost
 * model says so: its one or two buckets walked in creation order, kept when in a chosen bucket
 * (by seq) and in the other sets. Undefined when walking the chosen buckets is cheaper.
 */
function drivenPlan(chosen: Bucket[], chosenSize: number, sets: Membership[], total: number, keysParsed: boolean): { slots: Slot[]; size: number; describe: string } | undefined {
  let driver: Membership | undefined;
  for (const set of sets) if (set.buckets.length <= 2 && (driver === undefined || set.size < driver.size)) driver = set;
  if (driver === undefined) return undefined;
  const span = seqSpan(chosen);
  const rest = sets.filter((set) => set !== driver);
  const cost = (set: Membership) => membershipCost(set, set.flat && keysParsed);
  const restTests = rest.reduce((sum, set) => sum + cost(set), 0);
  const pays = drivingPays({ runs: chosen.length, size: chosenSize }, { runs: driver.buckets.length, size: driver.size }, cost(driver), restTests, total, span);
  if (!pays) return undefined;
  const keep =
    rest.length === 0
      ? undefined
      : (slot: Slot): boolean => {
          for (const set of rest) if (!isMember(set, slot)) return false;
          return true;
        };
  const slots = drivenByMembership(driver.buckets, chosen, span, keep);
  return { slots, size: slots.length, describe: [driver.describe, ...rest.map((set) => set.describe)].join(' ∩ ') };
}

/** The plan for a query selector (see the file comment). */
export function planQuery(indexes: OrderedIndexes, selector: QuerySelector): Plan {
  const total = indexes.objectEntries;
  const fields = Object.keys(selector.filter);
  const single = fields.length === 1 && !fields[0].startsWith('$');
  const found = bestCandidate(indexes, selector.filter, selector.constraints, selector.coveredByConstraints, total, single);
  if (found === undefined) return { slots: undefined, size: total, exact: false, describe: 'scan' };
  const { buckets, size, exact, describe, decides } = found;
  // Intersecting with the other equalities' buckets pays when the matcher would test many candidates.
  const others = !exact && size > 16 ? intersecters(indexes, selector, describe) : undefined;
  if (others !== undefined) {
    // Every top-level condition decided by the chosen index or an intersected equality: no matcher needed.
    const filter = selector.filter;
    const decided = Object.keys(filter).every((f) => f === decides || (others.paths.includes(f) && isPureEquality(filter[f])));
    const driven = drivenPlan(buckets, size, others.sets, total, indexes.keysParsed);
    if (driven !== undefined) return { ...driven, exact: decides !== undefined && decided, describe: `${driven.describe} ∩ ${describe}` };
    const runs = buckets.map((bucket) => intersected(bucket, others.sets));
    const slots = runs.length === 1 ? runs[0] : inCreationOrder(runs);
    return { slots, size: slots.length, exact: decides !== undefined && decided, describe: `${describe} ∩ ${others.describe}` };
  }
  if (buckets.length === 1) {
    const bucket = buckets[0];
    return { slots: lazily(bucket), size, exact, describe };
  }
  // Merging hits back into creation order costs more than testing each entry once: past half, scan.
  if (size > total / 2) return { slots: undefined, size: total, exact: false, describe: 'scan' };
  return { slots: inCreationOrder(buckets), size, exact, describe };
}
