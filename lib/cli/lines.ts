/**
 * Lines of a byte stream, numbered from 1, read with the stream's own backpressure (the next
 * chunk is read only when the consumer asks for more), so an import runs in constant memory.
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
  let pending = '';
  let number = 0;
  for await (const chunk of input) {
    pending += typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer);
    let start = 0;
    let end: number;
    while ((end = pending.indexOf('\n', start)) >= 0) {
      yield { text: stripCr(pending.slice(start, end)), number: ++number };
      start = end + 1;
    }
    pending = pending.slice(start);
  }
  pending += decoder.end();
  if (pending !== '') yield { text: stripCr(pending), number: number + 1 };
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
