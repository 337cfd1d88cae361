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
import { candidates } from './walk';

/** Most keys of a path's `s` and `r` sets a descending index walk sorts here; past it the whole query is sorted instead. */
const OTHERS_MAX = 10_000;

/** Fewest members of the first page of a descending walk (pages then double up to batchSize). */
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
export async function* sortedCandidates(
  b: RedisBackend,
  selector: Selector,
  spec: SortSpec,
  wanted = Infinity,
  values = false,
): AsyncGenerator<Candidate[]> {
  const field = spec[0];
  if (spec.length === 1 && field.direction === -1 && orderedPath(field.path) && (selector.kind === 'all' || selector.kind === 'query')) {
    const walk = new DescendingWalk(b, field.path, selector, wanted, values);
    const first = await walk.next(OTHERS_MAX);
    if (first.done !== TOO_MANY) {
      yield* descendingByIndex(b, selector, field, walk, first);
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

/** The matching keys of the path's `s` and `r` sets (as the walk's first page listed them) with their sort keys. */
function listedOthers(selector: QuerySelector | { kind: 'all' }, field: SortField, page: DescendPage): Listed[] {
  const out: Listed[] = [];
  const add = (id: string, seq: number) => {
    const key = objectKeyOf(id);
    if (key !== undefined && takes(selector, key)) out.push({ id, key, seq, sortKey: sortKeyOf(key, field) });
  };
  for (const m of page.strings) {
    const { id, seq } = stringMember(m);
    add(id, seq);
  }
  for (let i = 0; i < page.rest.length; i += 2) add(page.rest[i], scoreOf(page.rest[i + 1]));
  return out;
}

/** done in a DescendPage: the path's `s` and `r` sets hold more than asked for, and nothing was read. */
const TOO_MANY = -1;

/**
 * One page of DESCEND_SCRIPT: [member, value] pairs flat (triples with the entry, `stride` 3,
 * when the script read entries), whether the set is exhausted, and on the first page the others.
 */
interface DescendPage {
  pairs: Array<string | number>;
  stride: number;
  done: number;
  strings: string[];
  rest: string[];
}

/**
 * A walk down an `n` set, a page per DESCEND_SCRIPT call. A query of equalities alone is
 * filtered by the script on their index sets (exact), and then its entries are read with
 * the page when the caller wants values; pages start at the entries wanted (any other query:
 * four per entry wanted, at least FIRST_PAGE, so a selective query's page usually fills in one
 * step) and double up to batchSize.
 */
class DescendingWalk {
  private state: [string, string, number] = ['+inf', '', 0];
  private page: number;
  private readonly keys: string[];
  /** Per constraint: its number of index sets, its number of needles, the needles (DESCEND_SCRIPT's ARGV). */
  private readonly constraintArgs: Array<string | number> = [];
  /** Whether the script takes only matches (the query is its equalities). */
  readonly exact: boolean;
  private readonly want: boolean;
  constructor(
    private readonly b: RedisBackend,
    path: string,
    selector: QuerySelector | { kind: 'all' },
    wanted: number,
    values: boolean,
  ) {
    const l = b.layout;
    this.keys = [l.ordered('n', path), l.ordered('s', path), l.ordered('r', path)];
    this.exact = selector.kind === 'all' || (selector.coveredByConstraints && selector.constraints.length > 0);
    if (selector.kind === 'query' && this.exact) {
      for (const c of selector.constraints) {
        const sets = [...new Set(c.values.map((v) => l.indexFor(c.path, v)))];
        // A value's JSON text is in the id of every key recorded under it (lib/keys.ts writes scalars so).
        const needles = [...new Set(c.values.map((v) => JSON.stringify(v)))];
        this.keys.push(...sets);
        this.constraintArgs.push(sets.length, needles.length, ...needles);
      }
    }
    this.want = this.exact && values;
    this.page = Math.min(this.exact ? Math.max(1, wanted) : Math.max(FIRST_PAGE, 4 * wanted), b.settings.batchSize);
  }

  /** The next page; `othersMax` > 0 also lists the path's `s` and `r` sets when they hold at most that many. */
  async next(othersMax = 0): Promise<DescendPage> {
    const l = this.b.layout;
    const args = [...this.state, this.page, othersMax, this.want ? '1' : '0', l.entryPrefix, ...this.constraintArgs];
    const reply = (await DESCEND_SCRIPT.run(this.b.querySend, this.keys, args).catch(rethrow)) as [
      Array<string | number>,
      string,
      number,
      string,
      number,
      string[]?,
      string[]?,
    ];
    const [pairs, value, offset, max, done, strings = [], rest = []] = reply;
    this.state = [max, value, Number(offset)];
    this.page = Math.min(this.page * 2, this.b.settings.batchSize);
    return { pairs, stride: this.want ? 3 : 2, done: Number(done), strings, rest };
  }
}

/** Descending: the keys above numbers, the `n` set from the top merged with the others' numbers, then the keys below numbers. */
async function* descendingByIndex(
  b: RedisBackend,
  selector: QuerySelector | { kind: 'all' },
  field: SortField,
  walk: DescendingWalk,
  first: DescendPage,
): AsyncGenerator<Candidate[]> {
  const others = listedOthers(selector, field, first);
  const byKeyDown = (x: Listed, y: Listed) => compareSortKeys(y.sortKey, x.sortKey) || x.seq - y.seq;
  const above = others.filter((o) => typeof o.sortKey !== 'number' && compareSortKeys(o.sortKey, Infinity) > 0).sort(byKeyDown);
  const numbers = others.filter((o) => typeof o.sortKey === 'number').sort(byKeyDown);
  if (above.length > 0) yield above;
  const size = b.settings.batchSize;
  let next = 0;
  for (let page: DescendPage | undefined = first; ; page = await walk.next()) {
    const { pairs, stride } = page;
    const out: Candidate[] = [];
    for (let i = 0; i < pairs.length; i += stride) {
      const item = numberMember(pairs[i] as string);
      const v = scoreOf(pairs[i + 1]);
      // Listed keys sort among these by value, then creation order.
      while (next < numbers.length && ((numbers[next].sortKey as number) > v || (numbers[next].sortKey === v && numbers[next].seq < item.seq))) {
        out.push(numbers[next++]);
      }
      const key = objectKeyOf(item.id);
      if (key !== undefined && (walk.exact || takes(selector, key))) out.push({ id: item.id, key, seq: item.seq, entry: stride === 3 ? pairs[i + 2] : undefined });
    }
    if (out.length > 0) yield out;
    if (page.done === 1) break;
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
