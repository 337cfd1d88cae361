/**
 * The Redis backend's settings (SPEC §8 redis), checked eagerly when the store is created
 * (SPEC §10): a bad one is ERR_STORE_CONFIG naming it, before any client is made.
 */
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { Compression, CompressSetting, resolveCompression } from '../../compression';
import { StoreConfigError } from '../../errors';
import { isPlainObject } from '../../keys';
import type { CommonSettings } from '../../store';

/** A cluster node: `'host:port'` or `{ host, port }`. */
export type RedisNode = string | { host: string; port: number };

/** Settings of the Redis store. */
export interface RedisSettings extends CommonSettings {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). Exclusive with host/port and cluster. */
  url?: string;
  /** Server host. Default '127.0.0.1'. */
  host?: string;
  /** Server port. Default 6379. */
  port?: number;
  /** ACL user name. */
  username?: string;
  /** Password (AUTH). */
  password?: string;
  /** Database number (standalone only). Default 0. */
  db?: number;
  /** An ioredis Redis or Cluster client to use instead of creating one; the store never closes it. */
  client?: Redis | Cluster;
  /** Cluster startup nodes: the store creates an ioredis Cluster. */
  cluster?: RedisNode[];
  /** Start of every key the store writes. Default 'ms:'. */
  prefix?: string;
  /** A command without a reply fails after this many ms. Default 2000. */
  commandTimeout?: number;
  /** The first connection fails after this many ms. Default 2000. */
  connectTimeout?: number;
  /** How often expired entries' records are swept, in ms; 0 sweeps only during writes. Default 1000. */
  sweepInterval?: number;
  /** Entries per round trip when scanning, fetching or deleting in bulk. Default 1000. */
  batchSize?: number;
  /** Largest chunk of a streamed value, in bytes (pieces under a quarter of it are gathered). Default 32 KiB, so a chunk read back fits one socket read and is not copied again. */
  chunkSize?: number;
  /** Extra ioredis options for a client the store creates (for a cluster: ClusterOptions). */
  redisOptions?: RedisOptions & ClusterOptions;
  /**
   * How many hash-slot groups a namespace's entries and indexes are spread over (1..1024),
   * so that one namespace uses every master of a cluster (layout.ts, shards.ts). Default 1:
   * one slot, atomic queries, exact creation order from the server. On a cluster pick the
   * number of masters (or a small multiple): exact operations go to one shard, queries ask
   * every shard and merge. Part of the namespace's layout: a namespace opened with another
   * count than it was written with is refused (ERR_STORE_CONFIG).
   */
  shards?: number;
  /**
   * Compress values whose serialized text reaches `threshold` bytes (default 1024) with
   * node:zlib `algorithm` ('gzip', the default, or 'brotli'); `true` takes both defaults. Stored
   * marked in the entry's head, so entries written with it off still read, and the other way
   * round (docs/redis.md, "Compression"). Streamed values: each chunk alone (lib/compressed-chunks.ts).
   */
  compress?: CompressSetting;
}

/** Most shards a namespace may have (see RedisSettings.shards). */
export const MAX_SHARDS = 1024;

/** Defaults of the Redis store, one documented value per setting. */
export const REDIS_DEFAULTS = {
  host: '127.0.0.1',
  port: 6379,
  db: 0,
  prefix: 'ms:',
  commandTimeout: 2000,
  connectTimeout: 2000,
  sweepInterval: 1000,
  batchSize: 1000,
  chunkSize: 32 * 1024,
  shards: 1,
  /** How long a half-written streamed value may linger if its writer dies, in ms. */
  streamLeaseMs: 60 * 60 * 1000,
} as const;

/**
 * Most exact-key reads or writes per script call. A storm of 1,000 concurrent getOne calls
 * becomes 4 script calls sent together: the client decodes the first reply while the server
 * runs the next (measured: 256 beats both 64 and 1,000 on CPU and wall time).
 */
const EXACT_BATCH = 256;

/**
 * How long the chunks of a streamed value stay readable after the value was replaced or
 * deleted, in command timeouts (at least STREAM_GRACE_MIN_MS): a read that holds the old entry
 * string is at most a round trip or two behind, each bounded by the command timeout, and a
 * read that keeps reading renews the grace (see nextChunk in streams.ts).
 */
const STREAM_GRACE_TIMEOUTS = 4;

/** The shortest grace, in ms, whatever the command timeout: an event-loop stall is not a failure. */
const STREAM_GRACE_MIN_MS = 1000;

/** The settings the backend and its scopes work with, defaults applied. */
export interface ResolvedRedisSettings {
  prefix: string;
  commandTimeout: number;
  connectTimeout: number;
  sweepInterval: number;
  batchSize: number;
  /** Most getOne/set calls per script call: several smaller batches in flight keep client and server both busy. */
  exactBatch: number;
  chunkSize: number;
  /**
   * How long, in ms, a replaced or deleted streamed value's chunks stay under their grace key,
   * so that a read issued before the write can finish (STREAM_GRACE_TIMEOUTS command timeouts,
   * at least STREAM_GRACE_MIN_MS).
   */
  streamGraceMs: number;
  /** Hash-slot groups per namespace (1: today's one-slot layout). */
  shards: number;
  /** The resolved `compress` setting, or null when off. */
  compress: Compression | null;
}

/** Checks `settings` (throws StoreConfigError naming the bad one) and applies the defaults. */
export function resolveRedisSettings(settings: RedisSettings): ResolvedRedisSettings {
  checkRedisSettings(settings);
  const batchSize = settings.batchSize ?? REDIS_DEFAULTS.batchSize;
  const commandTimeout = settings.commandTimeout ?? REDIS_DEFAULTS.commandTimeout;
  return {
    prefix: settings.prefix ?? REDIS_DEFAULTS.prefix,
    commandTimeout,
    connectTimeout: settings.connectTimeout ?? REDIS_DEFAULTS.connectTimeout,
    sweepInterval: settings.sweepInterval ?? REDIS_DEFAULTS.sweepInterval,
    batchSize,
    exactBatch: Math.min(batchSize, EXACT_BATCH),
    chunkSize: settings.chunkSize ?? REDIS_DEFAULTS.chunkSize,
    streamGraceMs: Math.max(STREAM_GRACE_MIN_MS, STREAM_GRACE_TIMEOUTS * commandTimeout),
    shards: settings.shards ?? REDIS_DEFAULTS.shards,
    compress: resolveCompression(settings.compress),
  };
}

/** Settings checks, each naming its setting. */
function checkRedisSettings(s: RedisSettings): void {
  const str = (name: 'url' | 'host' | 'username' | 'password' | 'prefix') => {
    if (s[name] !== undefined && typeof s[name] !== 'string') throw new StoreConfigError(`setting ${name} must be a string`);
  };
  const int = (name: 'port' | 'db' | 'commandTimeout' | 'connectTimeout' | 'sweepInterval' | 'batchSize' | 'chunkSize' | 'shards', min: number, max: number) => {
    const v = s[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) {
      throw new StoreConfigError(`setting ${name} must be an integer from ${min} to ${max}`);
    }
  };
  str('url');
  str('host');
  str('username');
  str('password');
  str('prefix');
  int('port', 1, 65535);
  int('db', 0, 65535);
  int('commandTimeout', 1, 3_600_000);
  int('connectTimeout', 1, 3_600_000);
  int('sweepInterval', 0, 3_600_000);
  int('batchSize', 1, 100_000);
  int('chunkSize', 1024, 64 * 1024 * 1024);
  int('shards', 1, MAX_SHARDS);
  if (s.url !== undefined && !/^rediss?:\/\//.test(s.url)) throw new StoreConfigError('setting url must start with redis:// or rediss://');
  if (s.prefix !== undefined && /[{}]/.test(s.prefix)) {
    throw new StoreConfigError('setting prefix must not contain { or }: the store places its own hash tag after it');
  }
  if (s.prefix !== undefined && s.prefix.length > 256) throw new StoreConfigError('setting prefix must be at most 256 characters');
  const sources = (['url', 'cluster', 'client'] as const).filter((name) => s[name] !== undefined);
  if (sources.length > 1) throw new StoreConfigError(`settings ${sources.join(' and ')} are exclusive: give one`);
  if (sources.length === 1) {
    for (const name of ['host', 'port', 'db'] as const) {
      if (s[name] !== undefined) throw new StoreConfigError(`setting ${name} cannot be combined with ${sources[0]}`);
    }
  }
  if (s.client !== undefined) {
    const c = s.client as unknown as Record<string, unknown>;
    if (!c || typeof c.hmget !== 'function' || typeof c.evalsha !== 'function' || typeof c.status !== 'string') {
      throw new StoreConfigError('setting client must be an ioredis Redis or Cluster client');
    }
    for (const name of ['username', 'password', 'redisOptions'] as const) {
      // The client was built with its own credentials and options.
      if (s[name] !== undefined) throw new StoreConfigError(`setting ${name} cannot be combined with client: set it on the client`);
    }
  }
  if (s.cluster !== undefined) {
    if (!Array.isArray(s.cluster) || s.cluster.length === 0) throw new StoreConfigError('setting cluster must be a non-empty array of nodes');
    for (const node of s.cluster) {
      const ok =
        (typeof node === 'string' && /^[^:\s]+:\d{1,5}$/.test(node)) ||
        (isPlainObject(node) && typeof node.host === 'string' && Number.isInteger(node.port) && node.port > 0 && node.port < 65536);
      if (!ok) throw new StoreConfigError(`setting cluster has an invalid node ${JSON.stringify(node)}: use 'host:port' or { host, port }`);
    }
    if (s.db !== undefined) throw new StoreConfigError('setting db is not available on a cluster');
  }
  if (s.redisOptions !== undefined && !isPlainObject(s.redisOptions)) throw new StoreConfigError('setting redisOptions must be a plain object');
}
