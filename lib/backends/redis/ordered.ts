/**
 * The ordered indexes of a namespace (docs/redis.md, "Ordered indexes"): for every key path an
 * object key reaches, the key is recorded in exactly one of three sorted sets of that path:
 *
 * - `n` when its sort key on the path is one number whichever the direction (a plain number,
 *   or an array of equal numbers): scored by the number, member `<16-digit 10^16 − 1 − sequence><id>`
 *   (the complemented sequence, layout 3), so `ZRANGE … BYSCORE REV` lists equal numbers in
 *   creation order: a descending sort is read straight from the set (sorted.ts);
 * - `s` when it is one string (well-formed UTF-16, so that Redis's byte order is the code
 *   point order lib/query-match.ts compares strings in): score 0, member
 *   `<string, each \0 written \0\1>\0\0<16-digit sequence><id>`, walked BYLEX;
 * - `r` otherwise (several values, null, booleans, objects, nested arrays, an empty array):
 *   scored by creation sequence. These are always candidates of a range and are sorted here.
 *
 * The sequence in a member makes equal values list in creation order (SPEC §14 ties: an `n`
 * set's read backwards, an `s` set's forwards) and lets a range read give creation order
 * without another round trip. The write script builds the
 * members from the descriptors computed here (`n<score>`, `s<encoded string>\0\0`, `r`) and the
 * entry's sequence, so a delete or sweep recomputes them from the id alone (scripts.ts).
 */
import type { KeyObject } from '../../keys';
import { isPlainObject } from '../../keys';
import { SortField, sortKeyOf } from '../../query-sort';
import type { RedisLayout } from './layout';

/**
 * The layout version whose namespaces have ordered indexes with complemented `n` members; an
 * older one is rebuilt on connect (migrate.ts): '2' had `<16-digit sequence><id>` `n` members,
 * a namespace without the record none at all.
 */
export const LAYOUT_VERSION = '3';

/** Characters of the zero-padded creation sequence in `n` and `s` members. */
export const SEQ_DIGITS = 16;

/** The ordered index records of one key: the sorted-set names and, in the same order, their descriptors. */
export interface OrderedRecords {
  keys: string[];
  descriptors: string[];
}

/** A surrogate not paired (in unicode mode a pair is one code point): UTF-8 cannot keep its order. */
const LONE_SURROGATE = /\p{Surrogate}/u;

const NONE: OrderedRecords = { keys: [], descriptors: [] };

/** Whether a path segment addresses an array position (such paths are not indexed: they read differently). */
const isPosition = (segment: string) => /^\d+$/.test(segment);

/** Whether a path can be served by an ordered index. */
export function orderedPath(path: string): boolean {
  return !path.split('.').some(isPosition);
}

/** A number as a ZADD score or ZRANGE bound (Redis spells the infinities `+inf`/`-inf`). */
export function scoreText(n: number): string {
  return n === Infinity ? '+inf' : n === -Infinity ? '-inf' : String(n);
}

/** A score as Redis replies it, as a number. */
export function scoreOf(text: string | number): number {
  if (typeof text === 'number') return text;
  if (text === 'inf' || text === '+inf') return Infinity;
  if (text === '-inf') return -Infinity;
  return Number(text);
}

/** A string's order-keeping form in an `s` member: each \0 becomes \0\1, so \0\0 can end it. */
export function encodeString(s: string): string {
  return s.includes('\0') ? s.replace(/\0/g, '\0\x01') : s;
}

/** The index records of an object key (the write, delete and sweep scripts use the same list). */
export function orderedRecords(layout: RedisLayout, key: KeyObject): OrderedRecords {
  const paths: string[] = [];
  collectPaths(key, '', paths);
  if (paths.length === 0) return NONE;
  const keys: string[] = [];
  const descriptors: string[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    if (seen.has(path)) continue;
    seen.add(path);
    const one = singleValue(key, path);
    if (typeof one === 'number') {
      keys.push(layout.ordered('n', path));
      descriptors.push('n' + scoreText(one));
    } else if (typeof one === 'string') {
      keys.push(layout.ordered('s', path));
      descriptors.push('s' + encodeString(one) + '\0\0');
    } else {
      keys.push(layout.ordered('r', path));
      descriptors.push('r');
    }
  }
  return { keys, descriptors };
}

/** Every path the key reaches (own fields, through arrays of objects), without position-like segments. */
function collectPaths(value: Record<string, unknown>, prefix: string, out: string[]): void {
  for (const field of Object.keys(value)) {
    if (isPosition(field)) continue;
    const path = prefix === '' ? field : prefix + '.' + field;
    out.push(path);
    const inner = value[field];
    if (Array.isArray(inner)) {
      for (const element of inner) if (isPlainObject(element)) collectPaths(element as Record<string, unknown>, path, out);
    } else if (isPlainObject(inner)) collectPaths(inner as Record<string, unknown>, path, out);
  }
}

/**
 * The number or well-formed string that is the key's sort key on `path` in both directions,
 * or undefined. A path through plain objects only reaches one value (the common case, read
 * directly); anything through arrays asks lib/query-sort.ts for both sort keys.
 */
function singleValue(key: KeyObject, path: string): number | string | undefined {
  const parts = path.split('.');
  let value: unknown = key;
  let direct = true;
  for (const part of parts) {
    if (!isPlainObject(value)) {
      direct = false;
      break;
    }
    value = (value as Record<string, unknown>)[part];
  }
  if (!direct || Array.isArray(value)) {
    const up = sortKeyOf(key, { path, parts, direction: 1 } as SortField);
    const down = sortKeyOf(key, { path, parts, direction: -1 } as SortField);
    if (up !== down) return undefined;
    value = up;
  }
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && !LONE_SURROGATE.test(value)) return value;
  return undefined;
}

/**
 * Whether an `n` member is layout 2's (`<sequence><id>`): its sequence, the counter's or
 * Date.now() × 1000 (sequence.ts), is below 5·10^15, so its first digit is below 5, while a
 * complemented one's (10^16 − 1 − sequence) is 5 or more.
 */
export function legacyNumberMember(member: string): boolean {
  return member.charCodeAt(0) < 0x35;
}

/** The id and sequence in an `n` member, of this layout or of layout 2 (still there while a namespace is rebuilt). */
export function numberMember(member: string): { id: string; seq: number } {
  return { seq: numberMemberSeq(member), id: member.slice(SEQ_DIGITS) };
}

/**
 * The sequence in an `n` member (numberMember's, read from the digits' char codes: a range
 * decodes thousands of members a call, and two short strings each were a third of its garbage).
 */
export function numberMemberSeq(member: string): number {
  if (legacyNumberMember(member)) return digitsAt(member, 0, SEQ_DIGITS);
  // 10^16 − 1 is past 2^53: complemented by halves, each exact.
  return (99_999_999 - digitsAt(member, 0, 8)) * 1e8 + (99_999_999 - digitsAt(member, 8, SEQ_DIGITS));
}

/** The decimal number written by the digits of `text` from `start` to `end` (below 2^53: exact). */
function digitsAt(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) n = n * 10 + (text.charCodeAt(i) - 0x30);
  return n;
}

/** The `n` member of an id and sequence (the Lua MEMBER's, scripts.ts), for tools and tests. */
export function numberMemberOf(seq: number, id: string): string {
  const pad = String(seq).padStart(SEQ_DIGITS, '0');
  let out = '';
  for (let i = 0; i < SEQ_DIGITS; i++) out += String(9 - (pad.charCodeAt(i) - 0x30));
  return out + id;
}

/** The id and sequence in an `s` member (the encoded string ends at the first \0\0). */
export function stringMember(member: string): { id: string; seq: number } {
  const end = member.indexOf('\0\0') + 2;
  return { seq: Number(member.slice(end, end + SEQ_DIGITS)), id: member.slice(end + SEQ_DIGITS) };
}
