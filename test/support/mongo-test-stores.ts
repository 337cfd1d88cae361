/**
 * For a describe block of MongoDB store tests: the shared test server (test/support/mongo-server.ts),
 * stores on fresh databases — closed after each test, their databases dropped after the block —
 * a store whose client records every command it sends, and a client of the block's own for
 * reading and writing documents behind the stores' backs. Call it inside the `describe`.
 */
import { CommandStartedEvent, MongoClient } from 'mongodb';
import { MongoSettings, MongoStore } from '../../lib/backends/mongo';
import { sharedMongo } from './mongo-server';

/** What useMongoStores gives a describe block. */
export interface MongoTestStores {
  /** The shared server's URL (set once the block's `before` ran). */
  readonly url: string;
  /** The block's own client (connected once the block's `before` ran; closed after the block). */
  readonly raw: MongoClient;
  /** The name of a fresh database, dropped after the block (for stores and clients a test builds itself). */
  freshDb(): string;
  /** A store on `db` (default: a fresh database named after `prefix`), closed after the test. */
  store(settings?: MongoSettings, db?: string): MongoStore;
  /** A store (on a fresh database) whose client records every command it sends. */
  watched(settings?: MongoSettings): { s: MongoStore; commands: CommandStartedEvent[] };
  /** Closes these (stores, clients) after the test. */
  closeAfterTest(...closables: Array<{ close(): Promise<void> }>): void;
}

/** See the file comment; `prefix` names the block's databases. */
export function useMongoStores(prefix: string): MongoTestStores {
  let url = '';
  let raw: MongoClient | undefined;
  let counter = 0;
  const dbs: string[] = [];
  const open: Array<{ close(): Promise<void> }> = [];
  before(async function () {
    this.timeout(120_000);
    ({ url } = await sharedMongo());
    raw = new MongoClient(url);
    await raw.connect();
  });
  afterEach(async () => {
    while (open.length) await open.pop()!.close();
  });
  after(async () => {
    for (const name of dbs.splice(0)) await raw?.db(name).dropDatabase();
    await raw?.close();
  });
  const stores: MongoTestStores = {
    get url() {
      return url;
    },
    get raw() {
      if (raw === undefined) throw new Error('useMongoStores: raw is there once the block\'s before hook ran');
      return raw;
    },
    freshDb() {
      const db = `${prefix}_${process.pid}_${++counter}`;
      dbs.push(db);
      return db;
    },
    store(settings = {}, db = stores.freshDb()) {
      if (!dbs.includes(db)) dbs.push(db);
      const s = new MongoStore({ url, db, ...settings });
      open.push(s);
      return s;
    },
    watched(settings = {}) {
      const client = new MongoClient(url, { monitorCommands: true });
      const commands: CommandStartedEvent[] = [];
      client.on('commandStarted', (event) => commands.push(event));
      const s = stores.store({ url: undefined, client, ...settings });
      open.push({ close: async () => client.close() });
      return { s, commands };
    },
    closeAfterTest(...closables) {
      open.push(...closables);
    },
  };
  return stores;
}
