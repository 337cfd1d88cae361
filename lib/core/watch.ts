/**
 * `watch(query?, listener)` (SPEC §15): the set and delete events whose key matches a query,
 * from this store's own writes ('local') and, on a multi store with an invalidation bus, from
 * other processes' ('remote'). The query is compiled once when the watch starts; a string is a
 * glob over string keys, as in `keys()`. A delete by query, glob or tags, and a clear, name no
 * key: every watcher gets them (its keys may be among those removed).
 */
import { InvalidArgumentError } from '../errors';
import { Key, keyFromId } from '../keys';
import { Selector, compileGlob, compileQuery, selectorMatches } from '../query';

/** What a watcher is told. */
export interface WatchEvent {
  /** 'set': the key was written; 'delete': removed; 'clear': everything in the store (or scope) went. */
  op: 'set' | 'delete' | 'clear';
  /** The key written or deleted (absent for a delete by query, glob or tags, and for a clear). */
  key?: Key;
  /** The query (normalized filter) or glob string of a delete that removed entries by it. */
  query?: unknown;
  /** The tags of a delByTags. */
  tags?: readonly string[];
  /** 'local': this store's own call; 'remote': another process's, through the invalidation bus. */
  source: 'local' | 'remote';
}

/** A watcher's listener. */
export type WatchListener = (event: WatchEvent) => void;

/** Ends a watch; calling it again does nothing. */
export type Unwatch = () => void;

interface Watcher {
  selector: Selector | undefined;
  listener: WatchListener;
}

/**
 * The watch arguments read once: `watch(listener)`, `watch(query, listener)`; the query's
 * selector (undefined for everything). Throws InvalidArgumentError / InvalidQueryError.
 */
export function readWatchArgs(query: unknown, listener: unknown): Watcher {
  if (typeof query === 'function' && listener === undefined) return { selector: undefined, listener: query as WatchListener };
  if (typeof listener !== 'function') throw new InvalidArgumentError('watch: give a listener function, as watch(listener) or watch(query, listener)');
  if (query === undefined) return { selector: undefined, listener: listener as WatchListener };
  const selector = typeof query === 'string' ? compileGlob(query) : compileQuery(query);
  return { selector, listener: listener as WatchListener };
}

/** The watches of one store; see the file comment. */
export class Watchers {
  private readonly list = new Set<Watcher>();

  /** `report` receives what a listener throws: a watcher's failure never fails the write that fed it. */
  constructor(private readonly report: (err: unknown) => void) {}

  /** How many watches are open. */
  get size(): number {
    return this.list.size;
  }

  /** Starts a watch; the returned function ends it (idempotent). `ended` runs when it does. */
  add(watcher: Watcher, ended: () => void): Unwatch {
    const own = { ...watcher };
    this.list.add(own);
    return () => {
      if (this.list.delete(own)) ended();
    };
  }

  /** Ends every watch. */
  clear(): void {
    this.list.clear();
  }

  /** A set or delete of one key (`key` rebuilt from `id` when not given). */
  keyChanged(op: 'set' | 'delete', id: string, source: 'local' | 'remote', key: Key = keyFromId(id)): void {
    let event: WatchEvent | undefined;
    for (const watcher of this.list) {
      if (watcher.selector !== undefined && !selectorMatches(watcher.selector, id, key)) continue;
      // One event object per change, built for the first watcher it concerns.
      this.call(watcher, (event ??= Object.freeze({ op, key, source })));
    }
  }

  /** A change that names no key (a delete by query, glob or tags, or a clear): every watcher gets it. */
  broadChange(event: WatchEvent): void {
    Object.freeze(event);
    for (const watcher of this.list) this.call(watcher, event);
  }

  private call(watcher: Watcher, event: WatchEvent): void {
    try {
      watcher.listener(event);
    } catch (err) {
      this.report(err);
    }
  }
}
