/**
 * Selectors (lib/query.ts) as native MongoDB filters over the entry layout (layout.ts).
 *
 * lib/query.ts has already flattened nested objects into dotted paths and checked every
 * operator against the allowlist, so translation is a prefix: each path `p` becomes `k.p`,
 * recursing into `$and`/`$or`/`$nor`. Operators below a path (`$elemMatch` sub-queries,
 * `$not`, `$regex`) stay as they are: their paths are relative to the element. An object
 * query also requires `k` to be an object, so `$ne`/`$nor`/`$exists: false` never match
 * string keys; a glob is an anchored regex on string keys. Every filter carries the
 * namespace and the read-time expiry check.
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { BSONRegExp, Document } from 'mongodb';
import { InvalidQueryError } from '../../errors';
import type { Selector } from '../../query';
import { liveClause } from './layout';

/** The key filter of a normalized query: every path prefixed with `k.`. */
export function keyFilter(filter: Record<string, unknown>): Document {
  const out: Document = {};
  for (const path of Object.keys(filter)) {
    const cond = filter[path];
    if (path === '$and' || path === '$or' || path === '$nor') {
      out[path] = (cond as Array<Record<string, unknown>>).map(keyFilter);
    } else if (path.startsWith('$')) {
      // lib/query.ts admits only the three logical operators at the top; anything else is a bug upstream.
      throw new InvalidQueryError(`operator ${path} is not allowed at the top of a query`);
    } else {
      out['k.' + path] = canonicalCondition(cond);
    }
  }
  return out;
}

/**
 * A condition with its object operands in canonical field order. Key identity ignores field
 * order, so keys are stored with sorted fields (layout.ts), but MongoDB compares
 * embedded documents field by field in order: `{ a: { $eq: { y: 1, x: 2 } } }` must be sent
 * as `{ x: 2, y: 1 }` to find the key `{ a: { y: 1, x: 2 } }`, as the other backends do.
 */
function canonicalCondition(cond: unknown): unknown {
  if (!isPlainRecord(cond)) return canonicalValue(cond);
  const fields = Object.keys(cond);
  if (fields.length === 0 || !fields[0].startsWith('$')) return canonicalValue(cond);
  const out: Record<string, unknown> = {};
  for (const op of fields) {
    const arg = cond[op];
    if (op === '$not') out[op] = canonicalCondition(arg);
    else if (op === '$elemMatch') {
      // Operators on the elements, or a sub-query on the elements' fields (paths relative to them).
      const sub = arg as Record<string, unknown>;
      const opsForm = Object.keys(sub).every((f) => f.startsWith('$') && f !== '$and' && f !== '$or' && f !== '$nor');
      out[op] = opsForm ? canonicalCondition(sub) : canonicalSubQuery(sub);
    } else out[op] = canonicalValue(arg);
  }
  return out;
}

function canonicalSubQuery(query: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of Object.keys(query)) {
    const cond = query[field];
    if (field === '$and' || field === '$or' || field === '$nor') out[field] = (cond as Array<Record<string, unknown>>).map(canonicalSubQuery);
    else out[field] = canonicalCondition(cond);
  }
  return out;
}

/** A value with every plain object's fields inserted in sorted order, as lib/keys.ts stores keys. */
function canonicalValue(value: unknown): unknown {
  if (value instanceof RegExp) return bsonRegex(value);
  if (Array.isArray(value)) return value.map(canonicalValue);
  if (!isPlainRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const field of Object.keys(value).sort()) out[field] = canonicalValue(value[field]);
  return out;
}

/**
 * A JavaScript RegExp as the BSON regex MongoDB should run. The driver's own conversion writes
 * the `g` flag as PCRE's `s` and drops `dotAll`, so `/a.b/s` would not match across a newline
 * and `/a.b/g` would: the flags are mapped here instead (i, m, s; g and y mean nothing to a
 * stateless match).
 */
function bsonRegex(re: RegExp): BSONRegExp {
  const flags = (re.ignoreCase ? 'i' : '') + (re.multiline ? 'm' : '') + (re.dotAll ? 's' : '');
  return new BSONRegExp(re.source.split('\u0000').join('\\x00'), flags);
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A Redis-style glob compiled by lib/query.ts, as a BSON regex anchored at both ends. */
export function globRegex(regex: RegExp): BSONRegExp {
  // The compiled source ends with `$`; PCRE's `$` also matches before a final newline, `\z` does not.
  const source = regex.source.endsWith('$') ? regex.source.slice(0, -1) + '\\z' : regex.source;
  return new BSONRegExp(source.split('\u0000').join('\\x00'), regex.flags.replace(/[gy]/g, ''));
}

/**
 * The complete filter for a selector in `namespace`, live at `now` — or, with `now` undefined,
 * without the expiry condition (a read that checks expiry itself: scans.ts, limitedRead).
 * An object query's `k: { $type: 'object' }` is left out where one of its conditions already
 * needs the field to exist (presentOnly): a string key has no fields, so it cannot match.
 */
export function selectorFilter(selector: Selector, namespace: string, now: number | undefined): Document {
  const live = now === undefined ? undefined : liveClause(now);
  switch (selector.kind) {
    case 'all':
      return { n: namespace, ...live };
    case 'exact':
      throw new Error('exact selectors are served by _id, not by a filter');
    case 'none':
      return { _id: { $in: [] } };
    case 'glob':
      return { n: namespace, k: globRegex(selector.regex), ...live };
    case 'query':
      if (needsPresentField(selector.filter)) return { n: namespace, ...live, $and: [keyFilter(selector.filter)] };
      return { n: namespace, k: { $type: 'object' }, ...live, $and: [keyFilter(selector.filter)] };
  }
}

/**
 * Whether a top-level condition of the normalized query `filter` (its conditions are ANDed)
 * matches only keys where its path exists: then no string key (whose every `k.<path>` is
 * missing) can match, and the `$type` condition would only cost the server a test per document
 * (~45 µs a call of 20 documents on the test engine). Conservative: a string, number or boolean
 * equality (`$eq` or plain), a range bound that is a number or a string, an `$in` of such
 * scalars, `$exists: true`. Anything else (`$ne`, `$nin`, `$not`, null, `$or`...) keeps `$type`.
 */
export function needsPresentField(filter: Record<string, unknown>): boolean {
  for (const path of Object.keys(filter)) {
    if (!path.startsWith('$') && presentOnly(filter[path])) return true;
  }
  return false;
}

function presentOnly(cond: unknown): boolean {
  if (isScalar(cond)) return true;
  if (!isPlainRecord(cond)) return false;
  for (const op of Object.keys(cond)) {
    const arg = cond[op];
    if (op === '$eq' && isScalar(arg)) return true;
    if ((op === '$gt' || op === '$gte' || op === '$lt' || op === '$lte') && (typeof arg === 'number' || typeof arg === 'string')) return true;
    if (op === '$in' && Array.isArray(arg) && arg.length > 0 && arg.every(isScalar)) return true;
    if (op === '$exists' && arg === true) return true;
  }
  return false;
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}
