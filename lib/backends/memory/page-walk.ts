/**
 * Native keyset paging for the memory store (SPEC §14, FindOptions.page): the matches ordered by
 * the sort fields and then by id in code point order (lib/core/page-cursor.ts comparePositions),
 * strictly after the cursor's position, at most `limit` — reading about a page's worth of
 * entries instead of every match. Three ways, cheapest first:
 * - a sort whose first path has an ordered index covering every entry at its sort key: walk
 *   that tree from the cursor's first sort key; each value's bucket (a tie group on the first
 *   field) is ordered by the other fields and id, keeping only what the page still needs. On a
 *   multikey path an entry sits under several values: it is taken only under its sort key
 *   (its smallest value ascending, its largest descending);
 * - no sort, and no narrow candidate list: walk the ids in code point order from the cursor's id
 *   (id-order.ts, built the first time and kept up to date after);
 * - otherwise the planner's candidates (or every entry): each one after the cursor is offered to
 *   a bounded heap of the page size (smallest.ts), never a sort of all matches.
 * Walk or candidates: as for sort + limit, a walk meets a page after about limit × entries /
 * matches entries, so narrow candidates win when there are fewer of them than twice that.
 */
import type { PagePosition } from '../../backend';
import { comparePositions } from '../../core/page-cursor';
import type { Key, KeyObject } from '../../keys';
import type { Selector } from '../../query';
import { SortSpec, compareSortKeys, isEmptyArrayKey, sortKeyOf, sortKeysOf } from '../../query-sort';
import { IdOrder, compareIds } from './id-order';
import type { Scalar } from './key-paths';
import { Bucket, OrderedIndexes, PathIndex, slotChunks } from './ordered-indexes';
import { planQuery } from './query-plan';
import { Smallest } from './smallest';
import { Slot } from './slot';

/** What a page reads of the keyspace. */
export interface PageSource {
  readonly indexes: OrderedIndexes;
  /** Entries held (object keys and string keys). */
  readonly held: number;
  readonly now: number;
  /** Whether an entry matches the selector (`exact`: the planner's candidate needs no test); `key`: its key if parsed already. */
  matches(slot: Slot, exact: boolean, key?: Key): boolean;
  /** Every held entry; plain string-key values come wrapped in a Slot. */
  all(): Iterable<Slot>;
  /** The held entry of `id`, wrapped as `all` does. */
  entry(id: string): Slot | undefined;
  /** The ids in code point order (built on first use, then kept). */
  idOrder(): IdOrder;
}

/** A keyspace's entries as a PageSource (`held`: id → Slot, or a plain string-key entry that `wrap` makes a Slot of). */
export function heldPageSource<H>(
  held: ReadonlyMap<string, H>,
  wrap: (id: string, held: H) => Slot,
  indexes: OrderedIndexes,
  now: number,
  matches: PageSource['matches'],
  idOrder: () => IdOrder,
): PageSource {
  return {
    indexes,
    held: held.size,
    now,
    matches,
    *all() {
      for (const [id, value] of held) yield wrap(id, value);
    },
    entry: (id) => {
      const value = held.get(id);
      return value === undefined ? undefined : wrap(id, value);
    },
    idOrder,
  };
}

/** One page request: FindOptions.page with its sort and limit. */
export interface PageRequest {
  selector: Selector;
  sort: SortSpec;
  after: PagePosition | undefined;
  limit: number;
}

/** What a page read reports: the way taken and the entries examined. */
export interface PageReport {
  plan: string;
  examined: number;
}

/** An entry with its page position. */
interface Positioned {
  slot: Slot;
  keys: readonly unknown[];
  id: string;
}

const NO_KEYS: readonly unknown[] = [];

/** The entries of one page, in page order (see the file comment). */
export function readPage(source: PageSource, request: PageRequest, report: PageReport): Slot[] {
  const { selector, sort, limit } = request;
  if (limit <= 0) return [];
  if (selector.kind === 'exact') {
    const entry = source.entry(selector.id);
    report.plan = 'page(exact)';
    return bestOf(source, entry === undefined ? [] : [entry], false, request, report);
  }
  const plan = selector.kind === 'query' ? planQuery(source.indexes, selector) : undefined;
  const narrow = plan?.slots;
  const size = narrow === undefined ? Infinity : Math.max(1, plan!.size);
  const total = Math.max(1, selector.kind === 'query' ? source.indexes.objectEntries : source.held);
  const walkBeatsCandidates = narrow === undefined || (limit * total) / size < 2 * size;
  if (sort.length > 0) {
    const field = sort[0];
    const index = source.indexes.path(field.path);
    // Fields sharing the first path's array take one element's values together (lib/query-sort.ts):
    // the first key of such a tuple need not be the first field's own sort key, so no walk then.
    const shared = index !== undefined && index.multikey > 0 && sort.some((f, i) => i > 0 && f.parts[0] === field.parts[0]);
    const walkable = selector.kind === 'query' && index !== undefined && !shared && source.indexes.indexes(field.path) && source.indexes.sortable(field.path);
    if (walkable && walkBeatsCandidates) {
      report.plan = `page(sort(${field.path}))`;
      return sortWalk(source, index!, request, report);
    }
  } else if (walkBeatsCandidates) {
    report.plan = 'page(ids)';
    return idWalk(source, request, report);
  }
  report.plan = `page(${plan?.describe ?? 'scan'} then ordered)`;
  return bestOf(source, narrow ?? source.all(), narrow !== undefined && plan!.exact, request, report);
}

/** Orders positions as a page does. */
function byPosition(sort: SortSpec): (a: Positioned, b: Positioned) => number {
  return sort.length === 0 ? (a, b) => compareIds(a.id, b.id) : (a, b) => comparePositions(a, b, sort);
}

/** The `limit` first in page order of `candidates` after the cursor, by a bounded heap. */
function bestOf(source: PageSource, candidates: Iterable<Slot>, exact: boolean, request: PageRequest, report: PageReport): Slot[] {
  const { sort, after } = request;
  const best = new Smallest<Positioned>(request.limit, byPosition(sort));
  const now = source.now;
  let examined = 0;
  for (const slot of candidates) {
    examined++;
    if (slot.expiresAt !== 0 && slot.expiresAt <= now) continue;
    // An object key is parsed from its id (slot.ts): once here, for both the test and the sort keys.
    const key = sort.length === 0 ? undefined : slot.key;
    if (!source.matches(slot, exact, key)) continue;
    const position = { slot, keys: key === undefined ? NO_KEYS : sortKeysOf(key, sort), id: slot.id };
    if (after !== undefined && comparePositions(position, after, sort) <= 0) continue;
    best.add(position);
  }
  report.examined = examined;
  return best.sorted().map((p) => p.slot);
}

/** No sort: the ids from the cursor's, in code point order, until the page is full. */
function idWalk(source: PageSource, request: PageRequest, report: PageReport): Slot[] {
  const out: Slot[] = [];
  const now = source.now;
  let examined = 0;
  for (const id of source.idOrder().after(request.after?.id)) {
    const slot = source.entry(id);
    examined++;
    if (slot === undefined || (slot.expiresAt !== 0 && slot.expiresAt <= now)) continue;
    if (!source.matches(slot, false)) continue;
    out.push(slot);
    if (out.length >= request.limit) break;
  }
  report.examined = examined;
  return out;
}

/** The values of `index` in the sort's direction, from the cursor's first sort key (included) on. */
function bucketsFrom(index: PathIndex, direction: 1 | -1, after: PagePosition | undefined): Iterable<[Scalar, Bucket]> {
  const start = after?.keys[0];
  // An empty array sorts before everything the tree holds (it never holds one: the path is sortable).
  if (direction === 1) return after === undefined || isEmptyArrayKey(start) ? index.tree.entries() : index.tree.entries(start as Scalar);
  if (after === undefined) return index.tree.entriesReversed();
  return isEmptyArrayKey(start) ? [] : index.tree.entriesReversed(start as Scalar);
}

/** A sort served by the first field's tree (see the file comment). */
function sortWalk(source: PageSource, index: PathIndex, request: PageRequest, report: PageReport): Slot[] {
  const { sort, after } = request;
  const field = sort[0];
  const multikey = index.multikey > 0;
  // One sort field: a bucket is one tie group, ordered by id alone.
  const single = sort.length === 1;
  const compare = byPosition(single ? [] : sort);
  const now = source.now;
  const out: Slot[] = [];
  let examined = 0;
  for (const [value, bucket] of bucketsFrom(index, field.direction, after)) {
    // Only the cursor's own tie group holds positions at or before it.
    const atCursor = after !== undefined && compareSortKeys(value, after.keys[0]) === 0;
    const group = new Smallest<Positioned>(request.limit - out.length, compare);
    const shared = [value];
    for (const chunk of slotChunks(bucket)) for (const slot of chunk) {
      examined++;
      if (slot.expiresAt !== 0 && slot.expiresAt <= now) continue;
      // An object key is parsed from its id (slot.ts) only when the sort keys need it, and then once.
      const key = single && !multikey ? undefined : (slot.key as KeyObject);
      const keys = key === undefined ? shared : single ? [sortKeyOf(key, field)] : sortKeysOf(key, sort);
      // Elsewhere than at its sort key, a multikey entry is met out of order: it comes under that key.
      if (multikey && compareSortKeys(keys[0], value) !== 0) continue;
      if (!source.matches(slot, false, key)) continue;
      const position = { slot, keys, id: slot.id };
      if (atCursor && comparePositions(position, after!, sort) <= 0) continue;
      group.add(position);
    }
    for (const { slot } of group.sorted()) out.push(slot);
    if (out.length >= request.limit) break;
  }
  report.examined = examined;
  return out;
}
