/**
 * The MongoDB store type (`{ type: 'mongo' }`): `createBackend` for the registry, and the
 * public `MongoStore` class (the public store over the backend) with what only this type
 * offers: sweep(), migrateLegacy(), the collection and the client. mongodb (major 7) is an
 * optional peer dependency: without it, loading this module is ERR_STORE_CONFIG naming it.
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import type { Collection, MongoClient } from 'mongodb';
import type { BackendFactory } from '../../backend';
import { BackendStore, ScopedBackend } from '../../backend-store';
import type { StoreFlags, UnknownFlags } from '../../store-types';
import { MongoBackend } from './backend';
import { SharedMongo } from './connection';
import type { EntryDoc } from './layout';
import type { MigrationProgress, MigrationResult } from './migrate';
import { MongoSettings, checkMongoSettings } from './settings';

export { MONGO_DEFAULTS, connectionString } from './settings';
export type { MongoIndex, MongoSettings } from './settings';
export type { MongoBackend } from './backend';
export type { MigrationProgress, MigrationResult } from './migrate';

/** Builds the backend of a new store: settings are checked now (ERR_STORE_CONFIG); the client connects at connect. */
export const createBackend: BackendFactory<MongoSettings> = (settings, context): MongoBackend => {
  checkMongoSettings(settings);
  return new MongoBackend(new SharedMongo(settings), context);
};

/**
 * The MongoDB store. F defaults to UnknownFlags, as the class had before the move: its
 * instances' types do not know the settings, and the constructor takes any callback style.
 */
export class MongoStore<V = unknown, F extends StoreFlags = UnknownFlags> extends BackendStore<MongoSettings, V, F, MongoBackend> {
  /** `scoped` is for scopes only: the backend of the new namespace, sharing the connection. */
  constructor(settings: MongoSettings & { callbacks?: F['callbacks'] } = {}, scoped?: ScopedBackend<MongoBackend>) {
    super(settings, createBackend, scoped);
  }

  /** Frees the GridFS files of expired streamed values now (a timer does it every `sweepInterval` ms); resolves how many. */
  sweep(): Promise<number> {
    return this.run(() => this.backend.sweep());
  }

  /** The collection entries live in (after connect): for inspection and tests. */
  get collection(): Collection<EntryDoc> {
    return this.backend.shared.collection;
  }

  /** The MongoClient (after connect). */
  get client(): MongoClient | undefined {
    return this.backend.shared.client;
  }

  /**
   * Converts the memstorage 0.5.3 documents of this collection into this store's layout, in
   * this store's namespace; resumable, reports progress. See docs/mongo.md.
   */
  migrateLegacy(onProgress?: (progress: MigrationProgress) => void): Promise<MigrationResult> {
    return this.backend.migrateLegacy(onProgress);
  }

  /** A scope is a MongoStore too (sweep(), migrateLegacy(), collection), sharing the connection. */
  protected _scope(namespace: string): MongoStore<V, F> {
    return new MongoStore<V, F>({ ...(this.settings as MongoSettings), namespace }, this.scopedBackend(namespace));
  }
}
