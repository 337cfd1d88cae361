/**
 * Queries over keys (SPEC §3), compiled once into a selector that every backend understands.
 *
 * A string is an exact key. An object is a MongoDB-style query over object keys: nested plain
 * objects are flattened into dotted paths (partial match, memstorage's behaviour on mongo),
 * `$`-operator objects apply at their path, `$and`/`$or`/`$nor` are allowed at the top, and
 * `{}` matches nothing. Only the operators in ALLOWED_OPERATORS pass: queries usually come
 * from user input, so `$where` (which compiles strings into functions) and any unknown
 * operator are rejected before a backend sees the query.
 */
import { compileMatcher, toMongoRegExp } from './query-match';
import { InvalidQueryError } from './errors';
import { types } from 'node:util';
import { Key, KeyObject, isObjectKeyId, isPlainObject, isWellFormed, normalizeKey, describe } from './keys';
import { MAX_QUERY_DEPTH, MAX_QUERY_LIST_LENGTH } from './limits';
import { IndexConstraint, indexConstraints, indexEntries, indexToken } from './query-index';

export { indexEntries, indexToken };

/** Field-level operators accepted in a query. */
export const FIELD_OPERATORS = [
  '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$all', '$size', '$exists',
  '$mod', '$regex', '$options', '$not', '$elemMatch', '$type',
] as const;
/** Operators accepted at the top level of a query. */
export const LOGICAL_OPERATORS = ['$and', '$or', '$nor'] as const;
/** Every operator accepted anywhere; `$where` is deliberately absent. */
export const ALLOWED_OPERATORS: readonly string[] = [...FIELD_OPERATORS, ...LOGICAL_OPERATORS];

const FIELD_OPERATOR_SET = new Set<string>(FIELD_OPERATORS);
const LOGICAL_OPERATOR_SET = new Set<string>(LOGICAL_OPERATORS);
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);
const isProxy = types.isProxy;
// The limits live in lib/limits.ts; re-exported for the modules that import them from here.
export { MAX_QUERY_DEPTH, MAX_QUERY_LIST_LENGTH };
/** `$type` names accepted: the aliases for what keys can hold, which the matcher answers as MongoDB does. */
const TYPE_ALIASES = new Set(['number', 'string', 'bool', 'array', 'null', 'object']);

export type { IndexConstraint };

/** What a backend is asked to select. */
export type Selector =
  | { kind: 'all' }
  | { kind: 'none' }
  | { kind: 'exact'; id: string; key: string }
  | { kind: 'glob'; pattern: string; regex: RegExp }
  | QuerySelector;

/** A compiled object query. */
export interface QuerySelector {
  kind: 'query';
  /** The normalized filter over the key object: dotted paths, validated operators. */
  filter: Record<string, unknown>;
  /** Tests a key object against the filter (lib/query-match.ts: MongoDB's semantics, compiled once). */
  test: (key: KeyObject) => boolean;
  /** Top-level conjunctive constraints an equality index can answer. */
  constraints: IndexConstraint[];
  /** True when `constraints` alone decide the match, so index hits need no further test. */
  coveredByConstraints: boolean;
  /**
   * For a top-level `$or` whose every branch has constraints: each branch's constraints. A
   * match passes some branch, so it is among one constraint's index hits of that branch: the
   * union over the branches narrows the query, and the filter decides.
   */
  orConstraints?: IndexConstraint[][];
}

/**
 * Whether the entry (`id`, `key`) matches a selector: what a backend without native queries
 * runs over its candidates. An exact selector matches its own id only; a glob matches string
 * keys; a query matches object keys.
 */
export function selectorMatches(selector: Selector, id: string, key: Key): boolean {
  switch (selector.kind) {
    case 'all':
      return true;
    case 'exact':
      return id === selector.id;
    case 'glob':
      return typeof key === 'string' && selector.regex.test(key);
    case 'query':
      return isObjectKeyId(id) && selector.test(key as KeyObject);
    default:
      return false;
  }
}

/** Compiles what `get`/`del`/`count`/`entries` receive into a Selector; throws InvalidQueryError. */
export function compileQuery(query: unknown): Selector {
  if (typeof query === 'string') {
    const { id } = normalizeKey(query);
    return { kind: 'exact', id, key: query };
  }
  if (!isPlainObject(query)) {
    throw new InvalidQueryError(`a query must be a string key or a plain object, got ${describe(query)}`);
  }
  if (Object.keys(query).length === 0) return { kind: 'none' };
  let filter: Record<string, unknown>;
  try {
    filter = normalizeQuery(query, 0);
  } catch (err) {
    if (err instanceof InvalidQueryError) throw err;
    // The walk runs no caller code, so this is only a safety net (e.g. an engine limit).
    throw new InvalidQueryError('the query cannot be read', { cause: err });
  }
  let tester: (item: unknown) => boolean;
  try {
    tester = compileMatcher(filter) as (item: unknown) => boolean;
  } catch (err) {
    throw new InvalidQueryError(`the query cannot be compiled: ${(err as Error).message}`, { cause: err });
  }
  const { constraints, covered } = indexConstraints(filter);
  const selector: QuerySelector = { kind: 'query', filter, test: tester, constraints, coveredByConstraints: covered };
  const or = filter.$or;
  if (Array.isArray(or)) {
    const branches = (or as Record<string, unknown>[]).map((branch) => indexConstraints(branch).constraints);
    if (branches.every((branch) => branch.length > 0)) selector.orConstraints = branches;
  }
  return selector;
}

/** Compiles a glob over string keys (`user:*`, `config:?`, `[ab]*`), Redis glob syntax. */
export function compileGlob(pattern: string): Selector {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new InvalidQueryError('a key pattern must be a non-empty glob string');
  }
  if (!isWellFormed(pattern)) throw new InvalidQueryError('a key pattern must be well-formed Unicode (it holds a lone surrogate)');
  let regex: RegExp;
  try {
    regex = globToRegExp(pattern);
  } catch (err) {
    // A class the regex engine refuses, such as the reversed range `[z-a]`.
    throw new InvalidQueryError(`the key pattern ${JSON.stringify(pattern)} is not a valid glob`, { cause: err });
  }
  return { kind: 'glob', pattern, regex };
}

/**
 * Redis glob semantics (`*` crosses every character, `?` one, `[...]` a class, `\` escapes).
 * Written here because the glob libraries on npm (picomatch, minimatch) follow path semantics
 * where `*` stops at `/`, which is not how key patterns behave.
 */
export function globToRegExp(pattern: string): RegExp {
  let out = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') out += '[\\s\\S]*';
    else if (c === '?') out += '[\\s\\S]';
    else if (c === '\\' && i + 1 < pattern.length) out += escapeRegExp(pattern[++i]);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) out += '\\[';
      else {
        let body = pattern.slice(i + 1, end);
        const negate = body.startsWith('^');
        if (negate) body = body.slice(1);
        out += '[' + (negate ? '^' : '') + body.replace(/[\\\]]/g, '\\$&') + ']';
        i = end;
      }
    } else out += escapeRegExp(c);
  }
  return new RegExp(out + '$');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Flattens nested plain objects into dotted paths and validates every operator.
 *
 * Input is read once (SPEC §12): the query is read in this one walk, through property
 * descriptors, and the filter it returns is a fresh structure that shares no object with the
 * caller, so nothing read later (the matcher, a backend) can see something validation did not.
 * Proxies (whose traps could run anything), accessor properties, sparse arrays and strings that
 * are not well-formed Unicode are refused. Every level counts against MAX_QUERY_DEPTH: nested
 * objects, `$and`/`$or`/`$nor` branches, `$not` and `$elemMatch` chains, and operand nesting.
 */
function normalizeQuery(query: Record<string, unknown>, depth: number): Record<string, unknown> {
  if (depth > MAX_QUERY_DEPTH) throw tooDeep();
  const out: Record<string, unknown> = {};
  for (const field of Object.keys(query)) {
    const value = readQueryField(query, field, field);
    if (field.startsWith('$')) {
      if (!LOGICAL_OPERATOR_SET.has(field)) throw unknownOperator(field, 'at the top of a query');
      const branches = readQueryArray(value, field);
      if (branches === undefined || branches.length === 0) {
        throw new InvalidQueryError(`${field} takes a non-empty array of queries`);
      }
      out[field] = branches.map((sub) => {
        if (!isPlainObject(sub) || Object.keys(sub).length === 0) {
          throw new InvalidQueryError(`each query in ${field} must be a non-empty plain object`);
        }
        return normalizeQuery(sub, depth + 1);
      });
    } else {
      flattenField(field, value, out, depth);
    }
  }
  return out;
}

function flattenField(path: string, value: unknown, out: Record<string, unknown>, depth: number): void {
  checkPath(path);
  if (depth > MAX_QUERY_DEPTH) throw tooDeep();
  if (isPlainObject(value)) {
    const fields = Object.keys(value);
    const operators = fields.filter((f) => f.startsWith('$'));
    if (operators.length > 0) {
      if (operators.length !== fields.length) {
        throw new InvalidQueryError(`the object at ${path} mixes $-operators with plain fields`);
      }
      out[path] = validateOperators(path, value, depth);
      return;
    }
    if (fields.length === 0) {
      out[path] = {}; // `{ a: {} }`: equality with an empty object, as in MongoDB
      return;
    }
    for (const field of fields) flattenField(`${path}.${field}`, readQueryField(value, field, `${path}.${field}`), out, depth + 1);
    return;
  }
  out[path] = validateOperand(path, value, depth);
}

function validateOperators(path: string, given: Record<string, unknown>, depth: number): Record<string, unknown> {
  if (depth > MAX_QUERY_DEPTH) throw tooDeep();
  // One read of every operand first, so `$regex` and `$options` see the same values.
  const ops: Record<string, unknown> = {};
  for (const op of Object.keys(given)) {
    if (!FIELD_OPERATOR_SET.has(op)) throw unknownOperator(op, `at ${path}`);
    ops[op] = readQueryField(given, op, `${path}.${op}`);
  }
  const out: Record<string, unknown> = {};
  for (const op of Object.keys(ops)) {
    const arg = ops[op];
    switch (op) {
      case '$in':
      case '$nin':
      case '$all': {
        const items = readQueryArray(arg, `${path}.${op}`);
        if (items === undefined) throw badOperand(op, path, 'an array');
        if (items.length > MAX_QUERY_LIST_LENGTH) throw badOperand(op, path, `at most ${MAX_QUERY_LIST_LENGTH} values`);
        out[op] = items.map((item) => validateOperand(path, item, depth + 1));
        break;
      }
      case '$size':
        if (typeof arg !== 'number' || !Number.isInteger(arg) || arg < 0) throw badOperand(op, path, 'a non-negative integer');
        out[op] = arg;
        break;
      case '$exists':
        if (typeof arg !== 'boolean') throw badOperand(op, path, 'a boolean');
        out[op] = arg;
        break;
      case '$mod': {
        const pair = readQueryArray(arg, `${path}.$mod`);
        if (pair === undefined || pair.length !== 2 || !pair.every((n) => typeof n === 'number' && Number.isFinite(n)) || pair[0] === 0) {
          throw badOperand(op, path, '[divisor, remainder] with a non-zero divisor');
        }
        out[op] = pair;
        break;
      }
      case '$regex':
        if (typeof arg === 'string') {
          checkString(arg, `${path}.$regex`);
          try {
            // Compiled as the matcher will (MongoDB's options: `x` is PCRE's extended mode, not a JS flag).
            toMongoRegExp(arg, typeof ops.$options === 'string' ? ops.$options : undefined);
          } catch (err) {
            throw new InvalidQueryError(`$regex at ${path} is not a valid regular expression`, { cause: err });
          }
          out[op] = arg;
        } else {
          const regex = snapshotRegExp(arg, `${path}.$regex`);
          if (regex === undefined) throw badOperand(op, path, 'a string or RegExp');
          out[op] = regex;
        }
        break;
      case '$options':
        if (typeof arg !== 'string' || !/^[imsux]*$/.test(arg)) throw badOperand(op, path, 'regex flags (imsux)');
        if (!('$regex' in ops)) throw new InvalidQueryError(`$options at ${path} needs $regex`);
        out[op] = arg;
        break;
      case '$type':
        // The aliases for what keys can hold; the matcher answers them as MongoDB does.
        if (typeof arg !== 'string' || !TYPE_ALIASES.has(arg)) throw badOperand(op, path, `one of ${[...TYPE_ALIASES].join(', ')}`);
        out[op] = arg;
        break;
      case '$not': {
        const regex = snapshotRegExp(arg, `${path}.$not`);
        if (regex !== undefined) out[op] = regex;
        else if (isPlainObject(arg) && Object.keys(arg).length > 0 && Object.keys(arg).every((f) => f.startsWith('$'))) {
          out[op] = validateOperators(path, arg, depth + 1);
        } else throw badOperand(op, path, 'an operator object or RegExp');
        break;
      }
      case '$elemMatch':
        if (!isPlainObject(arg) || Object.keys(arg).length === 0) throw badOperand(op, path, 'a non-empty object');
        // Either operators on the element itself, or a sub-query on the element's fields.
        out[op] = Object.keys(arg).every((f) => f.startsWith('$') && FIELD_OPERATOR_SET.has(f))
          ? validateOperators(`${path}.$elemMatch`, arg, depth + 1)
          : normalizeQuery(arg, depth + 1);
        break;
      default:
        out[op] = validateOperand(path, arg, depth + 1);
    }
  }
  return out;
}

/** An operand compared with key fields: a key-like value, a Date or a RegExp; returns the filter's own copy. */
function validateOperand(path: string, value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      checkString(value, path);
      return value;
    case 'boolean':
      return value;
    case 'number':
      if (Number.isNaN(value)) throw new InvalidQueryError(`the value at ${path} is NaN`);
      return value;
    case 'object': {
      if (value === null) return value;
      if (depth > MAX_QUERY_DEPTH) throw tooDeep();
      const items = readQueryArray(value, path);
      if (items !== undefined) return items.map((item) => validateOperand(path, item, depth + 1));
      if (isPlainObject(value)) {
        const copy: Record<string, unknown> = {};
        for (const f of Object.keys(value)) {
          if (f.startsWith('$')) throw unknownOperator(f, `inside a value at ${path}`);
          checkPath(f);
          copy[f] = validateOperand(`${path}.${f}`, readQueryField(value, f, `${path}.${f}`), depth + 1);
        }
        return copy;
      }
      const regex = snapshotRegExp(value, path);
      if (regex !== undefined) return regex;
      const date = snapshotDate(value, path);
      if (date !== undefined) return date;
    }
  }
  throw new InvalidQueryError(`the value at ${path} is a ${describe(value)}, which a query cannot compare`);
}

/**
 * Paths checkPath accepted lately (at most MAX_CHECKED_PATHS, none longer than
 * MAX_CHECKED_PATH_LENGTH): a query or sort repeated per call checks its paths with one Set
 * lookup instead of a split and a Unicode scan each. A path is a string, so a hit is exact.
 */
const CHECKED_PATHS = new Set<string>();
const MAX_CHECKED_PATHS = 1024;
const MAX_CHECKED_PATH_LENGTH = 256;

/** Refuses a field path a query or a sort may not name (empty, an empty segment, `__proto__`, ...). */
export function checkPath(path: string): void {
  if (CHECKED_PATHS.has(path)) return;
  if (path.length === 0) throw new InvalidQueryError('a query field name must not be empty');
  checkString(path, 'a query field name');
  for (const segment of path.split('.')) {
    if (FORBIDDEN_SEGMENTS.has(segment)) throw new InvalidQueryError(`query path ${path} is not allowed`);
    if (segment.length === 0) throw new InvalidQueryError(`query path ${path} has an empty segment`);
  }
  if (path.length > MAX_CHECKED_PATH_LENGTH) return;
  if (CHECKED_PATHS.size >= MAX_CHECKED_PATHS) CHECKED_PATHS.clear();
  CHECKED_PATHS.add(path);
}

/** Refuses strings that are not well-formed Unicode: a byte backend would fold them into U+FFFD, which keys may hold. */
function checkString(s: string, where: string): void {
  if (!isWellFormed(s)) throw new InvalidQueryError(`the string at ${where} is not well-formed Unicode (it holds a lone surrogate)`);
}

function tooDeep(): InvalidQueryError {
  return new InvalidQueryError(`a query may nest at most ${MAX_QUERY_DEPTH} levels (nested fields, $and/$or/$nor, $not, $elemMatch and operands all count)`);
}

/** One read of an own data field of a query object; accessors are refused, so no caller code runs. */
function readQueryField(container: object, field: string, path: string): unknown {
  const d = Object.getOwnPropertyDescriptor(container, field);
  if (d === undefined || d.get !== undefined || d.set !== undefined) {
    throw new InvalidQueryError(`query field ${path} is an accessor (getter/setter); queries hold only data fields`);
  }
  return d.value;
}

/** A fresh copy of a plain, dense array in a query (undefined when `value` is no array); Proxies and holes are refused. */
function readQueryArray(value: unknown, path: string): unknown[] | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (isProxy(value)) throw new InvalidQueryError(`the value at ${path} is a Proxy; queries hold only plain data`);
  if (!Array.isArray(value)) return undefined;
  if (Object.getPrototypeOf(value) !== Array.prototype) throw new InvalidQueryError(`the array at ${path} is not a plain array`);
  // Bounds the copy: no list in a valid query is longer than this.
  if (value.length > MAX_QUERY_LIST_LENGTH) throw new InvalidQueryError(`the array at ${path} holds more than ${MAX_QUERY_LIST_LENGTH} values`);
  const out = new Array<unknown>(value.length);
  for (let i = 0; i < value.length; i++) {
    const d = Object.getOwnPropertyDescriptor(value, i);
    if (d === undefined) throw new InvalidQueryError(`the array at ${path} is sparse; queries hold only dense arrays`);
    if (d.get !== undefined || d.set !== undefined) throw new InvalidQueryError(`the array at ${path} holds an accessor`);
    out[i] = d.value;
  }
  return out;
}

/** A private copy of a RegExp operand (undefined when `value` is no RegExp). */
function snapshotRegExp(value: unknown, path: string): RegExp | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (isProxy(value)) throw new InvalidQueryError(`the value at ${path} is a Proxy; queries hold only plain data`);
  if (!(value instanceof RegExp)) return undefined;
  try {
    const copy = new RegExp(value.source, value.flags);
    checkString(copy.source, path);
    return copy;
  } catch (err) {
    if (err instanceof InvalidQueryError) throw err;
    throw new InvalidQueryError(`the RegExp at ${path} cannot be read`, { cause: err });
  }
}

/** A private copy of a Date operand (undefined when `value` is no Date); an invalid Date is refused, like NaN. */
function snapshotDate(value: unknown, path: string): Date | undefined {
  if (!(value instanceof Date)) return undefined;
  let time: number;
  try {
    time = Date.prototype.getTime.call(value);
  } catch (err) {
    throw new InvalidQueryError(`the Date at ${path} cannot be read`, { cause: err });
  }
  if (Number.isNaN(time)) throw new InvalidQueryError(`the Date at ${path} is invalid`);
  return new Date(time);
}

function unknownOperator(op: string, where: string): InvalidQueryError {
  if (op === '$where') return new InvalidQueryError('$where is not allowed: it runs code supplied by the query');
  return new InvalidQueryError(`unknown or disallowed operator ${op} ${where}`);
}

function badOperand(op: string, path: string, expected: string): InvalidQueryError {
  return new InvalidQueryError(`${op} at ${path} takes ${expected}`);
}
