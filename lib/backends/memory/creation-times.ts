/**
 * When each Slot of a keyspace was created (getMeta, SPEC §16), found from its `seq` (slot.ts)
 * instead of a field of its own. Every new Slot takes the keyspace's next seq, so creation
 * times are a step function of seq: this keeps only its steps, a (seq, time) pair wherever the
 * time differs from the one before. An entry's time is that of the last step at or below its
 * seq. Memory decides it: entries written in bulk share a millisecond by the thousand, and the
 * field cost 8 bytes an entry (1M object keys, every path indexed: 8 MB; ParsedSlot 64 → 56
 * bytes), where steps cost 8 bytes each; entries each created in a millisecond of their own cost
 * what the field did.
 *
 * Steps whose entries have all gone are dropped by `keep`, which the keyspace calls when the
 * steps outnumber twice its entries (amortized: a rebuild after as many creations as it keeps).
 *
 * The columns start as Uint32Arrays (bare-entries.ts does the same with its times): the first
 * seq or time that does not fit (a time before the keyspace's base, a fractional or late one: a
 * given clock may do anything) moves both to Float64Arrays, once, for good.
 */

/** Steps the columns start with; they double as they fill. */
const INITIAL_CAPACITY = 16;

/** See the file comment. */
export class CreationTimes {
  private seqs: Uint32Array | Float64Array = new Uint32Array(INITIAL_CAPACITY);
  private times: Uint32Array | Float64Array = new Uint32Array(INITIAL_CAPACITY);
  private count = 0;

  /** Steps held. */
  get size(): number {
    return this.count;
  }

  /** Records that the Slot numbered `seq`, above every seq noted before, was created at `at`. */
  note(seq: number, at: number): void {
    const n = this.count;
    if (n > 0 && this.times[n - 1] === at) return;
    if ((at >>> 0 !== at || seq >>> 0 !== seq) && this.seqs instanceof Uint32Array) this.widen();
    if (n === this.seqs.length) this.resize(n * 2);
    this.seqs[n] = seq;
    this.times[n] = at;
    this.count = n + 1;
  }

  /** The creation time of the Slot numbered `seq` (one noted, or made after one noted at the same time). */
  at(seq: number): number {
    const seqs = this.seqs;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqs[mid] <= seq) lo = mid + 1;
      else hi = mid;
    }
    return this.times[lo - 1];
  }

  /** Keeps only the steps the Slots numbered `live` need; `live` must be ascending. */
  keep(live: ArrayLike<number>): void {
    const kept = new CreationTimes();
    if (this.seqs instanceof Float64Array) kept.widen();
    for (let i = 0; i < live.length; i++) kept.note(live[i], this.at(live[i]));
    kept.resize(Math.max(INITIAL_CAPACITY, kept.count));
    this.seqs = kept.seqs;
    this.times = kept.times;
    this.count = kept.count;
  }

  clear(): void {
    this.seqs = new Uint32Array(INITIAL_CAPACITY);
    this.times = new Uint32Array(INITIAL_CAPACITY);
    this.count = 0;
  }

  /** Whether the columns are 64-bit; tests read it. */
  get wide(): boolean {
    return this.seqs instanceof Float64Array;
  }

  private widen(): void {
    this.seqs = Float64Array.from(this.seqs);
    this.times = Float64Array.from(this.times);
  }

  /** Makes the columns `capacity` steps long, keeping the steps held. */
  private resize(capacity: number): void {
    if (capacity === this.seqs.length) return;
    const Column = this.seqs instanceof Float64Array ? Float64Array : Uint32Array;
    const seqs = new Column(capacity);
    const times = new Column(capacity);
    seqs.set(this.seqs.subarray(0, this.count));
    times.set(this.times.subarray(0, this.count));
    this.seqs = seqs;
    this.times = times;
  }
}
