/**
 * The plain string-key entries of a memory keyspace (no TTL, unbounded store: see keyspace.ts),
 * kept in columns: the keyspace's Map holds an entry's ordinal, its value sits in one array and
 * its creation and update times (getMeta, SPEC §16) in two typed arrays. Memory decides it: a
 * small object per entry to carry the two times costs ~80 bytes on the heap (header, fields,
 * slack) — 1M string keys went from ~1.2× a bare Map to ~2× — while columns cost 16 bytes
 * (8 for the value's pointer, 8 for the times) plus their growth slack, and no object at all.
 *
 * The times are the keyspace's ms after its time base, whole numbers from 0 up: they fit 32 bits
 * for the keyspace's first 49 days, so the columns start as Uint32Arrays (as Float64Arrays they
 * cost 8 bytes more an entry: 1M string keys went from 1.04× to 1.52× a Map). The first time that
 * does not fit (a later, negative or fractional one: a given clock may do anything) moves both
 * columns to Float64Arrays, once, for good: exact times either way.
 *
 * Freed ordinals are reused (a free list threaded through the `created` column), so a keyspace
 * that deletes and sets keeps its columns at the size of its largest population; clear() frees them.
 */

/** Ordinals the columns start with; they double as they fill. */
const INITIAL_CAPACITY = 16;
/** The end of the free list (an ordinal never reaches it: it fits either column). */
const NO_FREE = 0xffffffff;

/** See the file comment. Times are whatever numbers the keyspace gives (ms). */
export class BareEntries {
  private values: unknown[] = [];
  private created: Uint32Array | Float64Array = new Uint32Array(INITIAL_CAPACITY);
  private updated: Uint32Array | Float64Array = new Uint32Array(INITIAL_CAPACITY);
  /** The first free ordinal below `values.length`, or NO_FREE; each free one holds the next in `created`. */
  private freeHead = NO_FREE;

  /** Stores a new entry written at `at`; returns its ordinal. */
  add(value: unknown, at: number): number {
    if (at >>> 0 !== at && this.created instanceof Uint32Array) this.widen();
    let ord = this.freeHead;
    if (ord !== NO_FREE) {
      this.freeHead = this.created[ord];
      this.values[ord] = value;
    } else {
      ord = this.values.length;
      if (ord === this.created.length) this.grow();
      this.values.push(value);
    }
    this.created[ord] = at;
    this.updated[ord] = at;
    return ord;
  }

  /** Overwrites entry `ord`'s value, written at `at` (its creation time stays). */
  update(ord: number, value: unknown, at: number): void {
    if (at >>> 0 !== at && this.created instanceof Uint32Array) this.widen();
    this.values[ord] = value;
    this.updated[ord] = at;
  }

  /** Entry `ord`'s value. */
  value(ord: number): unknown {
    return this.values[ord];
  }

  /** When entry `ord` was created. */
  createdAt(ord: number): number {
    return this.created[ord];
  }

  /** When entry `ord`'s value was last written. */
  updatedAt(ord: number): number {
    return this.updated[ord];
  }

  /** Forgets entry `ord` (its value is released now); the ordinal is handed out again later. */
  free(ord: number): void {
    this.values[ord] = undefined;
    this.created[ord] = this.freeHead;
    this.freeHead = ord;
  }

  /** Forgets every entry and gives the columns' memory back. */
  clear(): void {
    this.values = [];
    this.created = new Uint32Array(INITIAL_CAPACITY);
    this.updated = new Uint32Array(INITIAL_CAPACITY);
    this.freeHead = NO_FREE;
  }

  private grow(): void {
    this.created = resized(this.created, this.created.length * 2);
    this.updated = resized(this.updated, this.updated.length * 2);
  }

  /** Moves both columns to Float64Arrays: a time that does not fit 32 bits is coming. */
  private widen(): void {
    this.created = Float64Array.from(this.created);
    this.updated = Float64Array.from(this.updated);
  }
}

/** A copy of `column` of the same kind, `length` long. */
function resized(column: Uint32Array | Float64Array, length: number): Uint32Array | Float64Array {
  const out = column instanceof Uint32Array ? new Uint32Array(length) : new Float64Array(length);
  out.set(column);
  return out;
}
