/**
 * The SQLite store type (`{ type: 'sqlite', settings: { path } }`), registered in
 * lib/builtin-stores.ts: the registry wraps `createBackend` in the public store.
 * better-sqlite3 (major 12) is an optional peer dependency, loaded when the first store is made.
 */
import type { BackendFactory } from '../../backend';
import { systemClock } from '../../clock';
import { SqliteBackend, sqliteBackend } from './backend';
import { SqliteConnection, loadSqliteDriver } from './connection';
import { SqliteSettings, resolveSettings } from './settings';

export type { SqliteSettings } from './settings';
export type { SqliteBackend } from './backend';
export { SQLITE_DEFAULTS } from './settings';

/** Builds the backend of a new store: settings are checked now (ERR_STORE_CONFIG); the file opens at connect. */
export const createBackend: BackendFactory<SqliteSettings> = (settings, context): SqliteBackend => {
  const resolved = resolveSettings(settings ?? {});
  const connection = new SqliteConnection(resolved, context.clock ?? systemClock, loadSqliteDriver());
  return sqliteBackend(connection, context);
};
