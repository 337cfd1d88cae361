/**
 * The reads of many entries every store has (SPEC §3, §14): `get(query)`, `count`, `keys` and
 * `page`, with `sort`, `skip` and `limit` (lib/core/ordered-find.ts) and keyset paging
 * (lib/core/page-cursor.ts). Every option a method does not take is refused.
 */
import type { FindOptions, StoredEntry } from '../backend';
import type { Callback } from '../callbacks';
import { InvalidArgumentError } from '../errors';
import type { Key } from '../keys';
import { Selector, compileGlob, compileQuery } from '../query';
import { sortKeysOf } from '../query-sort';
import type { GetOptions, GetResult, Page, PageOptions, Query, QueryOptions, StoreCallback, StoreFlags, StoreGetResult, UnknownFlags } from '../store-types';
import { splitArgs } from './arguments';
import { collectOrdered, findOrdered, findOrderedSync, windowCount } from './ordered-find';
import { decodeCursor, encodeCursor } from './page-cursor';
import { findPage } from './page-find';
import { ReadOptions, readOptions } from './query-options';
import { StoreStreams } from './store-streams';
import { TRACING, isTraced } from './tracing';

/** What `get` returns of an entry: `{ key, val }` with includeKey, else the value. */
const entryWithKey = (e: StoredEntry): { key: Key; val: unknown } => ({ key: e.key, val: e.value });
const entryValue = (e: StoredEntry): unknown => e.value;
const entryKey = (e: StoredEntry): Key => e.key;
const sameKeys = (keys: Key[]): Key[] => keys;

/** A backend's synchronous find (Backend.findSync). */
type FindSync = (selector: Selector, options: FindOptions) => Iterable<StoredEntry>;

/** See the file comment. V and F as on BaseStore (lib/store.ts). */
export abstract class StoreQueries<V = unknown, F extends StoreFlags = UnknownFlags> extends StoreStreams<V, F> {
  /** Every value whose key matches (memstorage semantics): `[]` on a miss, or `null` with `nullOnMiss`. */
  get<T = V>(query: Query, cb: StoreCallback<F, StoreGetResult<T, F>, never>): Promise<StoreGetResult<T, F>>;
  get<T = V>(query: Query, options?: GetOptions & { includeKey?: undefined }, cb?: StoreCallback<F, StoreGetResult<T, F>, never>): Promise<StoreGetResult<T, F>>;
  get<T = V>(query: Query, options: GetOptions & { includeKey: true }, cb?: StoreCallback<F, GetResult<T, true, F['nullOnMiss']>, never>): Promise<GetResult<T, true, F['nullOnMiss']>>;
  get<T = V>(query: Query, options: GetOptions & { includeKey: false }, cb?: StoreCallback<F, GetResult<T, false, F['nullOnMiss']>, never>): Promise<GetResult<T, false, F['nullOnMiss']>>;
  get<T = V>(query: Query, options: GetOptions, cb?: StoreCallback<F, GetResult<T, boolean, F['nullOnMiss']>, never>): Promise<GetResult<T, boolean, F['nullOnMiss']>>;
  get(...args: unknown[]): Promise<unknown> {
    if (isTraced(TRACING.get) && !this.inTrace) return this.traced('get', { query: args[0] }, args, this.get);
    let cb: Callback | undefined;
    let p: Promise<unknown>;
    try {
      const split = splitArgs(args.slice(1), 0, 'get');
      cb = split.cb;
      const options = readOptions(split.options, 'get', ['limit', 'skip', 'sort', 'includeKey']);
      const selector = compileQuery(args[0]);
      const includeKey = options.includeKey ?? this.settings.includeKey ?? false;
      if (selector.kind !== 'exact' && this._findSync !== undefined && this.scansNow()) {
        // An in-process backend's scan, admitted now: read here, without the gate's promises.
        p = this.ranNow(() => this.collectSync(selector, includeKey, options, this._findSync!), this.countGet);
      } else {
        p = this.run(
          () => this.collect(selector, includeKey, options),
          this.countGet,
          selector.kind === 'exact' ? 'read' : 'scan',
          selector.kind === 'exact' ? selector.id : undefined,
        );
      }
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('get', p, cb);
  }

  /** get's count of a hit or a miss, and its answer on a miss. */
  private readonly countGet = (results: unknown[]): unknown[] | null => {
    if (results.length > 0) this.counters.hits++;
    else this.counters.misses++;
    return results.length === 0 && this.settings.nullOnMiss ? null : results;
  };

  /** get's read, once admitted: not an async function itself, so the backend's read is the only promise step of its own. */
  private collect(selector: Selector, includeKey: boolean, options: ReadOptions): Promise<unknown[]> {
    if (selector.kind === 'exact') return this.collectExact(selector, includeKey, options);
    if (this._findSync) {
      try {
        return Promise.resolve(this.collectSync(selector, includeKey, options, this._findSync));
      } catch (err) {
        return Promise.reject(err); // a failure is the read's, never thrown at the caller
      }
    }
    // Without includeKey the backend may skip reading keys (FindOptions.keys).
    return collectOrdered(this.storage, selector, true, options, this.clock, includeKey, includeKey ? entryWithKey : entryValue);
  }

  private async collectExact(selector: Selector & { kind: 'exact' }, includeKey: boolean, options: ReadOptions): Promise<unknown[]> {
    if (options.limit === 0 || (options.skip ?? 0) > 0) return [];
    const value = await this.storage.get(selector.id);
    if (value === undefined) return [];
    return [includeKey ? { key: selector.key, val: value } : value];
  }

  /** collect over the backend's synchronous find, for a selector that is not exact. */
  private collectSync(selector: Selector, includeKey: boolean, options: ReadOptions, findSync: FindSync): unknown[] {
    if (selector.kind === 'none' || options.limit === 0) return [];
    const { limit, sort, skip } = options;
    if (!includeKey && sort === undefined && skip === undefined && this._valuesSync) {
      const values = this._valuesSync(selector, limit ?? Infinity);
      if (values !== undefined) return values;
    }
    // Without includeKey the backend may skip reading keys (FindOptions.keys).
    const entries = findOrderedSync(findSync, this.supports.nativeSort === true, selector, true, options, includeKey);
    const out = new Array<unknown>(entries.length);
    for (let i = 0; i < entries.length; i++) out[i] = includeKey ? { key: entries[i].key, val: entries[i].value } : entries[i].value;
    return out;
  }

  /** How many live entries the query matches (after `skip`, at most `limit`). */
  count(query: Query, cb?: StoreCallback<F, number, never>): Promise<number>;
  count(query: Query, options?: QueryOptions, cb?: StoreCallback<F, number, never>): Promise<number>;
  count(query: Query, ...rest: unknown[]): Promise<number> {
    if (isTraced(TRACING.count) && !this.inTrace) return this.traced('count', { query }, [query, ...rest], this.count);
    let cb: Callback | undefined;
    let p: Promise<number>;
    try {
      const split = splitArgs(rest, 0, 'count');
      cb = split.cb;
      const options = readOptions(split.options, 'count', ['limit', 'skip', 'sort']);
      const selector = compileQuery(query);
      const exact = selector.kind === 'exact';
      p = this.run(
        async () => {
          if (selector.kind === 'none') return 0;
          const total = exact ? ((await this.storage.has(selector.id)) ? 1 : 0) : await this.storage.count(selector);
          return windowCount(total, options);
        },
        undefined,
        exact ? 'read' : 'scan',
        exact ? selector.id : undefined,
      );
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('count', p, cb);
  }

  /** Keys of live entries: all, a glob over string keys (`user:*`), or a query over object keys. */
  keys(cb: StoreCallback<F, Key[], never>): Promise<Key[]>;
  keys(pattern?: Query, cb?: StoreCallback<F, Key[], never>): Promise<Key[]>;
  keys(pattern: Query | undefined, options?: QueryOptions, cb?: StoreCallback<F, Key[], never>): Promise<Key[]>;
  keys(pattern?: Query | Callback, ...rest: unknown[]): Promise<Key[]> {
    if (isTraced(TRACING.keys) && !this.inTrace) return this.traced('keys', { query: typeof pattern === 'function' ? undefined : pattern }, [pattern, ...rest], this.keys);
    if (typeof pattern === 'function' && rest.length === 0) return (this as StoreQueries<V>).keys(undefined, pattern as Callback);
    let cb: Callback | undefined;
    let p: Promise<Key[]>;
    try {
      const split = splitArgs(rest, 0, 'keys');
      cb = split.cb;
      const options = readOptions(split.options, 'keys', ['limit', 'skip', 'sort']);
      const selector: Selector =
        pattern === undefined ? { kind: 'all' } : typeof pattern === 'string' ? compileGlob(pattern) : compileQuery(pattern);
      const findSync = this._findSync;
      if (findSync !== undefined && this.scansNow()) {
        // As get: an in-process backend's scan, admitted now, read here without the gate's promises.
        p = this.ranNow(() => findOrderedSync(findSync, this.supports.nativeSort === true, selector, false, options).map(entryKey), sameKeys);
      } else p = this.run(async () => {
        if (findSync) return findOrderedSync(findSync, this.supports.nativeSort === true, selector, false, options).map(entryKey);
        const out: Key[] = [];
        for await (const entry of findOrdered(this.storage, selector, false, options, this.clock)) out.push(entry.key);
        return out;
      }, undefined, 'scan');
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('keys', p, cb);
  }

  /**
   * One page of the matches, in `sort` order then key id order, and the cursor of the next page
   * (null after the last): keyset paging that neither skips nor repeats an entry while others
   * are written (lib/core/page-cursor.ts).
   */
  page<T = V>(query: Query, options: PageOptions & { includeKey: true }): Promise<Page<{ key: Key; val: T }>>;
  page<T = V>(query: Query, options: PageOptions): Promise<Page<T>>;
  page(query: Query, options: PageOptions): Promise<Page<unknown>> {
    if (isTraced(TRACING.page) && !this.inTrace) return this.traced('page', { query }, [query, options], this.page);
    try {
      const opts = readOptions(options, 'page', ['sort', 'limit', 'cursor', 'includeKey']);
      if (opts.limit === undefined || opts.limit === 0) throw new InvalidArgumentError('page: limit must be a positive integer (the page size)');
      const selector = compileQuery(query);
      const sort = opts.sort ?? [];
      const after = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor, sort);
      const includeKey = opts.includeKey ?? this.settings.includeKey ?? false;
      const limit = opts.limit;
      return this.run(async () => {
        // One more than the page, to know whether a next page exists.
        const taken: StoredEntry[] = [];
        for await (const entry of findPage(this.storage, selector, sort, after, limit + 1)) taken.push(entry);
        const more = taken.length > limit;
        if (more) taken.length = limit;
        const items = taken.map((entry) => (includeKey ? { key: entry.key, val: entry.value } : entry.value));
        const last = taken[taken.length - 1];
        return { items, cursor: more ? encodeCursor({ keys: sortKeysOf(last.key, sort), id: last.id }, sort) : null };
      }, undefined, 'scan');
    } catch (err) {
      return this.refuse(err);
    }
  }
}

