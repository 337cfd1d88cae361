/**
 * `export <store> [query] > file.ndjson`: every live entry (or those matching a key or JSON
 * query) as one record a line (lib/cli/ndjson.ts): key, value, expiry, tags. Streamed in
 * constant memory (snapshot.ts reads a window of entries while the metadata of the previous one
 * is on its way); a progress bar on stderr when it is a terminal. A memstorage 0.5.3 collection
 * can be exported too (`memstorage-0.5.3+mongodb://…`).
 */
import { parseQueryArg } from '../arguments';
import { encodeRecord } from '../ndjson';
import { CliIo, write } from '../output';
import { startProgress } from '../progress';
import { Source, openSource } from '../source';
import { reportRejected } from './rejected';

/**
 * Entries per window of an export: fewer than copy's (snapshot.ts) because every entry in flight
 * lives through more of V8's young-generation collections and gets copied to the old generation;
 * measured over 300,000 entries from MongoDB under the command's heap settings (heap-tuning.ts):
 * 100 a window, 105–107 MB RSS and no more CPU than V8's defaults; 500, 114–119 MB and +35 % CPU.
 */
export const EXPORT_WINDOW = 100;

/** Options of `export`. */
export interface ExportOptions {
  /** Entries per window (parsed by the caller). */
  batch?: number;
}

/** The line `export` ends with. */
export function exportSummary(written: number): string {
  return `exported ${written} entries`;
}

/** Writes the snapshot of what `url` names to stdout; resolves how many entries. */
export async function exportCommand(url: string, queryArg: string | undefined, options: ExportOptions, io: CliIo): Promise<number> {
  const query = parseQueryArg(queryArg);
  const source = await openSource(url, query);
  try {
    const written = await exportFrom(source, options, io);
    reportRejected(source, exportSummary(written), io);
    return written;
  } finally {
    await source.close().catch(() => undefined);
  }
}

/** Writes the snapshot of `source` to stdout; resolves how many entries. */
export async function exportFrom(source: Source, options: ExportOptions, io: CliIo): Promise<number> {
  const progress = startProgress(io.stderr, 'export', io.stderr.isTTY ? await source.size() : undefined);
  let written = 0;
  try {
    for await (const window of source.windows(options.batch ?? EXPORT_WINDOW)) {
      let text = '';
      for (const record of window) text += `${encodeRecord(record)}\n`;
      await write(io.stdout, text);
      written += window.length;
      progress.add(window.length);
    }
  } finally {
    progress.stop();
  }
  return written;
}
