/**
 * The MongoDB store's settings: their types, defaults and checks (ERR_STORE_CONFIG when the
 * store is made), and the connection string they describe.
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { MongoClient, MongoClientOptions } from 'mongodb';
import { CompressSetting, resolveCompression } from '../../compression';
import { StoreConfigError } from '../../errors';
import { isPlainObject } from '../../keys';
import type { CommonSettings } from '../../store';

/** Settings of the MongoDB store. */
export interface MongoSettings extends CommonSettings {
  /** memstorage: server host. Default 'localhost'. Ignored with `url`, `hosts` or `client`. */
  host?: string;
  /** memstorage: server port. Default 27017. */
  port?: number;
  /** memstorage: user name (URL-encoded for you). */
  user?: string;
  /** memstorage: password. */
  pass?: string;
  /** memstorage: database. Default: the one in `url`, else 'test' (where memstorage's '' put it). */
  db?: string;
  /** memstorage: seed list, 'h1:27017,h2:27017' or an array of 'host:port'. */
  hosts?: string | string[];
  /** memstorage: replica set name. */
  replicaset?: string;
  /** memstorage: the collection. Default 'memstorage'. */
  collectionName?: string;
  /** A connection string; excludes host/port/hosts/user/pass/replicaset. */
  url?: string;
  /** An existing MongoClient (connected or not); the store never closes it. */
  client?: MongoClient;
  /**
   * Indexes on key paths, each a path (`'age'`, `'name.last'`), an array of paths (compound,
   * ascending: `['kind', 'age']`) or an object with directions (`{ kind: 1, age: -1 }`); each
   * becomes `{ n: 1, 'k.<path>': <dir>, ..., s: 1 }` (docs/mongo.md).
   */
  indexes?: MongoIndex[];
  /** ms to find a usable server before an operation fails with StorageConnectionError. Default 5000. */
  serverSelectionTimeoutMS?: number;
  /** ms to open a TCP connection. Default 5000. */
  connectTimeoutMS?: number;
  /** ms of silence on a socket before an operation fails (a hung server). Default 30000. */
  socketTimeoutMS?: number;
  /** Extra MongoClient options, merged under the ones above. */
  clientOptions?: MongoClientOptions;
  /** GridFS chunk size for streamed values, bytes. Default 255 KiB (GridFS's own). */
  chunkSize?: number;
  /** How often expired GridFS values are freed, ms; 0 only on setStream. Default 60000 (mongod's TTL monitor). */
  sweepInterval?: number;
  /** Convert memstorage 0.5.3 documents found at connect instead of failing. Default false. */
  migrateLegacy?: boolean;
  /**
   * Compress values whose serialized text takes at least `threshold` bytes (default 1024) with
   * `algorithm` ('gzip', the default, or 'brotli'), stored as BSON Binary; `true` for the
   * defaults. Entries written either way read either way (docs/mongo.md). Default false.
   */
  compress?: CompressSetting;
}

/** One entry of the `indexes` setting: a key path, a compound index of ascending paths, or paths with directions. */
export type MongoIndex = string | readonly string[] | Readonly<Record<string, 1 | -1>>;

/** Most key paths one index may hold: MongoDB's 32 fields less the namespace and the creation position. */
export const MAX_INDEX_PATHS = 30;

/** Defaults of the MongoDB store, one documented value per setting. */
export const MONGO_DEFAULTS = {
  host: 'localhost',
  port: 27017,
  db: 'test',
  collectionName: 'memstorage',
  indexes: [] as readonly MongoIndex[],
  serverSelectionTimeoutMS: 5000,
  connectTimeoutMS: 5000,
  socketTimeoutMS: 30000,
  chunkSize: 255 * 1024,
  sweepInterval: 60000,
  migrateLegacy: false,
  compress: false,
} as const;

/** The settings that describe a connection: none of them goes with `url` or `client`. */
const CONNECTION_SETTINGS = ['host', 'port', 'user', 'pass', 'hosts', 'replicaset'] as const;

/** Checks the MongoDB settings; a bad one is ERR_STORE_CONFIG, thrown when the store is made. */
export function checkMongoSettings(s: MongoSettings): void {
  const str = (name: keyof MongoSettings, allowEmpty = false) => {
    const v = s[name];
    if (v !== undefined && (typeof v !== 'string' || (!allowEmpty && v.length === 0))) {
      throw new StoreConfigError(`setting ${name} must be a non-empty string`);
    }
  };
  str('host');
  str('user');
  str('pass', true);
  str('replicaset');
  str('url');
  if (s.port !== undefined && (typeof s.port !== 'number' || !Number.isInteger(s.port) || s.port < 1 || s.port > 65535)) {
    throw new StoreConfigError('setting port must be an integer from 1 to 65535');
  }
  if (s.db !== undefined && (typeof s.db !== 'string' || !/^[^/\\. "$*<>:|?]{1,63}$/.test(s.db) || s.db.includes('\u0000'))) {
    throw new StoreConfigError('setting db must be a valid MongoDB database name');
  }
  if (s.collectionName !== undefined && (typeof s.collectionName !== 'string' || !/^[^$]{1,200}$/.test(s.collectionName) || s.collectionName.includes('\u0000') || s.collectionName.startsWith('system.'))) {
    throw new StoreConfigError('setting collectionName must be a valid MongoDB collection name');
  }
  if (s.hosts !== undefined) {
    const list = typeof s.hosts === 'string' ? s.hosts.split(',') : s.hosts;
    if (!Array.isArray(list) || list.length === 0 || !list.every((h) => typeof h === 'string' && /^[^\s/,@]+$/.test(h.trim()))) {
      throw new StoreConfigError("setting hosts must be 'host:port,host:port' or an array of 'host:port'");
    }
  }
  if (s.url !== undefined && !/^mongodb(\+srv)?:\/\//.test(s.url)) {
    throw new StoreConfigError('setting url must start with mongodb:// or mongodb+srv://');
  }
  if (s.client !== undefined && !(s.client instanceof MongoClient)) {
    throw new StoreConfigError('setting client must be a MongoClient');
  }
  for (const name of CONNECTION_SETTINGS) {
    if (s[name] !== undefined && (s.url !== undefined || s.client !== undefined)) {
      throw new StoreConfigError(`setting ${name} cannot be combined with ${s.url !== undefined ? 'url' : 'client'}`);
    }
  }
  if (s.url !== undefined && s.client !== undefined) throw new StoreConfigError('setting url cannot be combined with client');
  if (s.indexes !== undefined) {
    if (!Array.isArray(s.indexes)) throw new StoreConfigError("setting indexes must be an array of key paths, path arrays or { path: 1 | -1 } objects");
    for (const entry of s.indexes) checkIndex(entry);
  }
  for (const name of ['serverSelectionTimeoutMS', 'connectTimeoutMS', 'socketTimeoutMS', 'sweepInterval'] as const) {
    const v = s[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
      throw new StoreConfigError(`setting ${name} must be a non-negative integer`);
    }
  }
  if (s.chunkSize !== undefined && (typeof s.chunkSize !== 'number' || !Number.isInteger(s.chunkSize) || s.chunkSize < 1024 || s.chunkSize > 15 * 1024 * 1024)) {
    throw new StoreConfigError('setting chunkSize must be an integer from 1024 to 15 MiB');
  }
  if (s.clientOptions !== undefined && !isPlainObject(s.clientOptions)) throw new StoreConfigError('setting clientOptions must be a plain object');
  if (s.migrateLegacy !== undefined && typeof s.migrateLegacy !== 'boolean') throw new StoreConfigError('setting migrateLegacy must be a boolean');
  resolveCompression(s.compress);
}

/** The connection string memstorage's settings describe (user and password URL-encoded). */
export function connectionString(s: MongoSettings): string {
  if (s.url) return s.url;
  const auth = s.user ? `${encodeURIComponent(s.user)}:${encodeURIComponent(s.pass ?? '')}@` : '';
  const hosts = s.hosts
    ? (typeof s.hosts === 'string' ? s.hosts.split(',') : s.hosts).map((h) => h.trim()).join(',')
    : `${s.host ?? MONGO_DEFAULTS.host}:${s.port ?? MONGO_DEFAULTS.port}`;
  const params: string[] = [];
  if (s.replicaset) params.push(`replicaSet=${encodeURIComponent(s.replicaset)}`);
  else if (!hosts.includes(',')) params.push('directConnection=true');
  return `mongodb://${auth}${hosts}/${params.length ? '?' + params.join('&') : ''}`;
}

function isIndexPath(path: unknown): path is string {
  return typeof path === 'string' && path.length > 0 && !path.includes('\u0000') && path.split('.').every((seg) => seg.length > 0 && !seg.startsWith('$'));
}

/** Checks one entry of `indexes` (ERR_STORE_CONFIG naming it). */
function checkIndex(entry: unknown): void {
  const bad = (why: string) => new StoreConfigError(`setting indexes holds an invalid index ${describe(entry)}: ${why}`);
  let paths: unknown[];
  if (typeof entry === 'string') paths = [entry];
  else if (Array.isArray(entry)) paths = entry;
  else if (isPlainObject(entry)) {
    paths = Object.keys(entry);
    for (const path of paths) {
      const direction = (entry as Record<string, unknown>)[path as string];
      if (direction !== 1 && direction !== -1) throw bad(`the direction of ${path as string} must be 1 or -1`);
    }
  } else throw bad('an index is a key path, an array of key paths or { path: 1 | -1 }');
  if (paths.length === 0) throw bad('it names no key path');
  if (paths.length > MAX_INDEX_PATHS) throw bad(`an index holds at most ${MAX_INDEX_PATHS} key paths`);
  for (const path of paths) if (!isIndexPath(path)) throw bad(`${describe(path)} is not a key path`);
  if (new Set(paths).size !== paths.length) throw bad('a key path appears twice');
}

function describe(value: unknown): string {
  try {
    return String(JSON.stringify(value));
  } catch {
    return typeof value;
  }
}
