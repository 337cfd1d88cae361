/** The documents of a memstorage 0.5.3 source that could not be entries: listed on stderr, and exit code 8. */
import { CliError, ExitCodes } from '../exit-codes';
import type { CliIo } from '../output';
import type { Source } from '../source';

/** When documents were left out: prints `summary` (what was done), then throws the INCOMPLETE error listing them. */
export function reportRejected(source: Source, summary: string, io: CliIo): void {
  if (source.rejectedCount === 0) return;
  io.stderr.write(`${summary}\n`);
  const list = source.rejected.map(({ _id, reason }) => `  _id ${safeJson(_id)}: ${reason}`).join('\n');
  const more = source.rejectedCount > source.rejected.length ? `\n  … and ${source.rejectedCount - source.rejected.length} more` : '';
  throw new CliError(ExitCodes.INCOMPLETE, `${source.rejectedCount} memstorage 0.5.3 documents cannot be entries and were left out:\n${list}${more}`);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
