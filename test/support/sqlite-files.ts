/**
 * Temporary database files for the SQLite tests: one directory per process under os.tmpdir(),
 * removed when the process exits (mocha's root hooks have no "after the last file" hook that
 * every test file shares, so the exit handler is the one place that always runs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BackendStore } from '../../lib/backend-store';
import { createBackend, SqliteBackend, SqliteSettings } from '../../lib/backends/sqlite';

let dir: string | undefined;
let counter = 0;

/** The process's temporary directory for database files (made on first use, removed at exit). */
export function sqliteTempDir(): string {
  if (!dir) {
    const made = mkdtempSync(path.join(tmpdir(), 'memstorage-sqlite-'));
    dir = made;
    process.once('exit', () => rmSync(made, { recursive: true, force: true }));
  }
  return dir;
}

/** A database file path no other test uses (the file itself is created by the store). */
export function freshSqlitePath(name = 'db'): string {
  return path.join(sqliteTempDir(), `${name}-${++counter}.sqlite`);
}

/**
 * For one describe block (registers its afterEach): opens a SQLite store on a fresh file with
 * its backend at hand, closed after each test; `defaults()` go under each call's settings.
 */
export function sqliteBackendStores(
  defaults: () => Partial<SqliteSettings> = () => ({}),
): (settings?: Partial<SqliteSettings>) => { store: BackendStore<SqliteSettings>; backend: SqliteBackend } {
  const opened: Array<BackendStore<SqliteSettings>> = [];
  afterEach(async () => {
    while (opened.length > 0) await opened.pop()!.close();
  });
  return (settings = {}) => {
    let backend!: SqliteBackend;
    const store = new BackendStore<SqliteSettings>({ path: freshSqlitePath(), ...defaults(), ...settings }, (s, context) => (backend = createBackend(s, context) as SqliteBackend));
    opened.push(store);
    return { store, backend };
  };
}
