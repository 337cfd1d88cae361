/**
 * Lines of a byte stream, numbered from 1, read with the stream's own backpressure (the next
 * chunk is read only when the consumer asks for more), so an import runs in constant memory.
 * Only the new chunk is searched for the end of a line, and a line spread over many chunks is
 * joined once, so a line of tens of MB (one large value) costs its length, not its length squared.
 */
import { StringDecoder } from 'node:string_decoder';

/** One input line and its number (1-based). */
export interface NumberedLine {
  text: string;
  number: number;
}

/** The lines of `input` (UTF-8), without their `\n` or `\r\n`. */
export async function* readLines(input: AsyncIterable<unknown>): AsyncGenerator<NumberedLine> {
  const decoder = new StringDecoder('utf8');
  // The pieces of the line not yet ended, from earlier chunks.
  let pieces: string[] = [];
  let number = 0;
  for await (const chunk of input) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer);
    let start = 0;
    let end: number;
    while ((end = text.indexOf('\n', start)) >= 0) {
      let line = text.slice(start, end);
      if (pieces.length > 0) {
        pieces.push(line);
        line = pieces.join('');
        pieces = [];
      }
      yield { text: stripCr(line), number: ++number };
      start = end + 1;
    }
    if (start < text.length) pieces.push(text.slice(start));
  }
  pieces.push(decoder.end());
  const last = pieces.join('');
  if (last !== '') yield { text: stripCr(last), number: number + 1 };
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
