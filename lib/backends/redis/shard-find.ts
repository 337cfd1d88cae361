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

/** Live entries matching the selector over every shard, in creation or sort order, after `skip`, at most `limit`: a batch per read (Backend.findBatches). */
export async function* shardedFindBatches(front: ShardedRedisBackend, selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry[]> {
  const limit = options.limit ?? Infinity;
  const skip = options.skip ?? 0;
  if (limit <= 0) return;
  const sort = options.sort !== undefined && options.sort.length > 0 ? options.sort : undefined;
  const sources = front.shards.map((shard) => (sort ? sortedCandidates(shard, selector, sort, skip + limit) : candidates(shard, selector, skip + limit)));
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
    const heads = new HeadHeap((x, y) => before(x.batch[x.at], y.batch[y.at]) < 0);
    for (const head of await Promise.all(sources.map(next))) if (head !== undefined) heads.push(head);
    let out: Candidate[] = [];
    while (heads.size > 0) {
      const head = heads.top;
      out.push(head.batch[head.at++].candidate);
      if (out.length >= size) {
        yield out;
        out = [];
      }
      heads.replaceTop(head.at < head.batch.length ? head : await next(head.source));
    }
    if (out.length > 0) yield out;
  } finally {
    // A query stopped early (limit reached, the caller gone) releases what the shards' walks hold.
    await Promise.all(sources.map((source) => source.return(undefined))).catch(() => undefined);
  }
}

/** A binary heap of the shards' lists by their next candidate: a merge step costs log(shards) comparisons. */
class HeadHeap {
  private readonly items: Head[] = [];

  constructor(private readonly less: (x: Head, y: Head) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  /** The list whose next candidate comes first. */
  get top(): Head {
    return this.items[0];
  }

  push(head: Head): void {
    const items = this.items;
    let i = items.length;
    items.push(head);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  /** Puts the top list back after it advanced, or removes it (undefined: exhausted). */
  replaceTop(head: Head | undefined): void {
    const items = this.items;
    const last = items.pop()!;
    if (head !== undefined) {
      if (items.length === 0) return void items.push(head);
      items.push(last);
      items[0] = head;
    } else if (items.length === 0) return;
    else items[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let first = i;
      if (l < items.length && this.less(items[l], items[first])) first = l;
      if (r < items.length && this.less(items[r], items[first])) first = r;
      if (first === i) return;
      [items[i], items[first]] = [items[first], items[i]];
      i = first;
    }
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
