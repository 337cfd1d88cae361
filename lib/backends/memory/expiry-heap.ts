/**
 * A binary min-heap of (expiresAt, id) so the sweep frees expired entries in O(log n) each
 * without reading or scanning live ones. Entries are never removed from the middle: when an
 * entry is overwritten or deleted its old heap item goes stale, and the sweep skips items
 * whose time no longer matches the entry's (lazy deletion).
 */
export class ExpiryHeap {
  private times: number[] = [];
  private ids: string[] = [];

  get size(): number {
    return this.times.length;
  }

  /** The earliest expiry in the heap, or Infinity. */
  peekTime(): number {
    return this.times.length > 0 ? this.times[0] : Infinity;
  }

  push(time: number, id: string): void {
    const times = this.times;
    const ids = this.ids;
    let i = times.length;
    times.push(time);
    ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (times[parent] <= time) break;
      times[i] = times[parent];
      ids[i] = ids[parent];
      i = parent;
    }
    times[i] = time;
    ids[i] = id;
  }

  /** Removes and returns the earliest item's id (call only when size > 0). */
  pop(): string {
    const times = this.times;
    const ids = this.ids;
    const top = ids[0];
    const lastTime = times.pop() as number;
    const lastId = ids.pop() as string;
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && times[child + 1] < times[child]) child++;
        if (times[child] >= lastTime) break;
        times[i] = times[child];
        ids[i] = ids[child];
        i = child;
      }
      times[i] = lastTime;
      ids[i] = lastId;
    }
    return top;
  }

  clear(): void {
    this.times = [];
    this.ids = [];
  }
}
