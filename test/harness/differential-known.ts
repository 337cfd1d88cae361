/**
 * Differences from the MongoDB engine that the differential harness knows by name: each one is
 * a class of queries one side accepts and the other rejects, with why. The harness counts and
 * prints them instead of failing; anything else is a disagreement.
 *
 * Only rejections are listed here: a query both sides accept must always give the same keys.
 * `permanent` differences are documented behaviour (docs/README); the others are bugs with an
 * owner, pinned by failing tests in test/query-semantics.test.ts, and are listed so that the
 * harness keeps finding other disagreements meanwhile.
 */

/** One known difference. */
export interface KnownDifference {
  name: string;
  permanent: boolean;
  why: string;
  /** Whether this difference explains the store's answer to `query`. */
  explains(query: unknown, side: 'store-rejects' | 'mongo-rejects'): boolean;
}

/** Every `{ op: arg }` pair in a query, at any depth. */
function operators(query: unknown, out: Array<[string, unknown, Record<string, unknown>]> = []): Array<[string, unknown, Record<string, unknown>]> {
  if (Array.isArray(query)) for (const item of query) operators(item, out);
  else if (query !== null && typeof query === 'object' && !(query instanceof RegExp)) {
    const record = query as Record<string, unknown>;
    for (const field of Object.keys(record)) {
      if (field.startsWith('$')) out.push([field, record[field], record]);
      operators(record[field], out);
    }
  }
  return out;
}

function jsCompiles(source: string, options: string): boolean {
  try {
    new RegExp(source, options.replace(/[^ims]/g, ''));
    return true;
  } catch {
    return false;
  }
}

/** The named differences. */
export const KNOWN_DIFFERENCES: KnownDifference[] = [
  {
    name: 'PCRE-only regex syntax',
    permanent: true,
    why: 'patterns run as JavaScript regexes on every backend but MongoDB; syntax only PCRE knows (possessive quantifiers `a?+`, `\\A`, ...) is rejected with ERR_INVALID_QUERY',
    explains: (query, side) =>
      side === 'store-rejects' &&
      operators(query).some(([op, arg, ops]) => op === '$regex' && typeof arg === 'string' && !jsCompiles(arg, typeof ops.$options === 'string' ? ops.$options : '')),
  },
];

/** The known difference that explains a one-sided rejection, if any. */
export function knownDifference(query: unknown, side: 'store-rejects' | 'mongo-rejects'): KnownDifference | undefined {
  return KNOWN_DIFFERENCES.find((d) => d.explains(query, side));
}

/**
 * Sorts the store refuses and the raw driver accepts, by name (issue #12). A sort the engine
 * refuses must always be refused by the store; this list only explains the other side.
 */
export const KNOWN_SORT_DIFFERENCES: Array<{ name: string; permanent: boolean; why: string; explains(sort: Record<string, unknown>): boolean }> = [
  {
    name: 'string sort directions',
    permanent: true,
    why: "the Node driver turns '1', 'asc', 'desc', ... into 1 or -1 before the server sees them; the store's sort takes only the numbers 1 and -1 (SPEC §14), so a typo is not read as a direction",
    explains: (sort) => Object.values(sort).some((direction) => typeof direction === 'string'),
  },
];

/**
 * Sorts MongoDB refuses on some data and the store answers:
 * - a compound sort naming two paths that both reach arrays in one document ("cannot sort with
 *   keys that are parallel arrays");
 * - a path with a numeric part (`tags.0`) over an array whose elements are objects with that
 *   field name (`{ tags: [{ '0': 0 }] }`: "Ambiguous field name found in array", code 16746;
 *   found by a FUZZ_SEED=20261204 run of the paging harness).
 * The store takes each field's sort key on its own (lib/query-sort.ts), so it has an answer
 * where the engine has none; the harness then checks only which and how many entries come back.
 * A native MongoDB sort must not pass such a sort to the server as is (it would fail where
 * every other backend answers).
 */
export const DATA_REFUSED_SORT = {
  name: 'a sort MongoDB refuses on the data (parallel arrays, a numeric field name inside an array)',
  permanent: true,
  explains: (rejection: string) => /parallel arrays|Ambiguous field name found in array/.test(rejection),
};

/** The known difference that explains why the driver accepts a sort the store refuses, if any. */
export function knownSortDifference(sort: Record<string, unknown>): { name: string } | undefined {
  return KNOWN_SORT_DIFFERENCES.find((d) => d.explains(sort));
}
