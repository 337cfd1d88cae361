/**
 * The memory store (SPEC §8 memory): a Map per namespace with O(1) exact-key operations,
 * per-path hash indexes for equality and `$in` queries, LRU bounds, and an expiry sweep.
 * No timer keeps the process alive: the sweep timer is unref'd and stopped by `close()`.
 */
import { StoreConfigError } from '../errors';
import { Key } from '../keys';
import { Selector } from '../query';
import {
  BackendStats,
  BaseStore,
  Capabilities,
  CommonSettings,
  EntryWithExpiry,
  FindOptions,
  StoredEntry,
  chunksOf,
  toAsync,
  valueBytes,
} from '../store';
import { Keyspace } from './memory-keyspace';

/** Settings of the memory store. */
export interface MemorySettings extends CommonSettings {
  /** Most entries per namespace before the least recently used is evicted. Default 0 (unbounded). */
  maxKeys?: number;
  /** Most approximate bytes per namespace before LRU eviction. Default 0 (unbounded). */
  maxBytes?: number;
  /** Copy values on write and read instead of keeping references. Default false (like Map). */
  clone?: boolean;
  /** How often expired entries are freed, in ms; 0 frees them only during writes and reads. Default 1000. */
  sweepInterval?: number;
}

/** Defaults of the memory store, one documented value per setting. */
export const MEMORY_DEFAULTS = {
  maxKeys: 0,
  maxBytes: 0,
  clone: false,
  sweepInterval: 1000,
} as const;

/**
 * A value written by setStream, kept as the chunks that arrived. Reads that want the whole
 * value get one Buffer, joined once and kept; createValueStream hands out the chunks as they are.
 */
class StreamedBytes {
  private parts: Buffer[] | undefined;
  private whole: Buffer | undefined;

  constructor(parts: Buffer[]) {
    this.parts = parts;
  }

  joined(): Buffer {
    if (!this.whole) {
      this.whole = Buffer.concat(this.parts!);
      this.parts = undefined;
    }
    return this.whole;
  }

  chunks(): Iterable<Buffer> {
    return this.parts ?? chunksOf(this.whole!);
  }
}

function* mapIterable<T, U>(items: Iterable<T>, fn: (item: T) => U): Generator<U> {
  for (const item of items) yield fn(item);
}

/** State shared by a memory store and all its scopes. */
class SharedMemory {
  readonly keyspaces = new Map<string, Keyspace>();
  private timer: NodeJS.Timeout | undefined;
  private users = 0;

  constructor(private readonly sweepInterval: number) {}

  attach(): void {
    this.users++;
    if (this.timer || this.sweepInterval <= 0) return;
    this.timer = setInterval(() => {
      for (const keyspace of this.keyspaces.values()) keyspace.sweep();
    }, this.sweepInterval);
    this.timer.unref();
  }

  detach(): void {
    if (--this.users > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

function checkMemorySettings(settings: MemorySettings): void {
  for (const name of ['maxKeys', 'maxBytes', 'sweepInterval'] as const) {
    const v = settings[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
      throw new StoreConfigError(`setting ${name} must be a non-negative integer`);
    }
  }
  if (settings.clone !== undefined && typeof settings.clone !== 'boolean') {
    throw new StoreConfigError('setting clone must be a boolean');
  }
}

/** The in-process store. */
export class MemoryStore extends BaseStore {
  readonly supports: Capabilities;
  private readonly shared: SharedMemory;
  private readonly keyspace: Keyspace;
  private readonly clone: boolean;
  private readonly memorySettings: MemorySettings;
  private attached = false;

  constructor(settings: MemorySettings = {}, shared?: SharedMemory) {
    super(settings);
    checkMemorySettings(settings);
    this.memorySettings = settings;
    const maxKeys = settings.maxKeys ?? MEMORY_DEFAULTS.maxKeys;
    const maxBytes = settings.maxBytes ?? MEMORY_DEFAULTS.maxBytes;
    this.clone = settings.clone ?? MEMORY_DEFAULTS.clone;
    this.shared = shared ?? new SharedMemory(settings.sweepInterval ?? MEMORY_DEFAULTS.sweepInterval);
    let keyspace = this.shared.keyspaces.get(this.namespace);
    if (!keyspace) {
      const clock = this.clock;
      keyspace = new Keyspace({ maxKeys, maxBytes, now: () => clock.now() });
      this.shared.keyspaces.set(this.namespace, keyspace);
    }
    this.keyspace = keyspace;
    this.supports = {
      nativeQueries: true,
      valueStreams: false,
      ttl: true,
      shared: false,
      evicts: maxKeys > 0 || maxBytes > 0,
      persistent: false,
    };
  }

  /** Every exact call is one synchronous step on the map, so issue order holds by itself. */
  protected get ordersExactCalls(): boolean {
    return true;
  }

  /** Frees expired entries now (the timer does it every `sweepInterval` ms). */
  sweep(): void {
    for (const keyspace of this.shared.keyspaces.values()) keyspace.sweep();
  }

  /** Diagnostics for tests, read without side effects: index buckets, tracked bytes, entries held (expired ones too until swept). */
  get internals(): { indexBuckets: number; bytes: number; size: number } {
    return { indexBuckets: this.keyspace.indexBuckets, bytes: this.keyspace.byteSize, size: this.keyspace.heldEntries };
  }

  protected async _connect(): Promise<void> {
    if (this.attached) return;
    this.attached = true;
    this.shared.attach();
  }

  protected async _close(): Promise<void> {
    if (!this.attached) return; // never connected: it holds no share of the sweep timer
    this.attached = false;
    this.shared.detach();
  }

  protected _getSync(id: string): unknown {
    const value = this.keyspace.get(id);
    return value === undefined ? value : this.readValue(value);
  }

  private readonly readOut = (value: unknown): unknown => this.readValue(value);

  /** What a read hands out: a copy with `clone`, a streamed value joined into one Buffer. */
  private readValue(value: unknown): unknown {
    if (value instanceof StreamedBytes) value = value.joined();
    return this.clone ? this.copyValue(value) : value;
  }

  /** Keeps the chunks as they came: joining them would hold the value twice at the peak. */
  protected async _setStream(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of source) chunks.push(this.clone ? Buffer.from(chunk) : chunk);
    this.keyspace.set(id, key, new StreamedBytes(chunks), expiresAt);
  }

  protected async _valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    const value = this.keyspace.get(id);
    if (value === undefined) return undefined;
    const chunks = value instanceof StreamedBytes ? value.chunks() : chunksOf(valueBytes(value));
    // With clone, each chunk is copied on its way out: the reader may write into it.
    return toAsync(this.clone ? mapIterable(chunks, (c) => Buffer.from(c)) : chunks);
  }

  protected _setSync(id: string, key: Key, value: unknown, expiresAt: number | null): void {
    this.keyspace.set(id, key, this.clone ? this.copyValue(value) : value, expiresAt);
  }

  protected async _get(id: string): Promise<unknown> {
    return this._getSync(id);
  }

  protected async _getEntry(id: string): Promise<EntryWithExpiry | undefined> {
    const entry = this.keyspace.getEntry(id);
    if (entry) entry.value = this.readValue(entry.value);
    return entry;
  }

  protected async _has(id: string): Promise<boolean> {
    return this.keyspace.get(id) !== undefined;
  }

  protected async _set(id: string, key: Key, value: unknown, expiresAt: number | null): Promise<void> {
    this._setSync(id, key, value, expiresAt);
  }

  protected async _delete(id: string): Promise<boolean> {
    return this.keyspace.delete(id);
  }

  protected async _expiresAt(id: string): Promise<number | null | undefined> {
    return this.keyspace.expiresAt(id);
  }

  protected *_findSync(selector: Selector, options: FindOptions): Generator<StoredEntry> {
    for (const entry of this.keyspace.find(selector, options.limit)) {
      if (!options.values) yield entry;
      else if (entry.value instanceof StreamedBytes || this.clone) {
        yield { id: entry.id, key: entry.key, value: this.readValue(entry.value), expiresAt: entry.expiresAt };
      } else yield entry;
    }
  }

  protected _valuesSync(selector: Selector, limit: number): unknown[] | undefined {
    return this.keyspace.indexedValues(selector, limit, this.readOut);
  }

  /**
   * The lazy iteration behind entries() and streams: it may outlive an entry's expiry, so each
   * entry's expiry is checked again when it is yielded (SPEC §12). The synchronous callers of
   * _findSync finish within one tick and keep the one clock read of the scan.
   */
  protected async *_find(selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
    for (const entry of this._findSync(selector, options)) {
      const expiresAt = entry.expiresAt;
      if (expiresAt !== undefined && expiresAt !== null && expiresAt <= this.clock.now()) continue;
      yield entry;
    }
  }

  protected async _deleteMatching(selector: Selector): Promise<number> {
    const ids: string[] = [];
    for (const entry of this.keyspace.find(selector)) ids.push(entry.id);
    let removed = 0;
    for (const id of ids) if (this.keyspace.delete(id)) removed++;
    return removed;
  }

  protected async _count(selector: Selector): Promise<number> {
    let n = 0;
    for (const entry of this.keyspace.find(selector)) if (entry) n++;
    return n;
  }

  protected async _clear(): Promise<void> {
    this.keyspace.clear();
  }

  protected _scope(namespace: string): MemoryStore {
    return new MemoryStore({ ...this.memorySettings, namespace }, this.shared);
  }

  protected async _stats(): Promise<BackendStats> {
    return { items: this.keyspace.size, expirations: this.keyspace.expirations, evictions: this.keyspace.evictions };
  }
}
