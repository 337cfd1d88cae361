/**
 * Compression for the byte-storing backends (SPEC §16): the `compress` setting, node:zlib gzip
 * and brotli, and the value codec that turns a value into what a backend stores (the
 * serializer's text, or compressed bytes) and back.
 *
 * Stored form. The codec gives a backend either a string (the serialized text, exactly what was
 * stored before compression existed) or a "framed" Buffer: one byte naming the algorithm
 * (FRAME_GZIP 0x01, FRAME_BROTLI 0x02) followed by the compressed UTF-8 text. Each backend marks
 * which of the two it holds in its own structure (SQLite: TEXT vs BLOB), so rows written before
 * compression was turned on, or after it was turned off, still read.
 *
 * Sync or async zlib. Measured on this machine (node 20, 2 cores), JSON records, µs per call,
 * one call at a time:
 *
 * | text   | gzip sync | gzip async | gunzip sync | gunzip async | brotli(q4) sync | async | unbrotli sync | async |
 * |--------|-----------|------------|-------------|--------------|-----------------|-------|---------------|-------|
 * | 1 KB   | 24        | 59         | 13          | 42           | 28              | 55    | 15            | 43    |
 * | 10 KB  | 51        | 83         | 16          | 44           | 57              | 76    | 13            | 28    |
 * | 100 KB | 629       | 673        | 122         | 188          | 435             | 517   | 98            | 183   |
 *
 * The async forms cost 30–80 µs more per call (a thread-pool hop, a callback, a promise) and
 * would make every read of a compressed value asynchronous, ruling out the SQLite backend's
 * synchronous reads. The work they move off the main thread is at most ~0.6 ms for a 100 KB
 * value, about what better-sqlite3 itself blocks for when writing it. So both directions are
 * synchronous. Brotli runs at quality 4 (node's default, 11, takes milliseconds per 10 KB for a
 * few percent fewer bytes) with the size hint; gzip at zlib's default level 6.
 *
 * On bench/compress's values (records with text of random words, less repetitive than the
 * records above), CPU µs per call and bytes: 100 KB → gzip 6: 3,400 µs, 15.9 KB; gzip 4:
 * 1,000 µs, 18.4 KB; brotli 4: 1,000 µs, 20.9 KB; brotli 6: 2,300 µs, 17.1 KB; inflating any of
 * them ~200 µs. 10 KB → gzip 6: 200 µs, 2.0 KB; brotli 4: 120 µs, 2.3 KB. So gzip favours bytes
 * and brotli (at quality 4) favours write speed; reads cost about the same.
 */
import * as zlib from 'node:zlib';
import { InvalidValueError, StoreConfigError } from './errors';
import { AsyncCapableSerializer, isAsyncSerializer } from './serializer';

/** A compression algorithm of the `compress` setting. */
export type CompressionAlgorithm = 'gzip' | 'brotli';

/** The `compress` setting's object form; `true` means all defaults, `false` or absent no compression. */
export interface CompressSettings {
  /** Values whose serialized text is shorter than this many bytes (UTF-8) are stored uncompressed. Default 1024. */
  threshold?: number;
  /** Default 'gzip'. */
  algorithm?: CompressionAlgorithm;
}

/** What a backend's settings accept for `compress`. */
export type CompressSetting = boolean | CompressSettings;

/** The `compress` setting resolved: what the codec uses. */
export interface Compression {
  readonly threshold: number;
  readonly algorithm: CompressionAlgorithm;
}

/** The defaults of `compress: true` and of each field left out. */
export const COMPRESS_DEFAULTS: Compression = { threshold: 1024, algorithm: 'gzip' };

/** First byte of a framed value compressed with gzip. */
export const FRAME_GZIP = 0x01;
/** First byte of a framed value compressed with brotli. */
export const FRAME_BROTLI = 0x02;

const ALGORITHMS: readonly CompressionAlgorithm[] = ['gzip', 'brotli'];
const FRAME_BYTE: Record<CompressionAlgorithm, number> = { gzip: FRAME_GZIP, brotli: FRAME_BROTLI };

/**
 * Checks a backend's `compress` setting (`name` is how the error names it) and applies the
 * defaults: null for no compression. A bad value is StoreConfigError naming the setting.
 */
export function resolveCompression(setting: unknown, name = 'compress'): Compression | null {
  if (setting === undefined || setting === false) return null;
  if (setting === true) return COMPRESS_DEFAULTS;
  if (setting === null || typeof setting !== 'object' || Array.isArray(setting)) {
    throw new StoreConfigError(`setting ${name} must be true, false or { threshold?, algorithm? }`);
  }
  const fields = setting as Record<string, unknown>;
  for (const field of Object.keys(fields)) {
    if (field !== 'threshold' && field !== 'algorithm') {
      throw new StoreConfigError(`setting ${name}.${field} is unknown: ${name} takes threshold and algorithm`);
    }
  }
  const { threshold = COMPRESS_DEFAULTS.threshold, algorithm = COMPRESS_DEFAULTS.algorithm } = fields;
  if (typeof threshold !== 'number' || !Number.isSafeInteger(threshold) || threshold < 0) {
    throw new StoreConfigError(`setting ${name}.threshold must be a whole number of bytes, 0 or more`);
  }
  if (!ALGORITHMS.includes(algorithm as CompressionAlgorithm)) {
    throw new StoreConfigError(`setting ${name}.algorithm must be 'gzip' or 'brotli'`);
  }
  return { threshold, algorithm: algorithm as CompressionAlgorithm };
}

/** `bytes` compressed with `algorithm` (synchronous: see the measurements above). */
export function compressBytes(bytes: Uint8Array, algorithm: CompressionAlgorithm): Buffer {
  if (algorithm === 'gzip') return zlib.gzipSync(bytes);
  return zlib.brotliCompressSync(bytes, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength },
  });
}

/** `bytes` decompressed with `algorithm`; throws zlib's error on bytes it did not write. */
export function decompressBytes(bytes: Uint8Array, algorithm: CompressionAlgorithm): Buffer {
  return algorithm === 'gzip' ? zlib.gunzipSync(bytes) : zlib.brotliDecompressSync(bytes);
}

/** `payload` behind one frame byte: the layout of every framed value and chunk. */
export function prefixedByte(frameByte: number, payload: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(payload.byteLength + 1);
  framed[0] = frameByte;
  framed.set(payload, 1);
  return framed;
}

/** `bytes` compressed with `algorithm` and framed (its algorithm byte first). */
export function compressFramed(bytes: Uint8Array, algorithm: CompressionAlgorithm): Buffer {
  return prefixedByte(FRAME_BYTE[algorithm], compressBytes(bytes, algorithm));
}

/**
 * `text` compressed and framed (algorithm byte first), or undefined when framing would not save
 * a byte (incompressible text is stored as text).
 */
export function frameText(text: string, algorithm: CompressionAlgorithm): Buffer | undefined {
  const raw = Buffer.from(text, 'utf8');
  const framed = compressFramed(raw, algorithm);
  return framed.length < raw.length ? framed : undefined;
}

/** The text a framed value holds; throws on an unknown algorithm byte or bytes zlib cannot read. */
export function unframeText(framed: Uint8Array): string {
  if (framed.byteLength === 0) throw new Error('its compressed value is empty');
  const algorithm = algorithmOfFrame(framed[0]);
  if (algorithm === undefined) throw new Error(`its compressed value starts with unknown algorithm byte ${framed[0]}`);
  return decompressBytes(framed.subarray(1), algorithm).toString('utf8');
}

/** The algorithm a frame's first byte names, or undefined. */
export function algorithmOfFrame(byte: number): CompressionAlgorithm | undefined {
  return byte === FRAME_GZIP ? 'gzip' : byte === FRAME_BROTLI ? 'brotli' : undefined;
}

/** What a byte-storing backend keeps for a value: the serialized text, or a framed compressed Buffer. */
export type EncodedValue = string | Buffer;

/**
 * Turns values into their stored form and back, for one store. Synchronous (no promise, and
 * nothing allocated beyond the serializer's text) while the serializer is synchronous and the
 * text is under the threshold; a promise only when the serializer is asynchronous.
 */
export interface ValueCodec {
  /** The resolved `compress` setting, or null. */
  readonly compression: Compression | null;
  /**
   * True when encode and decode never return a promise: the serializer is not declared
   * asynchronous (lib/serializer.ts isAsyncSerializer). A backend that keeps program order by
   * running calls synchronously, or offers synchronous reads, may do so only then.
   */
  readonly sync: boolean;
  /**
   * The stored form of a (checked) value. A serializer that throws, rejects, gives no string,
   * or returns a promise without being declared asynchronous is InvalidValueError (thrown, or
   * the promise's rejection).
   */
  encode(value: unknown): EncodedValue | Promise<EncodedValue>;
  /**
   * The value a stored form holds: a string is deserialized as is, a Uint8Array is unframed and
   * decompressed first. Throws (or rejects with) the underlying error when it cannot be read:
   * the backend wraps it as its ERR_STORAGE_OPERATION naming the key. A promise only when
   * `sync` is false.
   */
  decode(stored: string | Uint8Array): unknown;
}

/** A codec over `serializer`, compressing per `compression` (null: never). */
export function createValueCodec(serializer: AsyncCapableSerializer, compression: Compression | null): ValueCodec {
  const threshold = compression?.threshold ?? 0;
  const algorithm = compression?.algorithm ?? 'gzip';
  const sync = !isAsyncSerializer(serializer);
  const encodeText = compression === null
    ? checkedText
    : (text: unknown): EncodedValue => {
        const checked = checkedText(text);
        // length ≤ UTF-8 bytes ≤ 3 × length: the exact count is needed only in between.
        if (checked.length * 3 < threshold) return checked;
        if (checked.length < threshold && Buffer.byteLength(checked, 'utf8') < threshold) return checked;
        return frameText(checked, algorithm) ?? checked;
      };
  return {
    compression,
    sync,
    encode(value: unknown): EncodedValue | Promise<EncodedValue> {
      let text: string | Promise<string>;
      try {
        text = serializer.serialize(value);
      } catch (err) {
        throw new InvalidValueError('the serializer failed on the value', { cause: err });
      }
      if (typeof text === 'string' || !isPromiseLike(text)) return encodeText(text);
      if (sync) {
        Promise.resolve(text).catch(() => undefined);
        throw new InvalidValueError(UNDECLARED_PROMISE);
      }
      return Promise.resolve(text).then(encodeText, (err: unknown) => {
        throw new InvalidValueError('the serializer failed on the value', { cause: err });
      });
    },
    decode(stored: string | Uint8Array): unknown {
      const value = serializer.deserialize(typeof stored === 'string' ? stored : unframeText(stored));
      if (sync && isPromiseLike(value)) {
        Promise.resolve(value).catch(() => undefined);
        throw new Error(UNDECLARED_PROMISE);
      }
      return value;
    },
  };
}

const UNDECLARED_PROMISE =
  'the serializer returned a promise but is not declared asynchronous: make the method an async function or set async: true on the serializer';

/** The bytes a stored form takes: UTF-8 length of text, length of a framed Buffer. */
export function encodedSize(stored: EncodedValue): number {
  return typeof stored === 'string' ? Buffer.byteLength(stored, 'utf8') : stored.length;
}

/** Whether a serializer's result is a promise (or another thenable) rather than a value. */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value instanceof Promise || (value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function');
}

function checkedText(text: unknown): string {
  if (typeof text !== 'string') throw new InvalidValueError(`the serializer returned ${typeof text}, not a string`);
  return text;
}
