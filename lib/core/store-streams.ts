/**
 * Iteration and value streams of every store: `entries()` and `createReadStream()` over a
 * query, `setStream()` and `createValueStream()` for one key's bytes.
 */
import { types } from 'node:util';
import { Readable } from 'readable-stream';
import type { Callback } from '../callbacks';
import { InvalidValueError, KeyNotFoundError } from '../errors';
import { keyId, normalizeKey } from '../keys';
import { Selector, compileQuery } from '../query';
import type { Entry, KeyInput, Query, QueryOptions, SetOptions, StoreCallback, StoreFlags, UnknownFlags } from '../store-types';
import { readTtlOption, splitArgs } from './arguments';
import { asBuffers } from './bytes';
import { findOrdered } from './ordered-find';
import { ReadOptions, readOptions } from './query-options';
import { asStoreError } from './promises';
import { StoreAsTier } from './store-as-tier';
import { TRACING, isTraced } from './tracing';
import type { Key } from '../keys';

/** See the file comment. */
export abstract class StoreStreams<V = unknown, F extends StoreFlags = UnknownFlags> extends StoreAsTier<F> {
  /** Live entries matching `query` (all when omitted), in creation order or `sort`, in constant memory (without sort). */
  entries<T = V>(query?: Query, options?: QueryOptions): AsyncIterable<Entry<T>>;
  entries<V = unknown>(query?: Query, options?: QueryOptions): AsyncIterable<Entry<V>> {
    const selector: Selector = query === undefined ? { kind: 'all' } : compileQuery(query);
    return this.iterate<V>(selector, readOptions(options, 'entries', ['limit', 'skip', 'sort']));
  }

  /**
   * An iteration is admitted in program order (it sees every write issued before it) but
   * holds nothing while it runs: the caller may write to the store inside the loop. Writes
   * issued after it started may or may not be seen, as with a database cursor.
   */
  private async *iterate<V>(selector: Selector, options: ReadOptions): AsyncGenerator<Entry<V>> {
    await this.admitted(selector.kind === 'exact' ? 'read' : 'scan');
    if (selector.kind === 'none') return;
    if (selector.kind === 'exact') {
      if ((options.skip ?? 0) > 0 || options.limit === 0) return;
      const value = await this.storage.get(selector.id);
      if (value !== undefined) yield { key: selector.key, value: value as V };
      return;
    }
    try {
      for await (const entry of findOrdered(this.storage, selector, true, options, this.clock)) yield { key: entry.key, value: entry.value as V };
    } catch (err) {
      throw asStoreError(err);
    }
  }

  /** `entries(query, options)` as an object-mode Readable with backpressure; destroying it releases the cursor. */
  createReadStream(query?: Query, options?: QueryOptions): Readable {
    let iterable: AsyncIterable<Entry>;
    try {
      iterable = this.entries(query, options);
    } catch (err) {
      const failed = new Readable({ objectMode: true, read() {} });
      process.nextTick(() => failed.destroy(err as Error));
      return failed;
    }
    // No read-ahead: an entry is checked for expiry when the reader takes it, not earlier (SPEC §12).
    return Readable.from(iterable, { objectMode: true, highWaterMark: 0 });
  }

  /** Stores a byte stream as the value of `key`; nothing is visible unless the whole stream arrives. */
  setStream(key: KeyInput, source: AsyncIterable<unknown>, options?: SetOptions, cb?: StoreCallback<F, undefined, false>): Promise<void>;
  setStream(key: KeyInput, source: AsyncIterable<unknown>, cb: StoreCallback<F, undefined, false>): Promise<void>;
  setStream(...args: unknown[]): Promise<void> {
    if (isTraced(TRACING.setStream) && !this.inTrace) return this.traced('setStream', { key: args[0] as Key }, args, this.setStream);
    let cb: Callback | undefined;
    let p: Promise<void>;
    try {
      const split = splitArgs(args.slice(2), 0, 'setStream');
      cb = split.cb;
      const ttl = readTtlOption(split.options, 'setStream');
      const { id, key } = normalizeKey(args[0]);
      const source = args[1] as AsyncIterable<unknown>;
      if (!source || types.isProxy(source) || typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
        throw new InvalidValueError('setStream: source must be a readable stream or async iterable of bytes');
      }
      const expiresAt = this.expiryFor(ttl);
      p = this.run(() => this.storage.setStream(id, key, asBuffers(source), expiresAt), this.countSet, 'write', id, true);
    } catch (err) {
      p = this.refuse(err);
    }
    return this.settle('setStream', p, cb);
  }

  /** The value of `key` as a byte stream; errors with KeyNotFoundError when absent. */
  createValueStream(key: KeyInput): Readable {
    return Readable.from(this.valueChunks(key), { objectMode: false });
  }

  private async *valueChunks(key: KeyInput): AsyncGenerator<Buffer> {
    const id = keyId(key);
    const chunks = await this.run(() => this.storage.valueStream(id), undefined, 'read', id);
    if (chunks === undefined) throw new KeyNotFoundError(`no value under key ${typeof key === 'string' ? key : JSON.stringify(key)}`);
    yield* chunks;
  }

}
