/**
 * Reading a query's matches in creation order (SPEC §14) without reading the whole namespace.
 *
 * A find sorted `{ s: 1 }` lets MongoDB's planner choose creation order's index n_1_s_1: it
 * needs no SORT stage, so it returns matches from the first documents it reads and wins the
 * plan trial against every index that would read only the matches but sort them afterwards —
 * and then it reads every document of the namespace. `{ age: { $gt: 80 } }` over 100,000
 * entries examined 100,000 documents for 18,900 matches (the raw driver, unsorted, 18,900
 * through `k.age`); `{ city: { $in: [2 cities] }, age: { $lte: 10 } }` merged two city runs
 * in creation order, 24,974 documents, where `k.age` reads 10,909.
 *
 * So when an index could serve the filter, the matches are read by an aggregation whose
 * `$match` is planned alone, as an unsorted find would be (the planner picks the index that
 * reads the fewest documents), and whose `$sort` then orders just the matches by `s` (a server
 * that pushed the sort back into the find would answer the same, with the find's plan: the
 * plan test in test/mongo-indexed-queries.test.ts would say so). A find stays where it is as good: an index that yields the matches in creation order by itself, a limit
 * (the plan trial weighs reading n_1_s_1 until enough match against sorting every match), a
 * query no index serves (n_1_s_1 is then the plan anyway, and needs no sort), every entry, a
 * glob.
 */
import type { Document } from 'mongodb';
import type { FindOptions } from '../../backend';
import type { Selector } from '../../query';
import { IndexFields, equalityPaths } from './sort';

/** Whether the matches of `selector` are better read through `creationOrderPipeline` (see the file comment). */
export function sortsMatchesAfterPlanning(selector: Selector, options: FindOptions, indexes: readonly IndexFields[]): boolean {
  if (selector.kind !== 'query' || (options.sort ?? []).length > 0 || options.limit !== undefined) return false;
  const constrained = constrainedPaths(selector.filter as Record<string, unknown>, new Set());
  if (!indexes.some((index) => constrained.has(index[0][0]))) return false;
  return !creationOrderServed(selector, indexes);
}

/**
 * The aggregation reading the matches of `filter` in creation order, the first `skip` left
 * out, each document projected. The `$project` (which keeps `s`) stands between the `$match` and the
 * `$sort`, so the server plans the `$match` alone and sorts in the pipeline; `s` is dropped after
 * the sort. Over 18,900 matches this cost 310 ms of server and 179 ms of client CPU, against
 * 330 + 212 ms with the sort on a computed copy of `s` (`$addFields`, which rebuilds every
 * document) and 280 + 275 ms for the raw driver's unsorted find (one run, load 15).
 */
export function creationOrderPipeline(filter: Document, projection: Document, skip: number): Document[] {
  const pipeline: Document[] = [{ $match: filter }, { $project: { ...projection, s: 1 } }, { $sort: { s: 1 } }];
  if (skip > 0) pipeline.push({ $skip: skip });
  pipeline.push({ $unset: 's' });
  return pipeline;
}

/**
 * Whether a configured index yields the matches of `selector` in creation order by itself: the
 * query pins every one of its key paths to one value, so its scan runs in `s` order and the
 * server's sort `{ s: 1 }` needs no SORT stage (`{ kind: 'a' }` over the index `kind`).
 */
function creationOrderServed(selector: Selector, indexes: readonly IndexFields[]): boolean {
  const bound = equalityPaths(selector);
  return indexes.some((index) => index.every(([path]) => bound.has(path)));
}

/** Key paths every match must satisfy a condition on: the query's top-level paths and those of its `$and` members. */
function constrainedPaths(filter: Record<string, unknown>, out: Set<string>): Set<string> {
  for (const path of Object.keys(filter)) {
    if (path === '$and') for (const member of filter[path] as Array<Record<string, unknown>>) constrainedPaths(member, out);
    else if (!path.startsWith('$')) out.add(path);
  }
  return out;
}
