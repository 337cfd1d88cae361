/**
 * Coherence across processes (SPEC §9): every write and delete a multi store makes is
 * published on a Redis channel, and every other process drops the affected entries from its
 * in-process tiers. One bus per multi store and its scopes; each bus has a random id so a
 * process ignores its own messages (it already applied the write to its own tiers).
 *
 * Messages are JSON: `{ o: busId, ns: namespace, t: publish time (epoch ms, fractional),
 * op: 'k' | 'q' | 'c', id?: key id, q?: query filter }` — a key, a query, or a clear.
 *
 * Redis pub/sub is at-most-once: a message published while a subscriber is disconnected is
 * lost. So when the subscriber reconnects, every listener drops all of its in-process
 * entries ('c'), which is always safe for a cache.
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

/** A received invalidation. */
export interface InvalidationMessage {
  /** Publisher's bus id. */
  o: string;
  /** Namespace of the multi store that wrote. */
  ns: string;
  /** When it was published: epoch ms with sub-millisecond precision. */
  t: number;
  op: 'k' | 'q' | 'c';
  id?: string;
  q?: Record<string, unknown>;
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
  /** Messages that could not be published (Redis unreachable): other processes may keep stale copies until their TTL or a reconnect. */
  publishFailures = 0;
  private publishFailing = false;

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

  /** Publishes a change; never throws (a failure is reported through onError). */
  publish(namespace: string, op: 'k' | 'q' | 'c', detail?: { id?: string; q?: Record<string, unknown> }): void {
    const publisher = this.publisher;
    if (!publisher) return;
    const message: InvalidationMessage = { o: this.id, ns: namespace, t: preciseNow(), op, ...detail };
    this.published++;
    publisher.publish(this.channel, JSON.stringify(message)).then(
      () => {
        this.publishFailing = false;
      },
      (err: Error) => {
        // One report per outage, not one per write.
        if (!this.publishFailing) this.onError(err);
        this.publishFailing = true;
        this.publishFailures++;
      },
    );
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
