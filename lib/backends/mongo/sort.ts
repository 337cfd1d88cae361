/**
 * Native sort (SPEC §14) on the entry layout (layout.ts): a `SortSpec` (lib/query-sort.ts)
 * becomes the server's sort over `k.<path>` with the creation position `s` as the last field,
 * and the `indexes` setting becomes the compound indexes that can serve it.
 *
 * The server's sort is the reference order (lib/query-sort.ts was checked against it): a string
 * key has no fields, so every `k.<path>` of it is missing, i.e. null, as lib/query-sort.ts says;
 * keys are stored with sorted fields, as lib/keys.ts compares them. Only the tie-breaker needs
 * care: ties keep creation order (`s: 1`) whatever the directions, and an index
 * `{ n, k.age: 1, s: 1 }` serves `{ k.age: -1, s: -1 }` (scanned backwards) but not
 * `{ k.age: -1, s: 1 }`. When an index serves only the sort with the tie-breaker reversed, the
 * server sorts that way and scans.ts reverses each run of ties as it reads them (planSort).
 */
import type { Document } from 'mongodb';
import type { SortSpec } from '../../query-sort';
import type { Selector } from '../../query';

/** One index of the `indexes` setting, normalized: key paths with their directions. */
export type IndexFields = ReadonlyArray<readonly [path: string, direction: 1 | -1]>;

/** How the server is asked to sort one find. */
export interface SortPlan {
  /** The server's sort document. */
  sort: Document;
  /**
   * True when `sort` has the tie-breaker reversed (`s: -1`) because an index serves that order:
   * the backend restores creation order within ties and applies skip and limit itself.
   */
  reversedTies: boolean;
}

/** The `indexes` setting's entries (a path, an array of paths, or `{ path: 1 | -1 }`), normalized. */
export function indexFields(entry: string | readonly string[] | Readonly<Record<string, 1 | -1>>): IndexFields {
  if (typeof entry === 'string') return [[entry, 1]];
  if (Array.isArray(entry)) return entry.map((path) => [path, 1] as const);
  return Object.keys(entry).map((path) => [path, (entry as Record<string, 1 | -1>)[path]] as const);
}

/** The index key document of `fields`: namespace first, creation position last, so ties come out in creation order. */
export function indexKey(fields: IndexFields): Document {
  const key: Document = { n: 1 };
  for (const [path, direction] of fields) key['k.' + path] = direction;
  key.s = 1;
  return key;
}

/** The index's name: MongoDB's own naming (`n_1_k.age_1_s_1`), so indexes made by earlier versions are the same ones. */
export function indexName(fields: IndexFields): string {
  return ['n_1', ...fields.map(([path, direction]) => `k.${path}_${direction}`), 's_1'].join('_');
}

/**
 * The server sort for `spec`: `{ k.<path>: dir, ..., s: 1 }`, unless no configured index
 * serves it while one serves the same sort with `s: -1` (a descending sort over a plain
 * ascending index): then that one, with `reversedTies`.
 */
export function planSort(spec: SortSpec, selector: Selector, indexes: readonly IndexFields[]): SortPlan {
  const fields: Array<readonly [string, 1 | -1]> = spec.map((f) => [f.path, f.direction] as const);
  const exact = sortDocument(fields, 1);
  if (indexes.length === 0) return { sort: exact, reversedTies: false };
  const bound = equalityPaths(selector);
  const served = (ties: 1 | -1) => indexes.some((index) => serves(index, fields, ties, bound));
  if (!served(1) && served(-1)) return { sort: sortDocument(fields, -1), reversedTies: true };
  return { sort: exact, reversedTies: false };
}

function sortDocument(fields: ReadonlyArray<readonly [string, 1 | -1]>, ties: 1 | -1): Document {
  const sort: Document = {};
  for (const [path, direction] of fields) sort['k.' + path] = direction;
  sort.s = ties;
  return sort;
}

/**
 * Whether an index scan (forwards or backwards) yields `fields` then `s: ties` in order: its
 * fields, less those the query pins to one value and the sort does not name, are the sort's.
 */
function serves(index: IndexFields, fields: ReadonlyArray<readonly [string, 1 | -1]>, ties: 1 | -1, bound: ReadonlySet<string>): boolean {
  const named = new Set(fields.map(([path]) => path));
  const used = index.filter(([path]) => named.has(path) || !bound.has(path));
  if (used.length !== fields.length) return false;
  for (const flip of [1, -1] as const) {
    if (ties !== flip) continue; // the index ends with s: 1, so a scan in direction `flip` yields s: flip
    if (used.every(([path, direction], i) => fields[i][0] === path && fields[i][1] === direction * flip)) return true;
  }
  return false;
}

/** Key paths a query pins to one scalar value at its top level (an index field the server can skip over). */
export function equalityPaths(selector: Selector): Set<string> {
  const out = new Set<string>();
  if (selector.kind !== 'query') return out;
  const filter = selector.filter as Record<string, unknown>;
  for (const path of Object.keys(filter)) {
    if (path.startsWith('$')) continue;
    let cond = filter[path];
    if (cond !== null && typeof cond === 'object' && !Array.isArray(cond)) {
      const ops = Object.keys(cond);
      if (ops.length !== 1 || ops[0] !== '$eq') continue;
      cond = (cond as Record<string, unknown>).$eq;
    }
    if (cond === null || typeof cond !== 'object') out.add(path);
  }
  return out;
}
