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
import { createQueryTester } from 'sift';
import * as siftOps from 'sift';
import { InvalidQueryError } from './errors';
import { KeyObject, isPlainObject, normalizeKey, describe } from './keys';

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
const MAX_QUERY_DEPTH = 32;
/** `$type` names accepted: the ones sift and MongoDB share for the values keys can hold. */
const TYPE_ALIASES = new Set(['number', 'string', 'bool', 'array', 'null']);

/** The operator table handed to sift: exactly the allowlist, so sift cannot run `$where`. */
const SIFT_OPERATIONS = Object.fromEntries(
  ALLOWED_OPERATORS.map((op) => [op, (siftOps as unknown as Record<string, unknown>)[op]]),
) as Record<string, never>;

/** An equality (or `$in`) constraint an index can answer exactly. */
export interface IndexConstraint {
  /** Dotted path into the key object. */
  path: string;
  /** The accepted scalar values (one for equality, several for `$in`). */
  values: Array<string | number | boolean>;
}

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
  /** Tests a key object against the filter (sift, compiled once). */
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
  const filter = normalizeQuery(query, 0);
  let tester: (item: unknown) => boolean;
  try {
    tester = createQueryTester(filter, { operations: SIFT_OPERATIONS }) as (item: unknown) => boolean;
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
  return { kind: 'glob', pattern, regex: globToRegExp(pattern) };
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

/** Flattens nested plain objects into dotted paths and validates every operator. */
function normalizeQuery(query: Record<string, unknown>, depth: number): Record<string, unknown> {
  if (depth > MAX_QUERY_DEPTH) throw new InvalidQueryError(`a query may nest at most ${MAX_QUERY_DEPTH} levels`);
  const out: Record<string, unknown> = {};
  for (const field of Object.keys(query)) {
    const value = query[field];
    if (field.startsWith('$')) {
      if (!LOGICAL_OPERATOR_SET.has(field)) throw unknownOperator(field, 'at the top of a query');
      if (!Array.isArray(value) || value.length === 0) {
        throw new InvalidQueryError(`${field} takes a non-empty array of queries`);
      }
      out[field] = value.map((sub) => {
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
  if (depth > MAX_QUERY_DEPTH) throw new InvalidQueryError(`a query may nest at most ${MAX_QUERY_DEPTH} levels`);
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
      out[path] = value; // `{ a: {} }`: equality with an empty object, as in MongoDB
      return;
    }
    for (const field of fields) flattenField(`${path}.${field}`, value[field], out, depth + 1);
    return;
  }
  out[path] = validateOperand(path, value);
}

function validateOperators(path: string, ops: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const op of Object.keys(ops)) {
    if (!FIELD_OPERATOR_SET.has(op)) throw unknownOperator(op, `at ${path}`);
    const arg = ops[op];
    switch (op) {
      case '$in':
      case '$nin':
      case '$all':
        if (!Array.isArray(arg)) throw badOperand(op, path, 'an array');
        out[op] = arg.map((item) => validateOperand(path, item));
        break;
      case '$size':
        if (typeof arg !== 'number' || !Number.isInteger(arg) || arg < 0) throw badOperand(op, path, 'a non-negative integer');
        out[op] = arg;
        break;
      case '$exists':
        if (typeof arg !== 'boolean') throw badOperand(op, path, 'a boolean');
        out[op] = arg;
        break;
      case '$mod':
        if (!Array.isArray(arg) || arg.length !== 2 || !arg.every((n) => typeof n === 'number' && Number.isFinite(n)) || arg[0] === 0) {
          throw badOperand(op, path, '[divisor, remainder] with a non-zero divisor');
        }
        out[op] = arg;
        break;
      case '$regex':
        if (typeof arg !== 'string' && !(arg instanceof RegExp)) throw badOperand(op, path, 'a string or RegExp');
        if (typeof arg === 'string') {
          try {
            new RegExp(arg, typeof ops.$options === 'string' ? ops.$options : undefined);
          } catch (err) {
            throw new InvalidQueryError(`$regex at ${path} is not a valid regular expression`, { cause: err });
          }
        }
        out[op] = arg;
        break;
      case '$options':
        if (typeof arg !== 'string' || !/^[imsux]*$/.test(arg)) throw badOperand(op, path, 'regex flags (imsux)');
        if (!('$regex' in ops)) throw new InvalidQueryError(`$options at ${path} needs $regex`);
        out[op] = arg;
        break;
      case '$type':
        // Only the aliases sift and MongoDB both know, so every backend answers alike.
        if (typeof arg !== 'string' || !TYPE_ALIASES.has(arg)) throw badOperand(op, path, `one of ${[...TYPE_ALIASES].join(', ')}`);
        out[op] = arg;
        break;
      case '$not':
        if (arg instanceof RegExp) out[op] = arg;
        else if (isPlainObject(arg) && Object.keys(arg).length > 0 && Object.keys(arg).every((f) => f.startsWith('$'))) {
          out[op] = validateOperators(path, arg, depth + 1);
        } else throw badOperand(op, path, 'an operator object or RegExp');
        break;
      case '$elemMatch':
        if (!isPlainObject(arg) || Object.keys(arg).length === 0) throw badOperand(op, path, 'a non-empty object');
        // Either operators on the element itself, or a sub-query on the element's fields.
        out[op] = Object.keys(arg).every((f) => f.startsWith('$') && FIELD_OPERATOR_SET.has(f))
          ? validateOperators(`${path}.$elemMatch`, arg, depth + 1)
          : normalizeQuery(arg, depth + 1);
        break;
      default:
        out[op] = validateOperand(path, arg);
    }
  }
  return out;
}

/** An operand compared with key fields: a key-like value, a Date or a RegExp. */
function validateOperand(path: string, value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isNaN(value)) throw new InvalidQueryError(`the value at ${path} is NaN`);
      return value;
    case 'object':
      if (value === null || value instanceof RegExp || value instanceof Date) return value;
      if (Array.isArray(value)) return value.map((item) => validateOperand(path, item));
      if (isPlainObject(value)) {
        for (const f of Object.keys(value)) {
          if (f.startsWith('$')) throw unknownOperator(f, `inside a value at ${path}`);
          checkPath(f);
          validateOperand(`${path}.${f}`, value[f]);
        }
        return value;
      }
  }
  throw new InvalidQueryError(`the value at ${path} is a ${describe(value)}, which a query cannot compare`);
}

function checkPath(path: string): void {
  if (path.length === 0) throw new InvalidQueryError('a query field name must not be empty');
  for (const segment of path.split('.')) {
    if (FORBIDDEN_SEGMENTS.has(segment)) throw new InvalidQueryError(`query path ${path} is not allowed`);
    if (segment.length === 0) throw new InvalidQueryError(`query path ${path} has an empty segment`);
  }
}

function unknownOperator(op: string, where: string): InvalidQueryError {
  if (op === '$where') return new InvalidQueryError('$where is not allowed: it runs code supplied by the query');
  return new InvalidQueryError(`unknown or disallowed operator ${op} ${where}`);
}

function badOperand(op: string, path: string, expected: string): InvalidQueryError {
  return new InvalidQueryError(`${op} at ${path} takes ${expected}`);
}

/** True when an index over scalar leaves can answer a constraint on `path` exactly. */
function indexablePath(path: string): boolean {
  // Numeric segments address array positions, which the per-path indexes do not record.
  return !path.split('.').some((segment) => /^\d+$/.test(segment));
}

function isIndexableScalar(v: unknown): v is string | number | boolean {
  // null is left out on purpose: in MongoDB `{ a: null }` also matches a missing field.
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function indexConstraints(filter: Record<string, unknown>): { constraints: IndexConstraint[]; covered: boolean } {
  const constraints: IndexConstraint[] = [];
  let covered = true;
  for (const path of Object.keys(filter)) {
    const cond = filter[path];
    if (path.startsWith('$')) {
      if (path === '$and') {
        for (const sub of cond as Record<string, unknown>[]) {
          const inner = indexConstraints(sub);
          constraints.push(...inner.constraints);
          covered = covered && inner.covered;
        }
      } else covered = false;
      continue;
    }
    if (!indexablePath(path)) {
      covered = false;
      continue;
    }
    if (isIndexableScalar(cond)) {
      constraints.push({ path, values: [cond] });
    } else if (isPlainObject(cond)) {
      const ops = Object.keys(cond);
      let used = false;
      if ('$eq' in cond && isIndexableScalar(cond.$eq)) {
        constraints.push({ path, values: [cond.$eq] });
        used = true;
      } else if ('$in' in cond && Array.isArray(cond.$in) && cond.$in.every(isIndexableScalar)) {
        constraints.push({ path, values: cond.$in as Array<string | number | boolean> });
        used = true;
      }
      if (!used || ops.length > 1) covered = false;
    } else covered = false;
  }
  return { constraints, covered };
}

/** The token an index stores for a scalar: type-tagged so 20 and '20' stay apart. */
export function indexToken(value: string | number | boolean): string {
  switch (typeof value) {
    case 'string':
      return 's' + value;
    case 'number':
      return 'n' + (value === 0 ? '0' : String(value)); // -0 equals 0, as in MongoDB
    default:
      return value ? 'T' : 'F';
  }
}

/**
 * Every (path, token) an exact equality index records for a key object: scalar leaves by
 * dotted path, array elements under the array's path, objects inside arrays recursed into
 * under the same path — MongoDB's path semantics, so index hits equal sift's matches.
 */
export function indexEntries(key: KeyObject): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const walk = (value: unknown, path: string, inArray: boolean): void => {
    if (isIndexableScalar(value)) out.push([path, indexToken(value)]);
    else if (Array.isArray(value)) {
      if (!inArray) for (const item of value) walk(item, path, true);
    } else if (value !== null && typeof value === 'object') {
      for (const field of Object.keys(value)) walk((value as Record<string, unknown>)[field], `${path}.${field}`, false);
    }
  };
  for (const field of Object.keys(key)) walk(key[field], field, false);
  return out;
}

