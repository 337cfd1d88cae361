/**
 * `sort` served by an ordered index: the tree of the first sort field's path, walked in the
 * field's direction. An entry is met first under its smallest value walking up and under its
 * largest walking down — its sort key (lib/query-sort.ts) when every value it holds there is
 * in the tree, which the caller checks (OrderedIndexes.sortable). Entries under one value
 * come in creation order, the sort's tie order; further sort fields order each such group.
 * The walk stops once skip + limit matches are out, so a top-k query visits about
 * k × entries / matches entries instead of all of them.
 */
import type { Selector } from '../../query';
import { SortSpec, sortEntries } from '../../query-sort';
import type { KeyObject } from '../../keys';
import { PathIndex, Bucket, slotChunks } from './ordered-indexes';
import { Slot } from './slot';

/** What a walk reports: entries examined (matched or not). */
export interface WalkReport {
  examined: number;
}

function* bucketsInOrder(index: PathIndex, direction: 1 | -1): Generator<Bucket> {
  if (direction === 1) yield* index.tree.values();
  else for (const [, bucket] of index.tree.entriesReversed()) yield bucket;
}

/** The live entries matching a query selector, in `sort` order, after `skip`, at most `limit` (see the file comment). */
export function* sortedWalk(
  index: PathIndex,
  sort: SortSpec,
  selector: Selector,
  now: number,
  skip: number,
  limit: number,
  report: WalkReport,
): Generator<Slot> {
  const test = selector.kind === 'query' ? selector.test : undefined;
  // An entry under several values is met again after its sort key: skip it then.
  const met = index.multikey > 0 ? new Set<Slot>() : null;
  let left = limit;
  let examined = 0;
  if (sort.length === 1) {
    // One sort field: a bucket is already in final order, so stop inside it once the window is out.
    for (const bucket of bucketsInOrder(index, sort[0].direction)) {
      for (const chunk of slotChunks(bucket)) for (const slot of chunk) {
        if (met !== null) {
          if (met.has(slot)) continue;
          met.add(slot);
        }
        report.examined = ++examined;
        if (slot.expiresAt !== 0 && slot.expiresAt <= now) continue;
        if (test !== undefined && !test(slot.key as KeyObject)) continue;
        if (skip > 0) {
          skip--;
          continue;
        }
        yield slot;
        if (--left <= 0) return;
      }
    }
    return;
  }
  const group: Slot[] = [];
  for (const bucket of bucketsInOrder(index, sort[0].direction)) {
    group.length = 0;
    for (const chunk of slotChunks(bucket)) for (const slot of chunk) {
      if (met !== null) {
        if (met.has(slot)) continue;
        met.add(slot);
      }
      examined++;
      if (slot.expiresAt !== 0 && slot.expiresAt <= now) continue;
      if (test !== undefined && !test(slot.key as KeyObject)) continue;
      group.push(slot);
    }
    report.examined = examined;
    if (group.length === 0) continue;
    if (skip >= group.length) {
      skip -= group.length;
      continue;
    }
    const ordered = sort.length > 1 && group.length > 1 ? sortEntries(group, sort) : group;
    for (let i = skip; i < ordered.length; i++) {
      yield ordered[i];
      if (--left <= 0) return;
    }
    skip = 0;
  }
}
