/**
 * Queries over a sharded namespace (shards.ts): every shard lists its candidates in its own
 * order (creation order, or the sort's, from walk.ts and sorted.ts, ids and sequences only),
 * the lists are merged here into the namespace's order, and only then are skip and limit
 * applied and values read (readInOrder, find.ts), one MGET per shard per batch. Each shard is
 * asked for at most skip + limit candidates' worth of pages (sortedCandidates' `wanted`), so a
 * small page reads little from every shard.
 *
 * Order: creation order is the client-assigned sequence (sequence.ts), then the id (two
 * processes may assign the same sequence); with a sort, lib/query-sort.ts's order on the sort
 * keys, then creation order — as one shard orders its own candidates, so merging sorted lists
 * gives the order one unsharded namespace would.
 */
import type { Selector } from '../../query';
import { SortSpec, compareKeyLists, sortKeysOf } from '../../query-sort';
import type { FindOptions, StoredEntry } from '../../store';
import type { RedisBackend } from './backend';
import { fetchEntries, readInOrder } from './find';
import type { Candidate } from './ids';
import type { ShardedRedisBackend } from './shards';
import { shardIndex } from './shards';
import { sortedCandidates } from './sorted';
import { candidates } from './walk';

/** A candidate as the merge compares it: with its sort keys when there is a sort. */
interface Ranked {
  candidate: Candidate;
  keys: unknown[] | undefined;
}

/** One shard's list while it is merged: its current batch and where the merge is in it. */
interface Head {
  batch: Ranked[];
  at: number;
  source: AsyncGenerator<Candidate[]>;
}

/** Live entries matching the selector over every shard, in creation or sort order, after `skip`, at most `limit`. */
export async function* shardedFind(front: ShardedRedisBackend, selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
  const limit = options.limit ?? Infinity;
  const skip = options.skip ?? 0;
  if (limit <= 0) return;
  const sort = options.sort !== undefined && options.sort.length > 0 ? options.sort : undefined;
  const sources = front.shards.map((shard) => (sort ? sortedCandidates(shard, selector, sort, skip + limit) : candidates(shard, selector)));
  const size = Math.max(1, Math.min(front.settings.batchSize, skip + limit));
  yield* readInOrder(front, merge(sources, sort, size), options.values, skip, limit, (batch, values) => readSharded(front, batch, values));
}

/** Creation order: the sequence, then the id. */
function byCreation(a: Candidate, b: Candidate): number {
  return a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The candidate lists of the shards merged into one, in batches of `size` (each list is in this order already). */
async function* merge(sources: Array<AsyncGenerator<Candidate[]>>, sort: SortSpec | undefined, size: number): AsyncGenerator<Candidate[]> {
  const rank = (c: Candidate): Ranked => ({ candidate: c, keys: sort === undefined ? undefined : c.key === undefined ? sort.map(() => null) : sortKeysOf(c.key, sort) });
  const before = (x: Ranked, y: Ranked) =>
    (sort === undefined ? 0 : compareKeyLists(x.keys as unknown[], y.keys as unknown[], sort)) || byCreation(x.candidate, y.candidate);
  const next = async (source: AsyncGenerator<Candidate[]>): Promise<Head | undefined> => {
    for (;;) {
      const step = await source.next();
      if (step.done) return undefined;
      if (step.value.length > 0) return { batch: step.value.map(rank), at: 0, source };
    }
  };
  try {
    const heads = await Promise.all(sources.map(next));
    let out: Candidate[] = [];
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i];
        if (head !== undefined && (best < 0 || before(head.batch[head.at], heads[best]!.batch[heads[best]!.at]) < 0)) best = i;
      }
      if (best < 0) break;
      const head = heads[best]!;
      out.push(head.batch[head.at++].candidate);
      if (out.length >= size) {
        yield out;
        out = [];
      }
      if (head.at === head.batch.length) heads[best] = await next(head.source);
    }
    if (out.length > 0) yield out;
  } finally {
    // A query stopped early (limit reached, the caller gone) releases what the shards' walks hold.
    await Promise.all(sources.map((source) => source.return(undefined))).catch(() => undefined);
  }
}

/** Reads a batch of candidates of several shards: one read per shard, in parallel, the entries back in the batch's order. */
async function readSharded(front: ShardedRedisBackend, batch: Candidate[], values: boolean): Promise<StoredEntry[]> {
  const n = front.shards.length;
  const groups: Candidate[][] = new Array(n);
  for (const c of batch) (groups[shardIndex(c.id, n)] ??= []).push(c);
  const reads: Array<Promise<StoredEntry[]>> = [];
  groups.forEach((group, s) => reads.push(fetchEntries(front.shards[s] as RedisBackend, group, values)));
  if (reads.length === 1) return reads[0];
  const found = new Map<string, StoredEntry>();
  for (const entries of await Promise.all(reads)) for (const entry of entries) found.set(entry.id, entry);
  const out: StoredEntry[] = [];
  for (const c of batch) {
    const entry = found.get(c.id);
    if (entry !== undefined) out.push(entry);
  }
  return out;
}
