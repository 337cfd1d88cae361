/**
 * What an equality index can answer of a query: the top-level equality and `$in` constraints
 * on scalar paths, and the tokens a key's scalar leaves are indexed under (the memory store's
 * per-path indexes and the Redis store's index sets use the same tokens).
 */
import { KeyObject, isPlainObject } from './keys';

/** An equality (or `$in`) constraint an index can answer exactly. */
export interface IndexConstraint {
  /** Dotted path into the key object. */
  path: string;
  /** The accepted scalar values (one for equality, several for `$in`). */
  values: Array<string | number | boolean>;
}

/** A segment of digits only, anywhere in a dotted path. */
const NUMERIC_SEGMENT = /(?:^|\.)\d+(?:\.|$)/;

/** True when an index over scalar leaves can answer a constraint on `path` exactly. */
function indexablePath(path: string): boolean {
  // Numeric segments address array positions, which the per-path indexes do not record.
  return !NUMERIC_SEGMENT.test(path);
}

function isIndexableScalar(v: unknown): v is string | number | boolean {
  // null is left out on purpose: in MongoDB `{ a: null }` also matches a missing field.
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** The top-level equality and `$in` constraints of a normalized filter, and whether they alone decide it. */
export function indexConstraints(filter: Record<string, unknown>): { constraints: IndexConstraint[]; covered: boolean } {
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
 * under the same path — MongoDB's path semantics, so index hits equal the matcher's (query-match.ts).
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

