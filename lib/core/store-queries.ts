/**
 * The reads of many entries every store has (SPEC §3, §14): `get(query)`, `count`, `keys` and
 * `page`, with `sort`, `skip` and `limit` (lib/core/ordered-find.ts) and keyset paging
 * (lib/core/page-cursor.ts). Every option a method does not take is refused.
 */
import type { StoredEntry } from '../backend';
import type { Callback } from '../callbacks';
import { InvalidArgumentError } from '../errors';
import type { Key } from '../keys';
import { Selector, compileGlob, compileQuery } from '../query';
import { sortKeysOf } from '../query-sort';
import type { GetOptions, GetResult, Page, PageOptions, Query, QueryOptions, StoreCallback, StoreFlags, StoreGetResult, UnknownFlags } from '../store-types';
import { splitArgs } from './arguments';
import { findOrdered, findOrderedSync, windowCount } from './ordered-find';
import { decodeCursor, encodeCursor } from './page-cursor';
import { findPage } from './page-find';
import { ReadOptions, readOptions } from './query-options';
import { StoreStreams } from './store-streams';
import { TRACING, isTraced } from './tracing';

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
      p = this.run(
        () => this.collect(selector, includeKey, options),
        (results) => {
          if (results.length > 0) this.counters.hits++;
          else this.counters.misses++;
          return results.length === 0 && this.settings.nullOnMiss ? null : results;
        },
        selector.kind === 'exact' ? 'read' : 'scan',
        selector.kind === 'exact' ? selector.id : undefined,
      );
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('get', p, cb);
  }

  private async collect(selector: Selector, includeKey: boolean, options: ReadOptions): Promise<unknown[]> {
    if (selector.kind === 'none' || options.limit === 0) return [];
    if (selector.kind === 'exact') {
      if ((options.skip ?? 0) > 0) return [];
      const value = await this.storage.get(selector.id);
      if (value === undefined) return [];
      return [includeKey ? { key: selector.key, val: value } : value];
    }
    const { limit, sort, skip } = options;
    const plain = sort === undefined && skip === undefined;
    if (!includeKey && plain && this._valuesSync) {
      const values = this._valuesSync(selector, limit ?? Infinity);
      if (values !== undefined) return values;
    }
    const shape = includeKey ? (e: StoredEntry) => ({ key: e.key, val: e.value }) : (e: StoredEntry) => e.value;
    // Without includeKey the backend may skip reading keys (FindOptions.keys).
    if (this._findSync) return findOrderedSync(this._findSync, this.supports.nativeSort === true, selector, true, options, includeKey).map(shape);
    const out: unknown[] = [];
    for await (const entry of findOrdered(this.storage, selector, true, options, this.clock, includeKey)) out.push(shape(entry));
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
      p = this.run(async () => {
        if (this._findSync) return findOrderedSync(this._findSync, this.supports.nativeSort === true, selector, false, options).map((e) => e.key);
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

