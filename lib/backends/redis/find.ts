/**
 * Queries (`find`, `deleteMatching`, `count`): everything, or one equality that is the whole
 * query, walks its sorted set and reads the entries in the same script (WALK); any other query
 * takes its candidates from walk.ts and reads them a batch at a time (FETCH). Expiry is checked
 * as each entry is yielded (SPEC §12).
 */
import type { Selector } from '../../query';
import type { EntryWithExpiry, FindOptions, StoredEntry } from '../../store';
import type { RedisBackend } from './backend';
import { entriesOfBatches, liveNow } from '../../core/found-batches';
import { corrupt, rethrow } from './errors';
import { Candidate, UnparsedCandidate } from './ids';
import { FETCH_SCRIPT, WALK_SCRIPT } from './read-scripts';
import { FoundEntry } from './found-entry';
import { drop } from './sweeping';
import { sortedCandidates } from './sorted';
import { candidates } from './walk';

/**
 * Live entries matching the selector, in creation order or by `options.sort` (sorted.ts),
 * leaving out the first `options.skip` and stopping after `options.limit`.
 */
export function find(b: RedisBackend, selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
  return entriesOfBatches(findBatches(b, selector, options), b.clock);
}

/** `find` a batch at a time, as each round trip reads them (Backend.findBatches): what `get` collects. */
export async function* findBatches(b: RedisBackend, selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry[]> {
  const limit = options.limit ?? Infinity;
  const skip = options.skip ?? 0;
  if (limit <= 0) return;
  if (options.sort !== undefined && options.sort.length > 0) {
    yield* readInOrder(b, sortedCandidates(b, selector, options.sort, skip + limit, options.values), options.values, skip, limit);
    return;
  }
  const direct = directSet(b, selector);
  if (direct !== undefined) {
    yield* walkAndRead(b, direct, options.values, skip, limit);
    return;
  }
  yield* readInOrder(b, candidates(b, selector), options.values, skip, limit);
}

/** Reads the live entries among candidates, keeping their order (fetchEntries, or a sharded namespace's per shard). */
export type ReadCandidates = (batch: Candidate[], values: boolean) => Promise<StoredEntry[]>;

/**
 * Reads candidates given in their final order, a slice of at most `batchSize` at a time: the
 * first `skip` live ones are only checked for liveness (their values are not read), then up to
 * `limit` are yielded, a batch of the live ones per slice read. Once skipping is done, the next
 * slice is read while this one is handed out, when the caller wants more than it holds (so a
 * long read is not one round trip after another). `b` gives the settings and the clock; `read`
 * reads a slice (default: fetchEntries on `b`).
 */
export async function* readInOrder(
  b: RedisBackend,
  batches: AsyncIterable<Candidate[]>,
  values: boolean,
  skip: number,
  limit: number,
  read: ReadCandidates = (batch, want) => fetchEntries(b, batch, want),
): AsyncGenerator<StoredEntry[]> {
  let remaining = limit;
  let skipping = skip;
  const size = b.settings.batchSize;
  const source = batches[Symbol.asyncIterator]();
  let pending: Candidate[] = [];
  let at = 0;
  /** The next slice of at most `most` candidates; undefined once there are none. */
  const nextSlice = async (most: number): Promise<Candidate[] | undefined> => {
    while (at >= pending.length) {
      const next = await source.next();
      if (next.done) return undefined;
      pending = next.value;
      at = 0;
    }
    const slice = pending.slice(at, at + most);
    at += slice.length;
    return slice;
  };
  let ahead: Promise<StoredEntry[] | undefined> | undefined;
  try {
    while (remaining > 0) {
      let entries: StoredEntry[] | undefined;
      if (ahead !== undefined) {
        entries = await ahead;
        ahead = undefined;
      } else {
        const slice = await nextSlice(Math.min(size, skipping + remaining));
        if (slice !== undefined) entries = await read(slice, values && skipping === 0);
        if (entries !== undefined && skipping > 0) {
          const live = entries.filter((entry) => liveNow(entry, b.clock));
          const left = live.slice(Math.min(skipping, live.length));
          skipping -= live.length - left.length;
          entries = values && left.length > 0 ? await read(left as unknown as Candidate[], true) : left;
        }
      }
      if (entries === undefined) return;
      if (skipping === 0 && remaining > entries.length) {
        ahead = nextSlice(Math.min(size, remaining - entries.length)).then((slice) => (slice === undefined ? undefined : read(slice, values)));
        ahead.catch(() => undefined); // awaited on the next turn, unless the caller stops first
      }
      // Expiry is checked as the batch is yielded (SPEC §12): the iteration may have outlived an entry.
      const live: StoredEntry[] = [];
      for (let i = 0; i < entries.length && remaining > 0; i++) {
        if (!liveNow(entries[i], b.clock)) continue;
        live.push(entries[i]);
        remaining--;
      }
      if (live.length > 0) yield live;
    }
  } finally {
    await source.return?.(undefined);
  }
}

/** The one sorted set whose every member matches the selector, when there is one. */
function directSet(b: RedisBackend, selector: Selector): string | undefined {
  if (selector.kind === 'all') return b.layout.order;
  if (selector.kind === 'query' && selector.coveredByConstraints && selector.constraints.length === 1) {
    const { path, values } = selector.constraints[0];
    if (values.length === 1) return b.layout.indexFor(path, values[0]);
  }
  return undefined;
}

/** Walks a sorted set and reads its entries in the same round trip, a batch at a time, leaving out the first `skip` live ones. */
async function* walkAndRead(b: RedisBackend, set: string, values: boolean, skip: number, limit: number): AsyncGenerator<StoredEntry[]> {
  let cursor = '-inf';
  let remaining = limit;
  let skipping = skip;
  for (;;) {
    const step = Math.min(b.settings.batchSize, remaining + skipping);
    const l = b.layout;
    const reply = (await WALK_SCRIPT.run(b.querySend, [set], [cursor, step, b.clock.now(), values ? '1' : '0', l.entryPrefix, l.chunkPrefix]).catch(
      rethrow,
    )) as Array<string | number>;
    const live: StoredEntry[] = [];
    for (let i = 2; i < reply.length && remaining > 0; i += 2) {
      const id = reply[i] as string;
      const read = entryFrom(b, id, reply[i + 1], values, true);
      const found = read instanceof Promise ? await read : read; // a streamed value is read whole
      // Expiry is checked as each entry is taken (SPEC §12): a streamed value's read takes a while.
      if (found === undefined || (found.expiresAt !== null && found.expiresAt <= b.clock.now())) continue;
      if (skipping > 0) {
        skipping--;
        continue;
      }
      live.push(asFound(id, found));
      remaining--;
    }
    if (live.length > 0) yield live;
    if (remaining <= 0 || Number(reply[0]) < step) return;
    cursor = '(' + (reply[1] as string);
  }
}

/** Removes every entry matching the selector, a batch at a time; resolves how many. */
export async function deleteMatching(b: RedisBackend, selector: Selector): Promise<number> {
  let removed = 0;
  for await (const found of candidates(b, selector)) {
    // A member that is not a key matches no query; deleting everything takes it too.
    const batch = selector.kind === 'all' ? found : found.filter((c) => c.key !== undefined);
    if (batch.length > 0) removed += await drop(b, batch.map((c) => c.id), 'd', batch);
  }
  return removed;
}

/** How many live entries match: a set's size when one set holds exactly the matches, else by walking them. */
export async function count(b: RedisBackend, selector: Selector): Promise<number> {
  // Counting a whole set is exact once the records of expired entries are gone.
  if (selector.kind === 'all') {
    await b.sweep();
    return b.piped((c) => c.zcard(b.layout.order)).catch(rethrow);
  }
  if (selector.kind === 'query' && selector.coveredByConstraints && selector.constraints.length === 1 && selector.constraints[0].values.length === 1) {
    const { path, values } = selector.constraints[0];
    await b.sweep();
    return b.piped((c) => c.zcard(b.layout.indexFor(path, values[0]))).catch(rethrow);
  }
  let n = 0;
  for await (const batch of findBatches(b, selector, { values: false })) n += batch.length;
  return n;
}

/**
 * Reads the live entries among the candidates (one round trip), keeping their order: values
 * by one MGET (the exact reads' command, read as getOne reads them), heads only by FETCH_SCRIPT.
 */
export async function fetchEntries(b: RedisBackend, batch: Candidate[], values: boolean): Promise<StoredEntry[]> {
  const l = b.layout;
  if (values) return fetchValues(b, batch);
  const reply = (await FETCH_SCRIPT.run(
    b.querySend,
    batch.map((c) => l.entry(c.id)),
    [b.clock.now(), values ? '1' : '0', l.entryPrefix.length, l.chunkPrefix],
  ).catch(rethrow)) as Array<string | number>;
  const out: StoredEntry[] = [];
  for (let i = 0; i < batch.length; i++) {
    const { id, key } = batch[i];
    const read = entryFrom(b, id, reply[i], values);
    const found = read instanceof Promise ? await read : read; // a streamed value is read whole
    if (found === undefined) continue;
    if (key === undefined) throw corrupt(id, 'its id is not a key the store writes');
    out.push({ id, key, value: found.value, expiresAt: found.expiresAt });
  }
  return out;
}

/** fetch with values: one MGET of the entry strings not read yet (Candidate.entry), each read by RedisBackend.entryOf. */
async function fetchValues(b: RedisBackend, batch: Candidate[]): Promise<StoredEntry[]> {
  const names: string[] = [];
  for (const c of batch) if (c.entry === undefined) names.push(b.layout.entry(c.id));
  const reply = names.length === 0 ? [] : ((await b.querySend('mget', names).catch(rethrow)) as Array<string | null>);
  const now = b.clock.now();
  const out: StoredEntry[] = [];
  let r = 0;
  for (let i = 0; i < batch.length; i++) {
    const c = batch[i];
    const { id, entry } = c;
    const stored = entry === undefined ? reply[r++] : typeof entry === 'number' ? null : entry;
    const unparsed = c instanceof UnparsedCandidate;
    const read = b.entryOf(id, stored, now, true, unparsed);
    const found = read instanceof Promise ? await read : read; // a streamed value is read whole
    if (found === undefined) continue;
    if (unparsed) {
      out.push(asFound(id, found));
      continue;
    }
    if (c.key === undefined) throw corrupt(id, 'its id is not a key the store writes');
    out.push({ id, key: c.key, value: found.value, expiresAt: found.expiresAt });
  }
  return out;
}

/**
 * An entry as a read script returned it (see EMIT: the entry string, or 0 when absent or
 * expired), with its value when `values` is set; undefined if it is gone. A promise only for a
 * streamed value, so a walk of plain values takes no async step per entry.
 */
function entryFrom(
  b: RedisBackend,
  id: string,
  stored: string | number,
  values: boolean,
  found = false,
): EntryWithExpiry | undefined | Promise<EntryWithExpiry | undefined> {
  return typeof stored === 'number' ? undefined : b.entryOf(id, stored, b.clock.now(), values, found); // replaced meanwhile: undefined
}

/** A read entry as a FoundEntry: the one entryOf made (`found`), or one made now (no value read, a streamed value). */
function asFound(id: string, entry: EntryWithExpiry): FoundEntry {
  return entry instanceof FoundEntry ? entry : new FoundEntry(id, entry.value, entry.expiresAt);
}
