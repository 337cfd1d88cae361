/**
 * Where `export` and `copy` read entries from: a store (its live entries with their expiry and
 * tags, snapshot.ts), or a collection written by memstorage 0.5.3, read as it is without
 * changing it (lib/backends/mongo/migrate.ts). Both give windows of SnapshotRecords in the
 * source's order.
 */
import type { Collection, Document, MongoClient } from 'mongodb';
import { StorageOperationError, StoreError } from '../errors';
import type { BaseStore } from '../store';
import type { Query } from '../store-types';
import { CliError, ExitCodes } from './exit-codes';
import { openStore } from './open-store';
import { SNAPSHOT_WINDOW, SnapshotRecord, snapshotSize, snapshotWindows } from './snapshot';
import { parseSourceUrl } from './store-url';

/** A document of the source that cannot be an entry (memstorage 0.5.3 only): what and why. */
export interface Rejected {
  _id: unknown;
  reason: string;
}

/** Entries to read, in windows. */
export interface Source {
  /** The store, when the source is one (copy compares it with the destination). */
  readonly store?: BaseStore;
  /** Windows of live entries, in the source's order. */
  windows(windowSize?: number): AsyncIterable<SnapshotRecord[]>;
  /** How many entries the walk will visit (a progress bar's total). */
  size(): Promise<number>;
  /** Documents left out because they cannot be entries (found so far; at most 100 kept). */
  readonly rejected: Rejected[];
  /** How many documents were left out. */
  readonly rejectedCount: number;
  close(): Promise<void>;
}

/** Opens (and connects) what `url` names, to read the entries of `query` (every entry when undefined). */
export async function openSource(url: string, query: Query | undefined): Promise<Source> {
  const spec = parseSourceUrl(url);
  if (spec.kind === 'store') return storeSource(await openStore(url), query);
  if (query !== undefined) throw new CliError(ExitCodes.USAGE, 'a memstorage 0.5.3 collection is read whole: give no key or query');
  // Loaded here: the driver is an optional peer dependency, named by a StoreConfigError when missing.
  const { openLegacyCollection } = await import('../backends/mongo/migrate');
  const { client, collection } = await openLegacyCollection(spec.url, spec.collectionName);
  return new LegacySource(client, collection);
}

/** The live entries of `query` in an open store (closing the source closes the store). */
export function storeSource(store: BaseStore, query: Query | undefined): Source {
  return {
    store,
    windows: (windowSize) => snapshotWindows(store, query, windowSize),
    size: () => snapshotSize(store, query),
    rejected: [],
    rejectedCount: 0,
    close: () => store.close(),
  };
}

/** A memstorage 0.5.3 collection, read without being changed. */
class LegacySource implements Source {
  readonly rejected: Rejected[] = [];
  rejectedCount = 0;

  constructor(
    private readonly client: MongoClient,
    private readonly collection: Collection<Document>,
  ) {}

  async *windows(windowSize = SNAPSHOT_WINDOW): AsyncGenerator<SnapshotRecord[]> {
    const { readLegacyDocuments } = await import('../backends/mongo/migrate');
    let window: SnapshotRecord[] = [];
    try {
      for await (const read of readLegacyDocuments(this.collection, windowSize)) {
        if ('rejected' in read) {
          this.rejectedCount++;
          if (this.rejected.length < 100) this.rejected.push(read.rejected);
          continue;
        }
        window.push({ key: read.key, value: read.value, expiresAt: null, tags: [] });
        if (window.length >= windowSize) {
          yield window;
          window = [];
        }
      }
    } catch (err) {
      throw err instanceof StoreError ? err : new StorageOperationError(`reading the memstorage 0.5.3 collection: ${(err as Error).message}`, { cause: err });
    }
    if (window.length > 0) yield window;
  }

  async size(): Promise<number> {
    const { LEGACY_FILTER } = await import('../backends/mongo/migrate');
    return this.collection.countDocuments(LEGACY_FILTER);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
