/**
 * The store's limits, in one table (SPEC §12; the README lists them). Every backend applies
 * the same ones, so a value accepted by one store is accepted by all.
 */

/** Largest TTL accepted, in ms: 100 years. Anything larger is ERR_INVALID_ARGUMENT on every backend. */
export const MAX_TTL_MS = 100 * 365.25 * 24 * 60 * 60 * 1000;
