/**
 * Compression of a streamed value's chunks (SPEC §16, issue #14: "Redis chunks"). Each chunk is
 * compressed on its own, so a reader still streams the value chunk by chunk, stops where it
 * likes, and holds one chunk at a time; a chunk costs what its bytes cost, whatever came before.
 *
 * A framed chunk is one byte, then the bytes: FRAME_RAW (0x00) and the chunk as it came — a
 * chunk under the threshold, or one compression would not shrink (media, archives: only the
 * attempt is paid) — or FRAME_GZIP/FRAME_BROTLI (lib/compression.ts) and the compressed chunk.
 * Whether a value's chunks are framed at all is the backend's to record once per value (Redis:
 * a field `z` in the chunk hash), so values streamed before compression was on still read.
 */
import { Compression, algorithmOfFrame, compressFramed, decompressBytes, prefixedByte } from './compression';

/** First byte of a framed chunk stored uncompressed. */
export const FRAME_RAW = 0x00;

/** `chunk` framed for storage: compressed when it is at least `threshold` bytes and that saves a byte, else stored raw. */
export function frameChunk(chunk: Uint8Array, compression: Compression): Buffer {
  if (chunk.byteLength > 0 && chunk.byteLength >= compression.threshold) {
    const framed = compressFramed(chunk, compression.algorithm);
    // A raw frame would take chunk.byteLength + 1 bytes.
    if (framed.length <= chunk.byteLength) return framed;
  }
  return prefixedByte(FRAME_RAW, chunk);
}

/** The chunk a framed chunk holds; throws (a plain Error, for the backend to report as corrupt) on a frame it did not write. */
export function unframeChunk(framed: Buffer): Buffer {
  if (framed.byteLength === 0) throw new Error('a compressed chunk is empty (it lacks its frame byte)');
  if (framed[0] === FRAME_RAW) return framed.subarray(1);
  const algorithm = algorithmOfFrame(framed[0]);
  if (algorithm === undefined) throw new Error(`a compressed chunk starts with unknown frame byte ${framed[0]}`);
  return decompressBytes(framed.subarray(1), algorithm);
}
