/**
 * `sort` (SPEC §14): MongoDB's order over key objects, for every backend that does not sort
 * natively and as the reference the native ones are checked against (test/harness).
 *
 * A sort field's value in a key is its sort key, as MongoDB computes it:
 * - the path resolves as in queries (lib/query-match.ts): own fields only, through arrays
 *   element by element (multikey);
 * - every value it reaches counts, an array at the end counting as its elements; ascending
 *   takes the smallest, descending the largest (BSON order: lib/query-match.ts compareValues);
 * - a path that reaches nothing, or reaches an object element without the field, counts as
 *   null; an empty array at the end sorts before null (MongoDB: "less than null or missing").
 * Entries equal on every field keep their creation order (the sort is stable).
 */
import { InvalidArgumentError, InvalidQueryError } from './errors';
import type { Key } from './keys';
import { isPlainObject } from './keys';
import { checkPath } from './query';
import { compareValues } from './query-match';

/** One field of a sort: its path, split, and its direction. */
export interface SortField {
  path: string;
  parts: readonly string[];
  direction: 1 | -1;
}

/** A validated sort: fields in priority order (empty: creation order). */
export type SortSpec = readonly SortField[];

/** Most fields a sort may name (MongoDB's own limit). */
export const MAX_SORT_FIELDS = 32;

/** The sort key of an empty array: below null, as MongoDB orders it. */
const EMPTY_ARRAY: unique symbol = Symbol('empty array');

const hasOwn = Object.prototype.hasOwnProperty;

/** Validates a `sort` option: `{ '<path>': 1 | -1, ... }`, own data fields, at most MAX_SORT_FIELDS. */
export function compileSort(sort: unknown, method: string): SortSpec {
  if (!isPlainObject(sort)) throw new InvalidArgumentError(`${method}: sort must be an object like { age: 1, 'name.last': -1 }`);
  const fields: SortField[] = [];
  for (const path of Object.keys(sort)) {
    const field = Object.getOwnPropertyDescriptor(sort, path)!;
    if (!('value' in field)) throw new InvalidArgumentError(`${method}: sort field ${path} must be a plain data field, not a getter`);
    if (field.value !== 1 && field.value !== -1) throw new InvalidArgumentError(`${method}: sort field ${path} must be 1 or -1`);
    try {
      checkPath(path);
    } catch (err) {
      if (err instanceof InvalidQueryError) throw new InvalidArgumentError(`${method}: sort path ${path}: ${err.message}`);
      throw err;
    }
    const parts = path.split('.');
    if (parts.some((part) => part.startsWith('$'))) throw new InvalidArgumentError(`${method}: sort path ${path} must not name an operator`);
    fields.push({ path, parts, direction: field.value });
  }
  if (fields.length > MAX_SORT_FIELDS) throw new InvalidArgumentError(`${method}: sort may name at most ${MAX_SORT_FIELDS} fields`);
  return fields;
}

/** The sort key of `key` for `field` (see the file comment). */
export function sortKeyOf(key: Key, field: SortField): unknown {
  let best: unknown = undefined;
  let found = false;
  const take = (value: unknown) => {
    if (!found || (field.direction === 1 ? compareSortKeys(value, best) < 0 : compareSortKeys(value, best) > 0)) best = value;
    found = true;
  };
  reach(typeof key === 'string' ? undefined : key, field.parts, 0, take);
  return found ? best : null;
}

/** Orders two sort keys (ascending); EMPTY_ARRAY sorts before everything, null included. */
export function compareSortKeys(a: unknown, b: unknown): number {
  if (a === EMPTY_ARRAY || b === EMPTY_ARRAY) return a === b ? 0 : a === EMPTY_ARRAY ? -1 : 1;
  return compareValues(a, b);
}

/** Orders two lists of sort keys (one per field of `spec`) by the spec's directions. */
export function compareKeyLists(a: readonly unknown[], b: readonly unknown[], spec: SortSpec): number {
  for (let i = 0; i < spec.length; i++) {
    const c = compareSortKeys(a[i], b[i]);
    if (c !== 0) return c * spec[i].direction;
  }
  return 0;
}

/** The sort keys of `key`, one per field of `spec`. */
export function sortKeysOf(key: Key, spec: SortSpec): unknown[] {
  return spec.map((field) => sortKeyOf(key, field));
}

/** Sorts entries by `spec`, stably (equal entries keep their order: creation order), computing each key's sort keys once. */
export function sortEntries<T extends { key: Key }>(entries: readonly T[], spec: SortSpec): T[] {
  if (spec.length === 0) return entries.slice();
  const decorated = entries.map((entry, index) => ({ entry, index, keys: sortKeysOf(entry.key, spec) }));
  decorated.sort((x, y) => compareKeyLists(x.keys, y.keys, spec) || x.index - y.index);
  return decorated.map((d) => d.entry);
}

/** Whether `value` is the sort key of an empty array (page cursors encode it apart). */
export function isEmptyArrayKey(value: unknown): boolean {
  return value === EMPTY_ARRAY;
}

/** The sort key of an empty array, for decoding a page cursor. */
export const EMPTY_ARRAY_KEY: unknown = EMPTY_ARRAY;

/** Calls `take` with every value `parts[i..]` reaches from `value` (null where a field is missing). */
function reach(value: unknown, parts: readonly string[], i: number, take: (v: unknown) => void): void {
  if (i === parts.length) {
    if (Array.isArray(value)) {
      if (value.length === 0) take(EMPTY_ARRAY);
      else for (const element of value) take(element);
      return;
    }
    take(value === undefined ? null : value);
    return;
  }
  if (Array.isArray(value)) {
    const part = parts[i];
    if (/^\d+$/.test(part)) {
      // A position: the element there, and the field of that name in every object element.
      const index = Number(part);
      let reached = false;
      if (index < value.length) {
        const element = value[index];
        if (i + 1 === parts.length || (element !== null && typeof element === 'object')) {
          reached = true;
          reach(element, parts, i + 1, take);
        }
      }
      for (const element of value) {
        if (isPlainObject(element)) {
          reached = true;
          reach(element, parts, i, take);
        }
      }
      if (!reached) take(null);
      return;
    }
    if (value.length === 0) return take(null);
    for (const element of value) {
      if (isPlainObject(element)) reach(element, parts, i, take);
      else take(null);
    }
    return;
  }
  if (value !== null && typeof value === 'object' && hasOwn.call(value, parts[i])) {
    reach((value as Record<string, unknown>)[parts[i]], parts, i + 1, take);
    return;
  }
  take(null);
}
