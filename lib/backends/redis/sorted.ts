/**
 * `sort` in the backend (SPEC §14, supports.nativeSort): the candidates of a query in the
 * order lib/query-sort.ts defines, without reading a value (a sort key is a function of the
 * key, and the key is the id). find.ts then reads only the entries it returns.
 *
 * - A descending sort on one indexable path walks the path's `n` set from the top (DESCEND_SCRIPT:
 *   values downwards, each value's keys in creation order, pages growing from 32), merged with the keys of its `s` and `r` sets, whose sort
 *   keys are computed here (they are few for a numeric path, else this is not used); only if
 *   the caller reads past every key that has a value there are the rest (null, missing, empty
 *   arrays: nothing lists them) found by walking the query's candidates.
 * - Any other sort walks the query's candidates (ids only), sorts them here and hands them out
 *   in batches: O(matches) ids, but no value is read that is not returned.
 */
import type { KeyObject } from '../../keys';
import type { QuerySelector, Selector } from '../../query';
import { SortField, SortSpec, compareSortKeys, sortEntries, sortKeyOf } from '../../query-sort';
import type { RedisBackend } from './backend';
import { rethrow } from './errors';
import { Candidate, objectKeyOf } from './ids';
import { numberMember, orderedPath, scoreOf, stringMember } from './ordered';
import { DESCEND_SCRIPT } from './read-scripts';
import { candidates, scored } from './walk';

/** Most keys of a path's `s` and `r` sets a descending index walk sorts here; past it the whole query is sorted instead. */
const OTHERS_MAX = 10_000;

/** Members of the first page of a descending walk (pages then double up to batchSize). */
const FIRST_PAGE = 32;

/** A key listed by the index, with its creation sequence and its sort key. */
interface Listed {
  id: string;
  key: KeyObject;
  seq: number;
  sortKey: unknown;
}

/**
 * The query's candidates in sort order (ties in creation order), in batches, filtered on the
 * key; `wanted` (skip + limit) sizes the first page of an index walk.
 */
export async function* sortedCandidates(b: RedisBackend, selector: Selector, spec: SortSpec, wanted = Infinity): AsyncGenerator<Candidate[]> {
  const field = spec[0];
  if (spec.length === 1 && field.direction === -1 && orderedPath(field.path) && (selector.kind === 'all' || selector.kind === 'query')) {
    const others = await listedOthers(b, selector, field);
    if (others !== undefined) {
      yield* descendingByIndex(b, selector, field, others, wanted);
      return;
    }
  }
  yield* sortAll(b, selector, spec);
}

/** Every candidate, sorted here by the spec (stable: candidates come in creation order). */
async function* sortAll(b: RedisBackend, selector: Selector, spec: SortSpec): AsyncGenerator<Candidate[]> {
  const all: Candidate[] = [];
  for await (const batch of candidates(b, selector)) for (const c of batch) all.push(c);
  const sorted = sortEntries(all as Array<Candidate & { key: KeyObject }>, spec);
  for (let i = 0; i < sorted.length; i += b.settings.batchSize) yield sorted.slice(i, i + b.settings.batchSize);
}

/** Whether a listed key is one the selector takes. */
function takes(selector: QuerySelector | { kind: 'all' }, key: KeyObject): boolean {
  return selector.kind === 'all' || selector.test(key);
}

/** The matching keys of the path's `s` and `r` sets with their sort keys, or undefined when there are too many. */
async function listedOthers(b: RedisBackend, selector: QuerySelector | { kind: 'all' }, field: SortField): Promise<Listed[] | undefined> {
  const l = b.layout;
  const strings = l.ordered('s', field.path);
  const rest = l.ordered('r', field.path);
  const [ns, nr] = await Promise.all([b.piped((c) => c.zcard(strings)), b.piped((c) => c.zcard(rest))]).catch(rethrow);
  if (ns + nr > OTHERS_MAX) return undefined;
  const [sMembers, rPairs] = await Promise.all([
    ns > 0 ? b.piped((c) => c.zrange(strings, '0', '-1')) : [],
    nr > 0 ? b.piped((c) => c.zrange(rest, '0', '-1', 'WITHSCORES')) : [],
  ]).catch(rethrow);
  const listed: Array<{ id: string; seq: number }> = (sMembers as string[]).map(stringMember);
  for (const [id, seq] of scored(rPairs)) listed.push({ id, seq });
  const out: Listed[] = [];
  for (const { id, seq } of listed) {
    const key = objectKeyOf(id);
    if (key !== undefined && takes(selector, key)) out.push({ id, key, seq, sortKey: sortKeyOf(key, field) });
  }
  return out;
}

/** Descending: the keys above numbers, the `n` set from the top merged with the others' numbers, then the keys below numbers. */
async function* descendingByIndex(
  b: RedisBackend,
  selector: QuerySelector | { kind: 'all' },
  field: SortField,
  others: Listed[],
  wanted: number,
): AsyncGenerator<Candidate[]> {
  const byKeyDown = (x: Listed, y: Listed) => compareSortKeys(y.sortKey, x.sortKey) || x.seq - y.seq;
  const above = others.filter((o) => typeof o.sortKey !== 'number' && compareSortKeys(o.sortKey, Infinity) > 0).sort(byKeyDown);
  const numbers = others.filter((o) => typeof o.sortKey === 'number').sort(byKeyDown);
  if (above.length > 0) yield above;
  const set = b.layout.ordered('n', field.path);
  const size = b.settings.batchSize;
  // Pages grow from a few members (four per entry wanted, so a selective query's page usually
  // fills in one step), so that a small limit reads little, to batchSize.
  let page = Math.min(Math.max(FIRST_PAGE, 4 * wanted), size);
  let state: [string, string, number] = ['+inf', '', 0];
  let next = 0;
  for (;;) {
    const [pairs, value, offset, max, done] = (await DESCEND_SCRIPT.run(b.pipedSend, [set], [...state, page]).catch(rethrow)) as [
      string[],
      string,
      number,
      string,
      number,
    ];
    state = [max, value, Number(offset)];
    page = Math.min(page * 2, size);
    const out: Candidate[] = [];
    for (let i = 0; i < pairs.length; i += 2) {
      const item = numberMember(pairs[i]);
      const v = scoreOf(pairs[i + 1]);
      // Listed keys sort among these by value, then creation order.
      while (next < numbers.length && ((numbers[next].sortKey as number) > v || (numbers[next].sortKey === v && numbers[next].seq < item.seq))) {
        out.push(numbers[next++]);
      }
      const key = objectKeyOf(item.id);
      if (key !== undefined && takes(selector, key)) out.push({ id: item.id, key, seq: item.seq });
    }
    if (out.length > 0) yield out;
    if (Number(done) === 1) break;
  }
  if (next < numbers.length) yield numbers.slice(next);
  // Below numbers: null, missing, empty arrays. Nothing lists the keys without the path: walk the query's.
  const below: Array<Candidate & { key: KeyObject }> = [];
  for await (const batch of candidates(b, selector)) {
    for (const c of batch) if (compareSortKeys(sortKeyOf(c.key as KeyObject, field), -Infinity) < 0) below.push(c as Candidate & { key: KeyObject });
  }
  const sorted = sortEntries(below, [field]);
  for (let i = 0; i < sorted.length; i += size) yield sorted.slice(i, i + size);
}
