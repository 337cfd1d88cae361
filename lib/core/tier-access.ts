/**
 * How a store layered over others (the multi store) reaches its tiers: by canonical id, the id
 * its own call validated once, so a key is never validated again per tier (SPEC §13). The
 * methods are keyed by these symbols, which the package entry does not export: they are no
 * part of the public API, and a user's store cannot be called through them by accident.
 * Each still runs in the tier's own program order and counts in its stats.
 */

/** What `[readSyncById]` returns when the store cannot answer synchronously. */
export const NOT_SYNC: unique symbol = Symbol('memstorage-next: not answered synchronously');

/**
 * `(id) => value | undefined | NOT_SYNC`: the exact read answered in-process (an open store
 * with a synchronous backend, nothing in flight on `id`), counted like getOne.
 */
export const readSyncById: unique symbol = Symbol('memstorage-next: synchronous read by id');

/** `(id) => Promise<value | undefined>`: getOne by id. */
export const readById: unique symbol = Symbol('memstorage-next: read by id');

/** `(id) => Promise<{ value, expiresAt } | undefined>`: the value with its absolute expiry (tier promotion). */
export const readEntryById: unique symbol = Symbol('memstorage-next: entry by id');

/**
 * `(ids) => Promise<Array<{ value, expiresAt } | undefined | Error>>`: one result per id, in
 * order, an id that alone failed (a value that no longer parses) as its Error; rejects when the
 * read as a whole failed. A multi store's batched misses: one MGET on Redis.
 */
export const readEntriesById: unique symbol = Symbol('memstorage-next: entries by id');

/** `(id, key, value, ttl) => Promise<void>`: set by id, the key and value already validated (ttl in ms or null). */
export const writeById: unique symbol = Symbol('memstorage-next: write by id');

/** `(id) => Promise<boolean>`: delete by id; resolves whether it was live. */
export const deleteById: unique symbol = Symbol('memstorage-next: delete by id');
