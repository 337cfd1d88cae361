/**
 * The memory backend, written to the backend contract (lib/backend.ts): a keyspace per
 * namespace (keyspace.ts) with O(1) exact-key operations, per-path equality indexes, LRU bounds
 * and an expiry heap. Every call is one synchronous step on the keyspace, so exact calls keep
 * issue order by themselves (`ordersExactCalls`) and the synchronous capabilities (getSync,
 * setSync, findSync, valuesSync) carry the store's fast paths.
 */
import type { Backend, BackendContext, BackendStats, Capabilities, EntryMeta, EntryWithExpiry, FindOptions, StoredEntry } from '../../backend';
import type { Clock } from '../../clock';
import { chunksOf, toAsync, valueBytes } from '../../core/bytes';
import { Key, keyFromId } from '../../keys';
import type { Selector } from '../../query';
import { serializedSize } from '../../serializer';
import { cloneValue } from '../../values';
import type { Keyspace } from './keyspace';
import type { SharedMemory } from './shared-memory';
import { StreamedBytes, copiedChunks } from './streamed-bytes';

/** The memory backend of one namespace; its scopes share `shared` (keyspaces, sweep timer). */
export class MemoryBackend implements Backend {
  readonly supports: Capabilities;
  /** Every exact call is one synchronous step on the map, so issue order holds by itself. */
  readonly ordersExactCalls = true;
  /** This namespace's entries. */
  readonly keyspace: Keyspace;
  private readonly clone: boolean;
  private readonly clock: Clock;
  private attached = false;

  constructor(
    readonly shared: SharedMemory,
    private readonly context: BackendContext,
  ) {
    const { maxKeys, maxBytes, clone } = shared.settings;
    this.keyspace = shared.keyspace(context.namespace);
    this.clone = clone;
    this.clock = context.clock;
    this.supports = {
      nativeQueries: true,
      valueStreams: false,
      ttl: true,
      shared: false,
      evicts: maxKeys > 0 || maxBytes > 0,
      persistent: false,
      nativeSort: true,
      nativePage: true,
      tags: true,
    };
  }

  /** Tells the store of expirations and evictions while someone listens to 'expire' or 'evict' (SPEC §15). */
  private readonly observeRemoval = (cause: 'expire' | 'evict', id: string): void => {
    const events = this.context.events;
    if (events.wants?.(cause)) events.emit(cause, { id, key: keyFromId(id) });
  };

  /** Frees expired entries of every namespace now (the timer does it every `sweepInterval` ms). */
  sweep(): void {
    this.shared.sweep();
  }

  async connect(): Promise<void> {
    if (this.attached) return;
    this.attached = true;
    this.shared.use.join();
    // Only a context that can say whether anyone listens gets told: the observer costs a call per removal.
    if (this.context.events.wants) this.keyspace.observers.add(this.observeRemoval);
  }

  async close(): Promise<void> {
    if (!this.attached) return; // never connected: it holds no share of the sweep timer
    this.attached = false;
    this.keyspace.observers.delete(this.observeRemoval);
    await this.shared.use.leave();
  }

  getSync(id: string): unknown {
    const value = this.keyspace.get(id);
    return value === undefined ? value : this.readValue(value);
  }

  /** What a read hands out: a copy with `clone`, a streamed value joined into one Buffer. */
  private readValue(value: unknown): unknown {
    if (value instanceof StreamedBytes) value = value.joined();
    return this.clone ? cloneValue(value) : value;
  }

  private readonly readOut = (value: unknown): unknown => this.readValue(value);

  setSync(id: string, key: Key, value: unknown, expiresAt: number | null, tags?: readonly string[]): void {
    this.keyspace.set(id, key, this.clone ? cloneValue(value) : value, expiresAt, tags);
  }

  async get(id: string): Promise<unknown> {
    return this.getSync(id);
  }

  async getEntry(id: string): Promise<EntryWithExpiry | undefined> {
    const entry = this.keyspace.getEntry(id);
    if (entry) entry.value = this.readValue(entry.value);
    return entry;
  }

  /** Times and tags as the keyspace recorded them; the size of the default serialized form, or a streamed value's bytes. */
  async getMeta(id: string): Promise<EntryMeta | undefined> {
    return this.keyspace.meta(id, sizeOfHeld);
  }

  async has(id: string): Promise<boolean> {
    return this.keyspace.get(id) !== undefined;
  }

  async set(id: string, key: Key, value: unknown, expiresAt: number | null, tags?: readonly string[]): Promise<void> {
    this.setSync(id, key, value, expiresAt, tags);
  }

  async touch(id: string, expiresAt: number | null): Promise<boolean> {
    return this.keyspace.setExpiry(id, expiresAt);
  }

  async deleteByTags(tags: readonly string[]): Promise<number> {
    return this.keyspace.deleteTagged(tags);
  }

  /** Keeps the chunks as they came: joining them would hold the value twice at the peak. */
  async setStream(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of source) chunks.push(this.clone ? Buffer.from(chunk) : chunk);
    this.keyspace.set(id, key, new StreamedBytes(chunks), expiresAt);
  }

  async valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    const value = this.keyspace.get(id);
    if (value === undefined) return undefined;
    const chunks = value instanceof StreamedBytes ? value.chunks() : chunksOf(valueBytes(value));
    return toAsync(this.clone ? copiedChunks(chunks) : chunks);
  }

  async delete(id: string): Promise<boolean> {
    return this.keyspace.delete(id);
  }

  async expiresAt(id: string): Promise<number | null | undefined> {
    return this.keyspace.expiresAt(id);
  }

  /**
   * Honours `sort`, `skip` and `limit` (supports.nativeSort), and `page` (supports.nativePage):
   * keyspace.ts walks an ordered index when it can.
   */
  *findSync(selector: Selector, options: FindOptions): Generator<StoredEntry> {
    const { sort, skip, limit, page } = options;
    const found =
      page !== undefined
        ? this.keyspace.findPage(selector, sort ?? [], page.after, limit ?? Infinity)
        : sort !== undefined && sort.length > 0
          ? this.keyspace.findSorted(selector, sort, skip, limit)
          : this.keyspace.find(selector, limit, skip);
    for (const entry of found) {
      if (!options.values) yield entry;
      else if (entry.value instanceof StreamedBytes || this.clone) {
        yield { id: entry.id, key: entry.key, value: this.readValue(entry.value), expiresAt: entry.expiresAt };
      } else yield entry;
    }
  }

  valuesSync(selector: Selector, limit: number): unknown[] | undefined {
    return this.keyspace.indexedValues(selector, limit, this.readOut);
  }

  /**
   * The lazy iteration behind entries() and streams: it may outlive an entry's expiry, so each
   * entry's expiry is checked again when it is yielded (SPEC §12). The synchronous callers of
   * findSync finish within one tick and keep the one clock read of the scan.
   */
  async *find(selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
    for (const entry of this.findSync(selector, options)) {
      const expiresAt = entry.expiresAt;
      if (expiresAt !== undefined && expiresAt !== null && expiresAt <= this.clock.now()) continue;
      yield entry;
    }
  }

  async deleteMatching(selector: Selector): Promise<number> {
    const ids: string[] = [];
    for (const entry of this.keyspace.find(selector)) ids.push(entry.id);
    let removed = 0;
    for (const id of ids) if (this.keyspace.delete(id)) removed++;
    return removed;
  }

  async count(selector: Selector): Promise<number> {
    let n = 0;
    for (const entry of this.keyspace.find(selector)) if (entry) n++;
    return n;
  }

  async clear(): Promise<void> {
    this.keyspace.clear();
  }

  scope(namespace: string, context: BackendContext): MemoryBackend {
    return new MemoryBackend(this.shared, context);
  }

  async stats(): Promise<BackendStats> {
    const keyspace = this.keyspace;
    return { items: keyspace.size, expirations: keyspace.expirations, evictions: keyspace.evictions };
  }
}

/** What getMeta reports as a held value's size (SPEC §16: an in-process backend's is its default serialized form's). */
function sizeOfHeld(value: unknown): number {
  return value instanceof StreamedBytes ? value.byteLength : serializedSize(value);
}
