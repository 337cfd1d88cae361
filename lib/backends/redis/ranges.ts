/**
 * Range queries (`$gt $gte $lt $lte`) through the ordered indexes (ordered.ts): a top-level
 * range on an indexable path with number bounds reads its `n` set BYSCORE, one with string
 * bounds its `s` set BYLEX; the path's `r` set (keys reaching it with several values, or with
 * anything but one number or string) is always added, since such a key may match in ways one
 * score cannot say. One script (RANGE_SCRIPT) counts every range and equality of the query and
 * reads the narrowest range's members, in one round trip. The candidates come back in
 * creation order (the sequence is in each member, in either form of `n` member: ordered.ts); the shared matcher decides on the `r` ones
 * and wherever the range is not the path's whole condition, while a member of an `n` set
 * inside the bounds of a whole number range only needs the query's other conditions tested
 * (its one number decides the range exactly). Bounds of other types (null, booleans,
 * dates...) leave the query to the other paths.
 */
import { KeyObject, isObjectKeyId, isPlainObject } from '../../keys';
import type { IndexConstraint, QuerySelector } from '../../query';
import { compileMatcher } from '../../query-match';
import type { RedisBackend } from './backend';
import { rethrow } from './errors';
import { Candidate, UnparsedCandidate, objectKeyOf } from './ids';
import { SEQ_DIGITS, encodeString, legacyNumberMember, numberMemberSeq, orderedPath, scoreOf, scoreText, stringMember } from './ordered';
import { RANGE_SCRIPT } from './read-scripts';

/** A range an ordered index answers: its sets and the ZRANGE bounds (BYSCORE for 'n', BYLEX for 's'). */
export interface RangeConstraint {
  path: string;
  kind: 'n' | 's';
  min: string;
  max: string;
  /** The path's whole top-level condition is this range: every operator is a bound of its kind. */
  whole: boolean;
}

/** One side of a range: the bound and whether it is excluded. */
interface Bound<T> {
  value: T;
  open: boolean;
}

const RANGE_OPERATORS = new Set(['$gt', '$gte', '$lt', '$lte']);

/** The top-level ranges (in `$and` too) with number or string bounds, the numbers' when a path has both. */
export function rangeConstraints(filter: Record<string, unknown>, out: RangeConstraint[] = [], nested = false): RangeConstraint[] {
  for (const path of Object.keys(filter)) {
    const cond = filter[path];
    if (path === '$and') {
      for (const sub of cond as Array<Record<string, unknown>>) rangeConstraints(sub, out, true);
      continue;
    }
    if (path.startsWith('$') || !isPlainObject(cond) || !orderedPath(path)) continue;
    const range = numberRange(cond) ?? stringRange(cond);
    if (!range) continue;
    const accepts = range.kind === 'n' ? isNumber : isString;
    const whole = !nested && Object.keys(cond).every((op) => RANGE_OPERATORS.has(op) && accepts(cond[op]));
    out.push({ path, ...range, whole });
  }
  return out;
}

/** The tightest lower and upper bounds of one type among a condition's range operators. */
function bounds<T>(cond: Record<string, unknown>, accept: (v: unknown) => v is T, less: (a: T, b: T) => boolean) {
  let lo: Bound<T> | undefined;
  let hi: Bound<T> | undefined;
  const lower = (value: T, open: boolean) => {
    if (!lo || less(lo.value, value) || (lo.value === value && open)) lo = { value, open };
  };
  const upper = (value: T, open: boolean) => {
    if (!hi || less(value, hi.value) || (hi.value === value && open)) hi = { value, open };
  };
  if (accept(cond.$gt)) lower(cond.$gt, true);
  if (accept(cond.$gte)) lower(cond.$gte, false);
  if (accept(cond.$lt)) upper(cond.$lt, true);
  if (accept(cond.$lte)) upper(cond.$lte, false);
  return { lo, hi };
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);
// A lone surrogate has no UTF-8 form, so Redis's byte order could not place it.
const isString = (v: unknown): v is string => typeof v === 'string' && !/\p{Surrogate}/u.test(v);

function numberRange(cond: Record<string, unknown>): Omit<RangeConstraint, 'path' | 'whole'> | undefined {
  const { lo, hi } = bounds(cond, isNumber, (a, b) => a < b);
  if (!lo && !hi) return undefined;
  return {
    kind: 'n',
    min: lo ? (lo.open ? '(' : '') + scoreText(lo.value) : '-inf',
    max: hi ? (hi.open ? '(' : '') + scoreText(hi.value) : '+inf',
  };
}

/**
 * BYLEX bounds over `s` members (`<encoded string>\0\0<sequence><id>`): a string's own members
 * lie between `<encoded>` and `<encoded>\0\1`, and every longer or greater string after that.
 */
function stringRange(cond: Record<string, unknown>): Omit<RangeConstraint, 'path' | 'whole'> | undefined {
  const { lo, hi } = bounds(cond, isString, (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0);
  if (!lo && !hi) return undefined;
  return {
    kind: 's',
    min: lo ? '[' + encodeString(lo.value) + (lo.open ? '\0\x01' : '') : '-',
    max: hi ? '(' + encodeString(hi.value) + (hi.open ? '' : '\0\x01') : '+',
  };
}

/** Most candidates a range read holds at once; a wider range walks the order set or an equality index in batches instead. */
const RANGE_MAX_IDS = 200_000;

/**
 * Most members RANGE_SCRIPT returns with its plan; a wider range is read after it by plain
 * ZRANGEs (one round trip more, but Lua's copy of 5,000 members cost the server ~2 ms more).
 */
const RANGE_INLINE_MAX = 1_000;

/**
 * The candidates of the query's narrowest range in creation order, filtered on the key, when
 * that range gives fewer than every equality of the query (and at most RANGE_MAX_IDS: a range
 * read holds its ids at once); undefined when the query has no range or an equality is
 * narrower. One round trip (RANGE_SCRIPT), two for a range of more than RANGE_INLINE_MAX.
 */
export async function rangeCandidates(b: RedisBackend, selector: QuerySelector): Promise<Candidate[] | undefined> {
  const ranges = rangeConstraints(selector.filter);
  if (ranges.length === 0) return undefined;
  const l = b.layout;
  const keys: string[] = [];
  const args: Array<string | number> = [ranges.length, RANGE_MAX_IDS, RANGE_INLINE_MAX];
  for (const r of ranges) {
    keys.push(l.ordered(r.kind, r.path), l.ordered('r', r.path));
    args.push(r.kind, r.min, r.max);
  }
  for (const c of selector.constraints as IndexConstraint[]) {
    const indexKeys = [...new Set(c.values.map((v) => l.indexFor(c.path, v)))];
    keys.push(...indexKeys);
    args.push(indexKeys.length);
  }
  const reply = (await RANGE_SCRIPT.run(b.querySend, keys, args).catch(rethrow)) as 0 | [number, string[], string[]] | [number, number];
  if (!Array.isArray(reply)) return undefined;
  const r = ranges[Number(reply[0]) - 1];
  const read = reply.length === 2 ? await readRange(b, r, Number(reply[1])) : { members: reply[1], rest: reply[2] };
  if (read === undefined) return undefined;
  const { members, rest } = read;
  // A whole number range is decided by the `n` member's score: only the rest of the query is left to test there.
  const exact = r.kind === 'n' && r.whole ? otherConditions(selector.filter, r.path) : undefined;
  const found: Candidate[] = [];
  // Both forms of `n` member (layout 2's and 3's) while a namespace is rebuilt or a writer of layout 2 still runs.
  let legacy = 0;
  for (const m of members) {
    if (r.kind === 'n' && legacyNumberMember(m)) legacy++;
    let id: string;
    let seq: number;
    // An `n` member is read without an object for its parts (numberMemberSeq).
    if (r.kind === 'n') {
      id = m.slice(SEQ_DIGITS);
      seq = numberMemberSeq(m);
    } else {
      ({ id, seq } = stringMember(m));
    }
    // Nothing left to test: the key is parsed only if the caller asks for it.
    if (exact === ALWAYS && isObjectKeyId(id)) {
      found.push(new UnparsedCandidate(id, seq));
      continue;
    }
    const key = objectKeyOf(id);
    if (key === undefined || (exact === undefined ? selector.test(key) : exact(key))) found.push({ id, key, seq });
  }
  for (let i = 0; i < rest.length; i += 2) {
    const id = rest[i];
    const key = objectKeyOf(id);
    if (key === undefined || selector.test(key)) found.push({ id, key, seq: scoreOf(rest[i + 1]) });
  }
  found.sort((x, y) => x.seq - y.seq);
  return legacy > 0 && legacy < members.length ? withoutRepeats(found) : found;
}

/** The candidates without an id listed before (an id may have an `n` member of each form). */
function withoutRepeats(found: Candidate[]): Candidate[] {
  const seen = new Set<string>();
  return found.filter((c) => !seen.has(c.id) && seen.add(c.id) !== undefined);
}

/**
 * A wide range's members and its path's `r` ids and scores (flat), by plain ZRANGEs sent
 * together; undefined when the range has grown past RANGE_MAX_IDS since it was counted.
 */
async function readRange(b: RedisBackend, r: RangeConstraint, restSize: number): Promise<{ members: string[]; rest: string[] } | undefined> {
  const l = b.layout;
  const [members, rest] = (await Promise.all([
    b.querySend('zrange', [l.ordered(r.kind, r.path), r.min, r.max, r.kind === 'n' ? 'BYSCORE' : 'BYLEX', 'LIMIT', 0, RANGE_MAX_IDS + 1]),
    restSize > 0 ? b.querySend('zrange', [l.ordered('r', r.path), 0, -1, 'WITHSCORES']) : [],
  ]).catch(rethrow)) as [string[], unknown[]];
  if (members.length > RANGE_MAX_IDS) return undefined;
  // RESP3 replies WITHSCORES as [member, score] pairs.
  return { members, rest: rest.flat() as string[] };
}

/** A test of the filter's conditions other than the one on `path` (always true when there are none). */
function otherConditions(filter: Record<string, unknown>, path: string): (key: KeyObject) => boolean {
  const rest: Record<string, unknown> = {};
  let any = false;
  for (const field of Object.keys(filter)) {
    if (field === path) continue;
    rest[field] = filter[field];
    any = true;
  }
  return any ? compileMatcher(rest) : ALWAYS;
}

/** The test of a query with no other condition. */
const ALWAYS = (): boolean => true;
