/**
 * Where a command writes: stdout for data, stderr for messages and progress. Writes wait for
 * 'drain' so that a large export piped to a slow reader stays in constant memory.
 */
import { once } from 'node:events';

/** The streams a command writes to (the process's own, or a test's). */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** Writes `text`, waiting for the stream to drain when its buffer is full. */
export async function write(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}
