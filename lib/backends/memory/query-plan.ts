/**
 * The memory store's planner: which entries a query needs to test. Every candidate index is
 * sized first — an equality or `$in` by its buckets, a range by walking its bounds (stopping
 * as soon as it is no better than the best so far), a top-level `$or` as the sum of its
 * branches' best — and the smallest wins; an index whose hits would have to be merged back into
 * creation order is taken only while that is cheaper than a scan. The caller always finishes
 * with the shared matcher (unless the one equality it used decides the query alone), so a plan
 * only narrows: results are the matcher's.
 */
import type { IndexConstraint, QuerySelector } from '../../query';
import { indexConstraints } from '../../query-index';
import { Bucket, OrderedIndexes, PathIndex, bucketSize, compareScalars } from './ordered-indexes';
import type { Scalar } from './key-paths';
import { Slot } from './slot';

/** A range on one path within one type bracket (MongoDB's comparisons never cross brackets). */
export interface Range {
  path: string;
  low?: Scalar;
  lowInclusive: boolean;
  high?: Scalar;
  highInclusive: boolean;
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
  /** One entry may be in several buckets (a multikey path, or an `$or`). */
  duplicates: boolean;
  exact: boolean;
  describe: string;
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
      if (range === undefined) range = { path, lowInclusive: false, highInclusive: false };
      const bracket = range.low !== undefined ? typeof range.low : range.high !== undefined ? typeof range.high : typeof operand;
      if (typeof operand !== bracket) continue; // bounds in two brackets match nothing; the matcher says so
      if (op === '$gt' || op === '$gte') {
        range.low = operand;
        range.lowInclusive = op === '$gte';
      } else {
        range.high = operand;
        range.highInclusive = op === '$lte';
      }
    }
    if (range !== undefined) out.push(range);
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
    const duplicates = buckets.length > 1 && (indexes.path(constraint.path)?.multikey ?? 0) > 0;
    best = { buckets, size, duplicates, exact: exactWhenAlone && constraints.length === 1, describe: `eq(${constraint.path})` };
  }
  for (const range of rangesOf(filter)) {
    if (!indexes.indexes(range.path)) continue;
    const index = indexes.path(range.path);
    if (index === undefined) {
      // Only values of the bound's bracket compare, and every one of them would be indexed here.
      best = { buckets: [], size: 0, duplicates: false, exact: false, describe: `range(${range.path})` };
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
    for (const r of tries) {
      const found = rangeBuckets(index, r, bound());
      if (found === undefined) continue;
      best = { ...found, duplicates: index.multikey > 0, exact: false, describe: `range(${range.path})` };
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
      best = {
        buckets: parts.flatMap((p) => p.buckets),
        size,
        duplicates: true,
        exact: false,
        describe: `or(${parts.map((p) => p.describe).join(', ')})`,
      };
    }
  }
  return best;
}

/** The Slots of buckets, deduplicated when needed and in creation order. */
function inCreationOrder(buckets: Bucket[], duplicates: boolean): Slot[] {
  let slots: Slot[] = [];
  if (duplicates) {
    const seen = new Set<Slot>();
    for (const bucket of buckets) {
      if (bucket instanceof Slot) seen.add(bucket);
      else for (const slot of bucket) seen.add(slot);
    }
    slots = [...seen];
  } else {
    for (const bucket of buckets) {
      if (bucket instanceof Slot) slots.push(bucket);
      else for (const slot of bucket) slots.push(slot);
    }
  }
  // Each bucket is already a run in creation order, which the engine's merge sort exploits.
  return slots.sort((a, b) => a.seq - b.seq);
}

/** The plan for a query selector (see the file comment). */
export function planQuery(indexes: OrderedIndexes, selector: QuerySelector): Plan {
  const total = indexes.objectEntries;
  const found = bestCandidate(indexes, selector.filter, selector.constraints, selector.coveredByConstraints, total);
  if (found === undefined) return { slots: undefined, size: total, exact: false, describe: 'scan' };
  const { buckets, size, duplicates, exact, describe } = found;
  if (buckets.length === 1) {
    const bucket = buckets[0];
    return { slots: bucket instanceof Slot ? [bucket] : bucket, size, exact, describe };
  }
  // Merging hits back into creation order costs more than testing each entry once: past half, scan.
  if (size > total / 2) return { slots: undefined, size: total, exact: false, describe: 'scan' };
  return { slots: inCreationOrder(buckets, duplicates), size, exact, describe };
}
