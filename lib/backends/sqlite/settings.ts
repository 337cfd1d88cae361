/**
 * The SQLite backend's settings, checked eagerly when the store is created (SPEC §10): a bad
 * one is ERR_STORE_CONFIG naming it, before any file is opened.
 */
import { Compression, CompressSetting, resolveCompression } from '../../compression';
import { StoreConfigError } from '../../errors';
import type { CommonSettings } from '../../store';

/** Settings of `{ type: 'sqlite' }`. */
export interface SqliteSettings extends CommonSettings {
  /** The database file, created when missing, or ':memory:' (private to this store and its scopes). Required. */
  path: string;
  /** The entries table; its value chunks go in `<table>_chunks`. Default 'memstorage'. */
  table?: string;
  /**
   * Key paths to index (`['age', 'name.last']`): expression indexes over json_extract, used by
   * equality, $in and numeric ranges, and by a `sort` on that one path (ORDER BY … LIMIT with no
   * temporary B-tree: lib/backends/sqlite/sorted.ts).
   */
  indexes?: string[];
  /** How often expired rows are deleted, in ms; 0 turns the sweep off (reads still never return them). Default 60,000. */
  sweepInterval?: number;
  /** How long a write waits for another connection's lock before it fails, in ms. Default 5,000. */
  busyTimeout?: number;
  /**
   * Compress values whose serialized text reaches `threshold` bytes (default 1024) with
   * node:zlib `algorithm` ('gzip', the default, or 'brotli'); `true` takes both defaults. Stored
   * as a BLOB (layout.ts; README, "SQLite store"), so rows written with it off still read, and
   * the other way round. Streamed values are stored as they come. Default off.
   */
  compress?: CompressSetting;
}

/** The defaults of the optional settings. */
export const SQLITE_DEFAULTS = {
  table: 'memstorage',
  sweepInterval: 60_000,
  busyTimeout: 5_000,
} as const;

/** The settings with defaults applied. */
export interface ResolvedSqliteSettings {
  path: string;
  table: string;
  indexes: string[];
  sweepInterval: number;
  busyTimeout: number;
  /** The resolved `compress` setting, or null when off. */
  compress: Compression | null;
}

/** A table name SQLite takes unquoted, so it can be spliced into statements safely. */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** One segment of an indexed path: a field name json_extract reads without quoting (never an array position). */
const INDEX_SEGMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Checks `settings` and applies the defaults; throws StoreConfigError naming the bad setting. */
export function resolveSettings(settings: Partial<SqliteSettings>): ResolvedSqliteSettings {
  const { path, table = SQLITE_DEFAULTS.table, indexes = [] } = settings;
  if (typeof path !== 'string' || path.length === 0) {
    throw new StoreConfigError("setting path must be a non-empty string: a database file or ':memory:'");
  }
  if (path.includes('\u0000')) throw new StoreConfigError('setting path must not contain the NUL character');
  if (typeof table !== 'string' || !TABLE_NAME.test(table)) {
    throw new StoreConfigError('setting table must be 1–63 letters, digits or _, starting with a letter or _');
  }
  if (!Array.isArray(indexes)) throw new StoreConfigError('setting indexes must be an array of key paths');
  for (const index of indexes) {
    if (typeof index !== 'string' || !index.split('.').every((segment) => INDEX_SEGMENT.test(segment))) {
      throw new StoreConfigError(
        `setting indexes: ${JSON.stringify(index)} is not a key path of field names (letters, digits, _) joined by dots`,
      );
    }
  }
  return {
    path,
    table,
    indexes: [...new Set(indexes)],
    sweepInterval: milliseconds(settings.sweepInterval, 'sweepInterval', SQLITE_DEFAULTS.sweepInterval),
    busyTimeout: milliseconds(settings.busyTimeout, 'busyTimeout', SQLITE_DEFAULTS.busyTimeout),
    compress: resolveCompression(settings.compress),
  };
}

function milliseconds(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1) {
    throw new StoreConfigError(`setting ${name} must be a whole number of milliseconds from 0 to 2147483647`);
  }
  return value;
}
