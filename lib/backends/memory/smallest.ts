/**
 * The `k` smallest of many items in order, without sorting them all: a page needs its size of
 * the matches, not the whole answer ordered. A bounded max-heap keeps the best `k` seen so far,
 * O(n log k); the result is sorted at the end, O(k log k).
 */

/** Collects items and hands back the `k` smallest by `compare`, ascending. */
export class Smallest<T> {
  /** A max-heap: the root is the worst of the best `k` so far. */
  private readonly heap: T[] = [];

  constructor(
    private readonly k: number,
    private readonly compare: (a: T, b: T) => number,
  ) {}

  /** Offers one item. */
  add(item: T): void {
    const heap = this.heap;
    if (this.k <= 0) return;
    if (heap.length < this.k) {
      heap.push(item);
      this.up(heap.length - 1);
    } else if (this.compare(item, heap[0]) < 0) {
      heap[0] = item;
      this.down(0);
    }
  }

  /** The items kept, smallest first. */
  sorted(): T[] {
    return this.heap.sort(this.compare);
  }

  private up(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(heap[i], heap[parent]) <= 0) return;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const c = r < n && this.compare(heap[r], heap[l]) > 0 ? r : l;
      if (this.compare(heap[i], heap[c]) >= 0) return;
      [heap[i], heap[c]] = [heap[c], heap[i]];
      i = c;
    }
  }
}
