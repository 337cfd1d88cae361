/**
 * The store's limits, in one table (SPEC §12; the README lists them). Every backend applies
 * the same ones, so a value accepted by one store is accepted by all. Going over a limit is a
 * typed error (the code is named on each), raised before anything is sent to a backend.
 */

/** Deepest nesting inside an object key (`{ a: 1 }` is depth 1). Deeper: ERR_INVALID_KEY. */
export const MAX_KEY_DEPTH = 16;

/** Longest key id, in UTF-16 code units: a string key's length, an object key's canonical JSON + 1. Longer: ERR_INVALID_KEY. */
export const MAX_KEY_LENGTH = 8192;

/**
 * Deepest nesting of a query: nested plain objects, `$and`/`$or`/`$nor` branches, and `$not`
 * and `$elemMatch` chains all count, as do arrays and objects inside operands. Deeper: ERR_INVALID_QUERY.
 */
export const MAX_QUERY_DEPTH = 32;

/** Most operands of one `$in`, `$nin` or `$all`. More: ERR_INVALID_QUERY. */
export const MAX_QUERY_LIST_LENGTH = 10_000;

/** Deepest nesting inside a value; a cyclic value counts as infinitely deep. Deeper: ERR_INVALID_VALUE. */
export const MAX_VALUE_DEPTH = 100;

/** Largest TTL accepted, in ms: 100 years. Anything larger is ERR_INVALID_ARGUMENT on every backend. */
export const MAX_TTL_MS = 100 * 365.25 * 24 * 60 * 60 * 1000;
