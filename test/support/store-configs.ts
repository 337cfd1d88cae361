/**
 * Every store configuration the correctness harnesses run on (issue #10): memory with and
 * without bounds, Redis, Redis Cluster, MongoDB, and the multi stacks. One list, so a backend
 * added later is added here once and every harness covers it.
 *
 * A configuration opens a fresh store in its own namespace with the ManualClock it is given;
 * servers are started (once per process, shared) by `prepare()`, which a harness calls from
 * its `before` hook. A server that cannot start fails the run loudly.
 */
import { ManualClock } from '../../lib/clock';
import type { BaseStore, CommonSettings } from '../../lib/store';
import { MemoryStore } from '../../lib/backends/memory';
import { RedisStore } from '../../lib/backends/redis';
import { MongoStore } from '../../lib/backends/mongo';
import { MultiStore } from '../../lib/multi/multi-store';
import { sharedMongo } from './mongo-server';
import { sharedRedis, sharedRedisCluster } from './redis-server';
import { createStore } from '../../lib/factory';
import { freshSqlitePath } from './sqlite-files';
import { defaultSerializer } from '../../lib/serializer';

/** Servers a configuration needs. */
export type Service = 'redis' | 'redis-cluster' | 'mongo';

/** One store configuration under test. */
export interface StoreConfig {
  /** Shown in test titles. */
  name: string;
  /** Servers `prepare()` must start before `open()`. */
  needs: Service[];
  /**
   * Entries may vanish before their TTL (LRU bounds): a model must allow a read to miss.
   * The bounded memory configuration keeps its bound above what the harnesses write, so it
   * never evicts in practice, but the flag lets a harness that writes more account for it.
   */
  evicts: boolean;
  /** Opens a fresh, empty store in its own namespace. */
  open(settings: CommonSettings & { clock: ManualClock; namespace: string }): BaseStore;
}

const urls: { redis?: string; cluster?: Array<{ host: string; port: number }>; mongo?: string } = {};

/** Starts (or reuses) the servers the given configurations need. Call from a `before` hook with a long timeout. */
export async function prepare(configs: StoreConfig[]): Promise<void> {
  const needs = new Set(configs.flatMap((c) => c.needs));
  if (needs.has('redis') && !urls.redis) urls.redis = (await sharedRedis()).url;
  if (needs.has('redis-cluster') && !urls.cluster) urls.cluster = (await sharedRedisCluster()).nodes;
  if (needs.has('mongo') && !urls.mongo) urls.mongo = (await sharedMongo()).url;
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`store-configs: ${what} was not prepared; call prepare() in a before hook`);
  return value;
}

/** One database file per configuration for the whole run: every store opened on it has its own namespace. */
const sqliteFiles = new Map<string, string>();
const sqliteFile = (config: string) => {
  let file = sqliteFiles.get(config);
  if (!file) sqliteFiles.set(config, (file = freshSqlitePath(config.replace(/[^a-z]+/gi, '-'))));
  return file;
};
const sqliteTier = (config: string) => ({ type: 'sqlite', settings: { path: sqliteFile(config) } });
/**
 * A serializer that answers with promises (SPEC §16: the serializer may be asynchronous): the
 * backend then cannot rely on issue order alone, which the model's batches check.
 */
const asyncSerializer = {
  async: true,
  serialize: (value: unknown): Promise<string> => Promise.resolve(defaultSerializer.serialize(value)),
  deserialize: (text: string): Promise<unknown> => Promise.resolve(defaultSerializer.deserialize(text)),
};
const redisTier = () => ({ type: 'redis', settings: { url: need(urls.redis, 'redis') } });
const mongoTier = () => ({ type: 'mongo', settings: { url: need(urls.mongo, 'mongo'), db: 'harness' } });
/** A MongoDB tier compressing every value that shrinks (SPEC §16). */
const compressedMongoTier = () => ({ type: 'mongo', settings: { url: need(urls.mongo, 'mongo'), db: 'harness', compress: { threshold: 0 } } });
/** A Redis tier compressing every value that shrinks (SPEC §16). */
const compressedRedisTier = () => ({ type: 'redis', settings: { url: need(urls.redis, 'redis'), compress: { threshold: 0, algorithm: 'brotli' } } });

/** Every configuration, in the order the harnesses run them. */
export const STORE_CONFIGS: StoreConfig[] = [
  { name: 'memory', needs: [], evicts: false, open: (s) => new MemoryStore(s) },
  { name: 'memory with maxKeys and maxBytes', needs: [], evicts: true, open: (s) => new MemoryStore({ ...s, maxKeys: 10_000, maxBytes: 64 * 1024 * 1024 }) },
  { name: 'memory with clone', needs: [], evicts: false, open: (s) => new MemoryStore({ ...s, clone: true }) },
  // A memory store listing its indexes keeps object keys as ids only (lib/backends/memory/slot.ts).
  { name: 'memory with indexes listed', needs: [], evicts: false, open: (s) => new MemoryStore({ ...s, indexes: ['a', 'b', 'c', 'a.b', 'tags'] }) },
  { name: 'redis', needs: ['redis'], evicts: false, open: (s) => new RedisStore({ ...s, url: need(urls.redis, 'redis') }) },
  { name: 'redis cluster', needs: ['redis-cluster'], evicts: false, open: (s) => new RedisStore({ ...s, cluster: need(urls.cluster, 'redis cluster') }) },
  { name: 'redis cluster shards 4', needs: ['redis-cluster'], evicts: false, open: (s) => new RedisStore({ ...s, cluster: need(urls.cluster, 'redis cluster'), shards: 4 }) },
  { name: 'mongo', needs: ['mongo'], evicts: false, open: (s) => new MongoStore({ ...s, url: need(urls.mongo, 'mongo'), db: 'harness' }) },
  // Single-path indexes on the harnesses' common fields: queries an index can serve then run as
  // the aggregation that sorts only the matches into creation order (lib/backends/mongo/creation-order.ts).
  // (A compound index would make MongoDB refuse keys with arrays at two of its paths.)
  {
    name: 'mongo with indexes',
    needs: ['mongo'],
    evicts: false,
    open: (s) => new MongoStore({ ...s, url: need(urls.mongo, 'mongo'), db: 'harness', indexes: ['a', 'b', 'c', 'a.b', 'tags'] }),
  },
  {
    name: 'multi [memory, redis, mongo]',
    needs: ['redis', 'mongo'],
    evicts: false,
    open: (s) => new MultiStore({ ...s, stores: [{ type: 'memory', settings: { maxKeys: 10_000 } }, redisTier(), mongoTier()] }),
  },
  { name: 'multi [memory, mongo compressed]', needs: ['mongo'], evicts: false, open: (s) => new MultiStore({ ...s, stores: [{ type: 'memory' }, compressedMongoTier()] }) },
  { name: 'multi [redis compressed, mongo]', needs: ['redis', 'mongo'], evicts: false, open: (s) => new MultiStore({ ...s, stores: [compressedRedisTier(), mongoTier()] }) },
  {
    name: 'sqlite',
    needs: [],
    evicts: false,
    // Expression indexes on the harnesses' common fields, so their queries also run through the indexes.
    open: (s) => createStore({ type: 'sqlite', settings: { ...s, path: sqliteFile('sqlite'), indexes: ['a', 'b', 'a.b', 'tags'] } }),
  },
  // Compressed (SPEC §16): threshold 0 compresses every value that shrinks, so both stored kinds meet.
  { name: 'sqlite :memory: compressed', needs: [], evicts: false, open: (s) => createStore({ type: 'sqlite', settings: { ...s, path: ':memory:', compress: { threshold: 0, algorithm: 'brotli' } } }) },
  {
    name: 'multi [memory, sqlite with an async serializer]',
    needs: [],
    evicts: false,
    open: (s) => new MultiStore({ ...s, stores: [{ type: 'memory', settings: { maxKeys: 10_000 } }, { type: 'sqlite', settings: { path: sqliteFile('multi-memory-sqlite'), serializer: asyncSerializer } }] }),
  },
  {
    name: 'multi [memory, redis, sqlite]',
    needs: ['redis'],
    evicts: false,
    open: (s) => new MultiStore({ ...s, stores: [{ type: 'memory', settings: { maxKeys: 10_000 } }, redisTier(), sqliteTier('multi-memory-redis-sqlite')] }),
  },
  { name: 'multi [memory, memory]', needs: [], evicts: false, open: (s) => new MultiStore({ ...s, stores: [{ type: 'memory', settings: { maxKeys: 10_000 } }, { type: 'memory' }] }) },
  // The harnesses' keys fall to the default mount (creation order across mounts is not kept:
  // docs/mount.md); routing itself is tested in test/mount*.test.ts.
  {
    name: 'mount [mnt: memory, default memory]',
    needs: [],
    evicts: false,
    open: (s) => createStore({ type: 'mount', settings: { ...s, field: 'route', mounts: { 'mnt:': { type: 'memory' } }, default: { type: 'memory' } } }),
  },
  {
    name: 'mount [mnt: memory, default redis]',
    needs: ['redis'],
    evicts: false,
    open: (s) => createStore({ type: 'mount', settings: { ...s, field: 'route', mounts: { 'mnt:': { type: 'memory' } }, default: redisTier() } }),
  },
];

/**
 * The configurations named by STORE_CONFIGS (substring match), or all of them. Names are
 * separated by `|`, `;` or a comma outside square brackets, so a multi stack's own commas stay
 * part of its name: STORE_CONFIGS='redis,multi [memory, memory]' names two filters; a leading
 * `=` asks for that exact name (STORE_CONFIGS='=redis' is the Redis store alone).
 */
export function selectedConfigs(): StoreConfig[] {
  const filter = process.env.STORE_CONFIGS;
  if (!filter) return STORE_CONFIGS;
  const wanted = filter.split(/[|;]|,(?![^[]*\])/).map((s) => s.trim()).filter(Boolean);
  // '=name' selects that configuration alone ('redis' alone also selects every multi stack with Redis in it).
  return STORE_CONFIGS.filter((c) => wanted.some((w) => (w.startsWith('=') ? c.name === w.slice(1) : c.name.includes(w))));
}

let counter = 0;
/** A namespace no other test uses. */
export function freshNamespace(prefix: string): string {
  return `${prefix}${process.pid}x${++counter}`;
}
