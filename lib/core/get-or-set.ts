/**
 * `getOrSet(key, compute, options)` (SPEC §9, §15): the value under a key, computed and stored
 * once when missing, even under concurrent callers. It runs on the store's public calls (getOne,
 * set, ttl, del, a hidden scope), so it works the same over every store, the multi store included.
 * Options are read and checked before anything runs (lib/core/get-or-set-options.ts); a bad one
 * is ERR_INVALID_ARGUMENT and compute is never called.
 *
 * Decisions (the README's getOrSet section says the same to users):
 * - **One flight per key per process.** Concurrent calls for a key share one read, one compute
 *   and one write (the first caller's ttl, tags, grace and lock apply to the flight); each caller
 *   keeps its own `timeout`. What compute throws or rejects with reaches the callers as is; every
 *   other failure is a StoreError.
 * - **grace** (needs `ttl`): the stored value is also copied, kept `grace` ms past its TTL, where
 *   ordinary reads never see it (lib/core/grace-copies.ts, which also says what deletes do to it).
 *   After a miss, while a copy is in grace, a compute that throws or rejects, or a caller's hard
 *   timeout, yields the stale value instead of the error. A value compute returns that cannot be
 *   stored, and a failing write, are still errors.
 * - **timeout.soft**: past it, a caller that has a stale value in grace gets it; compute goes on
 *   and stores its result. Without a stale value, soft does nothing.
 * - **timeout.hard**: past it, the caller gets the stale value in grace, else ComputeTimeoutError
 *   (ERR_COMPUTE_TIMEOUT). Compute is not stopped (a promise cannot be): a late result is still
 *   stored, so the work is not lost and the next call finds it (as BentoCache does).
 *   Both timeouts count from the call, so `hard` bounds the whole call (reads and lock waits too).
 * - **Background failures** — a compute, write or lock failure no caller is left waiting for (all
 *   took the stale value or timed out; a refresh-ahead) — go to the store's 'error' event (a
 *   warning without a listener), never to an unhandled rejection.
 * - **refreshAhead** (needs `ttl`): a hit answers at once; then the entry's remaining TTL is read
 *   (one extra read, only with this option) and, in the last `refreshAhead × ttl` ms, the value is
 *   recomputed and stored in the background, at most one refresh per key per process at a time
 *   (with `lock: 'cluster'`, only by the process that takes the lock; the others skip it).
 * - **lock: 'cluster'**: one process of all that share the store's Redis computes; the others
 *   wait for its value (lib/core/cluster-lock.ts: the lock, its lease `lockTimeout`, the waiters'
 *   bound; a waiter polls, and on a multi store with a bus also wakes on the key's
 *   'invalidation'). The lock client is the store's (`lockRedis()`: its Redis backend, a multi
 *   store's Redis tier or bus). A store not shared between processes (memory) needs no Redis: its local
 *   single flight already is cluster-wide. A shared store that reaches no Redis (MongoDB, SQLite)
 *   refuses the option with ERR_INVALID_ARGUMENT, before compute runs — silently computing once
 *   per process would break what the caller asked for. A lock command that fails (Redis down) is
 *   reported as 'error' and the flight computes without the lock.
 */
import { types } from 'node:util';
import { ComputeTimeoutError, InvalidArgumentError, InvalidValueError, StorageConnectionError } from '../errors';
import { keyFromId, keyId } from '../keys';
import type { LockRedis } from '../backend';
import type { BaseStore } from '../store';
import type { KeyInput, SetOptions } from '../store-types';
import { ClusterLock, LockUnavailable, Wake, awaitTurn, lockKey } from './cluster-lock';
import { ComputeOptions, readComputeOptions } from './get-or-set-options';
import { GRACE_SCOPE, GraceCopies, StaleValue } from './grace-copies';

export type { GetOrSetOptions } from './get-or-set-options';

/** What getOrSet is built on: the store's public calls, and its way of refusing a call. */
export interface ComputeHost {
  getOne(key: KeyInput): Promise<unknown>;
  set(key: KeyInput, value: unknown, options?: SetOptions): Promise<void>;
  /** Rejects with `err` as a StoreError, counted in stats().errors. */
  refuse<T>(err: unknown): Promise<T>;
  /** The store itself, for the rest of its public API (ttl, del, touch, on/emit, ...). */
  store: BaseStore;
  /**
   * A store over the same backend in a namespace below this one that no user can open
   * (scope() refuses names starting with RESERVED_SCOPE_PREFIX): where getOrSet may keep its own records.
   */
  hiddenScope(name: string): BaseStore;
  /** The Redis client for `lock: 'cluster'`, or undefined when the store reaches none. */
  lockRedis(): Promise<LockRedis | undefined>;
}

/** The stale value of a flight before its copy has been read. */
const NOT_READ = Symbol('not read');
/** The `staleRead` of a flight without grace. */
const NOTHING_TO_READ = Promise.resolve();

/** One key's read-compute-write in this process, shared by the calls that arrive meanwhile. */
interface Flight<T> {
  /** Callers still waiting for `result` (a caller a timeout answered is no longer). */
  waiting: number;
  /** The copy in grace once read (undefined: none, or no grace asked). */
  stale: StaleValue<T> | undefined | typeof NOT_READ;
  /** Resolves once `stale` is read. */
  staleRead: Promise<void>;
  /** The value (found, computed, or the stale one standing in); rejects with the failure. */
  result: Promise<T>;
}

/** One per store: the flights and refreshes in progress, by key id. */
export class ComputeOnce {
  private readonly flights = new Map<string, Flight<unknown>>();
  private readonly refreshing = new Set<string>();
  /** Waiters for other processes' values, by key id (wakeOnWrite). */
  private readonly wakers = new Map<string, Set<() => void>>();
  private readonly grace: GraceCopies;
  /** Whether a getOrSet with grace ran here: from then on the store's deletes reach the copies too. */
  keepsCopies = false;

  constructor(private readonly host: ComputeHost) {
    this.grace = new GraceCopies(() => host.hiddenScope(GRACE_SCOPE), (err) => this.report(err));
  }

  /** See the file comment. Rejects (before compute runs) on a bad key, compute or options. */
  getOrSet<T>(key: KeyInput, compute: () => T | Promise<T>, options?: unknown): Promise<T> {
    let id: string;
    let o: ComputeOptions;
    try {
      id = keyId(key); // read once: the flight uses the id's own key from here on
      if (typeof compute !== 'function') throw new InvalidArgumentError('getOrSet: compute must be a function');
      o = readComputeOptions(options);
      if (o.tags !== undefined && !this.host.store.supports.tags) {
        throw new InvalidArgumentError("getOrSet: this store's backend does not keep tags (supports.tags is false)");
      }
    } catch (err) {
      return this.host.refuse(err);
    }
    let flight = this.flights.get(id) as Flight<T> | undefined;
    if (flight === undefined) flight = this.startFlight(id, compute, o);
    flight.waiting++;
    if (o.soft === undefined && o.hard === undefined) return flight.result;
    return this.awaitWithTimeouts(id, flight, o);
  }

  private startFlight<T>(id: string, compute: () => T | Promise<T>, o: ComputeOptions): Flight<T> {
    if (o.grace !== undefined) this.keepsCopies = true;
    // Without grace there is no copy to wait for: no promise to make.
    let staleRead: (() => void) | undefined;
    const flight: Flight<T> = {
      waiting: 0,
      stale: o.grace === undefined ? undefined : NOT_READ,
      staleRead: o.grace === undefined ? NOTHING_TO_READ : new Promise<void>((resolve) => (staleRead = resolve)),
      result: undefined as unknown as Promise<T>,
    };
    const settleStale = (stale: StaleValue<T> | undefined) => {
      flight.stale = stale;
      staleRead?.();
    };
    flight.result = this.fly(id, keyFromId(id), compute, o, flight, settleStale).catch((err: unknown) => {
      if (flight.waiting === 0) this.report(err);
      throw err;
    });
    this.flights.set(id, flight as Flight<unknown>);
    const forget = () => {
      if (flight.stale === NOT_READ) settleStale(undefined); // a flight that failed before reading it has none
      this.flights.delete(id);
    };
    flight.result.then(forget, forget);
    return flight;
  }

  private async fly<T>(
    id: string,
    key: KeyInput,
    compute: () => T | Promise<T>,
    o: ComputeOptions,
    flight: Flight<T>,
    settleStale: (stale: StaleValue<T> | undefined) => void,
  ): Promise<T> {
    const redis = o.cluster ? await this.lockClient() : undefined;
    const existing = (await this.host.getOne(key)) as T | undefined;
    if (existing !== undefined) {
      settleStale(undefined);
      if (o.refreshAhead !== undefined) this.refreshIfDue(id, key, compute, o, redis);
      return existing;
    }
    settleStale(o.grace === undefined ? undefined : await this.grace.read<T>(key, o.grace));
    let lock: ClusterLock | undefined;
    if (redis !== undefined) {
      lock = new ClusterLock(redis, lockKey(this.host.store.namespace, id), o.lockTimeout);
      try {
        const turn = await awaitTurn(lock, () => this.host.getOne(key) as Promise<T | undefined>, this.wakeOnWrite(id));
        if (turn.kind === 'value') return turn.value;
        if (turn.kind === 'timed-out') lock = undefined; // computes alone; the lock is someone else's
      } catch (err) {
        if (!(err instanceof LockUnavailable)) throw err;
        this.reportLockFailure(err);
        lock = undefined;
      }
    }
    try {
      let value: T;
      try {
        value = await this.runCompute(compute);
      } catch (err) {
        const stale = flight.stale;
        if (stale === NOT_READ || stale === undefined || err instanceof InvalidValueError) throw err;
        if (flight.waiting === 0) this.report(err); // nobody will see it: the caller took the stale value already
        return stale.value;
      }
      await this.store(key, value, o);
      return value;
    } finally {
      if (lock !== undefined) lock.release().catch((err: unknown) => this.reportLockFailure(err));
    }
  }

  /** Runs compute; a Proxy is refused before anything reads it (awaiting it would run its traps). */
  private async runCompute<T>(compute: () => T | Promise<T>): Promise<T> {
    // What compute throws or rejects with is the caller's own error and passes through as is;
    // what it returns is a value like any other, checked by set().
    const result = compute();
    if (types.isProxy(result)) throw new InvalidValueError('getOrSet: compute returned a Proxy; only plain data can be stored');
    return await result;
  }

  /** Stores a computed value (and its grace copy); the copy's failure is reported, not thrown. */
  private async store(key: KeyInput, value: unknown, o: ComputeOptions): Promise<void> {
    const fresh = this.host.set(key, value, o.ttl === undefined && o.tags === undefined ? undefined : { ttl: o.ttl, tags: o.tags });
    const copy = o.grace === undefined ? undefined : this.grace.write(key, value, o.ttl as number, o.grace, o.tags).catch((err: unknown) => this.report(err));
    await fresh;
    await copy;
  }

  /** The caller's own wait on a flight, with its soft and hard timeouts (see the file comment). */
  private awaitWithTimeouts<T>(id: string, flight: Flight<T>, o: ComputeOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let soft: NodeJS.Timeout | undefined;
      let hard: NodeJS.Timeout | undefined;
      const answer = (fromTimer: boolean, give: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(soft);
        clearTimeout(hard);
        if (fromTimer) flight.waiting--;
        give();
      };
      flight.result.then(
        (value) => answer(false, () => resolve(value)),
        (err: unknown) => answer(false, () => reject(err)),
      );
      const staleNow = () => (flight.stale === NOT_READ ? undefined : flight.stale);
      if (o.soft !== undefined) {
        soft = setTimeout(() => {
          // The copy may still be on its way: take it when it comes, if nothing answered first.
          void flight.staleRead.then(() => {
            const stale = staleNow();
            if (stale !== undefined) answer(true, () => resolve(stale.value));
          });
        }, o.soft);
      }
      if (o.hard !== undefined) {
        hard = setTimeout(() => {
          const stale = staleNow();
          answer(true, () => {
            if (stale !== undefined) resolve(stale.value);
            else this.host.refuse<T>(new ComputeTimeoutError(`getOrSet: no value for key ${JSON.stringify(id)} within the hard timeout of ${o.hard} ms`)).catch(reject);
          });
        }, o.hard);
      }
    });
  }

  /**
   * After a hit: reads the entry's remaining TTL and, in its last `refreshAhead` part, computes
   * and stores the value again in the background (one refresh per key per process at a time).
   */
  private refreshIfDue<T>(id: string, key: KeyInput, compute: () => T | Promise<T>, o: ComputeOptions, redis: LockRedis | undefined): void {
    if (this.refreshing.has(id)) return;
    this.refreshing.add(id);
    const refresh = async () => {
      const remaining = await this.host.store.ttl(key);
      if (typeof remaining !== 'number' || remaining > (o.refreshAhead as number) * (o.ttl as number)) return;
      let lock: ClusterLock | undefined;
      if (redis !== undefined) {
        lock = new ClusterLock(redis, lockKey(this.host.store.namespace, id), o.lockTimeout);
        try {
          if (!(await lock.tryAcquire())) return; // another process is refreshing it
        } catch (err) {
          if (!(err instanceof LockUnavailable)) throw err;
          this.reportLockFailure(err);
          lock = undefined;
        }
      }
      try {
        await this.store(key, await this.runCompute(compute), o);
      } finally {
        if (lock !== undefined) lock.release().catch((err: unknown) => this.reportLockFailure(err));
      }
    };
    refresh()
      .catch((err: unknown) => this.report(err))
      .finally(() => this.refreshing.delete(id));
  }

  /** The lock client for `lock: 'cluster'`: undefined where local suffices; refuses a shared store without Redis. */
  private async lockClient(): Promise<LockRedis | undefined> {
    const redis = await this.host.lockRedis();
    if (redis === undefined && this.host.store.supports.shared) {
      return this.host.refuse(new InvalidArgumentError("getOrSet: lock 'cluster' needs a Redis (a Redis store, a multi store's Redis tier or its invalidation bus); this store reaches none"));
    }
    return redis;
  }

  /**
   * A multi store with a bus says 'invalidation' when another process wrote a key (or cleared):
   * a waiter for that key looks again at once. One listener on the store for all waiters (one
   * per waiter would trip the emitter's leak warning past ten keys), there only while some wait.
   */
  private wakeOnWrite(id: string): Wake {
    return (notify) => {
      if (this.wakers.size === 0) this.host.store.on('invalidation', this.onInvalidation);
      let waiting = this.wakers.get(id);
      if (waiting === undefined) this.wakers.set(id, (waiting = new Set()));
      waiting.add(notify);
      return () => {
        waiting.delete(notify);
        if (waiting.size === 0 && this.wakers.get(id) === waiting) this.wakers.delete(id);
        if (this.wakers.size === 0) this.host.store.off('invalidation', this.onInvalidation);
      };
    };
  }

  private readonly onInvalidation = (info: { id?: unknown } | undefined): void => {
    const ids = info?.id === undefined ? [...this.wakers.keys()] : [info.id];
    for (const id of ids) {
      const waiting = typeof id === 'string' ? this.wakers.get(id) : undefined;
      if (waiting !== undefined) for (const notify of [...waiting]) notify();
    }
  };

  private reportLockFailure(err: unknown): void {
    const cause = err instanceof LockUnavailable ? err.cause : err;
    this.report(new StorageConnectionError('getOrSet: the cluster lock failed; this process computed without it', { cause }));
  }

  /** A background failure: the store's 'error' event (a warning when nobody listens). */
  private report(err: unknown): void {
    this.host.store.reportError(err instanceof Error ? err : new Error(`getOrSet: compute failed with ${String(err)}`, { cause: err }));
  }
}
