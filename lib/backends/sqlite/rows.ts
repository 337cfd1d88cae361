/**
 * Rows read back from the entries table, checked: anything this backend did not write (a
 * value the serializer cannot read, compressed bytes that do not inflate, an expiry that is
 * not a number, a key id that is not a key, missing chunks) is ERR_STORAGE_OPERATION naming
 * the key (SPEC §12), never a raw error.
 */
import type { Key, KeyObject } from '../../keys';
import type { StoredEntry } from '../../backend';
import { ValueCodec, isPromiseLike } from '../../compression';
import { StorageOperationError } from '../../errors';
import type { SqliteConnection } from './connection';
import { corruptEntry } from './layout';

/** The columns of an entry row that reads use. */
export interface EntryRow {
  seq: number;
  v?: unknown;
  e: unknown;
  s?: unknown;
  c?: unknown;
}

/** A row as a scan returns it. */
export interface ScannedRow extends EntryRow {
  id: string;
  /** 1 when the key holds an array, else null (layout.ts). */
  a: unknown;
}

/** The row's expiry: epoch ms or null. */
export function expiryOf(row: EntryRow, id: string): number | null {
  return checkedExpiry(row.e, id);
}

/** An expiry column as read (`e`): epoch ms or null, else corruption naming the key. */
export function checkedExpiry(e: unknown, id: string): number | null {
  if (e === null || typeof e === 'number') return e;
  throw corruptEntry(id, `its expiry e is ${typeName(e)}, not a number or NULL`);
}

/** Whether the row is live at `now` (no expiry, or one after `now`). */
export function isLive(row: EntryRow, id: string, now: number): boolean {
  const e = expiryOf(row, id);
  return e === null || e > now;
}

/**
 * An entry read from a row, whose key is parsed from its id when first read: `get(query)` and
 * `count` never read it, and a row the SQL decides exactly needs no key to be matched.
 */
export class RowEntry implements StoredEntry {
  private parsed: Key | undefined;

  constructor(
    readonly id: string,
    key: Key | undefined,
    readonly value: unknown,
    readonly expiresAt: number | null,
  ) {
    this.parsed = key;
  }

  /** The key, parsed from the id once (a corrupt id throws ERR_STORAGE_OPERATION naming it). */
  get key(): Key {
    return (this.parsed ??= keyOfId(this.id));
  }
}

/**
 * An entry read for its value alone (FindOptions.keys false): its row's id was not read, so it
 * has neither id nor key. Reading its key is a bug of the caller, reported as such.
 */
export class ValueEntry implements StoredEntry {
  readonly id = '';

  constructor(
    readonly value: unknown,
    /** Undefined when the read did not take it (StoredEntry.expiresAt). */
    readonly expiresAt: number | null | undefined,
  ) {}

  get key(): Key {
    throw new StorageOperationError('sqlite: an entry read without its key (find with keys: false) was asked for its key');
  }
}

/** The key of an id read from a row: a string key as is, an object key parsed from its JSON. */
export function keyOfId(id: unknown): Key {
  if (typeof id !== 'string' || id.length === 0) throw corruptEntry(String(id), `its id is ${typeName(id)}, not a key id`);
  if (id.charCodeAt(0) !== 0) return id;
  let key: unknown;
  try {
    key = JSON.parse(id.slice(1));
  } catch (err) {
    throw corruptEntry(id, 'its id is not an object key (bad JSON)', err);
  }
  if (key === null || typeof key !== 'object' || Array.isArray(key)) throw corruptEntry(id, 'its id is not an object key');
  return key as KeyObject;
}

/**
 * The row's value: decoded (text, or compressed bytes), or for a streamed value its chunks
 * joined into one Buffer. A promise only when the codec is asynchronous (`codec.sync` false).
 */
export function valueOf(row: EntryRow, id: string, codec: ValueCodec, connection: SqliteConnection): unknown {
  if (row.s !== null && row.s !== undefined) return Buffer.concat(readChunks(row, id, connection));
  const v = row.v;
  if (typeof v !== 'string' && !Buffer.isBuffer(v)) throw corruptEntry(id, `its value v is ${typeName(v)}, not serialized text or compressed bytes`);
  return deserialize(v, id, codec);
}

/**
 * A value column (TEXT, or a compressed BLOB) as the value; `id` names the key when it cannot be
 * read (a function when finding it costs a lookup). A promise only when the codec is asynchronous.
 */
export function deserialize(stored: string | Buffer, id: string | (() => string), codec: ValueCodec): unknown {
  let value: unknown;
  try {
    value = codec.decode(stored);
  } catch (err) {
    throw unreadable(id, err);
  }
  if (value === undefined) throw corruptEntry(typeof id === 'string' ? id : id(), 'its value deserializes to undefined');
  if (!codec.sync && isPromiseLike(value)) {
    return Promise.resolve(value).then(
      (read) => {
        if (read === undefined) throw corruptEntry(typeof id === 'string' ? id : id(), 'its value deserializes to undefined');
        return read;
      },
      (err: unknown) => {
        throw unreadable(id, err);
      },
    );
  }
  return value;
}

function unreadable(id: string | (() => string), err: unknown): Error {
  return corruptEntry(typeof id === 'string' ? id : id(), `its value cannot be deserialized (${(err as Error)?.message ?? String(err)})`, err);
}

/** The chunk set and count of a streamed row, checked. */
export function streamOf(row: EntryRow, id: string): { sid: number; count: number } {
  const { s, c } = row;
  if (typeof s !== 'number' || !Number.isSafeInteger(s)) throw corruptEntry(id, `its chunk set s is ${typeName(s)}`);
  if (typeof c !== 'number' || !Number.isSafeInteger(c) || c < 0) throw corruptEntry(id, `its chunk count c is ${typeName(c)}`);
  return { sid: s, count: c };
}

/** Every chunk of a streamed row, in order; a missing or extra chunk is corruption. */
function readChunks(row: EntryRow, id: string, connection: SqliteConnection): Buffer[] {
  const { sid, count } = streamOf(row, id);
  const rows = connection.stmt.chunks.all(sid) as Array<{ n: unknown; data: unknown }>;
  if (rows.length !== count) throw corruptEntry(id, `its streamed value has ${rows.length} of ${count} chunks`);
  return rows.map((chunk, n) => checkedChunk(chunk.data, chunk.n === n, id, n));
}

/** A chunk read back: a BLOB in its place, else corruption. */
export function checkedChunk(data: unknown, inPlace: boolean, id: string, n: number): Buffer {
  if (!inPlace) throw corruptEntry(id, `its streamed value is missing chunk ${n}`);
  if (!Buffer.isBuffer(data)) throw corruptEntry(id, `chunk ${n} of its streamed value is ${typeName(data)}, not a BLOB`);
  return data;
}

function typeName(value: unknown): string {
  if (value === null) return 'NULL';
  if (Buffer.isBuffer(value)) return 'a BLOB';
  return `a ${typeof value}`;
}
