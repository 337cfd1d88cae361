/**
 * How the memory backend holds a value written by setStream, and hands values out as chunks.
 */
import { chunksOf } from '../../core/bytes';

/**
 * A value written by setStream, kept as the chunks that arrived. Reads that want the whole
 * value get one Buffer, joined once and kept; createValueStream hands out the chunks as they are.
 */
export class StreamedBytes {
  private parts: Buffer[] | undefined;
  private whole: Buffer | undefined;

  constructor(parts: Buffer[]) {
    this.parts = parts;
  }

  /** The value's length in bytes. */
  get byteLength(): number {
    if (this.whole) return this.whole.length;
    let n = 0;
    for (const part of this.parts!) n += part.length;
    return n;
  }

  /** The whole value as one Buffer (joined on the first call, then kept). */
  joined(): Buffer {
    if (!this.whole) {
      this.whole = Buffer.concat(this.parts!);
      this.parts = undefined;
    }
    return this.whole;
  }

  /** The value's bytes in chunks: the chunks as written, or slices of the joined Buffer. */
  chunks(): Iterable<Buffer> {
    return this.parts ?? chunksOf(this.whole!);
  }
}

/** Copies each chunk on its way out (with `clone`: the reader may write into it). */
export function* copiedChunks(chunks: Iterable<Buffer>): Generator<Buffer> {
  for (const chunk of chunks) yield Buffer.from(chunk);
}
