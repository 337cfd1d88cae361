/**
 * One namespace of the memory store: the entries, their per-path equality indexes, the
 * expiry heap and the LRU order. Synchronous and self-contained, so the store class around it
 * stays a thin adapter to the primitives of the store base.
 *
 * Memory layout, chosen so 1M plain string-key entries cost little more than a bare Map: a
 * string key without TTL in an unbounded store maps straight to its value; everything else
 * (object keys, TTLs, size-tracked entries) maps to a Slot. `undefined` can never be stored,
 * so a Map miss is unambiguous.
 */
import { Key, KeyObject, isObjectKeyId, keyFromId } from '../keys';
import { QuerySelector, Selector, indexEntries, indexToken } from '../query';
import { StoredEntry } from '../store';
import { approximateSize } from '../values';
import { ExpiryHeap } from './expiry-heap';

/** An entry that needs more than its value. */
class Slot {
  constructor(
    public value: unknown,
    /** The key (object keys keep their normalized copy for queries). */
    readonly key: Key,
    /** Epoch ms, or 0 for no expiry. */
    public expiresAt: number,
    /** Creation sequence, used to merge index hits back into creation order. */
    readonly seq: number,
    /** Approximate bytes, when the store is bounded by maxBytes. */
    public size: number,
  ) {}
}

/** Bounds and behaviour of a keyspace. */
export interface KeyspaceOptions {
  maxKeys: number;
  maxBytes: number;
  now: () => number;
}

/**
 * path -> token -> ids, in creation order. A bucket holding one id is the id itself: unique
 * fields (`id`, `email`) would otherwise cost a Set per entry.
 */
type Bucket = string | Set<string>;
type PathIndex = Map<string, Bucket>;

const NO_IDS: readonly string[] = [];

function bucketSize(bucket: Bucket | undefined): number {
  return bucket === undefined ? 0 : typeof bucket === 'string' ? 1 : bucket.size;
}

function bucketHas(bucket: Bucket | undefined, id: string): boolean {
  return bucket === undefined ? false : typeof bucket === 'string' ? bucket === id : bucket.has(id);
}

function bucketIds(bucket: Bucket): Iterable<string> {
  return typeof bucket === 'string' ? [bucket] : bucket;
}

/** See the file comment. */
export class Keyspace {
  private readonly slots = new Map<string, unknown>();
  private readonly indexes = new Map<string, PathIndex>();
  private readonly heap = new ExpiryHeap();
  /** Ids from least to most recently used; only when bounded. */
  private readonly recency: Map<string, true> | null;
  private readonly bounded: boolean;
  private seq = 0;
  private bytes = 0;
  private timedEntries = 0;
  expirations = 0;
  evictions = 0;

  constructor(private readonly options: KeyspaceOptions) {
    this.bounded = options.maxKeys > 0 || options.maxBytes > 0;
    this.recency = this.bounded ? new Map() : null;
  }

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
    if (!(slot instanceof Slot)) {
      if (slot !== undefined && this.recency) this.touch(id);
      return slot;
    }
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

  set(id: string, key: Key, value: unknown, expiresAt: number | null): void {
    const now = this.options.now();
    if (this.heap.peekTime() <= now) this.sweep();
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
      this.evictions++;
      return;
    }
    if (existing instanceof Slot) {
      if (existing.expiresAt !== 0) this.timedEntries--;
      existing.value = value;
      existing.expiresAt = expiresAt ?? 0;
      this.bytes += size - existing.size;
      existing.size = size;
    } else if (typeof key === 'string' && expiresAt === null && !this.bounded) {
      this.slots.set(id, value);
    } else {
      const isNew = existing === undefined;
      // A private, field-sorted copy: the caller may mutate its key object later.
      const ownKey = typeof key === 'string' ? key : keyFromId(id);
      this.slots.set(id, new Slot(value, ownKey, expiresAt ?? 0, isNew && typeof key !== 'string' ? ++this.seq : 0, size));
      this.bytes += size;
      if (isNew && typeof ownKey !== 'string') this.addToIndexes(id, ownKey);
    }
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

  /** Removes an entry; returns whether a live one was there. */
  delete(id: string): boolean {
    const slot = this.slots.get(id);
    if (slot === undefined) return false;
    const live = !(slot instanceof Slot) || slot.expiresAt === 0 || slot.expiresAt > this.options.now();
    if (live) this.remove(id, slot);
    else this.expire(id, slot as Slot);
    return live;
  }

  clear(): void {
    this.slots.clear();
    this.indexes.clear();
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

  /** Live entries for an 'all', 'glob' or 'query' selector, in creation order. */
  *find(selector: Selector, limit = Infinity): Generator<StoredEntry> {
    if (limit <= 0) return;
    const now = this.options.now();
    let yielded = 0;
    const candidates = this.candidates(selector);
    for (const id of candidates) {
      const slot = this.slots.get(id);
      if (slot === undefined) continue;
      let key: Key;
      let value: unknown;
      let expiresAt: number | null = null;
      if (slot instanceof Slot) {
        if (slot.expiresAt !== 0 && slot.expiresAt <= now) continue;
        key = slot.key;
        value = slot.value;
        if (slot.expiresAt !== 0) expiresAt = slot.expiresAt;
      } else {
        key = id;
        value = slot;
      }
      if (!this.matches(selector, id, key, candidates.exact)) continue;
      if (this.recency) this.touch(id);
      yield new FoundEntry(id, value, expiresAt);
      if (++yielded >= limit) return;
    }
  }

  /** Ids to examine, in creation order, and whether they match without a further test. */
  private candidates(selector: Selector): Iterable<string> & { exact?: boolean } {
    if (selector.kind !== 'query' || selector.constraints.length === 0) return this.slots.keys();
    let best: Iterable<string> | undefined;
    let bestSize = Infinity;
    for (const constraint of selector.constraints) {
      const index = this.indexes.get(constraint.path);
      let size = 0;
      const buckets: Bucket[] = [];
      for (const v of constraint.values) {
        const bucket = index?.get(indexToken(v));
        if (bucket !== undefined) {
          buckets.push(bucket);
          size += bucketSize(bucket);
        }
      }
      if (size >= bestSize) continue;
      bestSize = size;
      best = buckets.length === 0 ? NO_IDS : buckets.length === 1 ? bucketIds(buckets[0]) : this.mergeInCreationOrder(buckets);
    }
    const out = (best ?? NO_IDS) as Iterable<string> & { exact?: boolean };
    // Index buckets are exact for their constraint; the test can be skipped when one constraint is all there is.
    return selector.coveredByConstraints && selector.constraints.length === 1 ? Object.assign(wrap(out), { exact: true }) : out;
  }

  private mergeInCreationOrder(buckets: Bucket[]): string[] {
    const ids = new Set<string>();
    for (const bucket of buckets) for (const id of bucketIds(bucket)) ids.add(id);
    const seqOf = (id: string) => (this.slots.get(id) as Slot).seq;
    return [...ids].sort((a, b) => seqOf(a) - seqOf(b));
  }

  private matches(selector: Selector, id: string, key: Key, exact: boolean | undefined): boolean {
    switch (selector.kind) {
      case 'all':
        return true;
      case 'glob':
        return typeof key === 'string' && selector.regex.test(key);
      case 'query':
        if (!isObjectKeyId(id)) return false;
        return exact === true || this.testQuery(selector, id, key as KeyObject);
      default:
        return false;
    }
  }

  private testQuery(selector: QuerySelector, id: string, key: KeyObject): boolean {
    if (!selector.coveredByConstraints) return selector.test(key);
    // Every condition is an indexed equality: membership checks are cheaper than sift.
    for (const constraint of selector.constraints) {
      const index = this.indexes.get(constraint.path);
      if (!constraint.values.some((v) => bucketHas(index?.get(indexToken(v)), id))) return false;
    }
    return true;
  }

  private addToIndexes(id: string, key: KeyObject): void {
    for (const [path, token] of indexEntries(key)) {
      let index = this.indexes.get(path);
      if (!index) this.indexes.set(path, (index = new Map()));
      const bucket = index.get(token);
      if (bucket === undefined) index.set(token, id);
      else if (typeof bucket === 'string') {
        if (bucket !== id) index.set(token, new Set([bucket, id]));
      } else bucket.add(id);
    }
  }

  private removeFromIndexes(id: string, key: KeyObject): void {
    for (const [path, token] of indexEntries(key)) {
      const index = this.indexes.get(path);
      const bucket = index?.get(token);
      if (bucket === undefined) continue;
      if (typeof bucket === 'string') {
        if (bucket === id) index!.delete(token);
      } else {
        bucket.delete(id);
        if (bucket.size === 1) index!.set(token, bucket.values().next().value as string);
        else if (bucket.size === 0) index!.delete(token);
      }
      if (index!.size === 0) this.indexes.delete(path);
    }
  }

  private remove(id: string, slot: unknown): void {
    this.slots.delete(id);
    this.recency?.delete(id);
    if (slot instanceof Slot) {
      this.bytes -= slot.size;
      if (slot.expiresAt !== 0) this.timedEntries--;
      if (typeof slot.key !== 'string') this.removeFromIndexes(id, slot.key);
    }
  }

  private expire(id: string, slot: Slot): void {
    this.remove(id, slot);
    this.expirations++;
  }

  private touch(id: string): void {
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
      this.remove(oldest, this.slots.get(oldest));
      this.evictions++;
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

  /** Number of (path, token) buckets in the indexes; tests use it to prove cleanup. */
  get indexBuckets(): number {
    let n = 0;
    for (const index of this.indexes.values()) n += index.size;
    return n;
  }
}

/**
 * An entry handed out by `find`. Its key is rebuilt from the id on demand, so callers get a
 * copy they may mutate freely while the stored key (which the indexes describe) stays intact,
 * and queries that never look at keys pay nothing for it.
 */
class FoundEntry implements StoredEntry {
  constructor(
    readonly id: string,
    readonly value: unknown,
    readonly expiresAt: number | null,
  ) {}
  get key(): Key {
    return keyFromId(this.id);
  }
}

function wrap(ids: Iterable<string>): Iterable<string> {
  return { [Symbol.iterator]: () => ids[Symbol.iterator]() };
}
