/**
 * `copy --from memstorage-0.5.3+mongodb://h/db?collection=C --to mongodb://h/db?collection=C`:
 * a memstorage 0.5.3 collection copied into itself is converted in place (the old
 * `memstorage-migrate`, which now calls this): each document becomes an entry of the new layout
 * where it is, in batches, resumable (a document is converted or not) and idempotent (an entry
 * the new store already wrote for a key wins). A store cannot be opened over the collection
 * before that (its connect refuses memstorage documents), so this is not an ordinary copy.
 */
import type { MongoSettings } from '../backends/mongo/settings';
import type { MigrationProgress, MigrationResult } from '../backends/mongo/migrate';
import { parseStoreUrl, SourceSpec } from './store-url';

/** The destination's settings when `to` names the very collection the memstorage 0.5.3 source names; undefined otherwise. */
export function inPlaceTarget(source: SourceSpec, to: string): MongoSettings | undefined {
  if (source.kind !== 'memstorage-0.5.3') return undefined;
  const target = parseStoreUrl(to);
  if (target.type !== 'mongo') return undefined;
  const settings = target.settings as { url: string; collectionName?: string; namespace?: string };
  return settings.url === source.url && settings.collectionName === source.collectionName ? (settings as MongoSettings) : undefined;
}

/** Converts the memstorage 0.5.3 documents of the collection `settings` names, in place, into the namespace they name. */
export async function migrateInPlace(settings: MongoSettings, onProgress?: (progress: MigrationProgress) => void): Promise<MigrationResult> {
  // Loaded here: the driver is an optional peer dependency.
  const { MongoStore } = await import('../backends/mongo');
  const store = new MongoStore(settings);
  try {
    return await store.migrateLegacy(onProgress);
  } finally {
    await store.close().catch(() => undefined);
  }
}
