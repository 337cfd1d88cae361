/**
 * `sort` in the backend (SPEC §14, supports.nativeSort): the candidates of a query in the
 * order lib/query-sort.ts defines, without reading a value (a sort key is a function of the
 * key, and the key is the id). find.ts then reads only the entries it returns.
 *
 * - A descending sort on one indexable path reads the path's `n` set from the top by one script
 *   of `ZRANGE … BYSCORE REV` pages (DescendingWalk; layout 3, ordered.ts: equal numbers then come
 *   in creation order), filtered here on the key parsed from each id, merged with the keys of its `s` and
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
import { LAYOUT_VERSION, legacyNumberMember, numberMember, orderedPath, scoreOf, stringMember } from './ordered';
import { TOP_SCRIPT } from './read-scripts';
import { candidates } from './walk';

/** Most keys of a path's `s` and `r` sets a descending index walk sorts here; past it the whole query is sorted instead. */
const OTHERS_MAX = 10_000;

/** Fewest members of the first page of a descending walk over a query that is not everything (pages then double up to batchSize). */
const FIRST_PAGE = 32;

/**
 * Most entries (skip + limit) a descending walk's first call reads with the members it lists,
 * sparing the MGET after it, when the namespace is not sharded (a shard does not know how
 * many of its candidates the merge will take). Past it, or after the first call, the entries
 * are read by MGET as the reader asks for them (find.ts readInOrder).
 */
const READ_WITH_WALK_MAX = 64;

/** A key listed by the index, with its creation sequence and its sort key. */
interface Listed {
  id: string;
  key: KeyObject;
  seq: number;
  sortKey: unknown;
}

/**
 * The query's candidates in sort order (ties in creation order), in batches, filtered on the
 * key; `wanted` (skip + limit) sizes the first page of an index walk; `values` false (a read of
 * keys only) keeps the walk's script from reading entries nobody will use.
 */
export async function* sortedCandidates(b: RedisBackend, selector: Selector, spec: SortSpec, wanted = Infinity, values = true): AsyncGenerator<Candidate[]> {
  const field = spec[0];
  if (spec.length === 1 && field.direction === -1 && orderedPath(field.path) && (selector.kind === 'all' || selector.kind === 'query')) {
    const prefetch = values && !b.sequenced && wanted <= READ_WITH_WALK_MAX ? wanted : 0;
    const walk = new DescendingWalk(b, field.path, selector, wanted, prefetch);
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
 * keys without the field). The key is then parsed and tested, which decides. Per equality
 * constraint of such values, the JSON text of each (TOP_SCRIPT searches the ids for them).
 */
function needleGroups(selector: QuerySelector | { kind: 'all' }): string[][] {
  if (selector.kind === 'all') return [];
  const needles: string[][] = [];
  for (const c of selector.constraints) {
    if (!c.values.every((v) => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))) continue;
    needles.push([...new Set(c.values.map((v) => JSON.stringify(v)))]);
  }
  return needles;
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
  /** The members that passed the script's needle test (needleGroups). */
  members: string[];
  /** The entry strings of the first members, read with the page (TOP_SCRIPT; 0 for none). */
  entries: Array<string | number>;
  /** Whether the set has nothing below the page. */
  done: boolean;
}

/** The walk's first page, with the path's `s` members and its `r` ids and scores (flat). */
interface FirstPage extends Page {
  strings: string[];
  rest: string[];
}

/** Most index sets of one equality constraint whose sizes size the walk's first page; a constraint with more is left out of the estimate. */
const GROUP_SETS_MAX = 16;

/** Most members one call of the walk's script reads, in batches (bounds how long it holds the server). */
const MOST_PER_CALL_BATCHES = 2;

/**
 * A walk down an `n` set from the top by TOP_SCRIPT (read-scripts.ts): plain `ZRANGE n <bound>
 * -inf BYSCORE REV LIMIT <offset> <page>` reads on the server, the cursor being the last value
 * read and how many of its members were read. When the query has equality constraints the
 * server passes on only the members whose id holds the JSON text of a wanted value
 * (needleGroups), from a first page sized by the constraints' index sets, reading on until it
 * has the entries wanted (skip + limit); the client parses and tests each key it gets. Without
 * them, pages hold the entries wanted when the query takes every key, else four members per
 * entry wanted (at least FIRST_PAGE). Pages double up to batchSize.
 */
class DescendingWalk {
  private bound = '+inf';
  private offset = 0;
  private page: number;
  private readonly want: number;
  private readonly keys: string[];
  private readonly args: Array<string | number>;
  constructor(
    private readonly b: RedisBackend,
    path: string,
    selector: QuerySelector | { kind: 'all' },
    wanted: number,
    /** How many of the first members' entries the first call reads with them. */
    private readonly entries: number,
  ) {
    const l = b.layout;
    const size = b.settings.batchSize;
    this.keys = [l.ordered('n', path), l.version, l.ordered('s', path), l.ordered('r', path)];
    const counts: number[] = [];
    if (selector.kind === 'query') {
      for (const c of selector.constraints) {
        const sets = [...new Set(c.values.map((v) => l.indexFor(c.path, v)))];
        if (sets.length > GROUP_SETS_MAX) continue;
        this.keys.push(...sets);
        counts.push(sets.length);
      }
    }
    const needles = needleGroups(selector);
    this.args = [counts.length, ...counts, needles.length];
    for (const texts of needles) this.args.push(texts.length, ...texts);
    if (counts.length > 0) {
      this.page = 0; // sized by the script
      this.want = Math.min(wanted, size);
    } else {
      this.page = Math.min(selector.kind === 'all' ? Math.max(1, wanted) : Math.max(FIRST_PAGE, 4 * wanted), size);
      this.want = needles.length > 0 ? Math.min(wanted, size) : this.page;
    }
  }

  /**
   * The first page, with the namespace's version record and the sizes of the path's `s` and
   * `r` sets (one script; a key is in one of the three sets for its life, so nothing is lost
   * between them). When those sets hold keys, at most `othersMax`, they are read next; more,
   * or a version record that is not this layout's: undefined (nothing is used).
   */
  async first(othersMax: number): Promise<FirstPage | undefined> {
    const reply = await this.call(true, this.entries);
    const page = this.read(reply);
    const sCount = Number(reply[1]);
    const rCount = Number(reply[2]);
    const others = sCount + rCount;
    if (reply[0] !== LAYOUT_VERSION || others > othersMax) return undefined;
    if (others === 0) return { ...page, strings: [], rest: [] };
    const send = this.b.querySend;
    const [strings, rest] = (await Promise.all([
      sCount > 0 ? send('zrange', [this.keys[2], 0, -1]) : [],
      rCount > 0 ? send('zrange', [this.keys[3], 0, -1, 'WITHSCORES']) : [],
    ]).catch(rethrow)) as [string[], unknown[]];
    // RESP3 replies WITHSCORES as [member, score] pairs.
    return { ...page, strings, rest: rest.flat() as string[] };
  }

  /** The next page. */
  async next(): Promise<Page> {
    return this.read(await this.call(false, 0));
  }

  /** One call of the walk's script from the cursor. */
  private async call(head: boolean, entries: number): Promise<unknown[]> {
    const size = this.b.settings.batchSize;
    const args = [this.bound, this.offset, this.page, this.want, MOST_PER_CALL_BATCHES * size, size, entries, this.b.layout.entryPrefix, head ? '1' : '0', ...this.args];
    return (await TOP_SCRIPT.run(this.b.querySend, this.keys, args).catch(rethrow)) as unknown[];
  }

  /** A page from the script's reply; moves the cursor past it. */
  private read(reply: unknown[]): Page {
    this.bound = String(reply[4]);
    this.offset = Number(reply[5]);
    this.page = Number(reply[6]);
    const got = Number(reply[7]);
    return { members: reply.slice(8, 8 + got) as string[], entries: reply.slice(8 + got) as Array<string | number>, done: Number(reply[3]) === 1 };
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
  let next = 0;
  // The ids listed at the current value in this layout's form: an id may also have a member of
  // layout 2's while a writer of it still runs (ordered.ts), listed after every member of this
  // layout's at the same value (REV lists a value's members in descending byte order, and a
  // complemented sequence starts with 5 or more, layout 2's with less), so only those are looked up.
  let seenValue = NaN;
  const seen: string[] = [];
  for (let page: Page = first; ; page = await walk.next()) {
    const out: Candidate[] = [];
    for (let i = 0; i < page.members.length; i++) {
      const member = page.members[i];
      const item = numberMember(member);
      const key = objectKeyOf(item.id);
      if (key === undefined) continue;
      // The member's score is its key's number at the path (ordered.ts): read from the key, not sent by the server.
      const v = sortKeyOf(key, field);
      if (typeof v !== 'number') continue;
      // Listed keys sort among these by value, then creation order.
      while (next < numbers.length && ((numbers[next].sortKey as number) > v || (numbers[next].sortKey === v && numbers[next].seq < item.seq))) {
        out.push(numbers[next++]);
      }
      if (v !== seenValue) {
        seenValue = v;
        seen.length = 0;
      }
      if (legacyNumberMember(member)) {
        if (seen.includes(item.id)) continue;
      } else seen.push(item.id);
      if (!takes(selector, key)) continue;
      out.push(i < page.entries.length ? { id: item.id, key, seq: item.seq, entry: page.entries[i] } : { id: item.id, key, seq: item.seq });
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
