/**
 * The Redis lock behind `getOrSet(..., { lock: 'cluster' })` (SPEC §15): one process in the
 * cluster computes a missing value, the others wait for it.
 *
 * - The lock is one Redis key, `SET key token PX lease NX`: taken only when free, and gone by
 *   itself `lease` ms later, so a holder that dies (or computes longer than its lease) leaves
 *   it to expire. It is released by a compare-and-delete script: only the holder's own token
 *   deletes it, never a later holder's.
 * - Its key is `~memstorage:lock:<namespace length>:<namespace>:<key id>` on the lock client:
 *   one key, so any Redis Cluster slot will do. Stores under other Redis prefixes with the same
 *   namespace share these names; that costs them a wait, never a wrong value (a waiter reads its
 *   own store and takes the lock when it is free).
 * - A waiter polls (5 ms, doubling to 100 ms; woken early by a multi store's 'invalidation'
 *   event for the key, when its bus tells that another process wrote it): the value in the store → done; the lock free →
 *   it takes it and, after reading the store once more (the holder may have stored the value
 *   and released between the two), computes. It waits at most `lease` ms for any one holder
 *   and at most twice that in all, then computes without the lock: after a holder dies, the
 *   first waiter to find the lock expired computes and the others wait for that one.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { LockRedis } from '../backend';

/** Deletes the lock only when it still holds this holder's token. */
const RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

const FIRST_PAUSE_MS = 5;
const LONGEST_PAUSE_MS = 100;

/** The lock's Redis key for the key id `id` of the store namespace `namespace`. */
export function lockKey(namespace: string, id: string): string {
  return `~memstorage:lock:${namespace.length}:${namespace}:${id}`;
}

/** A lock command failed (Redis unreachable): the caller computes without the lock. */
export class LockUnavailable {
  constructor(readonly cause: unknown) {}
}

/** One process's claim on one key's lock; a fresh token per claim. */
export class ClusterLock {
  private readonly token = randomBytes(16).toString('base64');

  constructor(
    private readonly redis: LockRedis,
    readonly key: string,
    /** How long the lock lives unless released (ms). */
    readonly lease: number,
  ) {}

  /** Takes the lock when it is free; true when this claim holds it. */
  async tryAcquire(): Promise<boolean> {
    return (await this.command(() => this.redis.set(this.key, this.token, 'PX', Math.ceil(this.lease), 'NX'))) === 'OK';
  }

  /** The token of whoever holds the lock now, or null when it is free. */
  holder(): Promise<string | null> {
    return this.command(() => this.redis.get(this.key));
  }

  /** Frees the lock if this claim still holds it. */
  async release(): Promise<void> {
    await this.command(() => this.redis.eval(RELEASE_SCRIPT, 1, this.key, this.token));
  }

  private async command<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw new LockUnavailable(err);
    }
  }
}

/**
 * Subscribes `notify` to a sign that the value may be there now (a multi store's 'invalidation'
 * event for the key: another process wrote it); returns the unsubscribe. Only shortens a pause.
 */
export type Wake = (notify: () => void) => () => void;

/** Sleeps `ms`, or less when `wake` fires first. */
function pauseFor(ms: number, wake: Wake | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => done(), ms);
    const unsubscribe = wake?.(() => done());
    function done(): void {
      clearTimeout(timer);
      unsubscribe?.();
      resolve();
    }
  });
}

/** What waiting for the lock came to. */
export type Turn<T> = { kind: 'value'; value: T } | { kind: 'acquired' } | { kind: 'timed-out' };

/**
 * Waits until the value is in the store (read by `read`) or this claim holds the lock, or the
 * wait's bound passed (see the file comment). Rejects with LockUnavailable when Redis fails,
 * and with whatever `read` rejects with.
 */
export async function awaitTurn<T>(lock: ClusterLock, read: () => Promise<T | undefined>, wake?: Wake): Promise<Turn<T>> {
  const started = performance.now();
  let holder: string | null | undefined;
  let holderSince = started;
  let pause = FIRST_PAUSE_MS;
  for (;;) {
    if (await lock.tryAcquire()) {
      let value: T | undefined;
      try {
        value = await read();
      } catch (err) {
        await lock.release().catch(() => undefined); // else it expires with its lease
        throw err;
      }
      if (value === undefined) return { kind: 'acquired' };
      // The value is here: a release that fails only leaves the lock to its lease (waiters read the value meanwhile).
      await lock.release().catch(() => undefined);
      return { kind: 'value', value };
    }
    const current = await lock.holder();
    const now = performance.now();
    if (current !== holder) {
      holder = current;
      holderSince = now;
    }
    const value = await read();
    if (value !== undefined) return { kind: 'value', value };
    const left = Math.min(holderSince + lock.lease, started + 2 * lock.lease) - performance.now();
    if (left <= 0) return { kind: 'timed-out' };
    await pauseFor(Math.min(pause, left), wake);
    pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
  }
}
