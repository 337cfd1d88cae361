/**
 * Values in entry documents: the checks a value passes before it is written (serializer output
 * BSON keeps unchanged, a document MongoDB can hold) and the decoding of a document read back
 * (the serialized `v`, else the GridFS file `g`), with anything this store does not write
 * reported as corruption naming the key (SPEC §12).
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { ObjectId } from 'mongodb';
import { InvalidArgumentError, InvalidValueError, StoreError, StorageOperationError } from '../../errors';
import { defaultSerializer } from '../../serializer';
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

/** An upper bound of the BSON size of an entry document holding `v`: the value's UTF-8 bytes, `_id` and `k` at 3 bytes per unit, field overhead. */
function documentBytes(v: string, id: string, namespace: string): number {
  return Buffer.byteLength(v, 'utf8') + 3 * (2 * id.length + 2 * namespace.length) + 1024;
}

/** `value` as the `v` of the entry under key id `id`, refused when it would not come back unchanged or not fit in a document. */
export function serializeValue(scope: MongoScope, id: string, value: unknown): string {
  const serializer = scope.serializer;
  let v: string;
  try {
    v = serializer.serialize(value);
  } catch (err) {
    throw new StorageOperationError(`mongo: the serializer failed: ${(err as Error).message}`, { cause: err });
  }
  // BSON stores strings as UTF-8, which folds a lone surrogate to U+FFFD: the value would
  // come back changed. The default serializer's JSON escapes them (`"\ud800"`), so only a
  // custom serializer's output needs the check (docs/mongo.md, "Values").
  if (serializer !== defaultSerializer && (typeof v !== 'string' || !isWellFormed(v))) {
    throw new InvalidValueError(
      typeof v !== 'string'
        ? `mongo: the serializer returned ${bsonTypeName(v)}, not a string`
        : 'mongo: the serialized value holds a lone surrogate, which MongoDB would store as U+FFFD',
    );
  }
  // A document is at most 16 MiB: refuse a larger one before it is queued, where it would
  // fail the command it shares with other callers' writes. Measured only when it could be
  // too large (UTF-8 takes at most 3 bytes per UTF-16 unit), so 1 KB values pay a comparison.
  if (v.length > MAX_DOCUMENT_BYTES / 3 - 64 * 1024 && documentBytes(v, id, scope.namespace) > MAX_DOCUMENT_BYTES) {
    throw new InvalidValueError(`mongo: the value takes ${Buffer.byteLength(v)} bytes serialized, more than one MongoDB document holds (16 MiB); store it with setStream`);
  }
  return v;
}

/**
 * The value of a document read back under the key id `id`: the serialized `v`, else the
 * GridFS file `g` (a promise). Anything this store does not write — `v` of another type or
 * unparsable, neither `v` nor `g`, a `g` that is not an ObjectId — is ERR_STORAGE_OPERATION
 * naming the key (SPEC §12).
 */
export function decode(scope: MongoScope, doc: ReadDoc, id: string): unknown {
  const v = doc.v;
  if (typeof v === 'string') {
    try {
      return scope.serializer.deserialize(v);
    } catch (err) {
      throw corruptEntry(id, `its value cannot be parsed (${(err as Error)?.message ?? String(err)})`, err);
    }
  }
  if (v === undefined && doc.g instanceof ObjectId) return readFile(scope, doc.g, id);
  if (v !== undefined) throw corruptEntry(id, `its value field v is ${bsonTypeName(v)}, not a string`);
  throw corruptEntry(id, doc.g === undefined ? 'it holds no value (neither v nor g)' : `its file field g is ${bsonTypeName(doc.g)}, not an ObjectId`);
}

/** A streamed value whole; a missing or damaged file is ERR_STORAGE_OPERATION naming the key. */
function readFile(scope: MongoScope, fileId: ObjectId, id: string): Promise<Buffer> {
  return scope.shared.files.readAll(fileId).catch((err: unknown) => {
    throw fileError(err, id);
  });
}
