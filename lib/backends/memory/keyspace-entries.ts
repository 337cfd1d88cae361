/**
 * One namespace of the memory store, its entries half: the entries, their per-path equality
 * indexes (ordered-indexes.ts), the expiry heap (expiry-heap.ts), the tags and the LRU order.
 * Synchronous and self-contained; keyspace.ts adds the queries on top (find, sorted finds, pages).
 *
 * Memory layout, chosen so 1M plain string-key entries cost little more than a bare Map: a
 * string key without TTL in an unbounded store maps to a number, its ordinal in the columns of
 * bare-entries.ts (value, creation and update times), with no object per entry; everything else
 * (object keys, TTLs, size-tracked entries) maps to a Slot, which carries its update time once
 * written again; Slots' creation times are kept by seq, in steps (creation-times.ts).
 *
 * Every entry records when it was created (its first set since the key held no live entry) and
 * when its value was last written (set and setStream; not touch), for getMeta (SPEC §16), as ms
 * after `timeBase` — the clock when the keyspace was made — so a Slot's times stay small integers.
 */
import { Key, KeyObject, keyFromId } from '../../keys';
import type { EntryMeta } from '../../backend';
import { approximateSize } from '../../values';
import { BareEntries } from './bare-entries';
import { CreationTimes } from './creation-times';
import { ExpiryHeap } from './expiry-heap';
import { IdOrder } from './id-order';
import { OrderedIndexes } from './ordered-indexes';
import { SizedSlot, Slot, TimedSlot, newSlot } from './slot';
import { TagIndex } from './tag-index';

/**
 * Makes `id` a flat string in place. Ids built by concatenation (lib/keys.ts) are V8 rope trees,
 * ~350 bytes an entry when kept unread; reading a character flattens one, and the collector then
 * drops the rope's nodes. The read is returned so the engine cannot drop it as unused.
 */
function flatten(id: string): number {
  return id.charCodeAt(0);
}

/** Told when an entry leaves without being deleted (for the 'expire' and 'evict' events). */
export type RemovalObserver = (cause: 'expire' | 'evict', id: string) => void;

/** Bounds and behaviour of a keyspace. */
export interface KeyspaceOptions {
  maxKeys: number;
  maxBytes: number;
  now: () => number;
  /** The time to record as an entry's createdAt/updatedAt where nothing else reads the clock (lib/clock.ts stampClock); `now` when absent. */
  stamp?: () => number;
  /** The paths to index (the `indexes` setting); null for every path. */
  indexedPaths: ReadonlySet<string> | null;
}

/** See the file comment. */
export class KeyspaceEntries {
  /** Id → its Slot, or its ordinal in `bare` (a plain string-key entry). */
  protected readonly slots = new Map<string, Slot | number>();
  protected readonly bare = new BareEntries();
  /** Times are kept as ms after this (see the file comment). */
  private readonly timeBase: number;
  protected readonly indexes: OrderedIndexes;
  private readonly heap = new ExpiryHeap();
  /** Ids from least to most recently used; only when bounded. */
  protected readonly recency: Map<string, true> | null;
  /** Every id in code point order, once a page without sort has needed it (id-order.ts). */
  protected idOrder: IdOrder | null = null;
  /** The entries' tags, made on the first tagged write (tag-index.ts). */
  private tags: TagIndex | null = null;
  /** Told of expirations and evictions; empty unless someone listens (backend.ts). */
  readonly observers = new Set<RemovalObserver>();
  private readonly bounded: boolean;
  /** The last seq given to a Slot (slot.ts); never reset, so a seq is never reused. */
  private seq = 0;
  /** When each Slot was created, by seq (creation-times.ts). */
  private readonly creations = new CreationTimes();
  private bytes = 0;
  private timedEntries = 0;
  expirations = 0;
  evictions = 0;

  constructor(protected readonly options: KeyspaceOptions) {
    this.indexes = new OrderedIndexes(options.indexedPaths);
    this.bounded = options.maxKeys > 0 || options.maxBytes > 0;
    this.recency = this.bounded ? new Map() : null;
    this.timeBase = options.now();
    this.stamp = options.stamp ?? options.now;
  }

  /** See KeyspaceOptions.stamp. */
  private readonly stamp: () => number;

  /** Live entries, after freeing what has expired. */
  get size(): number {
    this.sweep();
    return this.slots.size;
  }

  /** Entries held, expired-but-unswept ones included; reading it changes nothing. */
  get heldEntries(): number {
    return this.slots.size;
  }

  /** The live value or undefined. */
  get(id: string): unknown {
    const slot = this.slots.get(id);
    if (typeof slot === 'number') return this.bare.value(slot); // never in a bounded store: no recency to keep
    if (slot === undefined) return undefined;
    if (slot.expiresAt !== 0 && slot.expiresAt <= this.options.now()) {
      this.expire(id, slot);
      return undefined;
    }
    if (this.recency) this.touch(id);
    return slot.value;
  }

  /** The live value with its expiry (epoch ms or null), or undefined. */
  getEntry(id: string): { value: unknown; expiresAt: number | null } | undefined {
    const value = this.get(id);
    if (value === undefined) return undefined;
    const slot = this.slots.get(id);
    return { value, expiresAt: slot instanceof Slot && slot.expiresAt !== 0 ? slot.expiresAt : null };
  }

  /** Expiry of a live entry: epoch ms, null for none, undefined when absent. */
  expiresAt(id: string): number | null | undefined {
    return this.getEntry(id)?.expiresAt;
  }

  set(id: string, key: Key, value: unknown, expiresAt: number | null, tags?: readonly string[]): void {
    if (typeof key === 'string' && expiresAt === null && !this.bounded && this.timedEntries === 0 && this.idOrder === null) {
      const now = this.stamp();
      // Plain cache use: with no TTLs and no bounds nothing can have expired, and a string key needs no Slot.
      const held = this.slots.get(id);
      if (held === undefined) this.slots.set(id, this.bare.add(value, now - this.timeBase));
      else if (typeof held === 'number') this.bare.update(held, value, now - this.timeBase);
      else {
        // A Slot left by an earlier TTL (none is timed now): it keeps its creation time.
        held.value = value;
        this.written(held, now - this.timeBase);
      }
      if (tags !== undefined || this.tags !== null) (this.tags ??= new TagIndex()).replace(id, tags);
      return;
    }
    const now = this.options.now();
    if (this.heap.size > 0 && this.heap.peekTime() <= now) this.sweep();
    let existing = this.slots.get(id);
    if (existing instanceof Slot && existing.expiresAt !== 0 && existing.expiresAt <= now) {
      this.expire(id, existing); // a new entry, at the end of creation order
      existing = undefined;
    }
    const size = this.options.maxBytes > 0 ? approximateSize(value) + id.length * 2 + 64 : 0;
    if (size > this.options.maxBytes && this.options.maxBytes > 0) {
      // Too big to ever fit: store nothing and evict nothing else (lru-cache's maxEntrySize),
      // but drop the old value so a stale one is not read back.
      if (existing !== undefined) this.remove(id, existing);
      else this.tags?.drop(id);
      this.evictions++;
      this.notify('evict', id);
      return;
    }
    const at = now - this.timeBase;
    if (existing instanceof Slot) {
      if (existing.expiresAt !== 0) this.timedEntries--;
      existing.value = value;
      existing.expiresAt = expiresAt ?? 0;
      this.written(existing, at);
      if (existing instanceof SizedSlot) {
        this.bytes += size - existing.size;
        existing.size = size;
      }
    } else if (typeof key === 'string' && expiresAt === null && !this.bounded) {
      if (existing !== undefined) this.bare.update(existing, value, at);
      else {
        this.slots.set(id, this.bare.add(value, at));
        this.idOrder?.add(id);
      }
    } else {
      const isNew = existing === undefined;
      // A plain string entry given a TTL becomes a Slot: it keeps its creation time.
      const createdAt = existing === undefined ? at : this.bare.createdAt(existing);
      if (existing !== undefined) this.bare.free(existing);
      // A private, field-sorted copy: the caller may mutate its key object later.
      const parsed = typeof key === 'string' ? undefined : (keyFromId(id) as KeyObject);
      // Without the parse (slot.ts), the id is the key's only copy: flattened, so no concatenation tree stays behind.
      if (parsed !== undefined && !this.indexes.keysParsed) flatten(id);
      const kept = this.indexes.keysParsed ? parsed : undefined;
      const seq = this.nextSeq(createdAt);
      const slot = this.options.maxBytes > 0 ? new SizedSlot(id, value, kept, expiresAt ?? 0, seq, size) : newSlot(id, value, seq, kept, expiresAt ?? 0);
      if (at !== createdAt) slot.updated = at;
      this.slots.set(id, slot);
      this.trimCreations();
      if (isNew) this.idOrder?.add(id);
      this.bytes += size;
      if (isNew && parsed !== undefined) this.indexes.add(slot, parsed);
    }
    // After the old entry went (an expired one is dropped above with its tags), before eviction (which may take this one).
    if (tags !== undefined || this.tags !== null) (this.tags ??= new TagIndex()).replace(id, tags);
    if (expiresAt !== null) {
      this.timedEntries++;
      this.heap.push(expiresAt, id);
      if (this.heap.size > 2 * this.timedEntries + 1024) this.rebuildHeap();
    }
    if (this.recency) {
      this.touch(id);
      this.evictOverflow();
    }
  }

  /**
   * Sets a live entry's expiry (epoch ms or null), keeping its value, key, tags and place in
   * creation order; returns false when there is no live entry.
   */
  setExpiry(id: string, expiresAt: number | null): boolean {
    const held = this.slots.get(id);
    if (held === undefined || this.get(id) === undefined) return false; // absent, or expired just now
    if (held instanceof Slot) {
      if (held.expiresAt !== 0) this.timedEntries--;
      held.expiresAt = expiresAt ?? 0;
    } else if (expiresAt !== null) {
      // A plain string entry has no room for an expiry: it becomes a Slot, in place, times kept.
      const bare = this.bare;
      const createdAt = bare.createdAt(held);
      const slot = new TimedSlot(id, bare.value(held), this.nextSeq(createdAt), expiresAt);
      if (bare.updatedAt(held) !== createdAt) slot.updated = bare.updatedAt(held);
      this.slots.set(id, slot);
      bare.free(held);
      this.trimCreations();
    }
    if (expiresAt !== null) {
      this.timedEntries++;
      this.heap.push(expiresAt, id);
      if (this.heap.size > 2 * this.timedEntries + 1024) this.rebuildHeap();
    }
    return true;
  }

  /** Removes every live entry carrying one of `tags`; returns how many. */
  deleteTagged(tags: readonly string[]): number {
    if (this.tags === null) return 0;
    let removed = 0;
    for (const id of this.tags.idsWithAny(tags)) if (this.delete(id)) removed++;
    return removed;
  }

  /** Removes an entry; returns whether a live one was there. */
  delete(id: string): boolean {
    const slot = this.slots.get(id);
    if (slot === undefined) return false;
    const live = typeof slot === 'number' || slot.expiresAt === 0 || slot.expiresAt > this.options.now();
    if (live) this.remove(id, slot);
    else this.expire(id, slot as Slot);
    return live;
  }

  clear(): void {
    this.slots.clear();
    this.bare.clear();
    this.tags = null;
    this.idOrder = null;
    this.indexes.clear();
    this.creations.clear();
    this.heap.clear();
    this.recency?.clear();
    this.bytes = 0;
    this.timedEntries = 0;
  }

  /** Frees every expired entry, earliest first, without touching live ones. */
  sweep(): void {
    const now = this.options.now();
    while (this.heap.size > 0 && this.heap.peekTime() <= now) {
      const id = this.heap.pop();
      const slot = this.slots.get(id);
      if (slot instanceof Slot && slot.expiresAt !== 0 && slot.expiresAt <= now) this.expire(id, slot);
    }
  }

  private remove(id: string, slot: Slot | number): void {
    this.slots.delete(id);
    this.tags?.drop(id);
    this.idOrder?.delete(id);
    this.recency?.delete(id);
    if (typeof slot === 'number') this.bare.free(slot);
    else {
      if (slot instanceof SizedSlot) this.bytes -= slot.size;
      if (slot.expiresAt !== 0) this.timedEntries--;
      if (slot.isObjectKey) this.indexes.remove(slot);
    }
  }

  /** A held entry as a Slot: a plain string entry's is made for the caller (page walks read Slots). */
  protected readonly slotOf = (id: string, held: Slot | number): Slot => {
    if (typeof held !== 'number') return held;
    const bare = this.bare;
    // Without times (a page walk reads id, value and expiry): seq 0, which has none (slot.ts).
    return new Slot(id, bare.value(held), 0);
  };

  /**
   * The live entry's metadata (SPEC §16), `sizeOf` giving its value's size; undefined when
   * absent. Reading it is not a use: the LRU order stays.
   */
  meta(id: string, sizeOf: (value: unknown) => number): EntryMeta | undefined {
    const held = this.slots.get(id);
    if (held === undefined) return undefined;
    const base = this.timeBase;
    const tags = this.tags?.tagsOf(id) ?? [];
    if (typeof held === 'number') {
      const bare = this.bare;
      return { size: sizeOf(bare.value(held)), createdAt: bare.createdAt(held) + base, updatedAt: bare.updatedAt(held) + base, expiresAt: null, tags };
    }
    if (held.expiresAt !== 0 && held.expiresAt <= this.options.now()) {
      this.expire(id, held);
      return undefined;
    }
    const expiresAt = held.expiresAt === 0 ? null : held.expiresAt;
    const createdAt = this.creations.at(held.seq);
    return { size: sizeOf(held.value), createdAt: createdAt + base, updatedAt: (held.updated ?? createdAt) + base, expiresAt, tags };
  }

  /** The seq of a new Slot created at `createdAt` (ms after the time base), its creation time recorded (creation-times.ts). */
  private nextSeq(createdAt: number): number {
    const seq = ++this.seq;
    this.creations.note(seq, createdAt);
    return seq;
  }

  /** Records that `slot`'s value was written at `at`: its update time is kept only once it is not its creation time. */
  private written(slot: Slot, at: number): void {
    if (slot.updated !== undefined || at !== this.creations.at(slot.seq)) slot.updated = at;
  }

  /**
   * Drops the creation-time steps no held Slot needs once they outnumber twice the entries (and
   * 1024), so they never outgrow the entries they describe; call with every Slot in `slots`.
   */
  private trimCreations(): void {
    if (this.creations.size <= 2 * this.slots.size + 1024) return;
    const seqs: number[] = [];
    for (const held of this.slots.values()) if (typeof held !== 'number') seqs.push(held.seq);
    // Map order is not seq order: a plain entry made a Slot keeps its place and takes a new seq.
    this.creations.keep(Float64Array.from(seqs).sort());
  }

  private expire(id: string, slot: Slot): void {
    this.remove(id, slot);
    this.expirations++;
    this.notify('expire', id);
  }

  private notify(cause: 'expire' | 'evict', id: string): void {
    if (this.observers.size > 0) for (const observer of this.observers) observer(cause, id);
  }

  protected touch(id: string): void {
    const recency = this.recency!;
    recency.delete(id);
    recency.set(id, true);
  }

  private evictOverflow(): void {
    const { maxKeys, maxBytes } = this.options;
    const recency = this.recency!;
    while ((maxKeys > 0 && this.slots.size > maxKeys) || (maxBytes > 0 && this.bytes > maxBytes)) {
      // Even the entry just written goes when it alone exceeds the bound, as in lru-cache.
      const oldest = recency.keys().next().value as string | undefined;
      if (oldest === undefined) break;
      this.remove(oldest, this.slots.get(oldest)!);
      this.evictions++;
      this.notify('evict', oldest);
    }
  }

  private rebuildHeap(): void {
    this.heap.clear();
    for (const [id, slot] of this.slots) {
      if (slot instanceof Slot && slot.expiresAt !== 0) this.heap.push(slot.expiresAt, id);
    }
  }

  /** Approximate bytes held (maintained only with maxBytes). */
  get byteSize(): number {
    return this.bytes;
  }

  /** Number of (path, value) buckets in the indexes, and of distinct tags: tests use them to prove cleanup. */
  get indexBuckets(): number {
    return this.indexes.bucketCount;
  }
  /** Steps held by the creation times (creation-times.ts): tests use it to prove they are trimmed. */
  get creationSteps(): number {
    return this.creations.size;
  }

  get tagCount(): number {
    return this.tags?.tagCount ?? 0;
  }
}