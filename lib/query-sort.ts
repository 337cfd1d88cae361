/**
 * `sort` (SPEC §14): MongoDB's order over key objects, for every backend that does not sort
 * natively and as the reference the native ones are checked against (test/harness).
 *
 * A sort field's value in a key is its sort key, as MongoDB computes it:
 * - the path resolves as MongoDB's key generator walks it (not quite as queries do): own fields
 *   only; a position (`a.0`) picks that element of an array and nothing else; any other field
 *   of an array (or a position past its end) applies to every element (multikey); an array
 *   at the end counts as its elements, unless it sits directly in an array (`a.0` on `[[2, 1]]`
 *   reaches the array [2, 1] itself);
 * - every value it reaches counts, an array at the end counting as its elements; ascending
 *   takes the smallest, descending the largest (BSON order: lib/query-match.ts compareValues);
 * - a path that reaches nothing, or reaches an object element without the field, counts as
 *   null; an empty array at the end sorts before null (MongoDB: "less than null or missing").
 * - several fields that go through the same array take their values from the same element
 *   (MongoDB builds one compound key per element): the key list is the smallest such tuple in
 *   the sort's order, not each field's own smallest value.
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

/**
 * Sort fields compileSort validated lately, by path, one map per direction (at most
 * MAX_KNOWN_SORT_FIELDS each, paths up to MAX_KNOWN_SORT_PATH): a sort repeated per call takes
 * its frozen field again instead of checking and splitting the path.
 */
const ASCENDING = new Map<string, SortField>();
const DESCENDING = new Map<string, SortField>();
const MAX_KNOWN_SORT_FIELDS = 512;
const MAX_KNOWN_SORT_PATH = 256;

function rememberSortField(field: SortField): void {
  if (field.path.length > MAX_KNOWN_SORT_PATH) return;
  const known = field.direction === 1 ? ASCENDING : DESCENDING;
  if (known.size >= MAX_KNOWN_SORT_FIELDS) known.clear();
  known.set(field.path, field);
}

/** Validates a `sort` option: `{ '<path>': 1 | -1, ... }`, own data fields, at most MAX_SORT_FIELDS. */
export function compileSort(sort: unknown, method: string): SortSpec {
  if (!isPlainObject(sort)) throw new InvalidArgumentError(`${method}: sort must be an object like { age: 1, 'name.last': -1 }`);
  const fields: SortField[] = [];
  for (const path of Object.keys(sort)) {
    const field = Object.getOwnPropertyDescriptor(sort, path)!;
    if (!('value' in field)) throw new InvalidArgumentError(`${method}: sort field ${path} must be a plain data field, not a getter`);
    if (field.value !== 1 && field.value !== -1) throw new InvalidArgumentError(`${method}: sort field ${path} must be 1 or -1`);
    const known = (field.value === 1 ? ASCENDING : DESCENDING).get(path);
    if (known !== undefined) {
      fields.push(known);
      continue;
    }
    try {
      checkPath(path);
    } catch (err) {
      if (err instanceof InvalidQueryError) throw new InvalidArgumentError(`${method}: sort path ${path}: ${err.message}`);
      throw err;
    }
    const parts = path.split('.');
    if (parts.some((part) => part.startsWith('$'))) throw new InvalidArgumentError(`${method}: sort path ${path} must not name an operator`);
    const compiled: SortField = Object.freeze({ path, parts: Object.freeze(parts), direction: field.value });
    rememberSortField(compiled);
    fields.push(compiled);
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
  reach(typeof key === 'string' ? undefined : key, field.parts, 0, NO_CHOICES, take);
  return found ? best : null;
}

/**
 * The type bracket of a sort key in MongoDB's order, as the backends that page natively number
 * them: -1 an empty array (before null, see sortKeyOf), 0 null or missing, 1 numbers, 2 strings,
 * 3 objects, 4 arrays, 5 booleans.
 */
export function sortKeyBracket(key: unknown): number {
  if (key === EMPTY_ARRAY) return -1;
  if (key === null || key === undefined) return 0;
  switch (typeof key) {
    case 'number':
      return 1;
    case 'string':
      return 2;
    case 'boolean':
      return 5;
    default:
      return Array.isArray(key) ? 4 : 3;
  }
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

/**
 * The sort keys of `key`, one per field of `spec`. Fields whose paths go through the same array
 * take their values from the same element of it: the smallest such tuple in the sort's order.
 */
export function sortKeysOf(key: Key, spec: SortSpec): unknown[] {
  if (spec.length === 1) return [sortKeyOf(key, spec[0])];
  const doc = typeof key === 'string' ? undefined : key;
  const reached = spec.map((field) => {
    const values: Reached[] = [];
    reach(doc, field.parts, 0, NO_CHOICES, (value, choices) => values.push({ value, choices }));
    return values;
  });
  if (reached.every((values) => values.length === 1)) return reached.map((values) => values[0].value);
  let best: unknown[] | undefined;
  const tuple: unknown[] = new Array(spec.length);
  const chosen: Array<readonly Choice[]> = new Array(spec.length);
  const walk = (i: number): void => {
    if (i === spec.length) {
      if (best === undefined || compareKeyLists(tuple, best, spec) < 0) best = tuple.slice();
      return;
    }
    for (const { value, choices } of reached[i]) {
      if (!consistent(choices, chosen, i)) continue;
      tuple[i] = value;
      chosen[i] = choices;
      walk(i + 1);
    }
  };
  walk(0);
  // No consistent tuple (fields through one array that never meet in one element): each field alone.
  return best ?? spec.map((field) => sortKeyOf(key, field));
}

/** Which element of which array (named by its path) a reached value came from. */
type Choice = readonly [path: string, index: number];
const NO_CHOICES: readonly Choice[] = [];

/** A value a path reached, with the array elements it went through. */
interface Reached {
  value: unknown;
  choices: readonly Choice[];
}

/** Whether `choices` took the same element as the fields before `i` wherever they went through the same array. */
function consistent(choices: readonly Choice[], chosen: ReadonlyArray<readonly Choice[]>, i: number): boolean {
  for (const [path, index] of choices) {
    for (let j = 0; j < i; j++) {
      for (const [otherPath, otherIndex] of chosen[j]) if (otherPath === path && otherIndex !== index) return false;
    }
  }
  return true;
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

/**
 * Calls `take` with every value `parts[i..]` reaches from `value` (null where a field is
 * missing), and the array elements it went through to get there (see the file comment).
 */
function reach(
  value: unknown,
  parts: readonly string[],
  i: number,
  choices: readonly Choice[],
  take: (v: unknown, choices: readonly Choice[]) => void,
  inArray = false,
): void {
  if (i === parts.length) {
    // An array counts as its elements, unless it is itself an element of an array (picked by
    // position): MongoDB never expands an array nested directly in another.
    if (Array.isArray(value) && !inArray) {
      if (value.length === 0) take(EMPTY_ARRAY, choices);
      else {
        const path = parts.join('.');
        for (let n = 0; n < value.length; n++) take(value[n], [...choices, [path, n]]);
      }
      return;
    }
    take(value === undefined ? null : value, choices);
    return;
  }
  if (Array.isArray(value)) {
    const part = parts[i];
    // A position inside the array picks that element alone (an array is a document whose
    // fields are its positions, as MongoDB reads it).
    if (/^\d+$/.test(part) && Number(part) < value.length) return reach(value[Number(part)], parts, i + 1, choices, take, true);
    if (value.length === 0) return take(null, choices);
    const path = parts.slice(0, i).join('.');
    for (let n = 0; n < value.length; n++) {
      const element = value[n];
      const through: readonly Choice[] = [...choices, [path, n]];
      if (isPlainObject(element)) reach(element, parts, i, through, take);
      else take(null, through);
    }
    return;
  }
  if (value !== null && typeof value === 'object' && hasOwn.call(value, parts[i])) {
    reach((value as Record<string, unknown>)[parts[i]], parts, i + 1, choices, take);
    return;
  }
  take(null, choices);
}
