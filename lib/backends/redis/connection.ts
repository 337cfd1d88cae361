/**
 * The ioredis client behind a Redis store and all its scopes: created from the settings (or
 * adopted from the `client` setting), connected once, closed when the last store using it
 * closes, and mapped to the store's typed errors.
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
import { Cluster, Command, Redis, RedisOptions, ClusterOptions, ReplyError } from 'ioredis';
import { StorageConnectionError, StorageOperationError, StoreError } from '../../errors';
import { DueNamespaces, NamespaceSweeper } from './due-namespaces';
import { SendCommand, loadScripts } from './scripts';

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

const CONNECTION_REPLIES = /^(LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY)\b/;

/**
 * A driver or server failure as a store error: a reply from the server is an operation error
 * (except the replies that mean "not available now"), anything else — refused, reset, closed,
 * timed out, not connected — is a connection error.
 */
export function toStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ReplyError && !CONNECTION_REPLIES.test(message)) {
    return new StorageOperationError(`Redis replied with an error: ${message}`, { cause: err });
  }
  return new StorageConnectionError(`Redis is not reachable: ${message}`, { cause: err });
}

/** Rethrows a driver error as a store error (use as a promise rejection handler). */
export function rethrow(err: unknown): never {
  throw toStoreError(err);
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

/** Something the sweep timer visits: an open namespace's store. */
export type Sweepable = NamespaceSweeper;

/** What the sweep timer needs to visit namespaces that nobody here has open (see DueNamespaces). */
export interface DueVisits {
  list: DueNamespaces;
  /** The stores' clock (expiries are on it). */
  now(): number;
  /** A sweeper for a namespace this process does not have open. */
  sweeperFor(namespace: string): Sweepable;
}

/** The operations the stores batch. */
export type BatchKind = 'get' | 'entry' | 'set';

/** One queued operation of a batch. */
export interface BatchItem {
  id: string;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/** A store that sends its queued operations itself. */
export interface BatchOwner {
  /** Sends a batch of same-kind operations (all of one namespace, so one slot). */
  sendBatch(kind: BatchKind, items: BatchItem[]): void;
}

interface Batch {
  owner: BatchOwner;
  kind: BatchKind;
  items: BatchItem[];
}

/**
 * One client shared by a store and its scopes, with the expiry sweep timer and the batch queue.
 *
 * Batching: exact-key reads and writes issued in the same tick are queued and sent at the end of
 * the tick as one script call per run of same-kind operations of one store (a `getOne` storm
 * becomes a few multi-key reads instead of one command each). Runs are sent in the order they
 * were issued, and any other command first flushes the queue, so commands reach Redis in
 * program order, as they would with plain ioredis.
 *
 * Sending: batches bypass ioredis auto-pipelining (`batchCommand`). An auto-pipeline is written
 * only once the previous one to the same node has been answered whole, so for batches this
 * large it only adds waiting: Redis idles while Node prepares the next batch, and Node idles
 * while Redis runs the current one. Written straight to the socket, batches overlap (measured
 * in docs/redis.md, "Batching"). Every other command rides the auto-pipeline (`piped`); while
 * one of those is unanswered, batches join the auto-pipeline behind it, so commands still
 * reach Redis in program order. On a cluster, batches always ride the auto-pipeline: ioredis
 * sends a command again by itself, later, after TRYAGAIN or CLUSTERDOWN (a slot being
 * migrated, a failover), and a batch sent alone could then be overtaken by a later command;
 * the auto-pipeline holds the next pipeline until the retried one is answered.
 */
export class RedisConnection {
  private users = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Open stores per namespace; the timer sweeps each namespace through its first store. */
  private readonly sweepers = new Map<string, Sweepable[]>();
  private readonly onClientError = () => undefined;
  private scriptsLoaded = false;
  private listening = false;
  private readonly onReady = () => {
    loadScripts(this.client).catch(() => undefined);
  };
  private queue: Batch[] = [];
  /** Whether a visit of due namespaces is running (one at a time). */
  private visiting = false;
  /** How long, in ms, the store lets one of its commands wait for a reply (0: the client does it). */
  private readonly commandBound: number;
  /** Whether batches may bypass the auto-pipeline: not on a cluster (see the class comment). */
  private readonly direct: boolean;
  /** Auto-pipelined commands sent by the stores and not answered yet: batches queue behind them. */
  private unanswered = 0;
  private readonly answered = () => {
    this.unanswered--;
  };
  private flushScheduled = false;
  private readonly flushLater = () => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(
    readonly client: RedisClient,
    /** Whether the store created the client (and so closes it). */
    private readonly owned: boolean,
    private readonly timeouts: ClientTimeouts,
    private readonly sweepInterval: number,
    private readonly reportError: (err: Error) => void,
    private readonly due: DueVisits,
  ) {
    // A client the store created has ioredis's commandTimeout; a given one keeps its owner's
    // options, so the store bounds its own commands itself.
    this.commandBound = owned ? 0 : timeouts.commandTimeout;
    this.direct = !(client instanceof Cluster);
  }

  /** Connects (once per user) and registers a namespace with the sweep timer. */
  async attach(namespace: string, sweeper: Sweepable): Promise<void> {
    if (this.users === 0 && !this.listening) {
      // ioredis prints unhandled 'error' events; failures reach callers through their operations.
      this.client.on('error', this.onClientError);
      this.listening = true;
    }
    await waitReady(this.client, this.timeouts.connectTimeout);
    if (!this.scriptsLoaded) {
      await this.bounded(loadScripts(this.client)).catch(rethrow);
      this.scriptsLoaded = true;
      // A restarted server has lost them: load them again as soon as the client is back.
      this.client.on('ready', this.onReady);
    }
    this.users++;
    const list = this.sweepers.get(namespace);
    if (list) list.push(sweeper);
    else this.sweepers.set(namespace, [sweeper]);
    if (!this.timer && this.sweepInterval > 0) {
      this.timer = setInterval(() => this.sweepAll(), this.sweepInterval);
      this.timer.unref();
    }
    // Expired entries of a namespace nobody had open are freed as soon as someone opens it.
    this.sweepOne(sweeper);
  }

  /** Releases one user; the last one stops the timer and closes a client the store created. */
  async detach(namespace: string, sweeper: Sweepable): Promise<void> {
    const list = this.sweepers.get(namespace);
    if (list) {
      const at = list.indexOf(sweeper);
      if (at >= 0) list.splice(at, 1);
      if (list.length === 0) this.sweepers.delete(namespace);
    }
    // Operations queued in this tick go out before the connection is released.
    this.flush();
    if (--this.users > 0) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.client.off('ready', this.onReady);
    this.scriptsLoaded = false;
    if (!this.owned) {
      this.client.off('error', this.onClientError);
      this.listening = false;
      return;
    }
    try {
      // QUIT skips ioredis's auto-pipeline queue; a PING rides in it, so it answers after
      // every command sent before close().
      await this.client.ping();
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  /** For a store that never connected: stops a client the store created if nobody uses it, so it stops reconnecting. */
  abandon(): void {
    if (this.users > 0) return;
    if (this.owned) this.client.disconnect();
    if (this.listening) {
      this.client.off('error', this.onClientError);
      this.listening = false;
    }
  }

  /** Queues an operation; same-kind runs of one owner share a batch of at most `max` items. */
  enqueue(owner: BatchOwner, kind: BatchKind, item: BatchItem, max: number): void {
    const last = this.queue[this.queue.length - 1];
    if (last && last.owner === owner && last.kind === kind && last.items.length < max) last.items.push(item);
    else this.queue.push({ owner, kind, items: [item] });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushLater);
    }
  }

  /** Runs a command that is not a batch: after the queued batches, on the client's auto-pipeline. */
  piped<T>(command: (client: RedisClient) => Promise<T>): Promise<T> {
    this.flush();
    return this.bounded(this.counted(command(this.client)));
  }

  /**
   * Sends a batch's command after the queued batches: straight to the socket, or on the
   * auto-pipeline while an earlier auto-pipelined command is unanswered (see the class comment).
   */
  readonly batchCommand: SendCommand = (name, args) => {
    this.flush();
    if (this.unanswered > 0 || !this.direct) return this.bounded(this.counted(this.client.call(name, ...args)));
    const { keyPrefix } = this.client.options;
    return this.bounded(this.client.sendCommand(new Command(name, args, { keyPrefix, replyEncoding: 'utf8' })) as Promise<unknown>);
  };

  /**
   * The reply, or ioredis's own "Command timed out" error once `commandBound` has passed. The
   * command itself stays counted as unanswered until its real reply, for program order.
   */
  private bounded<T>(reply: Promise<T>): Promise<T> {
    const ms = this.commandBound;
    if (ms === 0) return reply;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Command timed out')), ms);
      reply.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  private counted<T>(reply: Promise<T>): Promise<T> {
    this.unanswered++;
    reply.then(this.answered, this.answered);
    return reply;
  }

  /** Sends every queued batch now, in order. */
  flush(): void {
    if (this.queue.length === 0) return;
    const queue = this.queue;
    this.queue = [];
    for (const batch of queue) batch.owner.sendBatch(batch.kind, batch.items);
  }

  /** Runs a command that is not a batch, as LuaScript.run's sender (see `piped`). */
  readonly pipedSend: SendCommand = (name, args) => this.piped((c) => c.call(name, ...args));

  /** After a write of TTL'd entries in `namespace`: keeps it listed for sweeping (DueNamespaces.note). */
  noteDue(namespace: string, due: number): void {
    this.due.list.note(this.batchCommand, namespace, due, this.due.now()).catch(this.reportQuietly);
  }

  /** Sweeps a few due namespaces from the list, open here or not (DueNamespaces.visit). */
  visitDue(): void {
    if (this.visiting) return;
    this.visiting = true;
    const sweeperFor = (namespace: string) => this.sweepers.get(namespace)?.[0] ?? this.due.sweeperFor(namespace);
    this.due.list
      .visit(this.pipedSend, this.due.now(), sweeperFor)
      .catch(this.reportQuietly)
      .finally(() => {
        this.visiting = false;
      });
  }

  private sweepAll(): void {
    if (this.client.status !== 'ready') return;
    for (const list of this.sweepers.values()) this.sweepOne(list[0]);
    this.visitDue();
  }

  private sweepOne(sweeper: Sweepable): void {
    sweeper.sweep().catch(this.reportQuietly);
  }

  /** While Redis is down every operation reports it; the background sweep stays quiet. */
  private readonly reportQuietly = (err: unknown) => {
    const error = toStoreError(err);
    if (error.code !== 'ERR_STORAGE_CONNECTION') this.reportError(error);
  };
}
