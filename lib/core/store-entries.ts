/**
 * Calls on an entry's metadata (SPEC §15, §16): `getMeta(key)` reads it without the value, `touch(key, ttl)` sets a live entry's TTL without
 * rewriting it, `delByTags(tags)` removes every entry carrying one of the tags. Both are
 * writes: ordered with the other calls on the key (touch) or after everything before them
 * (delByTags), and published by a multi store like any write.
 */
import type { EntryMeta } from '../backend';
import type { Callback } from '../callbacks';
import { InvalidArgumentError } from '../errors';
import { keyId } from '../keys';
import type { KeyInput, StoreCallback, StoreFlags } from '../store-types';
import { checkTags } from '../tags';
import { callbackError, readTtlOption } from './arguments';
import { StoreBulk } from './store-bulk';

/** touch and delByTags over the backend's primitives. */
export abstract class StoreEntries<V, F extends StoreFlags> extends StoreBulk<V, F> {
  /**
   * Sets the live entry's TTL in ms (`null` or 0: no expiry; the store's `defaultTtl` does not
   * apply) and resolves true; resolves false, writing nothing, when the key holds no live entry.
   */
  touch(key: KeyInput, ttl: number | null, cb?: StoreCallback<F, boolean, never>): Promise<boolean>;
  touch(key: KeyInput, ttl: number | null, cb?: Callback): Promise<boolean> {
    let p: Promise<boolean>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError('touch', cb);
      const id = keyId(key);
      if (ttl === undefined) throw new InvalidArgumentError('touch: give the ttl in ms (null for no expiry)');
      // An explicit TTL (never undefined here): 0 and null both mean "never expires", as in set().
      const expiresAt = this.expiryFor(readTtlOption({ ttl }, 'touch'));
      p = this.run(() => this.storage.touch(id, expiresAt), undefined, 'write', id, this.storage.touchTakesSteps);
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('touch', p, cb);
  }

  /**
   * The live entry's metadata — `{ size, createdAt, updatedAt, expiresAt, tags }` (SPEC §16) —
   * read without its value; undefined when the key holds no live entry.
   */
  getMeta(key: KeyInput, cb?: StoreCallback<F, EntryMeta | undefined, never>): Promise<EntryMeta | undefined>;
  getMeta(key: KeyInput, cb?: Callback): Promise<EntryMeta | undefined> {
    let p: Promise<EntryMeta | undefined>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError('getMeta', cb);
      const id = keyId(key);
      p = this.run(() => this.storage.getMeta(id), undefined, 'read', id);
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('getMeta', p, cb);
  }

  /** Deletes every entry carrying at least one of `tags`; resolves how many. */
  delByTags(tags: readonly string[], cb?: StoreCallback<F, number, never>): Promise<number>;
  delByTags(tags: readonly string[], cb?: Callback): Promise<number> {
    let p: Promise<number>;
    try {
      if (cb !== undefined && typeof cb !== 'function') throw callbackError('delByTags', cb);
      const checked = checkTags(tags, 'delByTags', true) as string[];
      this.checkTagsSupported('delByTags');
      const remove = this.storage.deleteByTags as (tags: readonly string[]) => Promise<number>;
      p = this.run(async () => {
        const removed = await remove(checked);
        this.counters.deletes += removed;
        return removed;
      }, undefined, 'exclusive');
      p = this.followDelete(p, { run: (storage) => (storage.deleteByTags as (tags: readonly string[]) => Promise<number>)(checked), order: 'exclusive' });
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('delByTags', p, cb);
  }
}
