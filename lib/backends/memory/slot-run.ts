/**
 * The Slots under one index value when there are several, in creation order: a run of small
 * arrays sorted by `seq`, where a Set was before. Memory decides it: a Set entry costs about
 * 21–33 bytes (hash table, chain link, a power-of-two capacity), a run entry about 9 (one
 * pointer and the array's growth slack), and every indexed path with shared values (`kind`,
 * `age`, `city`) holds one entry per key — 1M object keys saved ~23 MB per such path.
 *
 * A Slot is indexed once, when its entry is created with the next `seq`, so adding appends;
 * membership is a binary search on `seq` (unique per keyspace); removal splices one chunk of at
 * most about CHUNK Slots. Unlike a Set's, an iteration does not survive a removal behind it:
 * a reader that yields while others may write must iterate a copy (`toArray`).
 */
import type { Slot } from './slot';

/**
 * Slots per chunk: a removal moves at most this many pointers. 212 is a capacity V8 grows a
 * pushed array through (1, 17, 41, 77, 131, 212: each old + old / 2 + 16), so a full chunk has
 * no spare capacity and needs no copy; at 256 it had grown to 334 and was copied to its size,
 * the discarded stores (~3 pointers an entry) staying in RSS after GC. 1M object keys with
 * `indexes: ['age']`: RSS retained 223 → 203–209 MB (one run each, 2026-12-02).
 */
const CHUNK = 212;

/** See the file comment. */
export class SlotRun implements Iterable<Slot> {
  private readonly chunks: Slot[][] = [];
  /**
   * The chunk being appended to, once the run holds a full chunk: made at its full size (CHUNK,
   * holes past `filling`) and not yet in `chunks`. Growing it by push instead copies it through
   * 1, 17, 41, 77 and 131 slots, and a big run fills a chunk slowly (a path with 100 values:
   * 21,200 sets), so those copies were promoted before they died. 1M object keys, every path
   * indexed: old space used 220 → 218 MB (five runs; RSS moves by less than its run-to-run
   * spread); queries' CPU unchanged within 3%. Any other operation settles it first (`settle`),
   * so readers only ever see exact-length chunks. A run of CHUNK Slots or fewer never has one: a
   * small run would pay for the whole chunk.
   */
  private tail: Slot[] | undefined = undefined;
  /** Slots held in `tail`. */
  private filling = 0;
  /** Slots held. */
  size = 0;

  /** A run of two Slots (a value's second entry turns its lone Slot into a run). */
  constructor(first: Slot, second: Slot) {
    this.add(first);
    this.add(second);
  }

  /** Adds `slot` in `seq` order; adding one already held changes nothing. */
  add(slot: Slot): void {
    const tail = this.tail;
    if (tail !== undefined) {
      if (tail[this.filling - 1].seq < slot.seq) {
        tail[this.filling++] = slot;
        this.size++;
        if (this.filling === CHUNK) {
          this.chunks.push(tail);
          this.tail = undefined;
        }
        return;
      }
      this.settle();
    }
    const chunks = this.chunks;
    const last = chunks[chunks.length - 1];
    if (last === undefined || last[last.length - 1].seq < slot.seq) {
      // The usual case: the newest entry goes at the end.
      if (last === undefined) chunks.push([slot]);
      else if (last.length < CHUNK) last.push(slot);
      else this.startTail(slot);
      this.size++;
      return;
    }
    const [c, i] = this.locate(slot.seq);
    if (c < chunks.length && i < chunks[c].length && chunks[c][i] === slot) return;
    chunks[c].splice(i, 0, slot);
    this.size++;
  }

  has(slot: Slot): boolean {
    this.settle();
    const [c, i] = this.locate(slot.seq);
    return c < this.chunks.length && this.chunks[c][i] === slot;
  }

  /** Removes `slot`; returns whether it was held. */
  delete(slot: Slot): boolean {
    this.settle();
    const [c, i] = this.locate(slot.seq);
    const chunk = this.chunks[c];
    if (chunk === undefined || chunk[i] !== slot) return false;
    if (chunk.length === 1) this.chunks.splice(c, 1);
    else chunk.splice(i, 1);
    this.size--;
    return true;
  }

  /** The chunks, oldest first, for loops that index them (the iterator costs ~4× more per Slot); read only. */
  get parts(): readonly (readonly Slot[])[] {
    this.settle();
    return this.chunks;
  }

  /** The oldest Slot held (never in the tail chunk, which only follows a full one). */
  first(): Slot | undefined {
    return this.chunks[0]?.[0];
  }

  /** The newest Slot held. */
  last(): Slot | undefined {
    this.settle();
    const chunk = this.chunks[this.chunks.length - 1];
    return chunk?.[chunk.length - 1];
  }

  /** A copy, for a reader that yields between Slots. */
  toArray(): Slot[] {
    this.settle();
    if (this.chunks.length === 1) return this.chunks[0].slice();
    // A plain copy loop: Array.prototype.flat is ten times slower here.
    const out: Slot[] = new Array<Slot>(this.size);
    let n = 0;
    for (const chunk of this.chunks) for (let i = 0; i < chunk.length; i++) out[n++] = chunk[i];
    return out;
  }

  [Symbol.iterator](): Iterator<Slot> {
    this.settle();
    return new RunIterator(this.chunks);
  }

  /** Starts a full-size tail chunk with `slot` (the last chunk is full). */
  private startTail(slot: Slot): void {
    const tail = new Array<Slot>(CHUNK);
    tail[0] = slot;
    this.tail = tail;
    this.filling = 1;
  }

  /**
   * Puts the tail chunk, cut to the Slots it holds, at the end of `chunks`. Setting the length
   * keeps the array (V8 trims its store in place, no copy); later appends grow it by push.
   */
  private settle(): void {
    const tail = this.tail;
    if (tail === undefined) return;
    tail.length = this.filling;
    this.chunks.push(tail);
    this.tail = undefined;
  }

  /**
   * Where `seq` is or would go: the first chunk whose last Slot's seq is at least `seq` (the
   * last chunk when none is), and the position of the first Slot there with seq ≥ `seq`.
   */
  private locate(seq: number): [number, number] {
    const chunks = this.chunks;
    let lo = 0;
    let hi = chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const chunk = chunks[mid];
      if (chunk[chunk.length - 1].seq < seq) lo = mid + 1;
      else hi = mid;
    }
    const chunk = chunks[lo];
    if (chunk === undefined) return [0, 0];
    let a = 0;
    let b = chunk.length;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (chunk[mid].seq < seq) a = mid + 1;
      else b = mid;
    }
    return [lo, a];
  }
}

/** Walks the chunks in order (no generator: this is the index walks' inner loop). */
class RunIterator implements Iterator<Slot> {
  private c = 0;
  private i = 0;

  constructor(private readonly chunks: Slot[][]) {}

  next(): IteratorResult<Slot> {
    const chunks = this.chunks;
    while (this.c < chunks.length) {
      const chunk = chunks[this.c];
      if (this.i < chunk.length) return { value: chunk[this.i++], done: false };
      this.c++;
      this.i = 0;
    }
    return { value: undefined, done: true };
  }
}
