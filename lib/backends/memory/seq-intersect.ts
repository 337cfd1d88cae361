/**
 * Intersecting index buckets by creation sequence, for the planner (query-plan.ts), when the
 * index it chose comes as many runs and another equality of the query as one or two. Example:
 * `{ city: { $in: [c1, c2] }, age: { $lte: 10 } }` over 100,000 keys is 11 age buckets (11,000
 * entries) against two city buckets (25,000). Walking the age buckets costs a city comparison
 * per candidate — its Slot, its key and the key's string are each a cache miss, ~28 ns — and the
 * 11 runs of hits must then be merged back into creation order on a heap (~19 ns per hit per
 * level). Here instead the chosen buckets' seqs are marked in a bitset (reading only `slot.seq`,
 * ~7 ns a Slot) and the one or two runs of the other equality are walked in creation order, each
 * Slot kept when its bit is set: no key is read and no heap merge is left (two runs are merged
 * linearly). The planner decides by the cost model below which way is cheaper.
 *
 * Seqs are unique per keyspace, so a bit names one entry; an entry held in both driving buckets
 * (an `$in` over an array field) is kept once.
 */
import { Bucket, slotChunks } from './ordered-indexes';
import { Slot } from './slot';

/** The seqs a set of buckets spans: a bitset over them needs (high − low) / 32 words. */
export interface SeqSpan {
  low: number;
  high: number;
}

/** The most words a bitset may take (4 MB): beyond that a wide, sparse span is not worth marking. */
const MAX_WORDS = 1 << 20;

/** Bits in 32-bit words; one scratch array is reused, zeroed after each use (queries are synchronous). */
let scratch = new Uint32Array(1024);
/** The hits of two driving runs before they are merged; emptied after each use so they hold no entry. */
const runs: [Slot[], Slot[]] = [[], []];

/** The lowest and highest seq held in `buckets` (a run's first and last Slot); low > high when empty. */
export function seqSpan(buckets: readonly Bucket[]): SeqSpan {
  let low = Infinity;
  let high = -Infinity;
  for (const bucket of buckets) {
    const first = bucket instanceof Slot ? bucket : bucket.first();
    const last = bucket instanceof Slot ? bucket : bucket.last();
    if (first !== undefined && first.seq < low) low = first.seq;
    if (last !== undefined && last.seq > high) high = last.seq;
  }
  return { low, high };
}

/** Costs in ns, measured by CPU time on the development VM (100,000 object keys, 4 paths indexed). */
const SLOT_READ = 7;
/** One step of a bucket's binary search by seq (SlotRun.has): a Slot read, mostly a cache miss. */
const SEARCH_STEP = 20;
const HEAP_LEVEL = 19;
const LINEAR_MERGE = 10;

/** A top-level field read from a kept parsed key (slot.ts) and compared. */
const FIELD_TEST = 21;

/**
 * What testing one Slot's membership in a set of buckets costs: a field read when `byField` (a
 * top-level path and a kept parsed key), else a binary search of each bucket.
 */
export function membershipCost(set: { buckets: readonly Bucket[]; size: number }, byField: boolean): number {
  if (byField) return FIELD_TEST;
  const runs = Math.max(1, set.buckets.length);
  return runs * SEARCH_STEP * Math.log2(2 + set.size / runs);
}

/** Candidates of one side of an intersection: how many buckets (runs) and Slots. */
export interface Side {
  runs: number;
  size: number;
}

/**
 * Whether driving from `driver` (at most two runs) and marking `chosen`'s seqs in a bitset costs
 * less than walking `chosen`'s runs with a membership test per Slot in the driver's set
 * (`driverTest` ns) and the other sets (`restTests` ns) and merging its runs; `total` is the
 * keyspace's object entries (hits are estimated as independent).
 */
export function drivingPays(chosen: Side, driver: Side, driverTest: number, restTests: number, total: number, span: SeqSpan): boolean {
  if (driver.runs > 2 || chosen.runs <= driver.runs) return false;
  const words = span.high >= span.low ? (span.high - span.low) / 32 + 1 : 0;
  if (words > MAX_WORDS) return false;
  const hits = (chosen.size * driver.size) / Math.max(1, total);
  const walking = chosen.size * (SLOT_READ + driverTest + restTests) + hits * HEAP_LEVEL * Math.log2(chosen.runs);
  const driving = chosen.size * SLOT_READ + driver.size * SLOT_READ + hits * restTests + (driver.runs > 1 ? hits * LINEAR_MERGE : 0) + words;
  return driving < walking;
}

/**
 * The Slots of `driver`'s buckets (at most two, each in creation order) whose seq is in some
 * bucket of `members` (spanning `span`) and that `keep` (if any) accepts, in creation order, each once.
 */
export function drivenByMembership(driver: readonly Bucket[], members: readonly Bucket[], span: SeqSpan, keep: ((slot: Slot) => boolean) | undefined): Slot[] {
  if (span.high < span.low || driver.length === 0) return [];
  const low = span.low;
  const width = span.high - low;
  const words = (width >>> 5) + 1;
  if (scratch.length < words) scratch = new Uint32Array(Math.max(words, scratch.length * 2));
  const bits = scratch;
  try {
    for (const bucket of members) {
      for (const chunk of slotChunks(bucket)) {
        for (let i = 0; i < chunk.length; i++) {
          const at = chunk[i].seq - low;
          bits[at >>> 5] |= 1 << (at & 31);
        }
      }
    }
    const test = (slot: Slot): boolean => {
      const at = slot.seq - low;
      return at >= 0 && at <= width && (bits[at >>> 5] & (1 << (at & 31))) !== 0 && (keep === undefined || keep(slot));
    };
    if (driver.length === 1) {
      const out: Slot[] = [];
      for (const chunk of slotChunks(driver[0])) for (let i = 0; i < chunk.length; i++) if (test(chunk[i])) out.push(chunk[i]);
      return out;
    }
    // Two runs of hits, in reused arrays (the answer is the fresh array mergeTwo makes): less garbage per query.
    const lengths = [0, 0];
    for (let r = 0; r < 2; r++) {
      const run = runs[r];
      let n = 0;
      for (const chunk of slotChunks(driver[r])) for (let i = 0; i < chunk.length; i++) if (test(chunk[i])) run[n++] = chunk[i];
      lengths[r] = n;
    }
    const out = mergeTwo(runs[0], lengths[0], runs[1], lengths[1]);
    runs[0].fill(undefined as never, 0, lengths[0]);
    runs[1].fill(undefined as never, 0, lengths[1]);
    return out;
  } finally {
    bits.fill(0, 0, words);
  }
}

/** The first `aLength` of `a` and `bLength` of `b`, each in creation order, as one new array, a Slot in both taken once. */
function mergeTwo(a: readonly Slot[], aLength: number, b: readonly Slot[], bLength: number): Slot[] {
  const out: Slot[] = new Array<Slot>(aLength + bLength);
  let n = 0;
  let i = 0;
  let j = 0;
  while (i < aLength && j < bLength) {
    const x = a[i];
    const y = b[j];
    if (x.seq < y.seq) {
      out[n++] = x;
      i++;
    } else if (y.seq < x.seq) {
      out[n++] = y;
      j++;
    } else {
      out[n++] = x;
      i++;
      j++;
    }
  }
  while (i < aLength) out[n++] = a[i++];
  while (j < bLength) out[n++] = b[j++];
  out.length = n;
  return out;
}
