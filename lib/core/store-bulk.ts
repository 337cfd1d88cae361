/**
 * Bulk calls (SPEC §15): `getMany`, `setMany`, `delMany`, `delKeys`. Every key and value of a
 * call is checked before anything is read or written, so a bad item refuses the whole call
 * and nothing is half-written (SPEC §10). The items then go down in one tick: backends that
 * batch per tick (Redis's pipeline, MongoDB's tick queue, SQLite's tick transaction) send them
 * in one round trip, and each item keeps its own place in program order (SPEC §12).
 *
 * Not a transaction: when the storage fails midway, the items written before the failure stay
 * written, and the call rejects with the first failure.
 */
import type { Callback } from '../callbacks';
import { InvalidArgumentError } from '../errors';
import { isPlainObject, keyId, normalizeKey } from '../keys';
import { Selector, compileGlob, compileQuery } from '../query';
import type { KeyInput, Query, SetManyItem, StoreCallback, StoreFlags } from '../store-types';
import { checkTags } from '../tags';
import { checkValue } from '../values';
import { callbackError, optionField, readTtlOption, splitArgs } from './arguments';
import type { DeleteWork } from './store-core';
import { StoreQueries } from './store-queries';

/** The most items one bulk call takes: a bound on what one call can queue. */
export const MAX_BULK_ITEMS = 100_000;

/** Bulk calls over the backend's single-entry primitives. */
export abstract class StoreBulk<V, F extends StoreFlags> extends StoreQueries<V, F> {
  /** The values under `keys`, in order (undefined for a miss). */
  getMany<T = V>(keys: readonly KeyInput[], cb?: StoreCallback<F, Array<T | undefined>, never>): Promise<Array<T | undefined>>;
  getMany(keys: readonly KeyInput[], cb?: Callback): Promise<unknown[]> {
    let p: Promise<unknown[]>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError('getMany', cb);
      const ids = bulkList(keys, 'getMany', 'keys').map((key) => keyId(key));
      p = this.run(async () => {
        // No keys, no call: a backend's batch read of nothing (Redis MGET) is an error there.
        if (ids.length === 0) return [];
        const entries = await this.storage.getEntries(ids);
        return entries.map((entry) => {
          if (entry instanceof Error) throw entry;
          return this.countRead(entry?.value);
        });
      }, undefined, 'read', ids);
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('getMany', p, cb);
  }

  /** Upserts every `{ key, value, ttl? }`; every item is checked before any is written. */
  setMany(items: ReadonlyArray<SetManyItem<V>>, cb?: StoreCallback<F, undefined, false>): Promise<void>;
  setMany(items: ReadonlyArray<SetManyItem<V>>, cb?: Callback): Promise<void> {
    let p: Promise<void>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError('setMany', cb);
      const writes = bulkList(items, 'setMany', 'items').map((item, n) => {
        if (!isPlainObject(item)) throw new InvalidArgumentError(`setMany: item ${n} must be an object like { key, value, ttl? }`);
        for (const name of Object.keys(item)) {
          if (name !== 'key' && name !== 'value' && name !== 'ttl' && name !== 'tags') {
            throw new InvalidArgumentError(`setMany: item ${n} has unknown field ${name} (items take key, value, ttl, tags)`);
          }
        }
        const { id, key } = normalizeKey(optionField(item, 'key', 'setMany') as KeyInput);
        const value = optionField(item, 'value', 'setMany');
        checkValue(value);
        const ttl = readTtlOption('ttl' in item ? { ttl: optionField(item, 'ttl', 'setMany') } : undefined, 'setMany');
        const tags = checkTags(optionField(item, 'tags', 'setMany'), `setMany: item ${n}`);
        if (tags !== undefined) this.checkTagsSupported('setMany');
        return { id, key, value, expiresAt: this.expiryFor(ttl), tags };
      });
      p = Promise.all(
        writes.map((w) => this.run(() => this.storage.set(w.id, w.key, w.value, w.expiresAt, w.tags), this.countSet, 'write', w.id)),
      ).then(() => undefined);
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('setMany', p, cb);
  }

  /** Refuses tags on a backend that cannot keep them (a typed error, before anything is written). */
  protected checkTagsSupported(method: string): void {
    if (!this.supports.tags || !this.storage.deleteByTags) {
      throw new InvalidArgumentError(`${method}: this store's backend does not keep tags (supports.tags is false)`);
    }
  }

  /** Deletes the exact `keys`; resolves how many were live. */
  delMany(keys: readonly KeyInput[], cb?: StoreCallback<F, number, never>): Promise<number>;
  delMany(keys: readonly KeyInput[], cb?: Callback): Promise<number> {
    let p: Promise<number>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError('delMany', cb);
      // A key given twice is deleted once: the second delete would find nothing anyway.
      const ids = [...new Set(bulkList(keys, 'delMany', 'keys').map((key) => keyId(key)))];
      p = Promise.all(ids.map((id) => this.run(() => this.storage.delete(id), undefined, 'write', id))).then((done) => {
        const removed = done.filter(Boolean).length;
        this.counters.deletes += removed;
        return removed;
      });
      p = this.followDelete(p, { run: (storage) => Promise.all(ids.map((id) => storage.delete(id))), order: 'write', ids });
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('delMany', p, cb);
  }

  /** Deletes the entries `selector` selects (del, delKeys); resolves how many. */
  protected deleteSelected(selector: Selector): Promise<number> {
    const work = selectedDeletion(selector);
    const p = this.run(() => work.run(this.storage) as Promise<number>, this.countDeletes, work.order, work.ids);
    return this.followDelete(p, work);
  }

  private readonly countDeletes = (removed: number): number => {
    this.counters.deletes += removed;
    return removed;
  };

  /** Deletes what `keys(pattern)` lists (a glob over string keys, or a query); resolves how many. */
  delKeys(pattern: Query, cb?: StoreCallback<F, number, never>): Promise<number>;
  delKeys(pattern: Query, ...rest: unknown[]): Promise<number> {
    let cb: Callback | undefined;
    let p: Promise<number>;
    try {
      const split = splitArgs(rest, 0, 'delKeys');
      cb = split.cb;
      if (split.options !== undefined) throw new InvalidArgumentError('delKeys: takes no options');
      // keys() without a pattern lists everything; delKeys() without one is refused, not a clear().
      if (pattern === undefined) throw new InvalidArgumentError('delKeys: give a pattern or a query (clear() removes everything)');
      p = this.deleteSelected(typeof pattern === 'string' ? compileGlob(pattern) : compileQuery(pattern));
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('delKeys', p, cb);
  }
}

/** Deleting what a selector selects: one exact key (ordered on its id), or a scan (after everything issued before it). */
function selectedDeletion(selector: Selector): DeleteWork {
  if (selector.kind === 'exact') return { run: async (storage) => ((await storage.delete(selector.id)) ? 1 : 0), order: 'write', ids: selector.id };
  return { run: async (storage) => (selector.kind === 'none' ? 0 : storage.deleteMatching(selector)), order: 'exclusive' };
}

/** The array a bulk call was given, checked and copied (a hole reads as undefined, and is refused as an item). */
export function bulkList<T>(list: readonly T[], method: string, what: string): T[] {
  if (!Array.isArray(list)) throw new InvalidArgumentError(`${method}: ${what} must be an array`);
  if (list.length > MAX_BULK_ITEMS) throw new InvalidArgumentError(`${method}: at most ${MAX_BULK_ITEMS} ${what} a call, got ${list.length}`);
  return Array.from(list);
}
