/**
 * The Redis store type (`{ type: 'redis' }`, registered in lib/builtin-stores.ts): the backend
 * factory, and `RedisStore`, the public class over it that `new RedisStore(settings)` has
 * always made. ioredis is an optional peer dependency: loading this module without it is
 * ERR_STORE_CONFIG naming the package.
 */
import './driver'; // first: a missing ioredis is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import type { BackendFactory } from '../../backend';
import { BackendStore, ScopedBackend } from '../../backend-store';
import type { StoreFlags, UnknownFlags } from '../../store-types';
import { RedisBackend } from './backend';
import { RedisClient, createClient } from './client';
import { RedisConnection } from './connection';
import { DueNamespaces } from './due-namespaces';
import type { RedisLayout } from './layout';
import { dueListKey } from './layout';
import { RedisSettings, resolveRedisSettings } from './settings';
import { ShardedRedisBackend } from './shards';

export type { RedisNode, RedisSettings } from './settings';
export { REDIS_DEFAULTS } from './settings';
export type { RedisClient } from './client';
export type { RedisBackend } from './backend';

/**
 * Builds the backend of a new store: settings are checked now (ERR_STORE_CONFIG); the client
 * is created (or the `client` setting adopted) now and connects at `connect()`. The scopes of
 * the backend share its connection.
 */
export const createBackend: BackendFactory<RedisSettings> = (settings, context): RedisBackend => {
  const s = settings ?? {};
  const resolved = resolveRedisSettings(s);
  const connection: RedisConnection = new RedisConnection(
    s.client ?? createClient(s, resolved),
    s.client === undefined,
    { commandTimeout: resolved.commandTimeout, connectTimeout: resolved.connectTimeout },
    resolved.sweepInterval,
    // Background failures of the shared connection are reported by the backend that made it.
    (err) => root.reportError(err),
    {
      list: new DueNamespaces(dueListKey(resolved.prefix, resolved.shards)),
      now: () => context.clock.now(),
      sweeperFor: (namespace) => root.scope(namespace),
    },
  );
  // With shards > 1 a namespace is spread over several slots (shards.ts); its scopes inherit the count.
  const root: RedisBackend = resolved.shards > 1 ? new ShardedRedisBackend(connection, resolved, context) : new RedisBackend(connection, resolved, context);
  return root;
};

/**
 * The Redis store (SPEC §8 redis): the public store over the Redis backend. F defaults to
 * UnknownFlags, as the class had before the move: its instances' types do not know the
 * settings, and the constructor takes any callback style.
 */
export class RedisStore<V = unknown, F extends StoreFlags = UnknownFlags> extends BackendStore<RedisSettings, V, F, RedisBackend> {
  /** `scoped` is for scopes only: the backend of the parent store's scope, sharing its connection. */
  constructor(settings: RedisSettings & { callbacks?: F['callbacks'] } = {}, scoped?: ScopedBackend<RedisBackend>) {
    super(settings, createBackend, scoped);
  }

  /**
   * The ioredis client (shared with the store's scopes), after sending queued batches. Its
   * auto-pipeline is not tracked by the store: a command sent on it is ordered before the
   * store's later commands once it has been answered.
   */
  get redis(): RedisClient {
    return this.backend.redis;
  }

  /** Key names of this store's namespace (with shards > 1: its home, which records the shard count; see `shardLayouts`). */
  get layout(): RedisLayout {
    return this.backend.layout;
  }

  /** Key names of each shard of this store's namespace, in shard order (one, `layout`, without shards). */
  get shardLayouts(): RedisLayout[] {
    const b = this.backend;
    return b instanceof ShardedRedisBackend ? b.shards.map((shard) => shard.layout) : [b.layout];
  }

  /**
   * How long, in ms, a replaced or deleted streamed value's chunks stay under their grace key,
   * so that a read issued before the write can finish.
   */
  get streamGraceMs(): number {
    return this.backend.settings.streamGraceMs;
  }

  /**
   * Frees every entry of this namespace that has expired by the store's clock, with its order,
   * expiry and index records, without reading values. Resolves how many were freed.
   */
  sweep(): Promise<number> {
    return this.backend.sweep();
  }

  /** The earliest expiry recorded in this namespace, if any (for the due-namespace list). */
  nextDue(): Promise<number | undefined> {
    return this.backend.nextDue();
  }

  protected _scope(namespace: string): RedisStore<V, F> {
    return new RedisStore<V, F>({ ...(this.settings as RedisSettings), namespace }, this.scopedBackend(namespace));
  }
}
