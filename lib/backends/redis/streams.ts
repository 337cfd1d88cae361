/**
 * Streamed values (capability valueStreams): a value written from a byte stream is a chunk
 * hash under its own generation, committed onto the entry by the write script at the end, so
 * a reader never sees half a value; a later write or delete moves the old chunks to a grace
 * key instead of freeing them, so a read already under way finishes on the value it started
 * with (docs/redis.md, "Streams").
 */
import { isPromiseLike } from '../../compression';
import { StorageOperationError } from '../../errors';
import type { Key } from '../../keys';
import { EntryWithExpiry, chunksOf, toAsync, valueBytes } from '../../store';
import type { RedisBackend } from './backend';
import { corrupt, expiryError, isWrongType, keyName, rethrow, toStoreError, validExpiry } from './errors';
import { EXPIRED, MALFORMED, graceable, headExpiry, isStreamed, liveHead, streamedOf } from './layout';
import { pushIndexes } from './batching';
import { frameChunk, unframeChunk } from '../../compressed-chunks';
import { SET_SCRIPT } from './set-scripts';
import { nextSequence } from './sequence';
import { REDIS_DEFAULTS } from './settings';

/** The chunk hash's field that marks its chunks as framed (lib/compressed-chunks.ts): written by a store with `compress`. */
const CHUNKS_FRAMED = 'z';

/**
 * Where a read of one streamed value takes its chunks from: the entry's chunk hash while the
 * value is the entry's, then, once a later write or delete has retired it, the grace key named
 * by its generation (docs/redis.md, "Streams").
 */
interface ChunkCursor {
  readonly id: string;
  readonly generation: string;
  /** The hash read now: the chunk key, or the grace key once `onGrace`. */
  key: string;
  onGrace: boolean;
  /** When this read last renewed the grace key's expiry (Date.now()), 0 before. */
  renewedAt: number;
  /** The generation the chunk key held when this read left it (null: no such hash). */
  leftBehind: string | null;
}

/** A streamed value opened for reading: its first chunk read, and where to read the others. */
interface OpenedStream {
  first: Buffer;
  count: number;
  cursor: ChunkCursor;
  expiresAt: number | null;
}

/**
 * Stores a byte stream in chunks under a temporary key of the namespace's slot, then renames
 * it onto the entry in the same script that records the entry: until that commit nothing is
 * visible, and a failed stream only leaves the temporary key, which is deleted (or expires
 * on its own after `streamLeaseMs` if this process dies). A streamed value takes no tags: the
 * commit leaves the entry untagged, dropping the tag records of the value it replaces.
 */
export async function setStream(b: RedisBackend, id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
  if (expiresAt !== null && !validExpiry(expiresAt)) throw expiryError(expiresAt);
  const l = b.layout;
  // The creation position is taken when the call starts, as for a set (SPEC §12): a set of
  // another key issued after this one commits first but must come after it in creation order.
  // A sharded namespace's sequence is the client's (sequence.ts).
  const position = b.sequenced ? Promise.resolve(nextSequence()) : b.piped((c) => c.incr(l.counter));
  position.catch(() => undefined); // answered at the commit
  const tmp = l.temp();
  const generation = tmp.slice(tmp.lastIndexOf(':') + 1);
  let chunks = 0;
  let leaseRenewed = 0;
  const compression = b.compression;
  const write = async (chunk: Buffer) => {
    const field = String(chunks++);
    const renew = Date.now() - leaseRenewed > REDIS_DEFAULTS.streamLeaseMs / 4;
    if (renew) leaseRenewed = Date.now();
    // With `compress`, every chunk is framed (lib/compressed-chunks.ts) and the hash says so
    // once, in its field `z`, written with the first chunk: the commit renames the hash whole.
    const stored = compression === null ? chunk : frameChunk(chunk, compression);
    await Promise.all([
      b.piped((c) => (compression !== null && field === '0' ? c.hset(tmp, CHUNKS_FRAMED, '1', field, stored) : c.hset(tmp, field, stored))),
      renew ? b.piped((c) => c.pexpire(tmp, REDIS_DEFAULTS.streamLeaseMs)) : undefined,
    ]).catch(rethrow);
  };
  try {
    // Pieces of at least a quarter chunk are written as they come (no copy); smaller ones are
    // gathered first, and larger ones are cut into chunkSize views.
    const gatherBelow = b.settings.chunkSize / 4;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const gathered = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await write(gathered);
    };
    for await (const piece of source) {
      if (piece.length === 0) continue;
      if (piece.length < gatherBelow) {
        pending.push(piece);
        pendingBytes += piece.length;
        if (pendingBytes >= gatherBelow) await flush();
        continue;
      }
      await flush();
      for (let offset = 0; offset < piece.length; offset += b.settings.chunkSize) await write(piece.subarray(offset, offset + b.settings.chunkSize));
    }
    await flush();
    if (chunks === 0) await write(Buffer.alloc(0));
    const e = l.entry(id);
    const keys = [e, l.chunks(id), l.order, l.expiry, l.counter, l.registry, tmp, l.entryTags, l.tagIndex];
    const reserved = await position.catch(rethrow);
    const args = [id, b.clock.now(), expiresAt === null ? '0' : expiresAt, 'c', chunks, generation, l.gracePrefix, b.settings.streamGraceMs, reserved];
    pushIndexes(l, key, keys, args);
    await SET_SCRIPT.run(b.pipedSend, keys, args).catch(rethrow);
    if (expiresAt !== null) b.connection.noteDue(b.namespace, expiresAt);
  } catch (err) {
    await b.piped((c) => c.unlink(tmp)).catch(() => undefined);
    throw err;
  }
  if (expiresAt !== null) b.sweeper.sweepIfDue();
}

/** A value's bytes as chunks (a plain value's serialized whole), or undefined when it is absent. */
export async function valueStream(b: RedisBackend, id: string): Promise<AsyncIterable<Buffer> | undefined> {
  const s = await b.getString(b.layout.entry(id));
  const k = s === null ? -1 : liveHead(s, b.clock.now());
  if (k < 0) {
    if (k === MALFORMED) throw corrupt(id, 'it has no <expiry>v or <expiry>c head');
    return undefined;
  }
  const text = s as string;
  if (!isStreamed(text, k)) {
    const value = b.parse(id, text, k);
    return toAsync(chunksOf(valueBytes(b.codec.sync || !isPromiseLike(value) ? value : await value)));
  }
  const opened = await openStreamed(b, id, text, k);
  return opened === undefined ? undefined : restOf(b, opened);
}

/** Every chunk of an opened streamed value: the first, already read, then the others. */
async function* restOf(b: RedisBackend, opened: OpenedStream): AsyncGenerator<Buffer> {
  yield opened.first;
  yield* chunksFrom(b, opened.cursor, opened.count, 1);
}

/**
 * The chunks of a streamed value from `from` on, one round trip each, from wherever its
 * generation is (see nextChunk). A value whose chunks are gone meanwhile (replaced or
 * deleted longer than the grace ago, or evicted) fails, so it is never spliced with another;
 * a chunk missing from its own generation is corrupt data. Both are ERR_STORAGE_OPERATION.
 */
async function* chunksFrom(b: RedisBackend, cursor: ChunkCursor, count: number, from: number): AsyncGenerator<Buffer> {
  for (let i = from; i < count; i++) {
    const chunk = await nextChunk(b, cursor, i);
    if (chunk === undefined) {
      throw new StorageOperationError(
        `the streamed value under key ${keyName(cursor.id)} was replaced or deleted while it was being read, and its chunks are no longer kept`,
      );
    }
    if (chunk === null) throw corrupt(cursor.id, `chunk ${i} of its ${count} is missing`);
    yield chunk;
  }
}

/**
 * Chunk `i` of the cursor's generation: read from the entry's chunk hash until that holds
 * another generation or none, then from the grace key a later write or delete moved the
 * chunks to (RETIRE in scripts.ts), renewing its expiry while this read goes on. The
 * bytes; null when the generation's hash is there but lacks the chunk (corrupt); undefined
 * when the generation is in neither place.
 */
async function nextChunk(b: RedisBackend, cursor: ChunkCursor, i: number): Promise<Buffer | null | undefined> {
  if (!cursor.onGrace) {
    const [g, chunk] = await readChunk(b, cursor.id, cursor.key, i);
    const generation = g === null ? null : g.toString();
    if (generation === cursor.generation) return chunk;
    cursor.leftBehind = generation;
    if (!graceable(cursor.generation)) return undefined;
    cursor.onGrace = true;
    cursor.key = b.layout.graceChunks(cursor.generation);
  }
  // Renewed with the first read there and then every quarter grace, in the same tick as a
  // chunk read: a read that goes on keeps the chunks as long as it pauses less than 3/4 grace.
  const renew = Date.now() - cursor.renewedAt >= b.settings.streamGraceMs / 4;
  if (renew) cursor.renewedAt = Date.now();
  const key = cursor.key;
  const [[g, chunk]] = await Promise.all([
    readChunk(b, cursor.id, key, i),
    renew ? b.piped((c) => c.pexpire(key, b.settings.streamGraceMs)).catch(rethrow) : undefined,
  ]);
  return g !== null && g.toString() === cursor.generation ? chunk : undefined;
}

/**
 * One chunk of a streamed value (unframed when its hash has CHUNKS_FRAMED) with the
 * generation of its hash (null where absent). A framed chunk that does not unframe is corrupt.
 */
async function readChunk(b: RedisBackend, id: string, chunkKey: string, i: number): Promise<Array<Buffer | null>> {
  const [g, framed, chunk] = await b.piped((c) => c.hmgetBuffer(chunkKey, 'g', CHUNKS_FRAMED, String(i))).catch((err) => {
    throw isWrongType(err) ? corrupt(id, 'its chunks are not a hash', err) : toStoreError(err);
  });
  if (framed === null || chunk === null) return [g, chunk];
  try {
    return [g, unframeChunk(chunk)];
  } catch (err) {
    throw corrupt(id, `chunk ${i} does not decompress (${(err as Error).message})`, err);
  }
}

/**
 * Reads the first chunk of a streamed entry (`s` its entry string, `k` from liveHead), of the
 * generation that string names, wherever it is (nextChunk): a write or delete issued after
 * this read cannot make it return the newer value or none (SPEC §12 program order). When the
 * generation is nowhere, the entry string is read again, once: if it did not change, its
 * chunk hash is gone as a whole (what eviction under a `volatile-*` policy, or an operator's
 * DEL, does) and the entry reads as absent (undefined), as has() and queries see it too, or
 * the hash holds another generation, which is corrupt data (ERR_STORAGE_OPERATION). If the
 * entry is gone or expired meanwhile, it reads as absent; if it holds another value, the old
 * one's chunks were not kept long enough, which is ERR_STORAGE_OPERATION: never the new value.
 */
async function openStreamed(b: RedisBackend, id: string, s: string, k: number): Promise<OpenedStream | undefined> {
  const head = streamedOf(s, k);
  if (head === null) throw corrupt(id, 'its chunk count or generation does not parse');
  const cursor: ChunkCursor = { id, generation: head.generation, key: b.layout.chunks(id), onGrace: false, renewedAt: 0, leftBehind: null };
  const first = await nextChunk(b, cursor, 0);
  if (first === null) throw corrupt(id, 'its first chunk is missing');
  if (first !== undefined) return { first, count: head.count, cursor, expiresAt: headExpiry(s, k) };
  const again = await b.getString(b.layout.entry(id));
  if (again === s) {
    if (cursor.leftBehind === null) return undefined;
    throw corrupt(id, 'its chunks belong to another value');
  }
  if (again === null || liveHead(again, b.clock.now()) === EXPIRED) return undefined;
  throw new StorageOperationError(`the streamed value under key ${keyName(id)} was replaced while it was being read, and its chunks are no longer kept`);
}

/** A streamed entry read whole (`s` its entry string, `k` from liveHead), or undefined if it reads as absent (see openStreamed). */
export async function readWhole(b: RedisBackend, id: string, s: string, k: number): Promise<EntryWithExpiry | undefined> {
  const opened = await openStreamed(b, id, s, k);
  if (opened === undefined) return undefined;
  const parts: Buffer[] = [];
  for await (const chunk of restOf(b, opened)) parts.push(chunk);
  return { value: Buffer.concat(parts), expiresAt: opened.expiresAt };
}
