/**
 * The ioredis client behind a Redis store and all its scopes: created from the settings (or
 * adopted from the `client` setting) and waited for until ready.
 *
 * Failure behaviour while Redis is down (docs/redis.md, "Timeouts"): the client is built so
 * that nothing waits for a reconnection. Commands issued while it is not connected fail at
 * once (`enableOfflineQueue: false`); commands in flight when the connection drops fail at
 * once and are never replayed later (`maxRetriesPerRequest: 0`,
 * `autoResendUnfulfilledCommands: false`), so a write reported as failed cannot quietly happen
 * afterwards; a server that accepts the connection but does not answer is cut off after
 * `commandTimeout`; the first connection gives up after `connectTimeout`. In the background
 * the client keeps reconnecting (backoff capped at one second), so the store recovers by
 * itself once the server is back.
 */
import './driver'; // first: a missing ioredis is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { Cluster, Redis, RedisOptions, ClusterOptions } from 'ioredis';
import { StorageConnectionError } from '../../errors';
import { toStoreError } from './errors';
import { REDIS_DEFAULTS, RedisSettings, ResolvedRedisSettings } from './settings';

/** A standalone client or a cluster client. */
export type RedisClient = Redis | Cluster;

/** Reconnection delay: 50 ms doubling, capped at one second. */
export function reconnectDelay(times: number): number {
  return Math.min(50 * 2 ** Math.min(times - 1, 5), 1000);
}

/** Options shared by every client the store creates. */
export interface ClientTimeouts {
  commandTimeout: number;
  connectTimeout: number;
}

/** Options for a standalone client. */
export function standaloneOptions(timeouts: ClientTimeouts, extra: RedisOptions | undefined): RedisOptions {
  return {
    lazyConnect: true,
    enableAutoPipelining: true,
    // Chunks of streamed values go straight to the socket: batching them would copy each one again.
    autoPipeliningIgnoredCommands: ['hset'],
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: timeouts.commandTimeout,
    connectTimeout: timeouts.connectTimeout,
    retryStrategy: reconnectDelay,
    ...extra,
  };
}

/** Options for a cluster client. */
export function clusterOptions(timeouts: ClientTimeouts, node: RedisOptions, extra: ClusterOptions | undefined): ClusterOptions {
  return {
    lazyConnect: true,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: reconnectDelay,
    ...extra,
    redisOptions: {
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: timeouts.commandTimeout,
      connectTimeout: timeouts.connectTimeout,
      ...node,
      ...extra?.redisOptions,
    },
  };
}

/** Resolves when the client is ready; rejects at the first failed attempt or after `timeout` ms. */
export function waitReady(client: RedisClient, timeout: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'end' || client.status === 'close') {
    // A client we adopted and someone closed, or one that gave up: start it again.
    if (client.status === 'end') client.connect().catch(() => undefined);
  } else if (client.status === 'wait') {
    client.connect().catch(() => undefined);
  }
  return new Promise<void>((resolve, reject) => {
    let lastError: unknown;
    const done = (err?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('close', onClose);
      client.off('end', onClose);
      client.off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onError = (err: unknown) => {
      lastError = err;
      // A cluster reports a failed start only through 'error'.
      if (client instanceof Cluster) done(toStoreError(err));
    };
    const onClose = () =>
      done(
        new StorageConnectionError(`cannot connect to Redis: ${lastError instanceof Error ? lastError.message : 'connection closed'}`, {
          cause: lastError,
        }),
      );
    const timer = setTimeout(
      () => done(new StorageConnectionError(`Redis did not become ready within ${timeout} ms (connectTimeout)`, { cause: lastError })),
      timeout,
    );
    client.on('ready', onReady);
    client.on('close', onClose);
    client.on('end', onClose);
    client.on('error', onError);
  });
}

/** A client built from the settings (checked already): a Cluster for `cluster`, else a standalone client. */
export function createClient(s: RedisSettings, resolved: ResolvedRedisSettings): RedisClient {
  const timeouts = { commandTimeout: resolved.commandTimeout, connectTimeout: resolved.connectTimeout };
  const auth: RedisOptions = {};
  if (s.username !== undefined) auth.username = s.username;
  if (s.password !== undefined) auth.password = s.password;
  if (s.cluster) {
    const nodes = s.cluster.map((node) => {
      if (typeof node !== 'string') return node;
      const at = node.lastIndexOf(':');
      return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
    });
    return new Cluster(nodes, clusterOptions(timeouts, auth, s.redisOptions));
  }
  const options = standaloneOptions(timeouts, { ...auth, ...s.redisOptions });
  if (s.url) return new Redis(s.url, options);
  return new Redis({
    host: s.host ?? REDIS_DEFAULTS.host,
    port: s.port ?? REDIS_DEFAULTS.port,
    db: s.db ?? REDIS_DEFAULTS.db,
    ...options,
  });
}
