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
