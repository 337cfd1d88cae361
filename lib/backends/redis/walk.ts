/**
 * The candidates of a query, in creation order and in batches, without reading values: through
 * the index sets of its narrowest constraint when it has an indexable one (merged in the
 * client, or for a long `$in` on the server), otherwise by walking the order set. Each batch is
 * already filtered on the key; find.ts reads the entries.
 */
import { StorageOperationError } from '../../errors';
import { isObjectKeyId } from '../../keys';
import type { IndexConstraint, QuerySelector, Selector } from '../../query';
import type { RedisBackend } from './backend';
import { rethrow } from './errors';
import { Candidate, objectKeyOf } from './ids';
import { scoreOf } from './ordered';
import { rangeCandidates } from './ranges';
import { UNION_SCRIPT } from './read-scripts';
import { REDIS_DEFAULTS } from './settings';

/**
 * Most index sets a query walk merges in the client, reading up to `batchSize` ids from each
 * per step. A longer `$in` is merged on the server first (see walkUnion), or, past
 * SERVER_MERGE_BATCHES, in the client a few ids per set at a time, so a query's memory stays
 * bounded whatever its length.
 */
const CLIENT_MERGE_MAX = 16;

/**
 * The server merges a long `$in` only when its index sets hold at most this many batches of
 * ids in all: ZUNIONSTORE runs as one command, and merging millions of ids would hold the
 * server (every namespace on it) for seconds.
 */
const SERVER_MERGE_BATCHES = 100;

/** Fewest ids read from each index set per step when the client merges very many sets. */
const MIN_READ_PER_SET = 16;

/** ZRANGE ... WITHSCORES as [member, score] pairs, under RESP2 (flat) or RESP3 (nested). */
export function scored(reply: unknown): Array<[string, number]> {
  const items = reply as unknown[];
  const out: Array<[string, number]> = [];
  if (items.length > 0 && Array.isArray(items[0])) {
    for (const pair of items as Array<[string, string | number]>) out.push([String(pair[0]), scoreOf(pair[1])]);
  } else {
    for (let i = 0; i < items.length; i += 2) out.push([String(items[i]), scoreOf(items[i + 1] as string)]);
  }
  return out;
}

/** Fewest ids of the first page of a walk that knows how many entries its caller wants. */
const FIRST_PAGE = 32;

/**
 * Candidate entries in creation order, in batches, already filtered on the key: through an
 * index when the query has an indexable constraint, otherwise by walking the order set.
 * `wanted` (skip + limit, when the caller stops there: a shard of a sharded query) makes the
 * walk's first page that size (at least FIRST_PAGE), doubling up to batchSize after it.
 */
export async function* candidates(b: RedisBackend, selector: Selector, wanted = Infinity): AsyncGenerator<Candidate[]> {
  const first = Math.min(b.settings.batchSize, Math.max(FIRST_PAGE, wanted));
  if (selector.kind === 'query') {
    const found = await rangeCandidates(b, selector);
    if (found !== undefined) {
      // Handed out batch by batch and let go of: the candidates read already are garbage before the call ends.
      const batches: Candidate[][] = [];
      for (let i = 0; i < found.length; i += b.settings.batchSize) batches.push(found.slice(i, i + b.settings.batchSize));
      found.length = 0;
      for (let batch = batches.shift(); batch !== undefined; batch = batches.shift()) yield batch;
      return;
    }
  }
  if (selector.kind === 'query' && (selector.constraints.length > 0 || selector.orConstraints)) {
    yield* indexCandidates(b, selector, first);
    return;
  }
  for await (const pairs of walk(b, [b.layout.order], first, b.settings.batchSize)) {
    const out: Candidate[] = [];
    for (const [id, seq] of pairs) {
      const objectKey = isObjectKeyId(id);
      switch (selector.kind) {
        case 'all':
          out.push({ id, key: objectKey ? objectKeyOf(id) : id, seq });
          break;
        case 'glob':
          if (!objectKey && selector.regex.test(id)) out.push({ id, key: id, seq });
          break;
        case 'query':
          if (objectKey) {
            const key = objectKeyOf(id);
            if (key === undefined || selector.test(key)) out.push({ id, key, seq });
          }
          break;
      }
    }
    yield out;
  }
}

/**
 * The non-empty index sets of the constraint with the fewest hits (the one that narrows
 * best), or none when some constraint has no hit at all (then nothing can match).
 */
async function narrowest(b: RedisBackend, constraints: IndexConstraint[]): Promise<{ keys: string[]; hits: number }> {
  const options = constraints.map((c) => [...new Set(c.values.map((v) => b.layout.indexFor(c.path, v)))]);
  const sizes = await Promise.all(options.map((keys) => Promise.all(keys.map((k) => b.piped((c) => c.zcard(k)))))).catch(rethrow);
  let best = 0;
  let bestSize = Infinity;
  sizes.forEach((counts, i) => {
    const total = counts.reduce((a, b) => a + b, 0);
    if (total < bestSize) {
      bestSize = total;
      best = i;
    }
  });
  return bestSize === 0 ? { keys: [], hits: 0 } : { keys: options[best].filter((_, i) => sizes[best][i] > 0), hits: bestSize };
}

async function* indexCandidates(b: RedisBackend, selector: QuerySelector, first: number): AsyncGenerator<Candidate[]> {
  let keys: string[];
  let hits: number;
  if (selector.constraints.length > 0) ({ keys, hits } = await narrowest(b, selector.constraints));
  else {
    // A top-level $or: the union of each branch's narrowest index sets.
    const perBranch = await Promise.all((selector.orConstraints ?? []).map((branch) => narrowest(b, branch)));
    keys = [...new Set(perBranch.flatMap((branch) => branch.keys))];
    hits = perBranch.reduce((sum, branch) => sum + branch.hits, 0);
  }
  if (keys.length === 0) return;
  // One equality that is the whole query: index hits need no further test.
  const exact = selector.coveredByConstraints && selector.constraints.length === 1;
  let batches: AsyncGenerator<Array<[string, number]>>;
  if (keys.length <= CLIENT_MERGE_MAX) batches = walk(b, keys, first, b.settings.batchSize);
  else if (hits <= SERVER_MERGE_BATCHES * b.settings.batchSize) batches = walkUnion(b, keys);
  // Too many to merge in one script without stalling the server: merge in the client, a few
  // ids from each set per step, so memory stays about max(16 × sets, batchSize) ids.
  else batches = walk(b, keys, Math.max(MIN_READ_PER_SET, Math.ceil(b.settings.batchSize / keys.length)));
  for await (const pairs of batches) {
    const out: Candidate[] = [];
    for (const [id, seq] of pairs) {
      const key = objectKeyOf(id);
      if (key === undefined || exact || selector.test(key)) out.push({ id, key, seq });
    }
    yield out;
  }
}

/**
 * walk() over more sets than CLIENT_MERGE_MAX (a long `$in`): they are merged on the server
 * into a temporary set of the namespace's slot (UNION_SCRIPT), which is walked alone, so
 * the client holds one batch at a time however long the list is. The set has a lease that
 * the walk renews; it is removed when the walk ends or is abandoned, and expires by itself if
 * this process dies.
 */
async function* walkUnion(b: RedisBackend, keys: string[]): AsyncGenerator<Array<[string, number]>> {
  const tmp = b.layout.temp();
  const lease = REDIS_DEFAULTS.streamLeaseMs;
  try {
    const merged = Number(await UNION_SCRIPT.run(b.pipedSend, [tmp, ...keys], [lease]).catch(rethrow));
    if (merged === 0) return;
    let renewed = Date.now();
    for await (const ids of walk(b, [tmp])) {
      yield ids;
      if (Date.now() - renewed > lease / 4) {
        renewed = Date.now();
        // A reader that paused past the lease must not see a silently shortened result.
        if ((await b.piped((c) => c.pexpire(tmp, lease)).catch(rethrow)) === 0) {
          throw new StorageOperationError(`a query's merged index set expired: it was paused for more than ${lease} ms`);
        }
      }
    }
  } finally {
    // Best effort: if Redis cannot be reached now, the lease removes the set.
    await b.piped((c) => c.unlink(tmp)).catch(() => undefined);
  }
}

/**
 * Ids of the union of sorted sets with their scores, in score (creation) order, a batch at a time: each set is
 * read from the last score seen, `per` ids at most, and only the ids up to the lowest last
 * score among the sets that filled their window are taken (at most `batchSize` of them), so
 * nothing below the new cursor can have been missed. `per` doubles after each step up to `maxPer`.
 *
 * Equal scores: a namespace's own counter never repeats a sequence, so the next step starts
 * just above the last score. A sharded namespace's sequences come from the clients (sequence.ts)
 * and two processes can give the same one, so there the next step starts AT the last score,
 * reads as many more ids as were already taken at it, and leaves those out: a page boundary
 * inside a group of equal scores neither skips nor repeats an id.
 */
export async function* walk(b: RedisBackend, keys: string[], per = b.settings.batchSize, maxPer = per): AsyncGenerator<Array<[string, number]>> {
  let cursor = '-inf';
  const size = b.settings.batchSize;
  /** With repeatable scores: the ids already taken at the cursor's score. */
  let takenAtCursor: Set<string> | undefined;
  for (;;) {
    const window = per + (takenAtCursor?.size ?? 0);
    const replies = await Promise.all(
      keys.map((k) => b.piped((c) => c.zrange(k, cursor, '+inf', 'BYSCORE', 'LIMIT', 0, window, 'WITHSCORES'))),
    ).catch(rethrow);
    let pairs: Array<[string, number]>;
    let exhausted: boolean;
    if (replies.length === 1) {
      pairs = scored(replies[0]);
      exhausted = pairs.length < window;
      if (takenAtCursor !== undefined) pairs = pairs.filter((p) => !takenAtCursor!.has(p[0]));
    } else {
      let cutoff = Infinity;
      const seen = new Map<string, number>();
      for (const reply of replies) {
        const list = scored(reply);
        if (list.length >= window) cutoff = Math.min(cutoff, list[list.length - 1][1]);
        for (const [id, score] of list) if (takenAtCursor === undefined || !takenAtCursor.has(id)) seen.set(id, score);
      }
      pairs = [...seen].filter((p) => p[1] <= cutoff).sort((a, b) => a[1] - b[1]);
      exhausted = cutoff === Infinity;
      if (pairs.length > size) {
        pairs.length = size;
        exhausted = false;
      }
    }
    if (pairs.length > 0) {
      yield pairs;
      const last = pairs[pairs.length - 1][1];
      if (b.sequenced) {
        const next = String(last);
        const taken = cursor === next && takenAtCursor !== undefined ? takenAtCursor : new Set<string>();
        for (let i = pairs.length - 1; i >= 0 && pairs[i][1] === last; i--) taken.add(pairs[i][0]);
        takenAtCursor = taken;
        cursor = next;
      } else {
        cursor = '(' + last;
      }
    }
    if (exhausted || pairs.length === 0) return;
    per = Math.min(per * 2, maxPer);
  }
}
