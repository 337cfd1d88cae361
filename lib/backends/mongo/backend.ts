/**
 * The MongoDB store (SPEC §8 mongo) on the official driver. One document per entry (layout in
 * mongo-layout.ts and docs/mongo.md): exact keys are `_id` lookups, queries are translated to
 * native filters over `k.<path>` (mongo-query.ts) and run on the server, expiry is a TTL index
 * plus a read-time check, large values live in GridFS (mongo-gridfs.ts). Collections written by
 * memstorage 0.5.3 are detected at connect and converted by a one-command migration
 * (mongo-migrate.ts).
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { Collection, Db, Document, FindCursor, MongoClient, MongoClientOptions, ObjectId } from 'mongodb';
import { InvalidArgumentError, InvalidValueError, StoreClosedError, StoreConfigError, StoreError, StorageOperationError } from '../../errors';
import { Key, isPlainObject } from '../../keys';
import { Selector } from '../../query';
import { defaultSerializer } from '../../serializer';
import { BackendStats, BaseStore, Capabilities, CommonSettings, EntryWithExpiry, FindOptions, StoredEntry, valueBytes, chunksOf, toAsync } from '../../store';
import {
  EntryDoc,
  FILE_INDEX,
  ORDER_INDEX,
  TTL_INDEX,
  bsonTypeName,
  checkNamespace,
  corruptEntry,
  docId,
  expiryOf,
  idFromDocId,
  isConnectionError,
  isLive,
  isStorableExpiry,
  liveClause,
  scannedId,
  scannedKey,
  toStoreError,
  wasLive,
} from './layout';
import { Coalescer, Outcome } from './batch';
import { ValueFiles } from './gridfs';
import { selectorFilter } from './query';
import { LEGACY_FILTER, MigrationProgress, MigrationResult, migrateCollection } from './migrate';

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
  /** Key paths to index (`'age'`, `'name.last'`): each gets `{ n: 1, 'k.<path>': 1, s: 1 }`. */
  indexes?: string[];
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
}

/** Defaults of the MongoDB store, one documented value per setting. */
export const MONGO_DEFAULTS = {
  host: 'localhost',
  port: 27017,
  db: 'test',
  collectionName: 'memstorage',
  indexes: [] as readonly string[],
  serverSelectionTimeoutMS: 5000,
  connectTimeoutMS: 5000,
  socketTimeoutMS: 30000,
  chunkSize: 255 * 1024,
  sweepInterval: 60000,
  migrateLegacy: false,
} as const;

const CONNECTION_SETTINGS = ['host', 'port', 'user', 'pass', 'hosts', 'replicaset'] as const;

function checkMongoSettings(s: MongoSettings): void {
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
    if (!Array.isArray(s.indexes)) throw new StoreConfigError('setting indexes must be an array of key paths');
    for (const path of s.indexes) {
      if (typeof path !== 'string' || path.length === 0 || path.split('.').some((seg) => seg.length === 0 || seg.startsWith('$'))) {
        throw new StoreConfigError(`setting indexes holds an invalid key path ${JSON.stringify(path)}`);
      }
    }
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

/** Connection, collection and GridFS bucket shared by a store and its scopes. */
class SharedMongo {
  client: MongoClient | undefined;
  db!: Db;
  collection!: Collection<EntryDoc>;
  files!: ValueFiles;
  private opening: Promise<void> | undefined;
  private users = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly settings: MongoSettings) {}

  /** Connects once, creates the indexes once, checks for memstorage documents. */
  open(): Promise<void> {
    if (!this.opening) {
      this.opening = this.doOpen().catch((err) => {
        this.opening = undefined;
        throw err;
      });
    }
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    const s = this.settings;
    if (!this.client) {
      if (s.client) this.client = s.client;
      else {
        this.client = new MongoClient(connectionString(s), {
          serverSelectionTimeoutMS: s.serverSelectionTimeoutMS ?? MONGO_DEFAULTS.serverSelectionTimeoutMS,
          connectTimeoutMS: s.connectTimeoutMS ?? MONGO_DEFAULTS.connectTimeoutMS,
          socketTimeoutMS: s.socketTimeoutMS ?? MONGO_DEFAULTS.socketTimeoutMS,
          ...s.clientOptions,
        });
      }
    }
    try {
      await this.client.connect();
    } catch (err) {
      throw toStoreError(err, 'connect');
    }
    const db: Db = s.db ? this.client.db(s.db) : this.client.db(s.url || s.client ? undefined : MONGO_DEFAULTS.db);
    const name = s.collectionName ?? MONGO_DEFAULTS.collectionName;
    this.db = db;
    // The driver looks up `fieldsAsRaw` by field name in a plain {} by default, so a key field
    // named `toString` or `valueOf` holding objects came back as raw BSON Buffers. A
    // null-prototype table answers nothing inherited (set per collection: a given client too).
    this.collection = db.collection<EntryDoc>(name, { fieldsAsRaw: Object.create(null) as Record<string, boolean> });
    this.files = new ValueFiles(db, `${name}.fs`, s.chunkSize ?? MONGO_DEFAULTS.chunkSize);
    const indexes: Array<{ key: Document; name: string; expireAfterSeconds?: number; sparse?: boolean }> = [
      { key: { n: 1, s: 1 }, name: ORDER_INDEX },
      { key: { e: 1 }, name: TTL_INDEX, expireAfterSeconds: 0 },
      { key: { g: 1 }, name: FILE_INDEX, sparse: true },
    ];
    for (const path of s.indexes ?? MONGO_DEFAULTS.indexes) {
      indexes.push({ key: { n: 1, ['k.' + path]: 1, s: 1 }, name: `n_1_k.${path}_1_s_1` });
    }
    try {
      await this.collection.createIndexes(indexes as never);
    } catch (err) {
      throw toStoreError(err, 'creating indexes');
    }
  }

  /** Whether the collection still holds documents written by memstorage 0.5.3. */
  async hasLegacyDocuments(): Promise<boolean> {
    try {
      return (await this.collection.findOne(LEGACY_FILTER, { projection: { _id: 1 }, hint: ORDER_INDEX })) !== null;
    } catch (err) {
      throw toStoreError(err, 'checking for memstorage documents');
    }
  }

  /**
   * Frees the files of streamed values that a plain `set` has since replaced (the entry holds
   * both `v` and `g`; `v` wins): found through the sparse index on `g`, so only entries that
   * hold a file are looked at. Resolves how many files were freed.
   */
  async collectGarbage(): Promise<number> {
    let freed = 0;
    // Only an ObjectId is a file reference: `g` is used in the filters below, and a `g` written
    // by something else (an object such as { $exists: true }) must never become an operator there.
    const superseded = this.collection.find({ g: { $type: 'objectId' }, v: { $exists: true } }, { projection: { _id: 1, g: 1 }, hint: FILE_INDEX });
    for await (const doc of superseded) {
      if (!(doc.g instanceof ObjectId)) continue;
      await this.files.remove(doc.g);
      await this.collection.updateOne({ _id: doc._id, g: doc.g, v: { $exists: true } }, { $unset: { g: '' } });
      freed++;
    }
    return freed;
  }

  attach(sweep: () => void): void {
    this.users++;
    const interval = this.settings.sweepInterval ?? MONGO_DEFAULTS.sweepInterval;
    if (this.timer || interval <= 0) return;
    this.timer = setInterval(sweep, interval);
    this.timer.unref();
  }

  async detach(): Promise<void> {
    if (--this.users > 0) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const client = this.client;
    if (client && !this.settings.client) {
      this.client = undefined;
      this.opening = undefined;
      await client.close();
    }
  }
}

/**
 * A failure to read the GridFS file of the entry under key id `id`: the server unreachable is
 * ERR_STORAGE_CONNECTION; anything else (the file or a chunk missing, a chunk of the wrong
 * type) is corruption, ERR_STORAGE_OPERATION naming the key.
 */
function fileError(err: unknown, id: string): StoreError {
  if (isConnectionError(err)) return toStoreError(err, 'reading a streamed value');
  return corruptEntry(id, `its streamed value cannot be read: ${(err as Error)?.message ?? String(err)}`, err);
}

/** A file's chunks, with failures re-thrown as `fileError`s. */
async function* fileChunks(source: AsyncIterable<Buffer>, id: string): AsyncGenerator<Buffer> {
  try {
    yield* source;
  } catch (err) {
    throw fileError(err, id);
  }
}

const nativeIsWellFormed = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when `s` holds no lone surrogate (String.prototype.isWellFormed, Node 20+; a regex before). */
function isWellFormed(s: string): boolean {
  return nativeIsWellFormed ? nativeIsWellFormed.call(s) : !LONE_SURROGATE.test(s);
}

/** A write whose expiry a BSON Date cannot hold (the core caps TTLs; a far clock can still get here). */
function unstorableExpiry(expiresAt: number): InvalidArgumentError {
  return new InvalidArgumentError(`mongo: the expiry ${expiresAt} (epoch ms) is outside the range a stored Date can hold`);
}

/** Most calls one coalesced round trip carries. */
const BATCH_MAX = 1000;

/** A set waiting in the write queue. */
interface QueuedWrite {
  id: string;
  key: Key;
  v: string;
  expiresAt: number | null;
  /** The creation position a new or expired entry takes, and the time its liveness is judged at: both taken when the call starts. */
  s: ObjectId;
  now: number;
}

/** Later than any expiry: what a missing or null `e` compares as in the upsert pipeline. */
const NEVER = new Date(8.64e15);

/** Bytes of one `update` command's statements, kept well under MongoDB's 16 MB per command. */
const GROUP_BYTES = 8 * 1024 * 1024;

/** The largest document MongoDB stores (its maxBsonObjectSize). */
const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/** An upper bound of the BSON size of an entry document holding `v`: the value's UTF-8 bytes, `_id` and `k` at 3 bytes per unit, field overhead. */
function documentBytes(v: string, id: string, namespace: string): number {
  return Buffer.byteLength(v, 'utf8') + 3 * (2 * id.length + 2 * namespace.length) + 1024;
}

/** Approximate BSON size of a queued write's statement. */
function writeSize(w: QueuedWrite): number {
  return w.v.length + 2 * w.id.length + 256;
}

/** How long close() waits for calls already made before it closes the client anyway. */
const CLOSE_DRAIN_MS = 5000;

const GET_PROJECTION = { _id: 0, v: 1, g: 1, e: 1, n: 1 } as const;

/** The fields of a document an exact read looks at, as read back: anything may be in them. */
type ReadDoc = { v?: unknown; g?: unknown; e?: unknown; n?: unknown };

/** The MongoDB store. */
export class MongoStore extends BaseStore {
  readonly supports: Capabilities = {
    nativeQueries: true,
    valueStreams: true,
    ttl: true,
    shared: true,
    evicts: false,
    persistent: true,
  };
  private readonly shared: SharedMongo;
  private readonly mongoSettings: MongoSettings;
  private attached = false;
  private closed = false;
  private readonly reads = new Coalescer<string, unknown>((ids) => this.flushReads(ids), BATCH_MAX, (id) => this.readOne(id));
  private readonly writes = new Coalescer<QueuedWrite, void>((items) => this.flushWrites(items), BATCH_MAX, (w) => this.writeOne(w));

  constructor(settings: MongoSettings = {}, shared?: SharedMongo) {
    super(settings);
    checkMongoSettings(settings);
    this.mongoSettings = settings;
    this.shared = shared ?? new SharedMongo(settings);
  }

  /** Frees the GridFS files of expired streamed values now (a timer does it every `sweepInterval` ms); resolves how many. */
  sweep(): Promise<number> {
    return this.run(async () => {
      try {
        return (await this.shared.files.removeExpired(this.clock.now())) + (await this.shared.collectGarbage());
      } catch (err) {
        throw toStoreError(err, 'sweep');
      }
    });
  }

  /** The collection entries live in (after connect): for inspection and tests. */
  get collection(): Collection<EntryDoc> {
    return this.shared.collection;
  }

  /** The MongoClient (after connect). */
  get client(): MongoClient | undefined {
    return this.shared.client;
  }

  /**
   * Converts the memstorage 0.5.3 documents of this collection into this store's layout, in
   * this store's namespace; resumable, reports progress. See docs/mongo.md.
   */
  async migrateLegacy(onProgress?: (progress: MigrationProgress) => void): Promise<MigrationResult> {
    if (this.closed) throw new StoreClosedError();
    await this.openShared();
    try {
      return await migrateCollection(this.shared.collection, this.namespace, this.serializer, onProgress);
    } catch (err) {
      throw toStoreError(err, 'migrating memstorage documents');
    }
  }

  /** Connects the shared client and registers this store as one of its users (close() releases it). */
  private async openShared(): Promise<void> {
    await this.shared.open();
    if (!this.attached) {
      this.attached = true;
      this.shared.attach(() => {
        this.shared.files
          .removeExpired(this.clock.now())
          .then(() => this.shared.collectGarbage())
          .catch((err) => this.reportError(toStoreError(err, 'sweeping files')));
      });
    }
  }

  protected async _connect(): Promise<void> {
    await this.openShared();
    if (await this.shared.hasLegacyDocuments()) {
      if (this.mongoSettings.migrateLegacy) await this.migrateLegacy();
      else {
        throw new StoreConfigError(
          `collection ${this.shared.collection.collectionName} holds documents written by memstorage 0.5.3; ` +
            'convert them once with the migration command in docs/mongo.md, or set migrateLegacy: true',
        );
      }
    }
  }

  protected async _close(): Promise<void> {
    // Calls made before close() was called are still sent and answered — but close() never
    // hangs on them: a call stuck on a server that went away is left to fail on its own once
    // the client below is closed (seen after a stop/restart of the engine under load).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([this.reads.idle(), this.writes.idle()]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_DRAIN_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    this.closed = true;
    if (!this.attached) return;
    this.attached = false;
    try {
      await this.shared.detach();
    } catch (err) {
      throw toStoreError(err, 'close');
    }
  }

  protected _scope(namespace: string): MongoStore {
    return new MongoStore({ ...this.mongoSettings, namespace }, this.shared);
  }

  /**
   * The value of a document read back under the key id `id`: the serialized `v`, else the
   * GridFS file `g` (a promise). Anything this store does not write — `v` of another type or
   * unparsable, neither `v` nor `g`, a `g` that is not an ObjectId — is ERR_STORAGE_OPERATION
   * naming the key (SPEC §12).
   */
  private decode(doc: ReadDoc, id: string): unknown {
    const v = doc.v;
    if (typeof v === 'string') {
      try {
        return this.serializer.deserialize(v);
      } catch (err) {
        throw corruptEntry(id, `its value cannot be parsed (${(err as Error)?.message ?? String(err)})`, err);
      }
    }
    if (v === undefined && doc.g instanceof ObjectId) return this.readFile(doc.g, id);
    if (v !== undefined) throw corruptEntry(id, `its value field v is ${bsonTypeName(v)}, not a string`);
    throw corruptEntry(id, doc.g === undefined ? 'it holds no value (neither v nor g)' : `its file field g is ${bsonTypeName(doc.g)}, not an ObjectId`);
  }

  /** A streamed value whole; a missing or damaged file is ERR_STORAGE_OPERATION naming the key. */
  private readFile(fileId: ObjectId, id: string): Promise<Buffer> {
    return this.shared.files.readAll(fileId).catch((err: unknown) => {
      throw fileError(err, id);
    });
  }

  protected _get(id: string): Promise<unknown> {
    return this.reads.push(docId(this.namespace, id));
  }

  /** A lone getOne: one findOne on `_id`. */
  private async readOne(_id: string): Promise<unknown> {
    let doc: ReadDoc | null;
    try {
      doc = await this.shared.collection.findOne({ _id }, { projection: GET_PROJECTION });
    } catch (err) {
      throw toStoreError(err, 'get');
    }
    if (doc === null) return undefined;
    const id = idFromDocId(this.namespace, _id);
    checkNamespace(doc, this.namespace, id);
    return isLive(doc, this.clock.now(), id) ? this.decode(doc, id) : undefined;
  }

  /** Reads the getOne calls queued in one tick: one find on `_id: { $in }`. */
  private async flushReads(ids: string[]): Promise<Array<Outcome<unknown>>> {
    const docs = new Map<string, ReadDoc>();
    try {
      const unique = [...new Set(ids)];
      const found = await this.shared.collection
        .find({ _id: { $in: unique } }, { projection: { _id: 1, v: 1, g: 1, e: 1, n: 1 }, batchSize: unique.length })
        .toArray();
      for (const doc of found) docs.set(doc._id, doc);
    } catch (err) {
      throw toStoreError(err, 'get');
    }
    const now = this.clock.now();
    const out = new Array<Outcome<unknown>>(ids.length);
    let files: Array<Promise<void>> | undefined;
    for (let i = 0; i < ids.length; i++) {
      const doc = docs.get(ids[i]);
      if (doc === undefined) {
        out[i] = { ok: true, value: undefined };
        continue;
      }
      try {
        const id = idFromDocId(this.namespace, ids[i]);
        checkNamespace(doc, this.namespace, id);
        const value = isLive(doc, now, id) ? this.decode(doc, id) : undefined;
        if (value instanceof Promise) {
          const at = i;
          (files ??= []).push(
            value.then(
              (bytes: unknown) => {
                out[at] = { ok: true, value: bytes };
              },
              (error: unknown) => {
                out[at] = { ok: false, error };
              },
            ),
          );
        } else out[i] = { ok: true, value };
      } catch (error) {
        out[i] = { ok: false, error };
      }
    }
    if (files) await Promise.all(files);
    return out;
  }

  protected async _getEntry(id: string): Promise<EntryWithExpiry | undefined> {
    let doc: ReadDoc | null;
    try {
      doc = await this.shared.collection.findOne({ _id: docId(this.namespace, id) }, { projection: GET_PROJECTION });
    } catch (err) {
      throw toStoreError(err, 'get');
    }
    if (doc === null) return undefined;
    checkNamespace(doc, this.namespace, id);
    if (!isLive(doc, this.clock.now(), id)) return undefined;
    return { value: await this.decode(doc, id), expiresAt: expiryOf(doc, id) };
  }

  protected async _has(id: string): Promise<boolean> {
    return (await this._expiresAt(id)) !== undefined;
  }

  protected async _expiresAt(id: string): Promise<number | null | undefined> {
    let doc: ReadDoc | null;
    try {
      doc = await this.shared.collection.findOne({ _id: docId(this.namespace, id) }, { projection: { _id: 0, e: 1, n: 1 } });
    } catch (err) {
      throw toStoreError(err, 'ttl');
    }
    if (doc === null) return undefined;
    checkNamespace(doc, this.namespace, id);
    return isLive(doc, this.clock.now(), id) ? expiryOf(doc, id) : undefined;
  }

  protected async _set(id: string, key: Key, value: unknown, expiresAt: number | null): Promise<void> {
    if (expiresAt !== null && !isStorableExpiry(expiresAt)) throw unstorableExpiry(expiresAt);
    let v: string;
    try {
      v = this.serializer.serialize(value);
    } catch (err) {
      throw new StorageOperationError(`mongo: the serializer failed: ${(err as Error).message}`, { cause: err });
    }
    // BSON stores strings as UTF-8, which folds a lone surrogate to U+FFFD: the value would
    // come back changed. The default serializer's JSON escapes them (`"\ud800"`), so only a
    // custom serializer's output needs the check (docs/mongo.md, "Values").
    if (this.serializer !== defaultSerializer && (typeof v !== 'string' || !isWellFormed(v))) {
      throw new InvalidValueError(
        typeof v !== 'string'
          ? `mongo: the serializer returned ${bsonTypeName(v)}, not a string`
          : 'mongo: the serialized value holds a lone surrogate, which MongoDB would store as U+FFFD',
      );
    }
    // A document is at most 16 MiB: refuse a larger one before it is queued, where it would
    // fail the command it shares with other callers' writes. Measured only when it could be
    // too large (UTF-8 takes at most 3 bytes per UTF-16 unit), so 1 KB values pay a comparison.
    if (v.length > MAX_DOCUMENT_BYTES / 3 - 64 * 1024 && documentBytes(v, id, this.namespace) > MAX_DOCUMENT_BYTES) {
      throw new InvalidValueError(`mongo: the value takes ${Buffer.byteLength(v)} bytes serialized, more than one MongoDB document holds (16 MiB); store it with setStream`);
    }
    // Position and time are taken now, when the call starts in program order, not when its
    // batch is sent: a setStream started later but finished sooner must still come after it.
    return this.writes.push({ id, key, v, expiresAt, s: new ObjectId(), now: this.clock.now() });
  }

  /**
   * The upsert of a set: a filter on `_id` alone, so MongoDB serves it by its `_id` fast path
   * (an extra predicate sends it through the query planner: ~250 µs more per write here), and
   * a pipeline that keeps the creation position `s` of a live entry but takes a new one for a
   * new or expired entry. A GridFS file id `g` is left in place: `v` wins over `g` on every
   * read, and the sweep frees such superseded files (see collectGarbage).
   */
  private upsertStatement(w: QueuedWrite): { q: Document; u: Document[]; upsert: true } {
    const s = w.s;
    return {
      q: { _id: docId(this.namespace, w.id) },
      u: [
        {
          $set: {
            k: { $literal: w.key },
            v: { $literal: w.v },
            e: { $literal: w.expiresAt === null ? null : new Date(w.expiresAt) },
            n: { $literal: this.namespace },
            s: { $cond: [{ $gt: [{ $ifNull: ['$e', NEVER] }, new Date(w.now)] }, { $ifNull: ['$s', s] }, s] },
          },
        },
      ],
      upsert: true,
    };
  }

  /** A lone set: one updateOne. */
  private async writeOne(w: QueuedWrite): Promise<void> {
    const { q, u } = this.upsertStatement(w);
    try {
      await this.shared.collection.updateOne(q, u, { upsert: true });
    } catch (err) {
      throw toStoreError(err, 'set');
    }
  }

  /**
   * Writes the sets queued in one tick as ordered `update` commands of at most GROUP_BYTES.
   * A statement the server rejects fails that set alone and the rest resume after it; a
   * failure of a command fails every set it may have touched, and the next command is sent
   * all the same (all of them fail when the server is unreachable).
   */
  private async flushWrites(items: QueuedWrite[]): Promise<Array<Outcome<void>>> {
    const collection = this.shared.collection;
    const ok: Outcome<void> = { ok: true, value: undefined };
    const out: Array<Outcome<void>> = new Array(items.length);
    // Not collection.bulkWrite: the bulk API wraps every failure, a refused connection
    // included, in MongoBulkWriteError, which hides what failed.
    const updates = items.map((w) => this.upsertStatement(w));
    let start = 0;
    while (start < items.length) {
      let end = start;
      let bytes = 0;
      while (end < items.length && (end === start || bytes + writeSize(items[end]) <= GROUP_BYTES)) bytes += writeSize(items[end++]);
      let res: Document;
      try {
        res = await this.shared.db.command({ update: collection.collectionName, updates: updates.slice(start, end), ordered: true });
      } catch (err) {
        // Unreachable: the later groups would only wait out the same timeout, so they fail now.
        // Any other failure is this command's: the next group is still sent (SPEC §12: one
        // caller's bad write never fails another caller's call that shared its batch).
        const unreachable = isConnectionError(err);
        out.fill({ ok: false, error: toStoreError(err, 'set') }, start, unreachable ? items.length : end);
        if (unreachable) break;
        start = end;
        continue;
      }
      if (res.writeConcernError) {
        const error = new StorageOperationError(`mongo: set failed: ${res.writeConcernError.errmsg}`, { cause: res.writeConcernError });
        out.fill({ ok: false, error }, start, end);
        start = end;
        continue;
      }
      const writeError = (res.writeErrors as Array<{ index: number; code?: number; errmsg?: string }> | undefined)?.[0];
      if (!writeError) {
        out.fill(ok, start, end);
        start = end;
        continue;
      }
      const failed = start + writeError.index;
      out.fill(ok, start, failed);
      out[failed] = { ok: false, error: new StorageOperationError(`mongo: set failed: ${writeError.errmsg ?? 'write error'}`, { cause: writeError }) };
      start = failed + 1;
    }
    return out;
  }

  /**
   * The slow path of a write: one atomic pipeline update that keeps the creation position of a
   * live entry, gives an expired one a new position, swaps the value or the file, and returns
   * the old file id so the old file can be deleted.
   */
  private async rewrite(
    id: string,
    key: Key,
    data: { v: string } | { g: ObjectId },
    expiresAt: number | null,
    position: { s: ObjectId; now: number },
  ): Promise<void> {
    const _id = docId(this.namespace, id);
    const { s, now } = position;
    const e = expiresAt === null ? null : new Date(expiresAt);
    try {
      const keepPosition = {
        $and: [{ $ne: [{ $type: '$s' }, 'missing'] }, { $or: [{ $eq: [{ $ifNull: ['$e', null] }, null] }, { $gt: ['$e', new Date(now)] }] }],
      };
      const fields: Document = { k: { $literal: key }, e: { $literal: e }, n: { $literal: this.namespace } };
      if ('v' in data) fields.v = { $literal: data.v };
      else fields.g = { $literal: data.g };
      fields.s = { $cond: [keepPosition, '$s', { $literal: s }] };
      const before = await this.shared.collection.findOneAndUpdate({ _id }, [{ $set: fields }, { $unset: 'v' in data ? ['g'] : ['v'] }], {
        upsert: true,
        returnDocument: 'before',
        projection: { _id: 0, g: 1 },
      });
      const oldFile: unknown = before?.g;
      if (oldFile instanceof ObjectId && !('g' in data && oldFile.equals(data.g))) await this.shared.files.remove(oldFile);
    } catch (err) {
      throw toStoreError(err, 'set');
    }
  }

  protected async _delete(id: string): Promise<boolean> {
    try {
      const doc: ReadDoc | null = await this.shared.collection.findOneAndDelete({ _id: docId(this.namespace, id) }, { projection: { _id: 0, e: 1, g: 1 } });
      if (doc === null) return false;
      if (doc.g instanceof ObjectId) await this.shared.files.remove(doc.g);
      // A corrupt expiry does not stop a delete: the document existed, and now it is gone.
      return wasLive(doc, this.clock.now());
    } catch (err) {
      throw toStoreError(err, 'del');
    }
  }

  protected async *_find(selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
    const filter = selectorFilter(selector, this.namespace, this.clock.now());
    // With values the whole document is wanted anyway: no projection spares the server a rebuild of each one.
    const projection = options.values ? undefined : { _id: 1, k: 1, e: 1 };
    let cursor: FindCursor<EntryDoc>;
    try {
      cursor = this.shared.collection.find(filter, { projection, sort: { s: 1 } }) as FindCursor<EntryDoc>;
      if (options.limit !== undefined) cursor.limit(options.limit);
    } catch (err) {
      throw toStoreError(err, 'find');
    }
    try {
      while (true) {
        let doc: EntryDoc | null;
        try {
          doc = await cursor.next();
        } catch (err) {
          throw toStoreError(err, 'find');
        }
        if (doc === null) return;
        const id = scannedId(this.namespace, doc._id);
        const key = scannedKey(doc.k, id);
        // Expiry is checked per entry, when it is yielded (SPEC §12): the filter's check was
        // made when the cursor opened, and an iteration can outlive an entry.
        if (!isLive(doc, this.clock.now(), id)) continue;
        let value: unknown;
        if (options.values) {
          value = this.decode(doc, id);
          if (value instanceof Promise) {
            value = await value;
            if (!isLive(doc, this.clock.now(), id)) continue; // it expired while its file was read
          }
        }
        yield { id, key, value, expiresAt: expiryOf(doc, id) };
      }
    } finally {
      // Runs when the consumer stops early too (break, stream destroyed): releases the server cursor.
      await cursor.close().catch(() => undefined);
    }
  }

  protected async _deleteMatching(selector: Selector): Promise<number> {
    const filter = selectorFilter(selector, this.namespace, this.clock.now());
    try {
      const files = await this.shared.collection
        .find({ $and: [filter, { g: { $type: 'objectId' } }] }, { projection: { _id: 0, g: 1 } })
        .toArray();
      const { deletedCount } = await this.shared.collection.deleteMany(filter);
      for (const file of files) if (file.g instanceof ObjectId) await this.shared.files.remove(file.g);
      return deletedCount;
    } catch (err) {
      throw toStoreError(err, 'del');
    }
  }

  protected async _count(selector: Selector): Promise<number> {
    try {
      return await this.shared.collection.countDocuments(selectorFilter(selector, this.namespace, this.clock.now()));
    } catch (err) {
      throw toStoreError(err, 'count');
    }
  }

  protected async _clear(): Promise<void> {
    try {
      await this.shared.collection.deleteMany({ n: this.namespace });
      await this.shared.files.removeNamespace(this.namespace);
    } catch (err) {
      throw toStoreError(err, 'clear');
    }
  }

  protected async _setStream(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
    if (expiresAt !== null && !isStorableExpiry(expiresAt)) throw unstorableExpiry(expiresAt);
    // The creation position and the time are the call's start, not the end of the upload (see _set).
    const position = { s: new ObjectId(), now: this.clock.now() };
    const files = this.shared.files;
    let fileId: ObjectId;
    try {
      fileId = await files.upload(docId(this.namespace, id), source, {
        n: this.namespace,
        id,
        e: expiresAt === null ? null : new Date(expiresAt),
      });
    } catch (err) {
      throw toStoreError(err, 'setStream');
    }
    try {
      await this.rewrite(id, key, { g: fileId }, expiresAt, position);
    } catch (err) {
      await files.remove(fileId).catch(() => undefined);
      throw err;
    }
    files.removeExpired(this.clock.now()).catch(() => undefined);
  }

  protected async _valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    let doc: ReadDoc | null;
    try {
      doc = await this.shared.collection.findOne({ _id: docId(this.namespace, id) }, { projection: GET_PROJECTION });
    } catch (err) {
      throw toStoreError(err, 'createValueStream');
    }
    if (doc === null) return undefined;
    checkNamespace(doc, this.namespace, id);
    if (!isLive(doc, this.clock.now(), id)) return undefined;
    if (doc.v === undefined && doc.g instanceof ObjectId) return fileChunks(this.shared.files.download(doc.g), id);
    return toAsync(chunksOf(valueBytes(this.decode(doc, id))));
  }

  protected async _stats(): Promise<BackendStats> {
    try {
      return { items: await this.shared.collection.countDocuments({ n: this.namespace, ...liveClause(this.clock.now()) }) };
    } catch (err) {
      throw toStoreError(err, 'stats');
    }
  }
}
