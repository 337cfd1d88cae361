/**
 * The memory store type (`{ type: 'memory' }`, the default), registered in
 * lib/builtin-stores.ts: a Map per namespace with O(1) exact-key operations, per-path ordered
 * indexes for equality, `$in`, range and sorted queries (the `indexes` setting picks the paths), LRU bounds, and an expiry sweep (SPEC §8 memory).
 * `MemoryStore` is the public class over the backend (backend.ts), kept for `new MemoryStore()`.
 */
import type { BackendFactory } from '../../backend';
import { BackendStore, ScopedBackend } from '../../backend-store';
import type { StoreFlags, UnknownFlags } from '../../store-types';
import { MemoryBackend } from './backend';
import type { QueryReport } from './keyspace';
import { MemorySettings, resolveSettings } from './settings';
import { SharedMemory } from './shared-memory';

// MemorySettings is exported as a value-side name, not `export type`: the package entry
// re-exports it with `export import`, which cannot name a type-only export.
export { MEMORY_DEFAULTS, MemorySettings } from './settings';
export { MemoryBackend } from './backend';

/** Builds the backend of a new memory store: settings are checked now (ERR_STORE_CONFIG). */
export const createBackend: BackendFactory<MemorySettings> = (settings, context): MemoryBackend =>
  new MemoryBackend(new SharedMemory(resolveSettings(settings ?? {}), context.clock), context);

/**
 * The in-process store. F defaults to UnknownFlags, as the class had before the move: its
 * instances' types do not know the settings, and the constructor takes any callback style.
 */
export class MemoryStore<V = unknown, F extends StoreFlags = UnknownFlags> extends BackendStore<MemorySettings, V, F, MemoryBackend> {
  /** `scoped` is given only by `_scope`: a scope shares the root store's keyspaces and timer. */
  constructor(settings: MemorySettings & { callbacks?: F['callbacks'] } = {}, scoped?: ScopedBackend<MemoryBackend>) {
    super(settings, createBackend, scoped);
  }

  /** Frees expired entries now (the timer does it every `sweepInterval` ms). */
  sweep(): void {
    this.backend.sweep();
  }

  /**
   * Diagnostics for tests, read without side effects: index buckets, tracked bytes, entries held
   * (expired ones too until swept), creation-time steps (creation-times.ts), and what the last
   * query did (its plan — 'scan', 'eq(kind)', 'range(age)', 'sort(age)', ... — and how many
   * entries it examined).
   */
  get internals(): { indexBuckets: number; tags: number; bytes: number; size: number; creationSteps: number; lastQuery: QueryReport } {
    const keyspace = this.backend.keyspace;
    return {
      indexBuckets: keyspace.indexBuckets,
      tags: keyspace.tagCount,
      bytes: keyspace.byteSize,
      size: keyspace.heldEntries,
      creationSteps: keyspace.creationSteps,
      lastQuery: { ...keyspace.lastQuery },
    };
  }

  /** A scope is a MemoryStore too (sweep(), internals), over the same shared keyspaces. */
  protected _scope(namespace: string): MemoryStore<V, F> {
    return new MemoryStore<V, F>({ ...this.settings, namespace } as MemorySettings, this.scopedBackend(namespace));
  }
}
