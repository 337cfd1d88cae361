/**
 * The model's own query and glob matcher: a plain hand-written reading of SPEC §3 and §12
 * for the few query shapes the harness generates, independent of lib/query.ts (sift) so a
 * bug there cannot hide in both the store and the model.
 *
 * Shapes (each has one unambiguous answer under MongoDB's rules):
 * - equality on a field, `{ g: 1 }`, `{ 'n.x': 1 }`, and a nested plain object, which SPEC §3
 *   makes a partial match by dotted path: `{ n: { x: 1 } }` ≡ `{ 'n.x': 1 }`;
 * - `$in`, `$gt`/`$lt` on numbers (MongoDB compares only within a type: `{ $gt: 0 }` never
 *   matches the string '1'), `$exists`;
 * - `$or` of those; several fields at once (all must hold);
 * - `{}` matches nothing; a string query is an exact key (handled by the model, not here).
 * Object queries match object keys only; string keys never match them.
 *
 * Paths resolve through own fields of plain objects only (SPEC §12: no `.length`, nothing
 * inherited). The generated keys put arrays only at leaves, so no path crosses an array.
 */
import type { Key } from '../../lib/keys';

/** An object query as the harness generates it. */
export type ModelQuery = Record<string, unknown>;

type Scalar = string | number | boolean | null;

function isPlain(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date) && !Buffer.isBuffer(value);
}

/** The value at a dotted path through own fields of plain objects, or `found: false`. */
function resolve(key: Record<string, unknown>, path: string): { found: boolean; value?: unknown } {
  let current: unknown = key;
  for (const segment of path.split('.')) {
    if (!isPlain(current) || !Object.prototype.hasOwnProperty.call(current, segment)) return { found: false };
    current = current[segment];
  }
  return { found: true, value: current };
}

/** MongoDB's rule for a scalar test against a field: an array field matches when any element does. */
function anyElement(value: unknown, test: (v: unknown) => boolean): boolean {
  return Array.isArray(value) ? value.some(test) : test(value);
}

function isOperatorObject(value: unknown): value is Record<string, unknown> {
  return isPlain(value) && Object.keys(value).length > 0 && Object.keys(value).every((k) => k.startsWith('$'));
}

/** Whether one field condition holds at `path`. */
function fieldMatches(key: Record<string, unknown>, path: string, condition: unknown): boolean {
  if (isOperatorObject(condition)) {
    const at = resolve(key, path);
    return Object.entries(condition).every(([op, arg]) => {
      switch (op) {
        case '$exists':
          return at.found === arg;
        case '$in':
          return at.found && anyElement(at.value, (v) => (arg as Scalar[]).some((a) => a === v));
        case '$gt':
          return at.found && anyElement(at.value, (v) => typeof v === 'number' && v > (arg as number));
        case '$lt':
          return at.found && anyElement(at.value, (v) => typeof v === 'number' && v < (arg as number));
        default:
          throw new Error(`model: the harness does not generate ${op}`);
      }
    });
  }
  if (isPlain(condition)) {
    // SPEC §3: a nested plain object is a partial match, field by field, by dotted path.
    return Object.entries(condition).every(([field, sub]) => fieldMatches(key, `${path}.${field}`, sub));
  }
  const at = resolve(key, path);
  return at.found && anyElement(at.value, (v) => v === condition);
}

/** Whether an object query matches a key (string keys never match an object query; `{}` matches nothing). */
export function queryMatches(query: ModelQuery, key: Key): boolean {
  if (typeof key === 'string') return false;
  const fields = Object.keys(query);
  if (fields.length === 0) return false;
  return fields.every((field) => {
    if (field === '$or') return (query.$or as ModelQuery[]).some((branch) => queryMatches(branch, key));
    return fieldMatches(key, field, query[field]);
  });
}

/** Whether a glob (`*` any run of characters, `?` one character; the harness uses no others) matches a string key. */
export function globMatches(pattern: string, key: Key): boolean {
  if (typeof key !== 'string') return false;
  const chars = [...key];
  const pat = [...pattern];
  // Plain dynamic programming over the two strings: no regular expression, unlike the library.
  let row = new Array<boolean>(chars.length + 1).fill(false);
  row[0] = true;
  for (const p of pat) {
    const next = new Array<boolean>(chars.length + 1).fill(false);
    if (p === '*') {
      let any = false;
      for (let i = 0; i <= chars.length; i++) {
        any = any || row[i];
        next[i] = any;
      }
    } else {
      for (let i = 1; i <= chars.length; i++) next[i] = row[i - 1] && (p === '?' || chars[i - 1] === p);
    }
    row = next;
  }
  return row[chars.length];
}
