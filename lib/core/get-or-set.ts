/**
 * `getOrSet` (SPEC §9, §15): the value under a key, computed and stored once when missing,
 * even under concurrent callers. It runs on the store's public calls (getOne, set), so it
 * works the same over every store, the multi store included.
 */
import { types } from 'node:util';
import { InvalidArgumentError, InvalidValueError } from '../errors';
import { keyId } from '../keys';
import type { LockRedis } from '../backend';
import type { BaseStore } from '../store';
import type { KeyInput, SetOptions } from '../store-types';
import { readSetOptions } from './arguments';

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

/** One per store: the computes in flight, by key id. */
export class ComputeOnce {
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(private readonly host: ComputeHost) {}

  /** See the file comment. Rejects (before compute runs) on a bad key, compute or options. */
  getOrSet<T>(key: KeyInput, compute: () => T | Promise<T>, options?: SetOptions): Promise<T> {
    let id: string;
    try {
      id = keyId(key);
      if (typeof compute !== 'function') throw new InvalidArgumentError('getOrSet: compute must be a function');
      readSetOptions(options, 'getOrSet'); // refused before compute runs
    } catch (err) {
      return this.host.refuse(err);
    }
    const pending = this.inflight.get(id);
    if (pending) return pending as Promise<T>;
    const p = (async () => {
      const existing = (await this.host.getOne(key)) as T | undefined;
      if (existing !== undefined) return existing;
      // What compute throws or rejects with is the caller's own error and passes through as
      // is; what it returns is a value like any other, checked by set() — a Proxy is refused
      // before anything reads it (awaiting it would run its traps).
      const result = compute();
      if (types.isProxy(result)) throw new InvalidValueError('getOrSet: compute returned a Proxy; only plain data can be stored');
      const value = await result;
      await this.host.set(key, value, options);
      return value;
    })();
    this.inflight.set(id, p);
    const forget = () => {
      this.inflight.delete(id);
    };
    p.then(forget, forget);
    return p;
  }
}
