/**
 * The creation sequence of a sharded namespace (shards > 1, shards.ts). With one shard the
 * namespace's counter (`<base>c`, INCR in the write script) orders entries exactly; with
 * several, each shard's counter would only order its own shard, and a query merging the shards
 * needs one sequence comparable across them. So the client assigns it: a per-process hybrid
 * logical clock, max(Date.now() × 1000, last + 1), taken when the write is issued and used by
 * the write script only when the id is new (an overwrite keeps its old position).
 *
 * Semantics of shards > 1 (documented in the README): within one process, creation order is
 * program order exactly (the clock never goes back and never repeats); across processes it
 * follows the clients' wall clocks (entries created within a clock skew of each other by
 * different processes may list in either order; equal sequences are ordered by id).
 *
 * Range: Date.now() × 1000 is about 1.8e15 in 2026, 16 digits (SEQ_DIGITS, ordered.ts), and
 * stays below 2^53 (exact as a sorted-set score and a Lua number) until the year 2255; up to
 * 1,000 writes per millisecond per process keep pace with the wall clock, more run ahead of it
 * (still ordered) and catch up when the rate falls.
 */

let last = 0;

/** The next creation sequence of this process (see the file comment). */
export function nextSequence(): number {
  const now = Date.now() * 1000;
  last = now > last ? now : last + 1;
  return last;
}
