/**
 * A progress bar (cli-progress) on stderr when stderr is a terminal, nothing when it is piped
 * or redirected: logs and scripts get no carriage-return noise.
 */
import { SingleBar } from 'cli-progress';

/** What a command reports its progress to. */
export interface Progress {
  /** `n` more entries done. */
  add(n: number): void;
  /** Removes the bar (the line stays, showing the final count). */
  stop(): void;
}

const SILENT: Progress = { add() {}, stop() {} };

/** A bar titled `label` on `stream` when it is a TTY; `total` undefined when unknown (import from a pipe). */
export function startProgress(stream: NodeJS.WritableStream & { isTTY?: boolean }, label: string, total?: number): Progress {
  if (!stream.isTTY) return SILENT;
  const format = total === undefined ? `${label} {value} entries | {duration_formatted}` : `${label} [{bar}] {percentage}% | {value}/{total} entries | eta {eta_formatted}`;
  const bar = new SingleBar({ format, stream, hideCursor: true, clearOnComplete: false, etaBuffer: 50 });
  bar.start(total ?? 0, 0);
  let done = 0;
  return {
    add(n) {
      done += n;
      // A total counted before the walk may be passed by writes made during it.
      if (total !== undefined && done > total) bar.setTotal(done);
      bar.update(done);
    },
    stop() {
      bar.stop();
    },
  };
}
