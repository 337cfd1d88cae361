/** The synchronous read of a store layered over another (the multi store's front tier). */

/** What `getOneSync` returns when the store cannot answer synchronously. */
export const NOT_SYNC: unique symbol = Symbol('memstorage-next: not answered synchronously');

/**
 * The key of `getOneSync` by an id already validated, for stores layered over this one (the
 * multi store's front tier): a symbol the package entry does not export, so it is no part of
 * the public API, and the id computed once at the top flows down without validation again.
 */
export const readByIdSync: unique symbol = Symbol('memstorage-next: synchronous read by id');
