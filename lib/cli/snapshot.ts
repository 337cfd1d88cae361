/**
 * A store's live entries with their expiry and tags, in windows: what `export` writes and
 * `copy` copies. Entries stream from `entries(query)` (a cursor, constant memory); the metadata
 * of a whole window is asked at once (`getMeta` of hundreds of keys in one tick), which a
 * backend that batches a tick's calls answers in one round trip, and the next window is read
 * while that answer is on its way. Order is the store's (creation order); at most two windows
 * are held at a time.
 */
import type { EntryMeta } from '../backend';
import type { BaseStore } from '../store';
import type { Entry, Query } from '../store-types';
import type { Key } from '../keys';

/** Entries per window: enough to fill a pipeline, few enough to keep memory flat. */
export const SNAPSHOT_WINDOW = 500;

/** One live entry of a snapshot. */
export interface SnapshotRecord {
  key: Key;
  value: unknown;
  /** Epoch ms, null for none. */
  expiresAt: number | null;
  /** Empty when it has none. */
  tags: readonly string[];
}

/** Windows of live entries with their metadata; an entry that expired or went away meanwhile is left out. */
export async function* snapshotWindows(store: BaseStore, query: Query | undefined, windowSize = SNAPSHOT_WINDOW): AsyncGenerator<SnapshotRecord[]> {
  let inFlight: Promise<SnapshotRecord[]> | undefined;
  let window: Entry[] = [];
  try {
    for await (const entry of store.entries(query)) {
      window.push(entry);
      if (window.length < windowSize) continue;
      const next = withMeta(store, window);
      window = [];
      if (inFlight !== undefined) yield await inFlight;
      inFlight = next;
    }
    if (window.length > 0) {
      const next = withMeta(store, window);
      if (inFlight !== undefined) yield await inFlight;
      inFlight = next;
    }
    if (inFlight !== undefined) yield await inFlight;
  } finally {
    // A window left behind by an error or an early return must not become an unhandled rejection.
    inFlight?.catch(() => undefined);
  }
}

/** The window's entries with their metadata, asked all in one tick. */
function withMeta(store: BaseStore, window: Entry[]): Promise<SnapshotRecord[]> {
  const metas: Array<Promise<EntryMeta | undefined>> = new Array(window.length);
  for (let i = 0; i < window.length; i++) metas[i] = store.getMeta(window[i].key);
  const answer = Promise.all(metas).then((meta) => liveRecords(window, meta, Date.now()));
  // Held until the caller awaits it; a failure is reported there.
  answer.catch(() => undefined);
  return answer;
}

function liveRecords(window: Entry[], metas: Array<EntryMeta | undefined>, now: number): SnapshotRecord[] {
  const live: SnapshotRecord[] = [];
  for (let i = 0; i < window.length; i++) {
    const meta = metas[i];
    if (meta === undefined || (meta.expiresAt !== null && meta.expiresAt <= now)) continue;
    live.push({ key: window[i].key, value: window[i].value, expiresAt: meta.expiresAt, tags: meta.tags });
  }
  return live;
}

/** How many entries `query` will visit (a progress bar's total): `{}` matches nothing, so every entry is the store's item count. */
export async function snapshotSize(store: BaseStore, query: Query | undefined): Promise<number> {
  return query === undefined ? (await store.stats()).items : store.count(query);
}
