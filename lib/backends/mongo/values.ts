/**
 * Values in entry documents: the checks a value passes before it is written (serializer output
 * BSON keeps unchanged, a document MongoDB can hold), its encoding (the serializer's text, or
 * compressed bytes as BSON Binary: lib/compression.ts) and the decoding of a document read back
 * (the `v` as stored, else the GridFS file `g`), with anything this store does not write
 * reported as corruption naming the key (SPEC §12).
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { Binary, ObjectId } from 'mongodb';
import { EncodedValue, isPromiseLike } from '../../compression';
import { InvalidArgumentError, InvalidValueError, StoreError } from '../../errors';
import { AsyncCapableSerializer, defaultSerializer, isAsyncSerializer } from '../../serializer';
import type { MongoScope } from './connection';
import { bsonTypeName, corruptEntry, isConnectionError, toStoreError } from './layout';

/** The fields of a document an exact read looks at, as read back: anything may be in them. */
export type ReadDoc = { v?: unknown; g?: unknown; e?: unknown; n?: unknown };

/** The projection of an exact read: what `decode`, `isLive` and `checkNamespace` look at. */
export const GET_PROJECTION = { _id: 0, v: 1, g: 1, e: 1, n: 1 } as const;

/**
 * A failure to read the GridFS file of the entry under key id `id`: the server unreachable is
 * ERR_STORAGE_CONNECTION; anything else (the file or a chunk missing, a chunk of the wrong
 * type) is corruption, ERR_STORAGE_OPERATION naming the key.
 */
export function fileError(err: unknown, id: string): StoreError {
  if (isConnectionError(err)) return toStoreError(err, 'reading a streamed value');
  return corruptEntry(id, `its streamed value cannot be read: ${(err as Error)?.message ?? String(err)}`, err);
}

/** A file's chunks, with failures re-thrown as `fileError`s. */
export async function* fileChunks(source: AsyncIterable<Buffer>, id: string): AsyncGenerator<Buffer> {
  try {
    yield* source;
  } catch (err) {
    throw fileError(err, id);
  }
}

const nativeIsWellFormed = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when `s` holds no lone surrogate (String.prototype.isWellFormed, Node 20+; a regex before). */
function isWellFormed(s: string): boolean {
  return nativeIsWellFormed ? nativeIsWellFormed.call(s) : !LONE_SURROGATE.test(s);
}

/** A write whose expiry a BSON Date cannot hold (the core caps TTLs; a far clock can still get here). */
export function unstorableExpiry(expiresAt: number): InvalidArgumentError {
  return new InvalidArgumentError(`mongo: the expiry ${expiresAt} (epoch ms) is outside the range a stored Date can hold`);
}

/** The largest document MongoDB stores (its maxBsonObjectSize). */
const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/** An upper bound of the BSON size of an entry document holding `v`: the value's bytes, `_id` and `k` at 3 bytes per unit, field overhead. */
function documentBytes(v: EncodedValue, id: string, namespace: string): number {
  return (typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length) + 3 * (2 * id.length + 2 * namespace.length) + 1024;
}

/**
 * The store's serializer as the codec sees it: the default one as is (its JSON escapes lone
 * surrogates), a custom one with its text checked first. BSON stores strings as UTF-8, and
 * compression encodes the text as UTF-8 too, both folding a lone surrogate to U+FFFD: the value
 * would come back changed, so such a text is refused before either sees it (docs/mongo.md, "Values").
 */
export function checkedSerializer(serializer: AsyncCapableSerializer): AsyncCapableSerializer {
  if (serializer === defaultSerializer) return serializer;
  const check = (text: unknown): unknown => {
    if (typeof text === 'string' && !isWellFormed(text)) throw new InvalidValueError('mongo: the serialized value holds a lone surrogate, which MongoDB would store as U+FFFD');
    return text;
  };
  return {
    serialize: (value: unknown) => {
      const text = serializer.serialize(value) as unknown;
      return (isPromiseLike(text) ? Promise.resolve(text).then(check) : check(text)) as string | Promise<string>;
    },
    deserialize: (text: string) => serializer.deserialize(text),
    async: isAsyncSerializer(serializer),
  };
}

/**
 * `value` as the `v` of the entry under key id `id` (through the scope's codec: the serializer's
 * text, or framed compressed bytes stored as BSON Binary), refused when it would not come back
 * unchanged or not fit in a document; a promise only when the serializer is asynchronous.
 */
export function encodeValue(scope: MongoScope, id: string, value: unknown): EncodedValue | Promise<EncodedValue> {
  const v = scope.codec.encode(value);
  if (typeof v === 'string' || v instanceof Uint8Array) return fitting(v, id, scope.namespace);
  return v.then((encoded) => fitting(encoded, id, scope.namespace));
}

/**
 * A document is at most 16 MiB: a larger one is refused before it is queued, where it would
 * fail the command it shares with other callers' writes. Measured only when it could be too
 * large (UTF-8 takes at most 3 bytes per UTF-16 unit), so 1 KB values pay a comparison.
 */
function fitting(v: EncodedValue, id: string, namespace: string): EncodedValue {
  if (typeof v === 'string' ? v.length > MAX_DOCUMENT_BYTES / 3 - 64 * 1024 && documentBytes(v, id, namespace) > MAX_DOCUMENT_BYTES : documentBytes(v, id, namespace) > MAX_DOCUMENT_BYTES) {
    const bytes = typeof v === 'string' ? Buffer.byteLength(v) : v.length;
    throw new InvalidValueError(`mongo: the value takes ${bytes} bytes stored, more than one MongoDB document holds (16 MiB); store it with setStream`);
  }
  return v;
}

/**
 * The value of a document read back under the key id `id`: the serialized `v` (a string), the
 * compressed `v` (a Binary: framed bytes, lib/compression.ts), else the GridFS file `g` (a
 * promise). Which one is decided by what is stored, never by the `compress` setting, so entries
 * written before compression was turned on, or after it was turned off, read. Anything this
 * store does not write — `v` of another type or unreadable, neither `v` nor `g`, a `g` that is
 * not an ObjectId — is ERR_STORAGE_OPERATION naming the key (SPEC §12). A promise too when the
 * serializer is asynchronous.
 */
export function decode(scope: MongoScope, doc: ReadDoc, id: string): unknown {
  const v = doc.v;
  if (typeof v === 'string') return decodeStored(scope, v, id);
  if (v instanceof Binary) return decodeStored(scope, v.value(), id);
  if (v instanceof Uint8Array) return decodeStored(scope, v, id); // a client with promoteBuffers
  if (v === undefined && doc.g instanceof ObjectId) return readFile(scope, doc.g, id);
  if (v !== undefined) throw corruptEntry(id, `its value field v is ${bsonTypeName(v)}, not a string or binary`);
  throw corruptEntry(id, doc.g === undefined ? 'it holds no value (neither v nor g)' : `its file field g is ${bsonTypeName(doc.g)}, not an ObjectId`);
}

/** A stored `v` decoded by the codec; what it cannot read is corruption naming the key. */
function decodeStored(scope: MongoScope, stored: string | Uint8Array, id: string): unknown {
  let value: unknown;
  try {
    value = scope.codec.decode(stored);
  } catch (err) {
    throw unreadable(id, err);
  }
  // Only an asynchronous serializer's promise (the codec refuses any other): made a native
  // Promise, which is how the read paths tell a value still to come.
  if (!scope.codec.sync && isPromiseLike(value)) {
    return Promise.resolve(value).catch((err: unknown) => {
      throw unreadable(id, err);
    });
  }
  return value;
}

function unreadable(id: string, err: unknown): StoreError {
  return corruptEntry(id, `its value cannot be parsed (${(err as Error)?.message ?? String(err)})`, err);
}

/** A streamed value whole; a missing or damaged file is ERR_STORAGE_OPERATION naming the key. */
function readFile(scope: MongoScope, fileId: ObjectId, id: string): Promise<Buffer> {
  return scope.shared.files.readAll(fileId).catch((err: unknown) => {
    throw fileError(err, id);
  });
}
