/**
 * Value streams (capability valueStreams): a streamed value is a chunk set in
 * `<table>_chunks`, written as it arrives and made the entry's value in one transaction at the
 * end, so a reader never sees half a value and a failed stream leaves nothing behind.
 */
import { randomInt } from 'node:crypto';
import type { Clock } from '../../clock';
import { ValueCodec, isPromiseLike } from '../../compression';
import { chunksOf, toAsync, valueBytes } from '../../store';
import type { SqliteConnection } from './connection';
import { PENDING_NS, PENDING_TTL_MS, corruptEntry, toStoreError } from './layout';
import { EntryRow, checkedChunk, isLive, streamOf, valueOf } from './rows';

/** Bytes per chunk row. */
export const CHUNK_BYTES = 64 * 1024;

/** What a stream operation needs of the backend it runs for. */
export interface StreamScope {
  connection: SqliteConnection;
  namespace: string;
  clock: Clock;
  codec: ValueCodec;
}

/** The key columns of an id: the object key's JSON (NULL for a string key) and whether it holds an array. */
export function keyColumns(id: string): { k: string | null; a: 1 | null } {
  if (id.charCodeAt(0) !== 0) return { k: null, a: null };
  const k = id.slice(1);
  return { k, a: k.includes('[') ? 1 : null };
}

/** A row's expiry read leniently, for a write that replaces it: only a number in the past counts as expired. */
export function expiredAt(row: EntryRow, now: number): boolean {
  return typeof row.e === 'number' && row.e <= now;
}

/** A row's chunk set when it has a readable one (a write replacing it frees it). */
export function chunkSetOf(row: EntryRow): number | null {
  return typeof row.s === 'number' ? row.s : null;
}

/**
 * Stores `source` as the value of `id`. The creation position is taken now, synchronously, by
 * a placeholder row (layout.ts), so an entry created by a call issued after this one comes after it.
 */
export function setStream(scope: StreamScope, id: string, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
  const { connection } = scope;
  const sid = randomInt(1, 2 ** 48);
  let placeholder = 0;
  const reserved = connection.write(() => {
    const info = connection.stmt.insert.run(PENDING_NS, String(sid), null, null, null, scope.clock.now() + PENDING_TTL_MS, sid, null, null, null, null);
    placeholder = Number(info.lastInsertRowid);
  }, 'setStream');
  if (placeholder === 0) return reserved; // the insert failed: `reserved` says why
  connection.writing.add(sid);
  return writeChunks(scope, id, source, expiresAt, sid, placeholder, reserved).finally(() => connection.writing.delete(sid));
}

async function writeChunks(
  scope: StreamScope,
  id: string,
  source: AsyncIterable<Buffer>,
  expiresAt: number | null,
  sid: number,
  placeholder: number,
  reserved: Promise<void>,
): Promise<void> {
  const { connection } = scope;
  let count = 0;
  try {
    await reserved;
    let pending: Buffer[] = [];
    let size = 0;
    const flush = async (all: boolean) => {
      let bytes = Buffer.concat(pending, size);
      pending = [];
      size = 0;
      while (bytes.length >= CHUNK_BYTES || (all && bytes.length > 0)) {
        const chunk = bytes.subarray(0, CHUNK_BYTES);
        await connection.write(() => connection.stmt.insertChunk.run(sid, count++, chunk), 'setStream');
        bytes = bytes.subarray(CHUNK_BYTES);
      }
      if (bytes.length > 0) {
        pending = [bytes];
        size = bytes.length;
      }
    };
    for await (const chunk of source) {
      pending.push(chunk);
      size += chunk.length;
      if (size >= CHUNK_BYTES) await flush(false);
    }
    await flush(true);
    await connection.write(() => connection.transaction(() => adopt(scope, id, expiresAt, sid, count, placeholder)), 'setStream');
  } catch (err) {
    // Nothing of a failed stream stays: its chunks and its placeholder go (or, if the file is gone, the sweep frees them later).
    await connection
      .write(() => {
        connection.stmt.deleteChunks.run(sid);
        connection.stmt.deleteBySeq.run(placeholder);
      }, 'setStream')
      .catch(() => undefined);
    throw toStoreError(err, 'setStream');
  }
}

/** Makes the written chunk set the value of `id`: in place when the entry is live, else as a new entry at the placeholder's position. */
function adopt(scope: StreamScope, id: string, expiresAt: number | null, sid: number, count: number, placeholder: number): void {
  const { connection, namespace } = scope;
  const stmt = connection.stmt;
  const old = stmt.row.get(namespace, id) as EntryRow | undefined;
  const now = scope.clock.now();
  if (old && !expiredAt(old, now)) {
    stmt.update.run(null, expiresAt, sid, count, null, now, old.seq); // a streamed value has no tags: t = NULL drops the old ones
    stmt.deleteBySeq.run(placeholder);
    connection.dropChunks(chunkSetOf(old));
    return;
  }
  if (old) {
    stmt.deleteBySeq.run(old.seq);
    connection.dropChunks(chunkSetOf(old));
  }
  const { k, a } = keyColumns(id);
  if (stmt.adopt.run(namespace, id, k, a, expiresAt, sid, count, now, now, placeholder).changes === 0) {
    // Another connection's sweep took the placeholder (the stream outlived PENDING_TTL_MS): a new row at the end.
    stmt.insert.run(namespace, id, k, a, null, expiresAt, sid, count, null, now, now);
  }
}

/**
 * The value of `id` as chunks, or undefined when absent: a streamed value chunk by chunk, any
 * other value's bytes (a promise of them when the serializer is asynchronous).
 */
export function valueStream(scope: StreamScope, id: string): AsyncIterable<Buffer> | undefined | Promise<AsyncIterable<Buffer>> {
  const { connection } = scope;
  const row = connection.stmt.row.get(scope.namespace, id) as EntryRow | undefined;
  if (!row || !isLive(row, id, scope.clock.now())) return undefined;
  if (row.s === null || row.s === undefined) {
    const value = valueOf(row, id, scope.codec, connection);
    const bytesOf = (whole: unknown) => toAsync(chunksOf(valueBytes(whole)));
    return isPromiseLike(value) ? Promise.resolve(value).then(bytesOf) : bytesOf(value);
  }
  const { sid, count } = streamOf(row, id);
  return chunkReader(connection, id, sid, count);
}

/**
 * Reads chunk n = 0..count-1 one per step. The chunk set is held while the reader lives, so an
 * overwrite in this process frees it only after the reader is done or returned.
 */
function chunkReader(connection: SqliteConnection, id: string, sid: number, count: number): AsyncIterableIterator<Buffer> {
  const release = connection.holdChunks(sid);
  let n = 0;
  const reader: AsyncIterableIterator<Buffer> = {
    [Symbol.asyncIterator]: () => reader,
    next: async () => {
      if (n >= count) {
        release();
        return { done: true, value: undefined };
      }
      try {
        const data: unknown = connection.stmt.chunk.get(sid, n);
        if (data === undefined) throw corruptEntry(id, `its streamed value is missing chunk ${n} of ${count}`);
        return { done: false, value: checkedChunk(data, true, id, n++) };
      } catch (err) {
        release();
        throw toStoreError(err, 'valueStream');
      }
    },
    return: async () => {
      release();
      return { done: true, value: undefined };
    },
  };
  return reader;
}
