/**
 * The model's own `sort` (issue #12, SPEC §14), written from the rules the issue states and
 * independent of lib/query-sort.ts, so the model-based harness checks the library rather than
 * itself. It covers the key shapes model-arbitraries.ts writes: scalars and plain objects, and
 * arrays of scalars at the end of a path (no path crosses an array there).
 *
 * - A sort field's value is what the path reaches through own fields of plain objects; a
 *   missing field (and every field of a string key) counts as null.
 * - An array at the end of the path counts as its elements: ascending takes the smallest,
 *   descending the largest; an empty array sorts before null.
 * - Values order as MongoDB's BSON: null < numbers < strings < objects < arrays < booleans;
 *   numbers by value, strings by code point, objects field by field in canonical field order
 *   (for each pair of fields: the value's type, then the field name, then the value; a prefix
 *   first), false < true.
 * - Entries equal on every field keep their creation order.
 */
import type { Key } from '../../lib/keys';

/** A sort as the caller passes it. */
export type ModelSort = Record<string, unknown>;

/** Below every value: the sort value of an empty array. */
const EMPTY = Symbol('empty array');

function isPlain(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Whether a sort is one the store takes: own fields, each 1 or -1, paths of non-empty segments, none starting with `$`. */
export function validSort(sort: unknown): sort is ModelSort {
  if (!isPlain(sort)) return false;
  return Object.keys(sort).every((path) => (sort[path] === 1 || sort[path] === -1) && path.split('.').every((part) => part !== '' && !part.startsWith('$')));
}

/** The rank of a value's type in BSON order. */
function rank(value: unknown): number {
  if (value === EMPTY) return -1;
  if (value === null) return 0;
  if (typeof value === 'number') return 1;
  if (typeof value === 'string') return 2;
  if (Array.isArray(value)) return 4;
  if (typeof value === 'boolean') return 5;
  return 3; // a plain object
}

/** Code point order (not UTF-16 units). */
function compareStrings(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  return x.length - y.length;
}

/** BSON order of two values. */
export function compareBson(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 1:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 2:
      return compareStrings(a as string, b as string);
    case 5:
      return a === b ? 0 : a ? 1 : -1;
    case 4: {
      const x = a as unknown[];
      const y = b as unknown[];
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compareBson(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
    case 3: {
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      const fx = Object.keys(x).sort(compareStrings);
      const fy = Object.keys(y).sort(compareStrings);
      for (let i = 0; i < Math.min(fx.length, fy.length); i++) {
        const c = rank(x[fx[i]]) - rank(y[fy[i]]) || compareStrings(fx[i], fy[i]) || compareBson(x[fx[i]], y[fy[i]]);
        if (c !== 0) return c < 0 ? -1 : 1;
      }
      return fx.length - fy.length;
    }
    default:
      return 0;
  }
}

/** A key's sort value for one path and direction (see the file comment). */
function sortValue(key: Key, path: string, direction: number): unknown {
  let current: unknown = key;
  for (const part of path.split('.')) {
    if (!isPlain(current) || !Object.prototype.hasOwnProperty.call(current, part)) return null;
    current = current[part];
  }
  if (!Array.isArray(current)) return current;
  if (current.length === 0) return EMPTY;
  return current.reduce((best, v) => (compareBson(v, best) * direction < 0 ? v : best));
}

/** Entries (in creation order) sorted by `sort`, stably. */
export function sortModelEntries<T extends { key: Key }>(entries: T[], sort: ModelSort): T[] {
  const paths = Object.keys(sort);
  const decorated = entries.map((entry, index) => ({ entry, index, values: paths.map((p) => sortValue(entry.key, p, sort[p] as number)) }));
  decorated.sort((x, y) => {
    for (let i = 0; i < paths.length; i++) {
      const c = compareBson(x.values[i], y.values[i]);
      if (c !== 0) return c * (sort[paths[i]] as number);
    }
    return x.index - y.index;
  });
  return decorated.map((d) => d.entry);
}
