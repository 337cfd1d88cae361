/** Values as bytes, for value streams: what a stream may carry, and chunking. */
import { InvalidValueError, StorageOperationError, StoreError } from '../errors';

const CHUNK_SIZE = 64 * 1024;

/** The bytes of a stored value: Buffer/Uint8Array as is, strings as UTF-8. */
export function valueBytes(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  throw new StorageOperationError('the value is not bytes or a string, so it cannot be streamed');
}

/** Splits a buffer into stream-sized chunks. */
export function* chunksOf(buffer: Buffer, size = CHUNK_SIZE): Generator<Buffer> {
  for (let offset = 0; offset < buffer.length; offset += size) yield buffer.subarray(offset, offset + size);
}

/** Normalizes stream chunks (Buffer, Uint8Array, string) to Buffers. */
export async function* asBuffers(source: AsyncIterable<unknown>): AsyncGenerator<Buffer> {
  let iterator: AsyncIterator<unknown>;
  try {
    iterator = source[Symbol.asyncIterator]();
  } catch (err) {
    throw sourceFailed(err);
  }
  for (;;) {
    let step: IteratorResult<unknown>;
    try {
      step = await iterator.next();
    } catch (err) {
      throw sourceFailed(err);
    }
    if (step.done) return;
    const chunk = step.value;
    if (Buffer.isBuffer(chunk)) yield chunk;
    else if (chunk instanceof Uint8Array) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else if (typeof chunk === 'string') yield Buffer.from(chunk, 'utf8');
    else {
      await iterator.return?.();
      throw new InvalidValueError('setStream: the source must yield bytes or strings');
    }
  }
}

/** The caller's byte source failed: the same typed error on every backend, the source's error as cause. */
function sourceFailed(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  return new InvalidValueError(`setStream: the source failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** A sync iterable as an async one. */
export async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}
