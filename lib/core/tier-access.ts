/**
 * How a store layered over others (the multi store, SPEC §13) reaches its tiers: as backends,
 * by canonical id and compiled selector — the id and selector its own call validated once — so
 * a key or query is never validated again per tier. A tier given as a store is reached through
 * `store[tierBackend]()`: the Backend contract over that store's own backend, run in the store's
 * program order (a promotion and a later delete of the same id on a tier stay in order), after
 * its lazy connect, and counted in its stats. The symbol is not exported from the package
 * entry: none of this is on the public API.
 */
import type { CompleteBackend } from './backend-defaults';

/** What `TierBackend.readSync` returns when the store cannot answer synchronously. */
export const NOT_SYNC: unique symbol = Symbol('memstorage-next: not answered synchronously');

/** `(namespace) => store`: a store's scope as a tier of another store opens it, reserved names included (lib/store.ts). */
export const tierScope: unique symbol = Symbol('memstorage-next: a scope for a tier');

/** `() => TierBackend`: a store's backend as a tier of another store sees it. */
export const tierBackend: unique symbol = Symbol('memstorage-next: the store as a tier backend');

/** A tier's backend: the Backend contract in its store's program order, every derivable primitive present, plus the in-process read. */
export interface TierBackend extends CompleteBackend {
  /**
   * The exact read answered in-process now (an open store with a synchronous backend and
   * nothing in flight on `id`), counted like getOne; NOT_SYNC when it must be awaited.
   */
  readSync(id: string): unknown;
}
