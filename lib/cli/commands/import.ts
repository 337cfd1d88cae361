/**
 * `import <store> < file.ndjson`: records as `export` writes them (lib/cli/ndjson.ts), written
 * with setMany in batches; a TTL counts from the moment of the import. Every line is parsed and
 * checked before its batch is written, so a corrupt line stops the import with its number
 * (exit code 6): the lines before it are imported, nothing of it or after it.
 */
import type { SetManyItem } from '../../store-types';
import { CliError, ExitCodes } from '../exit-codes';
import { readLines } from '../lines';
import { decodeRecord } from '../ndjson';
import { withStore } from '../open-store';
import { CliIo } from '../output';
import { startProgress } from '../progress';

/** Entries per setMany. */
const IMPORT_BATCH = 500;

/** Reads records from stdin into the store `url` names; resolves how many were written. */
export async function importCommand(url: string, io: CliIo): Promise<number> {
  return withStore(url, async (store) => {
    const progress = startProgress(io.stderr, 'import');
    let imported = 0;
    let batch: SetManyItem[] = [];
    let batchFirstLine = 0;
    let lastLine = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      try {
        await store.setMany(batch);
      } catch (err) {
        // The store's error decides the exit code; say which lines it leaves unsure.
        io.stderr.write(`import stopped: writing lines ${batchFirstLine}–${lastLine} failed; ${imported} entries imported from the lines before them\n`);
        throw err;
      }
      imported += batch.length;
      progress.add(batch.length);
      batch = [];
    };
    try {
      for await (const line of readLines(io.stdin as AsyncIterable<unknown>)) {
        if (line.text.trim() === '') continue;
        let item: SetManyItem;
        try {
          item = decodeRecord(line.text);
        } catch (err) {
          await flush();
          throw new CliError(
            ExitCodes.BAD_INPUT,
            `line ${line.number}: ${(err as Error).message}\nimport stopped: ${imported} entries imported from the lines before it, nothing from line ${line.number} on`,
          );
        }
        if (batch.length === 0) batchFirstLine = line.number;
        batch.push(item);
        lastLine = line.number;
        if (batch.length >= IMPORT_BATCH) await flush();
      }
      await flush();
    } finally {
      progress.stop();
    }
    return imported;
  });
}
