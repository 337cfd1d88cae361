/**
 * The connection a Redis store shares with its scopes: one client (client.ts), connected once
 * and closed when the last store using it closes (SharedResource), with the expiry sweep timer
 * and the per-tick batch queue of exact-key calls.
 */
import './driver'; // first: a missing ioredis is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { Cluster, Command, Redis } from 'ioredis';
import { Deadlines } from '../../core/deadlines';
import { SharedResource } from '../../core/shared-resource';
import { TickFlush } from '../../core/tick-flush';
import { ClientTimeouts, RedisClient, waitReady } from './client';
import { DueNamespaces, NamespaceSweeper } from './due-namespaces';
import { rethrow, toStoreError } from './errors';
import { SendCommand, loadScripts } from './lua-script';
import { ALL_SCRIPTS } from './read-scripts';

/** Something the sweep timer visits: an open namespace's backend, which reports its sweep's failures to its own store. */
export interface Sweepable extends NamespaceSweeper {
  /** Reports a failure of this namespace's background sweep (the 'error' event of the store that has it open). */
  reportError(err: Error): void;
}

/** What the sweep timer needs to visit namespaces that nobody here has open (see DueNamespaces). */
export interface DueVisits {
  list: DueNamespaces;
  /** The stores' clock (expiries are on it). */
  now(): number;
  /** A sweeper for a namespace this process does not have open. */
  sweeperFor(namespace: string): Sweepable;
}

/** The operations the backends batch: reads of values or entries, writes, getMeta reads. */
export type BatchKind = 'get' | 'entry' | 'set' | 'meta';

/** One queued operation of a batch. */
export interface BatchItem {
  id: string;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/** A backend that sends its queued operations itself (the connection calls it back in program order). */
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
 * the tick (TickFlush, on process.nextTick, as the Mongo batches) as one script call per run of
 * same-kind operations of one store (a `getOne` storm becomes a few multi-key reads instead of
 * one command each). Runs are sent in the order they were issued, and any other command first
 * flushes the queue, so commands reach Redis in program order, as they would with plain
 * ioredis. (Not a TickQueue: runs of several owners and kinds share one ordered queue, and any
 * other command flushes it at once.)
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
  /** The users (store and scopes); while there are any, the sweep runs; the last one releases the client. */
  private readonly use: SharedResource;
  /** Open backends per namespace; the timer sweeps each namespace through its first one. */
  private readonly sweepers = new Map<string, Sweepable[]>();
  private readonly onClientError = () => undefined;
  private scriptsLoaded = false;
  private listening = false;
  private readonly onReady = () => {
    loadScripts(this.client, ALL_SCRIPTS).catch(() => undefined);
  };
  private queue: Batch[] = [];
  /** Whether a visit of due namespaces is running (one at a time). */
  private visiting = false;
  /**
   * The store's own bound on its commands' replies, on a client it was given (undefined on a
   * client it created: ioredis's commandTimeout does it there). Every command shares the one
   * timeout, so one timer serves them all.
   */
  private readonly deadlines: Deadlines | undefined;
  /** Whether batches may bypass the auto-pipeline: not on a cluster (see the class comment). */
  private readonly direct: boolean;
  /** Auto-pipelined commands sent by the stores and not answered yet: batches queue behind them. */
  private unanswered = 0;
  private readonly answered = () => {
    this.unanswered--;
  };
  private readonly endOfTick = new TickFlush(() => this.flush());

  constructor(
    readonly client: RedisClient,
    /** Whether the store created the client (and so closes it). */
    private readonly owned: boolean,
    private readonly timeouts: ClientTimeouts,
    sweepInterval: number,
    private readonly reportError: (err: Error) => void,
    private readonly due: DueVisits,
  ) {
    // A client the store created has ioredis's commandTimeout; a given one keeps its owner's
    // options, so the store bounds its own commands itself.
    this.deadlines = owned ? undefined : new Deadlines(timeouts.commandTimeout, () => new Error('Command timed out'));
    this.direct = !(client instanceof Cluster);
    this.use = new SharedResource({ interval: sweepInterval, periodic: () => this.sweepAll(), release: () => this.release() });
  }

  /** Connects (once per user) and registers a namespace with the sweep timer. */
  async attach(namespace: string, sweeper: Sweepable): Promise<void> {
    if (this.use.users === 0 && !this.listening) {
      // ioredis prints unhandled 'error' events; failures reach callers through their operations.
      this.client.on('error', this.onClientError);
      this.listening = true;
    }
    await waitReady(this.client, this.timeouts.connectTimeout);
    if (!this.scriptsLoaded) {
      await this.bounded(loadScripts(this.client, ALL_SCRIPTS)).catch(rethrow);
      this.scriptsLoaded = true;
      // A restarted server has lost them: load them again as soon as the client is back.
      this.client.on('ready', this.onReady);
    }
    this.use.join();
    const list = this.sweepers.get(namespace);
    if (list) list.push(sweeper);
    else this.sweepers.set(namespace, [sweeper]);
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
    return this.use.leave();
  }

  /** After the last user left (the sweep timer is stopped): stops listening, and closes the client if the store created it. */
  private async release(): Promise<void> {
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
    if (this.use.users > 0) return;
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
    this.endOfTick.request();
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
   * Sends several commands of one read as batchCommand does, in one socket write when they go
   * straight to it (the socket is corked while they are written: a write each costs a syscall,
   * most of a small query's client CPU); on the auto-pipeline they share its write anyway.
   */
  readonly batchCommands = (commands: Array<[string, Array<string | number>]>): Array<Promise<unknown>> => {
    this.flush();
    const stream = this.unanswered > 0 || !this.direct ? undefined : (this.client as Redis).stream;
    stream?.cork();
    try {
      return commands.map(([name, args]) => this.batchCommand(name, args));
    } finally {
      stream?.uncork();
    }
  };

  /**
   * The reply, or ioredis's own "Command timed out" error once the store's bound has passed
   * (`deadlines`). The command itself stays counted as unanswered until its real reply, for
   * program order.
   */
  private bounded<T>(reply: Promise<T>): Promise<T> {
    return this.deadlines ? this.deadlines.watch(reply) : reply;
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

  /** A namespace's sweep fails to the store that has it open (a scope's to the scope). */
  private sweepOne(sweeper: Sweepable): void {
    sweeper.sweep().catch((err) => quietly(err, (error) => sweeper.reportError(error)));
  }

  private readonly reportQuietly = (err: unknown) => quietly(err, this.reportError);
}

/** While Redis is down every operation reports it; background work stays quiet about that. */
function quietly(err: unknown, report: (err: Error) => void): void {
  const error = toStoreError(err);
  if (error.code !== 'ERR_STORAGE_CONNECTION') report(error);
}
