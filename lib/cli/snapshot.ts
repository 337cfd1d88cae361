/**
 * A store's live entries with their remaining TTLs, in batches: what `export` writes and `copy`
 * copies. Entries stream from `entries(query)` (a cursor, constant memory); the TTLs of a batch
 * are asked together, so a Redis or MongoDB store answers them in a few round trips.
 */
import type { BaseStore } from '../store';
import type { Query } from '../store-types';
import type { CliRecord } from './ndjson';

/** Entries per batch: big enough to pipeline the TTL reads, small enough to keep memory flat. */
export const SNAPSHOT_BATCH = 500;

/** Batches of `{ key, value, ttl }` (ttl: remaining ms, null for none); an entry that expired or went away meanwhile is left out. */
export async function* snapshotBatches(store: BaseStore, query: Query | undefined, batchSize = SNAPSHOT_BATCH): AsyncGenerator<CliRecord[]> {
  let pending: CliRecord[] = [];
  for await (const entry of store.entries(query)) {
    pending.push({ key: entry.key, value: entry.value });
    if (pending.length >= batchSize) {
      yield await withTtls(store, pending);
      pending = [];
    }
  }
  if (pending.length > 0) yield await withTtls(store, pending);
}

async function withTtls(store: BaseStore, batch: CliRecord[]): Promise<CliRecord[]> {
  const ttls = await Promise.all(batch.map((record) => store.ttl(record.key)));
  const live: CliRecord[] = [];
  for (let i = 0; i < batch.length; i++) {
    const ttl = ttls[i];
    if (ttl === undefined || (ttl !== null && ttl <= 0)) continue;
    live.push({ key: batch[i].key, value: batch[i].value, ttl });
  }
  return live;
}

/** How many entries `query` will visit (a progress bar's total): `{}` matches nothing, so every entry is the store's item count. */
export async function snapshotSize(store: BaseStore, query: Query | undefined): Promise<number> {
  return query === undefined ? (await store.stats()).items : store.count(query);
}
