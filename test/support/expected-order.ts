/**
 * What a store should list for a query, told by the library's own matcher and sort
 * (lib/query-match via compileQuery, lib/query-sort) over every key in creation order: the
 * reference the backend-specific sort tests compare with.
 */
import type { KeyObject } from '../../lib/keys';
import { compileQuery } from '../../lib/query';
import { compileSort, sortEntries } from '../../lib/query-sort';

/** The keys `query` matches among `all` (in creation order), sorted by `sort` if given, then cut to skip/limit. */
export function expectedKeys(all: KeyObject[], query: Record<string, unknown>, sort: Record<string, 1 | -1> | undefined, skip = 0, limit = Infinity): KeyObject[] {
  const selector = compileQuery(query);
  if (selector.kind !== 'query') throw new Error('expected a query');
  const matches = all.filter((k) => selector.test(k)).map((key) => ({ key }));
  const sorted = sort ? sortEntries(matches, compileSort(sort, 'test')) : matches;
  return sorted.slice(skip, skip + limit).map((e) => e.key);
}
