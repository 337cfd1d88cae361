/**
 * Range queries (`$gt $gte $lt $lte`) through the ordered indexes (ordered.ts): a top-level
 * range on an indexable path with number bounds reads its `n` set BYSCORE, one with string
 * bounds its `s` set BYLEX; the path's `r` set (keys reaching it with several values, or with
 * anything but one number or string) is always added, since such a key may match in ways one
 * score cannot say. The candidates come back in creation order (the sequence is in each
 * member) and the shared matcher decides: a superset is enough. Bounds of other types (null,
 * booleans, dates...) leave the query to the other paths.
 */
import { isPlainObject } from '../../keys';
import type { QuerySelector } from '../../query';
import type { RedisBackend } from './backend';
import { rethrow } from './errors';
import { Candidate, objectKeyOf } from './ids';
import { encodeString, numberMember, orderedPath, scoreText, stringMember } from './ordered';
import { scored } from './walk';

/** A range an ordered index answers: its sets and the ZRANGE bounds (BYSCORE for 'n', BYLEX for 's'). */
export interface RangeConstraint {
  path: string;
  kind: 'n' | 's';
  min: string;
  max: string;
}

/** One side of a range: the bound and whether it is excluded. */
interface Bound<T> {
  value: T;
  open: boolean;
}

/** The top-level ranges (in `$and` too) with number or string bounds, the numbers' when a path has both. */
export function rangeConstraints(filter: Record<string, unknown>, out: RangeConstraint[] = []): RangeConstraint[] {
  for (const path of Object.keys(filter)) {
    const cond = filter[path];
    if (path === '$and') {
      for (const sub of cond as Array<Record<string, unknown>>) rangeConstraints(sub, out);
      continue;
    }
    if (path.startsWith('$') || !isPlainObject(cond) || !orderedPath(path)) continue;
    const range = numberRange(cond) ?? stringRange(cond);
    if (range) out.push({ path, ...range });
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

function numberRange(cond: Record<string, unknown>): Omit<RangeConstraint, 'path'> | undefined {
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
function stringRange(cond: Record<string, unknown>): Omit<RangeConstraint, 'path'> | undefined {
  const { lo, hi } = bounds(cond, isString, (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0);
  if (!lo && !hi) return undefined;
  return {
    kind: 's',
    min: lo ? '[' + encodeString(lo.value) + (lo.open ? '\0\x01' : '') : '-',
    max: hi ? '(' + encodeString(hi.value) + (hi.open ? '' : '\0\x01') : '+',
  };
}

/** About how many candidates a range gives (its members in the set, plus the path's `r` set). */
export async function rangeSize(b: RedisBackend, r: RangeConstraint): Promise<number> {
  const set = b.layout.ordered(r.kind, r.path);
  const [inRange, rest] = await Promise.all([
    b.piped((c) => (r.kind === 'n' ? c.zcount(set, r.min, r.max) : c.zlexcount(set, r.min, r.max))),
    b.piped((c) => c.zcard(b.layout.ordered('r', r.path))),
  ]).catch(rethrow);
  return inRange + rest;
}

/** The range's candidates in creation order, filtered on the key, in batches. */
export async function* rangeCandidates(b: RedisBackend, selector: QuerySelector, r: RangeConstraint): AsyncGenerator<Candidate[]> {
  const l = b.layout;
  const set = l.ordered(r.kind, r.path);
  const [members, rest] = await Promise.all([
    b.piped((c) => (r.kind === 'n' ? c.zrange(set, r.min, r.max, 'BYSCORE') : c.zrange(set, r.min, r.max, 'BYLEX'))),
    b.piped((c) => c.zrange(l.ordered('r', r.path), '0', '-1', 'WITHSCORES')),
  ]).catch(rethrow);
  const found: Array<{ id: string; seq: number }> = [];
  const decode = r.kind === 'n' ? numberMember : stringMember;
  for (const m of members as string[]) found.push(decode(m));
  for (const [id, seq] of scored(rest)) found.push({ id, seq });
  found.sort((x, y) => x.seq - y.seq);
  const size = b.settings.batchSize;
  let out: Candidate[] = [];
  for (const { id, seq } of found) {
    const key = objectKeyOf(id);
    if (key !== undefined && !selector.test(key)) continue;
    out.push({ id, key, seq });
    if (out.length >= size) {
      yield out;
      out = [];
    }
  }
  if (out.length > 0) yield out;
}
