/**
 * `sort` in the backend (SPEC §14, supports.nativeSort): the candidates of a query in the
 * order lib/query-sort.ts defines, without reading a value (a sort key is a function of the
 * key, and the key is the id). find.ts then reads only the entries it returns.
 *
 * - A descending sort on one indexable path reads the path's `n` set from the top with plain
 *   `ZRANGE … BYSCORE REV` pages (layout 3, ordered.ts: equal numbers then come in creation
 *   order), filtered here on the key parsed from each id, merged with the keys of its `s` and
 *   `r` sets, whose sort keys are computed here (they are few for a numeric path, else this is
 *   not used); only if the caller reads past every key that has a value there are the rest
 *   (null, missing, empty arrays: nothing lists them) found by walking the query's candidates.
 *   A namespace whose version record is not layout 3's (an older writer rebuilt it) is sorted
 *   as below, since its set may mix both member forms, whose ties list in other orders.
 * - Any other sort walks the query's candidates (ids only), sorts them here and hands them out
 *   in batches: O(matches) ids, but no value is read that is not returned.
 */
import type { KeyObject } from '../../keys';
import type { QuerySelector, Selector } from '../../query';
import { SortField, SortSpec, compareSortKeys, sortEntries, sortKeyOf } from '../../query-sort';
import type { RedisBackend } from './backend';
import { rethrow } from './errors';
import { Candidate, objectKeyOf } from './ids';
import { LAYOUT_VERSION, numberMember, orderedPath, scoreOf, stringMember } from './ordered';
import { candidates } from './walk';

/** Most keys of a path's `s` and `r` sets a descending index walk sorts here; past it the whole query is sorted instead. */
const OTHERS_MAX = 10_000;

/** Fewest members of the first page of a descending walk over a query that is not everything (pages then double up to batchSize). */
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
    const walk = new DescendingWalk(b, field.path, selector, wanted);
    const first = await walk.first(OTHERS_MAX);
    if (first !== undefined) {
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

/**
 * A test that passes every id of a key the selector may take, and spares parsing most others:
 * a match of an equality constraint is recorded under one of its values, and an id is the key's
 * canonical JSON (lib/keys.ts writes every scalar in it as JSON.stringify does), so it holds the
 * JSON text of one of them. Only strings, numbers and booleans are looked for (a null matches
 * keys without the field). The key is then parsed and tested, which decides.
 */
function needleTest(selector: QuerySelector | { kind: 'all' }): (id: string) => boolean {
  if (selector.kind === 'all') return () => true;
  const needles: string[][] = [];
  for (const c of selector.constraints) {
    if (!c.values.every((v) => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))) continue;
    needles.push([...new Set(c.values.map((v) => JSON.stringify(v)))]);
  }
  if (needles.length === 0) return () => true;
  return (id) => needles.every((texts) => texts.some((t) => id.includes(t)));
}

/** Whether a listed key is one the selector takes. */
function takes(selector: QuerySelector | { kind: 'all' }, key: KeyObject): boolean {
  return selector.kind === 'all' || selector.test(key);
}

/** The matching keys of the path's `s` and `r` sets (as the walk's first read listed them) with their sort keys. */
function listedOthers(selector: QuerySelector | { kind: 'all' }, field: SortField, page: FirstPage): Listed[] {
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

/** A page of the walk: the members read from the `n` set and their scores, in its order (descending, ties in creation order). */
interface Page {
  members: string[];
  scores: number[];
  /** Whether the set has nothing below the page. */
  done: boolean;
}

/** The walk's first page, with the path's `s` members and its `r` ids and scores (flat). */
interface FirstPage extends Page {
  strings: string[];
  rest: string[];
}

/**
 * A walk down an `n` set from the top, a plain `ZRANGE n <bound> -inf BYSCORE REV LIMIT
 * <offset> <page> WITHSCORES` per page: the cursor is the last value read and how many of its
 * members were read. Pages hold the entries wanted (skip + limit) when the query takes every
 * key, else four members per entry wanted (at least FIRST_PAGE: `{ kind: 'person' }` takes
 * about a third of them, so its page usually fills in one read), and double up to batchSize.
 */
class DescendingWalk {
  private bound = '+inf';
  private boundValue = Infinity;
  private offset = 0;
  private page: number;
  private readonly n: string;
  constructor(
    private readonly b: RedisBackend,
    private readonly path: string,
    selector: QuerySelector | { kind: 'all' },
    wanted: number,
  ) {
    this.n = b.layout.ordered('n', path);
    this.page = Math.min(selector.kind === 'all' ? Math.max(1, wanted) : Math.max(FIRST_PAGE, 4 * wanted), b.settings.batchSize);
  }

  /**
   * The first page, sent together with the namespace's version record and the sizes of the
   * path's `s` and `r` sets (one round trip; no MULTI, which a cluster client cannot send on a
   * key's node by itself: a key is in one of the three sets for its life, so nothing is lost
   * between them). When those sets hold keys, at most `othersMax`, they are read next; more,
   * or a version record that is not this layout's: undefined (nothing is used).
   */
  async first(othersMax: number): Promise<FirstPage | undefined> {
    const l = this.b.layout;
    const send = this.b.querySend;
    const s = l.ordered('s', this.path);
    const r = l.ordered('r', this.path);
    const [version, ns, nr, walked] = this.b.querySendTogether([
      ['get', [l.version]],
      ['zcard', [s]],
      ['zcard', [r]],
      ['zrange', this.pageArgs()],
    ]);
    const [v, sCount, rCount, page] = await Promise.all([version.catch(() => null), ns, nr, walked.then((reply) => this.read(reply))]).catch(rethrow);
    const others = Number(sCount) + Number(rCount);
    if (v !== LAYOUT_VERSION || others > othersMax) return undefined;
    if (others === 0) return { ...page, strings: [], rest: [] };
    const [strings, rest] = (await Promise.all([
      Number(sCount) > 0 ? send('zrange', [s, 0, -1]) : [],
      Number(rCount) > 0 ? send('zrange', [r, 0, -1, 'WITHSCORES']) : [],
    ]).catch(rethrow)) as [string[], unknown[]];
    // RESP3 replies WITHSCORES as [member, score] pairs.
    return { ...page, strings, rest: rest.flat() as string[] };
  }

  /** The next page. */
  async next(): Promise<Page> {
    return this.read(await this.b.querySend('zrange', this.pageArgs()).catch(rethrow));
  }

  /** The ZRANGE of the next page. */
  private pageArgs(): Array<string | number> {
    return [this.n, this.bound, '-inf', 'BYSCORE', 'REV', 'LIMIT', this.offset, this.page, 'WITHSCORES'];
  }

  /** A page from its ZRANGE's reply; moves the cursor past it. */
  private read(reply: unknown): Page {
    const size = this.page;
    const flat = (reply as unknown[]).flat() as Array<string | number>;
    const members: string[] = [];
    const scores: number[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      members.push(flat[i] as string);
      scores.push(scoreOf(flat[i + 1]));
    }
    this.page = Math.min(this.page * 2, this.b.settings.batchSize);
    const done = members.length < size;
    if (!done) {
      const last = scores[scores.length - 1];
      let same = 0;
      while (same < scores.length && scores[scores.length - 1 - same] === last) same++;
      // Still in the value the page started at: its members read add up.
      this.offset = same === scores.length && last === this.boundValue ? this.offset + same : same;
      this.boundValue = last;
      this.bound = String(flat[flat.length - 1]);
    }
    return { members, scores, done };
  }
}

/** Descending: the keys above numbers, the `n` set from the top merged with the others' numbers, then the keys below numbers. */
async function* descendingByIndex(
  b: RedisBackend,
  selector: QuerySelector | { kind: 'all' },
  field: SortField,
  walk: DescendingWalk,
  first: FirstPage,
): AsyncGenerator<Candidate[]> {
  const others = listedOthers(selector, field, first);
  const byKeyDown = (x: Listed, y: Listed) => compareSortKeys(y.sortKey, x.sortKey) || x.seq - y.seq;
  const above = others.filter((o) => typeof o.sortKey !== 'number' && compareSortKeys(o.sortKey, Infinity) > 0).sort(byKeyDown);
  const numbers = others.filter((o) => typeof o.sortKey === 'number').sort(byKeyDown);
  if (above.length > 0) yield above;
  const size = b.settings.batchSize;
  const mayTake = needleTest(selector);
  let next = 0;
  // The ids listed at the current value: an id may have an `n` member of each form (ordered.ts) while a writer of layout 2 still runs.
  let seenValue = NaN;
  let seen = new Set<string>();
  for (let page: Page = first; ; page = await walk.next()) {
    const out: Candidate[] = [];
    for (let i = 0; i < page.members.length; i++) {
      const item = numberMember(page.members[i]);
      const v = page.scores[i];
      // Listed keys sort among these by value, then creation order.
      while (next < numbers.length && ((numbers[next].sortKey as number) > v || (numbers[next].sortKey === v && numbers[next].seq < item.seq))) {
        out.push(numbers[next++]);
      }
      if (v !== seenValue) {
        seenValue = v;
        seen = new Set();
      }
      if (seen.has(item.id)) continue;
      seen.add(item.id);
      if (!mayTake(item.id)) continue;
      const key = objectKeyOf(item.id);
      if (key !== undefined && takes(selector, key)) out.push({ id: item.id, key, seq: item.seq });
    }
    if (out.length > 0) yield out;
    if (page.done) break;
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
