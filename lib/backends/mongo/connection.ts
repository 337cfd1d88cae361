/**
 * The connection a MongoDB store shares with its scopes: the client, the collection and the
 * GridFS bucket, opened once (indexes created once), counted by its users (SharedResource),
 * with the timer of the periodic sweep. The last user to close it closes the client (unless the
 * user gave it).
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { Collection, Db, Document, MongoClient, ObjectId } from 'mongodb';
import { EntryDoc, FILE_INDEX, ORDER_INDEX, TAG_INDEX, TTL_INDEX, liveClause, toStoreError } from './layout';
import { ValueFiles } from './gridfs';
import { IndexFields, indexFields, indexKey, indexName } from './sort';
import { LEGACY_FILTER } from './migrate';
import { MONGO_DEFAULTS, MongoSettings, connectionString } from './settings';
import type { BackendEvents } from '../../backend';
import { Compression, ValueCodec, resolveCompression } from '../../compression';
import type { Clock } from '../../clock';
import { SharedResource } from '../../core/shared-resource';
import type { AsyncCapableSerializer } from '../../serializer';

/** Connection, collection and GridFS bucket shared by a store and its scopes. */
export class SharedMongo {
  client: MongoClient | undefined;
  db!: Db;
  collection!: Collection<EntryDoc>;
  files!: ValueFiles;
  /** The `indexes` setting, normalized: what the sort planner (sort.ts) matches sorts against. */
  readonly indexFields: readonly IndexFields[];
  /** The `compress` setting, resolved (null: off); every namespace's codec compresses by it. */
  readonly compression: Compression | null;
  private opening: Promise<void> | undefined;
  /** The users; while there are any, `sweep` runs every `sweepInterval` ms; the last one closes the client. */
  private readonly use: SharedResource;
  /**
   * The backends attached now, oldest first. The periodic sweep runs on the oldest one's clock
   * and reports its failure to that one's store: never to a store already closed (a scope
   * that attached first and closed first hands the reporting on to the next user).
   */
  private readonly users: SweepUser[] = [];

  constructor(
    /** The settings of the store that made it (its scopes share them). */
    readonly settings: MongoSettings,
  ) {
    this.indexFields = (settings.indexes ?? MONGO_DEFAULTS.indexes).map(indexFields);
    this.compression = resolveCompression(settings.compress);
    this.use = new SharedResource({
      interval: settings.sweepInterval ?? MONGO_DEFAULTS.sweepInterval,
      periodic: () => this.sweepFor(this.users[0]),
      release: () => this.closeClient(),
    });
  }

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
    const indexes: Array<{ key: Document; name: string; expireAfterSeconds?: number; sparse?: boolean; partialFilterExpression?: Document }> = [
      { key: { n: 1, s: 1 }, name: ORDER_INDEX },
      { key: { e: 1 }, name: TTL_INDEX, expireAfterSeconds: 0 },
      { key: { g: 1 }, name: FILE_INDEX, sparse: true },
      // Multikey, and partial: untagged documents (most) are not in it and cost nothing to write.
      { key: { n: 1, t: 1 }, name: TAG_INDEX, partialFilterExpression: { t: { $exists: true } } },
    ];
    for (const fields of this.indexFields) indexes.push({ key: indexKey(fields), name: indexName(fields) });
    try {
      await this.collection.createIndexes(indexes as never);
    } catch (err) {
      throw toStoreError(err, 'creating indexes');
    }
  }

  /**
   * Frees the files of streamed values whose entries expired at or before `now`, by the
   * expiry each file carries — but never one that a live entry still holds: an entry touched
   * after its file was written (touch updates the file's expiry right after the entry's, one
   * round trip later) keeps its file, whose expiry is then corrected. Resolves how many were freed.
   */
  removeExpiredFiles(now: number): Promise<number> {
    return this.files.removeExpired(now, async (fileId) => {
      const holder = await this.collection.findOne(
        { g: fileId, v: { $exists: false }, ...liveClause(now) },
        { projection: { _id: 0, e: 1 }, hint: FILE_INDEX },
      );
      if (holder === null) return false;
      if (holder.e === null || holder.e instanceof Date) await this.files.setExpiry(fileId, holder.e ?? null);
      return true;
    });
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

  /** Counts one more user; the first starts the sweep timer (unref'd: it never keeps the process alive). */
  attach(user: SweepUser): void {
    this.users.push(user);
    this.use.join();
  }

  /** Counts `user` out; the last stops the timer and closes the client the store made (never a given one). */
  detach(user: SweepUser): Promise<void> {
    const at = this.users.indexOf(user);
    if (at !== -1) this.users.splice(at, 1);
    return this.use.leave();
  }

  /** One periodic sweep: frees expired and superseded files; a failure goes to `user`'s store. */
  private sweepFor(user: SweepUser | undefined): void {
    if (!user) return;
    this.removeExpiredFiles(user.clock.now())
      .then(() => this.collectGarbage())
      .catch((err) => user.events.reportError(toStoreError(err, 'sweeping files')));
  }

  private async closeClient(): Promise<void> {
    const client = this.client;
    if (client && !this.settings.client) {
      this.client = undefined;
      this.opening = undefined;
      await client.close();
    }
  }
}

/** A backend attached to the shared connection, as the periodic sweep sees it. */
export interface SweepUser {
  /** The time source expiry is judged by. */
  readonly clock: Clock;
  /** Where a failed sweep is reported: the user's store. */
  readonly events: BackendEvents;
}

/** What the read and write paths of one namespace work with: the backend's own fields. */
export interface MongoScope {
  /** The connection shared with the other namespaces. */
  readonly shared: SharedMongo;
  /** This namespace ('' at the root). */
  readonly namespace: string;
  /** The time source of expiry checks. */
  readonly clock: Clock;
  /** The store's serializer (the codec wraps it; the migration writes with it). */
  readonly serializer: AsyncCapableSerializer;
  /** How values become what `v` holds (the serializer's text, or compressed bytes) and back. */
  readonly codec: ValueCodec;
}
