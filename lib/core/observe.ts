/**
 * Per-operation events (SPEC §15): 'hit', 'miss', 'set', 'delete', 'expire', 'evict', emitted
 * only while someone listens. Nobody listening costs nothing: the store then calls its backend
 * directly; the first listener (or watcher, lib/core/watch.ts) swaps in the backend wrapped
 * here, whose primitives report what they did — hits and misses of exact reads, writes, and
 * deletes that removed something — and the last one swaps it out again (lib/core/store-core.ts).
 */
import type { Key } from '../keys';
import type { Selector } from '../query';
import type { CompleteBackend } from './backend-defaults';

/** The per-operation events a store emits while someone listens to them. */
export const STORE_EVENTS = ['hit', 'miss', 'set', 'delete', 'expire', 'evict'] as const;

/** One of STORE_EVENTS. */
export type StoreEventName = (typeof STORE_EVENTS)[number];

/** True for the names in STORE_EVENTS. */
export function isStoreEvent(name: string | symbol): name is StoreEventName {
  return name === 'hit' || name === 'miss' || name === 'set' || name === 'delete' || name === 'expire' || name === 'evict';
}

/**
 * The payload of every event about one key: the key as the caller wrote it (rebuilt from its
 * id: an object key is a fresh copy) and, on a multi store's hit, the tier that served it.
 */
export interface KeyEvent {
  key: Key;
  /** A multi store's hit: the index of the tier that served it (0 is the fastest). */
  tier?: number;
  /** A multi store's hit: that tier's name. */
  tierName?: string;
}

/**
 * The payload of a 'delete' that removed entries by query, glob or tags: what was asked and
 * how many entries went (emitted only when at least one did).
 */
export interface BulkDeleteEvent {
  /** The query (normalized filter) or glob string of a del / delKeys. */
  query?: unknown;
  /** The tags of a delByTags. */
  tags?: readonly string[];
  count: number;
}

/** What the observed backend reports to its store; see observedBackend. */
export interface BackendNotes {
  /** An exact read: `value` undefined is a miss. `tier` is the multi store's tier that served a hit. */
  read(id: string, value: unknown, tier?: number, tierName?: string): void;
  /** A write of `id` succeeded. */
  set(id: string): void;
  /** `id` was live and is now deleted. */
  deleted(id: string): void;
  /** `count` (> 0) entries went by a query or glob delete. */
  deletedMatching(selector: Selector, count: number): void;
  /** `count` (> 0) entries went by a delete by tags. */
  deletedTagged(tags: readonly string[], count: number): void;
  /** The namespace was cleared. */
  cleared(): void;
}

/** Which primitives an observed backend wraps: exact reads (hit/miss listeners), writes and deletes (set/delete listeners, watchers). */
export interface Observed {
  reads: boolean;
  writes: boolean;
}

/**
 * `inner` with the primitives that read (`observe.reads`) or change entries (`observe.writes`)
 * reporting to `notes` once they succeed. Everything else is `inner`'s own function, so a watch
 * costs reads nothing. Derived primitives inside `inner` (a `has` read through `get`) call
 * `inner`'s, so nothing is reported twice.
 */
export function observedBackend(inner: CompleteBackend, notes: BackendNotes, observe: Observed): CompleteBackend {
  const reads = observe.reads ? observedReads(inner, notes) : {};
  const writes = observe.writes ? observedWrites(inner, notes) : {};
  return { ...inner, ...reads, ...writes };
}

function observedReads(inner: CompleteBackend, notes: BackendNotes): Partial<CompleteBackend> {
  const { getSync } = inner;
  return {
    get: (id) =>
      inner.get(id).then((value) => {
        notes.read(id, value);
        return value;
      }),
    getEntries: (ids) =>
      inner.getEntries(ids).then((entries) => {
        for (let i = 0; i < entries.length; i++) {
          const entry = entries[i];
          if (!(entry instanceof Error)) notes.read(ids[i], entry?.value);
        }
        return entries;
      }),
    getSync:
      getSync &&
      ((id) => {
        const value = getSync(id);
        notes.read(id, value);
        return value;
      }),
  };
}

function observedWrites(inner: CompleteBackend, notes: BackendNotes): Partial<CompleteBackend> {
  const { setSync, deleteByTags } = inner;
  return {
    set: (id, key, value, expiresAt, tags) => inner.set(id, key, value, expiresAt, tags).then(() => notes.set(id)),
    setStream: (id, key, source, expiresAt) => inner.setStream(id, key, source, expiresAt).then(() => notes.set(id)),
    delete: (id) =>
      inner.delete(id).then((existed) => {
        if (existed) notes.deleted(id);
        return existed;
      }),
    deleteMatching: (selector) =>
      inner.deleteMatching(selector).then((removed) => {
        if (removed > 0) notes.deletedMatching(selector, removed);
        return removed;
      }),
    deleteByTags:
      deleteByTags &&
      ((tags) =>
        deleteByTags(tags).then((removed) => {
          if (removed > 0) notes.deletedTagged(tags, removed);
          return removed;
        })),
    clear: () => inner.clear().then(() => notes.cleared()),
    setSync:
      setSync &&
      ((id, key, value, expiresAt, tags) => {
        setSync(id, key, value, expiresAt, tags);
        notes.set(id);
      }),
  };
}

/** What a query or glob delete asked for, as the 'delete' event and watchers show it. */
export function selectorSubject(selector: Selector): unknown {
  switch (selector.kind) {
    case 'query':
      return selector.filter;
    case 'glob':
      return selector.pattern;
    case 'exact':
      return selector.key;
    default:
      return undefined;
  }
}
