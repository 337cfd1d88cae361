/**
 * What the memory indexes record of a key object, per dotted path: the scalar leaves found
 * there (MongoDB's path rules, as lib/query-index.ts indexEntries walks them: array elements
 * under the array's path, objects inside arrays recursed into under the same path), and two
 * facts the planner needs to use an ordered index safely:
 * - multikey: some value was reached through an array, so one entry may sit under several
 *   values and two bounds on the path may be met by different elements (MongoDB does not
 *   intersect bounds on a multikey path either);
 * - irregular: the path can reach something no index holds (null, an empty array, an object,
 *   a nested array, another type) or "missing" (through an array of objects, conservatively),
 *   so the entry's sort key (lib/query-sort.ts) may not be one of its indexed values.
 */
import type { KeyObject } from '../../keys';

/** A value an index holds: what a key's scalar leaves can be (numbers are finite, keys refuse NaN and ±Infinity). */
export type Scalar = string | number | boolean;

/** What one key object holds at one path. */
export interface PathFacts {
  values: Scalar[];
  multikey: boolean;
  irregular: boolean;
}

export function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** Every path of `key` with its facts (see the file comment). */
export function keyPaths(key: KeyObject): Map<string, PathFacts> {
  const out = new Map<string, PathFacts>();
  for (const field of Object.keys(key)) fieldPaths(out, field, key[field]);
  return out;
}

/**
 * Adds to `out` every path under the top-level field `field` of a key, whose value is `value`,
 * with its facts (see the file comment). A scalar there is the one path `field` holding it;
 * ordered-indexes.ts indexes that case itself without calling this, so the usual set
 * allocates nothing here.
 */
export function fieldPaths(out: Map<string, PathFacts>, field: string, value: unknown): void {
  const facts = (path: string): PathFacts => {
    let f = out.get(path);
    if (f === undefined) out.set(path, (f = { values: [], multikey: false, irregular: false }));
    return f;
  };
  // inArray: the value is an element of an array; viaObjectArray: an array of objects was crossed on the way.
  const walk = (value: unknown, path: string, inArray: boolean, viaObjectArray: boolean): void => {
    if (isScalar(value)) {
      const f = facts(path);
      f.values.push(value);
      if (inArray || viaObjectArray) f.multikey = true;
      if (viaObjectArray) f.irregular = true;
      return;
    }
    if (Array.isArray(value)) {
      if (inArray || value.length === 0) {
        facts(path).irregular = true; // a nested array's value, or an empty array, is a sort key no index holds
        return;
      }
      facts(path).multikey = true;
      for (const item of value) walk(item, path, true, viaObjectArray);
      return;
    }
    if (value !== null && typeof value === 'object') {
      facts(path).irregular = true; // the object itself is a value at this path
      const through = viaObjectArray || inArray;
      for (const name of Object.keys(value)) walk((value as Record<string, unknown>)[name], `${path}.${name}`, false, through);
      return;
    }
    facts(path).irregular = true;
  };
  walk(value, field, false, false);
}
