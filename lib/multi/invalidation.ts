/**
 * Coherence across processes (SPEC §9): every write and delete a multi store makes is
 * published on a Redis channel, and every other process drops the affected entries from its
 * in-process tiers. One bus per multi store and its scopes; each bus has a random id so a
 * process ignores its own messages (it already applied the write to its own tiers).
 *
 * Messages are JSON: `{ o: busId, s: sequence, ns: namespace, t: publish time (epoch ms,
 * fractional), op: 'k' | 'q' | 'c' | 't', id?: key id, w?: 's' | 'd' | 't', q?: query filter,
 * tags?: tags }` — a key (set, deleted or touched), a query, a clear, or a delete by tags.
 *
 * Redis pub/sub is at-most-once, so nothing relies on every message arriving (SPEC §15):
 * - a subscriber that reconnects drops all of its in-process entries ('c'): messages sent in
 *   its gap are lost;
 * - each publisher numbers its messages (`s`, 1, 2, 3, ...): a subscriber that sees a number
 *   skipped drops everything local too;
 * - a publish that fails is retried, in order, with the messages published after it held
 *   behind it (at most MAX_PENDING_PUBLISHES; past that the oldest are given up, and their
 *   numbers, missing, make every subscriber drop everything local).
 * Dropping everything is always safe for a cache; serving a value another process replaced is not.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type Redis from 'ioredis';
import { StoreConfigError } from '../errors';
import { loadDriver } from '../drivers';
import { Deadlines } from '../core/deadlines';
import { SharedResource } from '../core/shared-resource';

/** The `invalidation` setting. */
export interface InvalidationSettings {
  /** A Redis URL, or an ioredis client (the bus publishes on it and subscribes on a duplicate). */
  redis: string | Redis;
  /** The channel. Default 'memstorage-next:invalidate'. Processes sharing data must share it. */
  channel?: string;
}

/** Default channel. */
export const DEFAULT_CHANNEL = 'memstorage-next:invalidate';

/** Messages held behind a failed publish before the oldest are given up. */
export const MAX_PENDING_PUBLISHES = 10_000;
/** First wait before a failed publish is retried, doubling up to RETRY_MAX_MS. */
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2_000;
/** Publishers whose last sequence number is remembered; past this the longest silent are forgotten. */
const MAX_PUBLISHERS = 1_000;

/** A received invalidation. */
export interface InvalidationMessage {
  /** Publisher's bus id. */
  o: string;
  /** The publisher's sequence number of this message (from 1; absent on a message a subscriber makes itself). */
  s?: number;
  /** Namespace of the multi store that wrote. */
  ns: string;
  /** When it was published: epoch ms with sub-millisecond precision. */
  t: number;
  op: 'k' | 'q' | 'c' | 't';
  id?: string;
  q?: Record<string, unknown>;
  /** The tags of a delByTags ('t'). */
  tags?: string[];
  /** For a key ('k'): set ('s'), deleted ('d') or touched ('t'); absent from a process of an older version. */
  w?: string;
  /** For a key ('k'): 1 when the write missed a shared cache tier, which may still hold the old value for every process. */
  m?: number;
}

/** Who receives messages for one namespace. */
export type InvalidationListener = (message: InvalidationMessage) => void;

/** Epoch ms with sub-millisecond precision, comparable across processes on one machine. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Checks the setting eagerly. */
export function checkInvalidationSettings(value: unknown): asserts value is InvalidationSettings {
  if (value === null || typeof value !== 'object') throw new StoreConfigError('setting invalidation must be an object like { redis, channel }');
  const { redis, channel } = value as InvalidationSettings;
  if (typeof redis !== 'string' && !(redis && typeof (redis as Redis).duplicate === 'function' && typeof (redis as Redis).publish === 'function')) {
    throw new StoreConfigError('setting invalidation.redis must be a Redis URL or an ioredis client');
  }
  if (typeof redis === 'string') loadIoredis(); // a missing driver is reported when the store is created
  if (channel !== undefined && (typeof channel !== 'string' || channel.length === 0)) {
    throw new StoreConfigError('setting invalidation.channel must be a non-empty string');
  }
}

/** ioredis, loaded on first use so a multi store without invalidation never loads the Redis driver. */
function loadIoredis(): typeof import('ioredis') {
  return loadDriver<typeof import('ioredis')>('ioredis', 'multi', 'with invalidation.redis as a URL');
}

/** See the file comment. */
export class InvalidationBus {
  /** This bus's id; messages carrying it are ignored. */
  readonly id = randomBytes(8).toString('hex');
  readonly channel: string;
  private readonly settings: InvalidationSettings;
  private publisher: Redis | undefined;
  private subscriber: Redis | undefined;
  private ownsPublisher = false;
  private readonly listeners = new Map<string, Set<InvalidationListener>>();
  private starting: Promise<void> | undefined;
  /** The multi stores (and scopes) using this bus: the first subscribes, the last releases the connections. */
  private readonly users = new SharedResource({ interval: 0, periodic: () => undefined, release: () => this.release() });
  private wasReady = false;
  private readonly onError: (err: Error) => void;
  /** Messages received from other processes (tests, stats). */
  received = 0;
  /** Messages published. */
  published = 0;
  /** Publish attempts that failed (Redis unreachable); each is retried in order. */
  publishFailures = 0;
  /** Messages given up after MAX_PENDING_PUBLISHES were waiting (subscribers then see a gap and drop everything local). */
  publishDrops = 0;
  /** Gaps seen in other publishers' numbering (each dropped everything local). */
  gaps = 0;
  private publishFailing = false;
  /** This bus's last sequence number. */
  private sequence = 0;
  /** Messages waiting behind a failed publish, in number order: each number and its JSON. */
  private pending: Array<{ s: number; text: string }> = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = RETRY_MIN_MS;
  /** The last sequence number seen from each other publisher. */
  private readonly lastSeen = new Map<string, number>();

  constructor(settings: InvalidationSettings, onError: (err: Error) => void) {
    checkInvalidationSettings(settings);
    this.settings = settings;
    this.channel = settings.channel ?? DEFAULT_CHANNEL;
    this.onError = onError;
  }

  /** Subscribes (once for all users of the bus); resolves when the subscription is active or `timeout` passes. */
  start(timeout: number): Promise<void> {
    if (this.users.join() || !this.starting) this.starting = this.open(timeout);
    return this.starting;
  }

  private async open(timeout: number): Promise<void> {
    const given = this.settings.redis;
    if (typeof given === 'string') {
      const RedisClient = loadIoredis().default;
      this.publisher = new RedisClient(given, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
      this.ownsPublisher = true;
      this.publisher.on('error', () => undefined); // reported through the failing publish
      this.subscriber = new RedisClient(given, { lazyConnect: true });
    } else {
      this.publisher = given;
      this.subscriber = given.duplicate({ lazyConnect: true });
    }
    const subscriber = this.subscriber;
    subscriber.on('error', () => undefined); // ioredis reconnects by itself; the gap is handled on 'ready'
    subscriber.on('ready', () => {
      // After a reconnect, messages sent in the gap are lost: drop everything local.
      if (this.wasReady) this.dispatch({ o: '', ns: '*', t: preciseNow(), op: 'c' });
      this.wasReady = true;
    });
    subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) return;
      let message: InvalidationMessage;
      try {
        message = JSON.parse(text) as InvalidationMessage;
      } catch {
        return;
      }
      if (!message || message.o === this.id) return;
      this.received++;
      if (this.skippedBefore(message)) {
        this.gaps++;
        this.dispatch({ o: '', ns: '*', t: preciseNow(), op: 'c' });
      }
      this.dispatch(message);
    });
    const subscribed = (async () => {
      if (this.ownsPublisher) await this.publisher!.connect().catch(() => undefined);
      await subscriber.connect();
      await subscriber.subscribe(this.channel);
    })();
    try {
      await new Deadlines(timeout, () => new Error(`could not subscribe to ${this.channel} within ${timeout} ms`)).watch(subscribed);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  /** Whether a message of this publisher's went missing before `message` (its number skips one). */
  private skippedBefore(message: InvalidationMessage): boolean {
    const { o, s } = message;
    if (typeof s !== 'number' || typeof o !== 'string') return false;
    const last = this.lastSeen.get(o);
    // A late message (retried after a later one arrived) is applied but moves nothing.
    if (last !== undefined && s <= last) return false;
    this.lastSeen.delete(o); // re-inserted last: the map's order is then least recently heard first
    this.lastSeen.set(o, s);
    if (this.lastSeen.size > MAX_PUBLISHERS) this.lastSeen.delete(this.lastSeen.keys().next().value as string);
    return last !== undefined && s > last + 1;
  }

  private dispatch(message: InvalidationMessage): void {
    const targets = message.ns === '*' ? [...this.listeners.values()] : [this.listeners.get(message.ns)];
    for (const set of targets) {
      if (!set) continue;
      for (const listener of set) listener(message);
    }
  }

  /** Registers a listener for a namespace; returns the function that unregisters it. */
  listen(namespace: string, listener: InvalidationListener): () => void {
    let set = this.listeners.get(namespace);
    if (!set) this.listeners.set(namespace, (set = new Set()));
    set.add(listener);
    return () => {
      set!.delete(listener);
      if (set!.size === 0) this.listeners.delete(namespace);
    };
  }

  /** Publishes a change; never throws (a failure is reported through onError, and retried in order). */
  publish(namespace: string, op: InvalidationMessage['op'], detail?: { id?: string; q?: Record<string, unknown>; tags?: string[]; w?: string; m?: number }): void {
    if (!this.publisher) return;
    const message: InvalidationMessage = { o: this.id, s: ++this.sequence, ns: namespace, t: preciseNow(), op, ...detail };
    this.published++;
    const item = { s: this.sequence, text: JSON.stringify(message) };
    if (this.pending.length > 0) {
      // Behind a failed one: order is kept.
      this.pending.push(item);
      this.trim();
    } else this.send(item);
  }

  private send(item: { s: number; text: string }): void {
    const publisher = this.publisher;
    if (!publisher) return;
    publisher.publish(this.channel, item.text).then(
      () => {
        this.publishFailing = false;
        this.retryDelay = RETRY_MIN_MS;
      },
      (err: Error) => this.failed(item, err),
    );
  }

  /** A publish failed: it waits among the pending messages, in number order, for the retry. */
  private failed(item: { s: number; text: string }, err: Error): void {
    // One report per outage, not one per write.
    if (!this.publishFailing) this.onError(err);
    this.publishFailing = true;
    this.publishFailures++;
    if (!this.publisher) return;
    let at = this.pending.length;
    while (at > 0 && this.pending[at - 1].s > item.s) at--;
    this.pending.splice(at, 0, item);
    this.trim();
    this.scheduleRetry();
  }

  /** Gives up the oldest pending messages past the bound: subscribers see their numbers missing. */
  private trim(): void {
    const over = this.pending.length - MAX_PENDING_PUBLISHES;
    if (over > 0) {
      this.pending.splice(0, over);
      this.publishDrops += over;
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => void this.retry(), this.retryDelay);
    this.retryTimer.unref();
    this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
  }

  /** Sends the pending messages one after another, in order; stops at the first failure and waits. */
  private async retry(): Promise<void> {
    this.retryTimer = undefined;
    while (this.pending.length > 0 && this.publisher) {
      const item = this.pending[0];
      try {
        await this.publisher.publish(this.channel, item.text);
      } catch {
        this.publishFailures++;
        this.scheduleRetry();
        return;
      }
      if (this.pending[0] === item) this.pending.shift();
    }
    this.publishFailing = false;
    this.retryDelay = RETRY_MIN_MS;
  }

  /** The connected publishing client, for commands that are not messages (getOrSet's cluster locks); undefined when not ready. */
  get commandClient(): Redis | undefined {
    return this.publisher?.status === 'ready' ? this.publisher : undefined;
  }

  /** Messages waiting for a retry (tests, stats). */
  get pendingPublishes(): number {
    return this.pending.length;
  }

  /** Releases this user's share; the last one releases the connections. */
  stop(): Promise<void> {
    return this.users.leave();
  }

  private async release(): Promise<void> {
    const { subscriber, publisher, ownsPublisher } = this;
    this.subscriber = undefined;
    this.publisher = undefined;
    this.starting = undefined;
    // What could not be published by the last close is given up: the store is gone.
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.pending = [];
    const quit = async (client: Redis | undefined) => {
      if (!client) return;
      if (client.status !== 'ready') {
        client.disconnect();
        return;
      }
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    };
    await quit(subscriber);
    if (ownsPublisher) await quit(publisher);
  }
}
