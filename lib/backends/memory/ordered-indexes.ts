/**
 * The memory backend's indexes: per key path, a B+ tree (sorted-btree) from each scalar value
 * found there to the entries' Slots holding it, in creation order. One structure serves
 * equality and `$in` (a lookup), ranges `$gt $gte $lt $lte` (a walk between bounds) and
 * `sort` (a walk in either direction), in exactly lib/query-sort.ts's order: the tree compares
 * with compareValues (type brackets, numbers, strings in code point order). A tree holds the
 * key's own values (no token strings), so it costs less than the hash map it replaced.
 *
 * Which paths are indexed is the `indexes` setting (default: every path met).
 */
import BTree from 'sorted-btree';
import type { KeyField, KeyObject } from '../../keys';
import type { QuerySelector } from '../../query';
import { compareValues } from '../../query-match';
import { PathFacts, Scalar, fieldPaths, isScalar } from './key-paths';
import { Slot } from './slot';
import { SlotRun } from './slot-run';

const hasOwn = Object.hasOwn;

/**
 * The Slots under one value, in creation order. A bucket holding one Slot is the Slot itself,
 * because unique fields (`id`, `email`) would otherwise cost a run per entry; several are a
 * SlotRun (slot-run.ts). A live entry keeps its Slot for life (overwrites update it in place)
 * and is added once, when created, so a run's order is creation order.
 */
export type Bucket = Slot | SlotRun;

/** A bucket's Slots as chunks in creation order, for index loops: a lone Slot is one chunk of one. */
export function slotChunks(bucket: Bucket): readonly (readonly Slot[])[] {
  return bucket instanceof Slot ? [[bucket]] : bucket.parts;
}

/** A bucket's Slots as a new array in creation order (safe to walk while the index changes). */
export function slotsOf(bucket: Bucket): Slot[] {
  return bucket instanceof Slot ? [bucket] : bucket.toArray();
}

/** Index order: lib/query-match.ts compareValues, with the common same-type cases inline. */
export function compareScalars(a: Scalar, b: Scalar): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  return compareValues(a, b);
}

/**
 * Most entries in a node of an index tree (sorted-btree's default is 32). A path whose values
 * are all different (`id`, `email`) has a leaf entry per key: two pointers (value, bucket) in
 * two arrays. A node that splits keeps half its entries and the new one gets an array of just
 * the other half, which V8 grows on the next insert to half + half / 2 + 16: from 32 that is 64,
 * so a full leaf of 64 fills its arrays exactly, where a leaf of 32 grew from 16 to 40 (8 slots
 * spare) and paid its node and array headers for half as many entries. 1M object keys, every
 * path indexed: the `id` path 25 → 18 bytes an entry, heap 275 → 268 bytes an entry (2026-12-03).
 */
const NODE_SIZE = 64;

/** One indexed path. */
export class PathIndex {
  readonly tree = new BTree<Scalar, Bucket>(undefined, compareScalars, NODE_SIZE);
  /** Entries holding at least one value here. */
  entries = 0;
  /** Entries that reached a value here through an array (see key-paths.ts). */
  multikey = 0;
  /** Entries whose sort key here may be something the tree does not hold (see key-paths.ts). */
  irregular = 0;
}

export function bucketSize(bucket: Bucket | undefined): number {
  return bucket === undefined ? 0 : bucket instanceof Slot ? 1 : bucket.size;
}

export function bucketHas(bucket: Bucket | undefined, slot: Slot): boolean {
  return bucket === undefined ? false : bucket instanceof Slot ? bucket === slot : bucket.has(slot);
}

/** The indexes of one keyspace: every object-key entry, under each of its indexed (path, value) pairs. */
export class OrderedIndexes {
  private readonly paths = new Map<string, PathIndex>();
  /** Object-key entries held (indexed or not): an index covers a path when all of them are in it. */
  objectEntries = 0;

  /**
   * Whether object-key Slots keep their key parsed (slot.ts): in a store indexing every path,
   * whose queries read fields; a store listing its `indexes` keeps ids only, for memory.
   */
  readonly keysParsed: boolean;

  /** The top-level fields that lead to the paths in `only` (`a` for `a` and `a.b`); null for every path. */
  private readonly roots: readonly string[] | null;

  /** `only`: the paths to index (the `indexes` setting); null for every path. */
  constructor(private readonly only: ReadonlySet<string> | null = null) {
    this.keysParsed = only === null;
    this.roots = only === null ? null : [...new Set([...only].map((path) => path.split('.')[0]))];
  }

  /** The index of `path`, if it has one with entries. */
  path(path: string): PathIndex | undefined {
    return this.paths.get(path);
  }

  /** Whether `path` may be indexed at all (the `indexes` setting). */
  indexes(path: string): boolean {
    return this.only === null || this.only.has(path);
  }

  /** The bucket of `value` at `path`. */
  bucket(path: string, value: Scalar): Bucket | undefined {
    return this.paths.get(path)?.tree.get(value);
  }

  /**
   * Indexes a new object-key entry, whose key is `key`. A top-level field holding a scalar (the
   * usual key) is indexed in place; only other values are walked by key-paths.ts. The fill of a
   * store is this call a million times: every temporary object it made (a Map of paths, a facts
   * object and an array per path, closures) was young garbage, and what a collection caught alive
   * was promoted and freed later, leaving old-space pages part empty (RSS over live bytes).
   */
  add(slot: Slot, key: KeyObject): void {
    this.objectEntries++;
    const roots = this.roots;
    if (roots === null) {
      for (const field in key) if (hasOwn(key, field)) this.addField(slot, field, key[field]);
    } else {
      for (let i = 0; i < roots.length; i++) if (hasOwn(key, roots[i])) this.addField(slot, roots[i], key[roots[i]]);
    }
  }

  /** Indexes `slot` under the paths of the top-level field `field` (value `value`) the store indexes. */
  private addField(slot: Slot, field: string, value: KeyField): void {
    if (isScalar(value)) {
      if (this.only !== null && !this.only.has(field)) return;
      const index = this.pathIndex(field);
      index.entries++;
      this.addValue(index, value, slot);
      return;
    }
    const facts = new Map<string, PathFacts>();
    fieldPaths(facts, field, value);
    for (const [path, f] of facts) {
      if (this.only !== null && !this.only.has(path)) continue;
      const index = this.pathIndex(path);
      if (f.multikey) index.multikey++;
      if (f.irregular) index.irregular++;
      if (f.values.length > 0) index.entries++;
      for (const v of f.values) this.addValue(index, v, slot);
    }
  }

  /** The index of `path`, made when it has none. */
  private pathIndex(path: string): PathIndex {
    let index = this.paths.get(path);
    if (!index) this.paths.set(path, (index = new PathIndex()));
    return index;
  }

  /** Adds `slot` under `value` in `index`. */
  private addValue(index: PathIndex, value: Scalar, slot: Slot): void {
    const tree = index.tree;
    const bucket = tree.get(value);
    if (bucket === undefined) tree.set(value, slot);
    else if (bucket instanceof Slot) {
      if (bucket !== slot) tree.set(value, new SlotRun(bucket, slot));
    } else bucket.add(slot);
  }

  /** Drops a removed entry, and every bucket and path it leaves empty. */
  remove(slot: Slot): void {
    this.objectEntries--;
    const key = slot.key as KeyObject;
    const roots = this.roots;
    if (roots === null) {
      for (const field in key) if (hasOwn(key, field)) this.removeField(slot, field, key[field]);
    } else {
      for (let i = 0; i < roots.length; i++) if (hasOwn(key, roots[i])) this.removeField(slot, roots[i], key[roots[i]]);
    }
  }

  private removeField(slot: Slot, field: string, value: KeyField): void {
    if (isScalar(value)) {
      const index = this.paths.get(field);
      if (index === undefined) return;
      index.entries--;
      this.removeValue(index, value, slot);
      if (index.entries === 0 && index.irregular === 0 && index.multikey === 0) this.paths.delete(field);
      return;
    }
    const facts = new Map<string, PathFacts>();
    fieldPaths(facts, field, value);
    for (const [path, f] of facts) {
      const index = this.paths.get(path);
      if (index === undefined) continue;
      if (f.multikey) index.multikey--;
      if (f.irregular) index.irregular--;
      if (f.values.length > 0) index.entries--;
      for (const v of f.values) this.removeValue(index, v, slot);
      if (index.entries === 0 && index.irregular === 0 && index.multikey === 0) this.paths.delete(path);
    }
  }

  private removeValue(index: PathIndex, value: Scalar, slot: Slot): void {
    const tree = index.tree;
    const bucket = tree.get(value);
    if (bucket === undefined) return;
    if (bucket instanceof Slot) {
      if (bucket === slot) tree.delete(value);
    } else {
      bucket.delete(slot);
      if (bucket.size === 1) tree.set(value, bucket.first()!);
      else if (bucket.size === 0) tree.delete(value);
    }
  }

  clear(): void {
    this.paths.clear();
    this.objectEntries = 0;
  }

  /**
   * Whether a walk of `path`'s tree meets every object-key entry at its sort key: every entry
   * holds a value there and none can have a sort key the tree lacks (lib/query-sort.ts).
   */
  sortable(path: string): boolean {
    const index = this.paths.get(path);
    return index !== undefined && index.irregular === 0 && index.entries === this.objectEntries;
  }

  /** Number of (path, value) buckets; tests use it to prove cleanup. */
  get bucketCount(): number {
    let n = 0;
    for (const index of this.paths.values()) n += index.tree.size;
    return n;
  }

  /**
   * Whether `slot` meets every constraint of a query made only of equalities (call only when
   * `selector.coveredByConstraints`): bucket membership, cheaper than the matcher; undefined
   * when a path is not indexed (the `indexes` setting).
   */
  meetsEqualities(selector: QuerySelector, slot: Slot): boolean | undefined {
    for (const constraint of selector.constraints) {
      if (!this.indexes(constraint.path)) return undefined;
      // A scalar in a top-level field of a kept parsed key (slot.ts) is that field's one value: compared directly, cheaper than the buckets.
      const v = slot.parsed === undefined || constraint.path.includes('.') ? undefined : (slot.parsed as Record<string, unknown>)[constraint.path];
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
        if (!constraint.values.includes(v)) return false;
      } else if (!constraint.values.some((value) => bucketHas(this.bucket(constraint.path, value), slot))) return false;
    }
    return true;
  }
}
