/**
 * `import <store> < file.ndjson`: records as `export` writes them (lib/cli/ndjson.ts), written
 * with setMany in batches (one call, so one pipeline, per batch; a few batches in flight at once). Every line is parsed and
 * checked before its batch is written, so a corrupt line stops the import with its number
 * (exit code 6): the lines before it are imported, nothing of it or after it. An entry whose
 * `expiresAt` has passed by the time of its write is skipped and counted; its remaining time is
 * counted from `expiresAt`, a `ttl` (older files) from the write.
 */
import type { BaseStore } from '../../store';
import type { SetManyItem } from '../../store-types';
import { CliError, ExitCodes } from '../exit-codes';
import { readLines } from '../lines';
import { DecodedRecord, decodeRecord, ttlAt } from '../ndjson';
import { withStore } from '../open-store';
import { CliIo } from '../output';
import { startProgress } from '../progress';
import { tagsRefused } from './tags-refused';

/** Entries per setMany. */
export const IMPORT_BATCH = 500;

/** setMany calls sent and not yet answered at most: the store works on some while the next is read and checked. */
const IMPORT_IN_FLIGHT = 4;

/** Options of `import`. */
export interface ImportOptions {
  /** Import entries that have tags without them, into a store that keeps none. */
  dropTags?: boolean;
  /** Entries per setMany (parsed by the caller). */
  batch?: number;
}

/** What an import did. */
export interface ImportResult {
  imported: number;
  /** Entries whose expiry had passed when their batch was written. */
  expired: number;
}

/** The line `import` ends with. */
export function importSummary(result: ImportResult): string {
  return `imported ${result.imported} entries; ${result.expired} expired before their write, skipped`;
}

/** Reads records from stdin into the store `url` names. */
export function importCommand(url: string, options: ImportOptions, io: CliIo): Promise<ImportResult> {
  return withStore(url, (store) => importInto(store, url, options, io));
}

/** Reads records from stdin into `store` (named `url` in messages). */
export async function importInto(store: BaseStore, url: string, options: ImportOptions, io: CliIo): Promise<ImportResult> {
  const batchSize = options.batch ?? IMPORT_BATCH;
  const keepsTags = store.supports.tags === true;
  const progress = startProgress(io.stderr, 'import');
  const result: ImportResult = { imported: 0, expired: 0 };
  let batch: DecodedRecord[] = [];
  let batchFirstLine = 0;
  let lastLine = 0;
  // Batches sent and not yet answered, oldest first: the next one is read and sent meanwhile.
  const inFlight: Array<{ written: Promise<void>; firstLine: number; lastLine: number; items: number; lines: number }> = [];
  const stopped = () => `${result.imported} entries imported${result.expired > 0 ? ` (and ${result.expired} expired ones skipped)` : ''}`;
  const settleOldest = async () => {
    const oldest = inFlight[0];
    try {
      await oldest.written;
    } catch (err) {
      await Promise.allSettled(inFlight.map((b) => b.written));
      // The store's error decides the exit code; say which lines it leaves unsure.
      const later = inFlight.length > 1 ? `; lines ${oldest.lastLine + 1}–${inFlight[inFlight.length - 1].lastLine}, sent meanwhile, may or may not be written` : '';
      io.stderr.write(`import stopped: writing lines ${oldest.firstLine}–${oldest.lastLine} failed${later}; ${stopped()} from the lines before them\n`);
      throw err;
    }
    inFlight.shift();
    result.imported += oldest.items;
    progress.add(oldest.lines);
  };
  const send = async () => {
    if (batch.length === 0) return;
    const now = Date.now();
    const items: SetManyItem[] = [];
    for (const record of batch) {
      const ttl = ttlAt(record, now);
      if (ttl === undefined) {
        result.expired++;
        continue;
      }
      items.push(record.tags !== undefined && keepsTags ? { key: record.key, value: record.value, ttl, tags: record.tags } : { key: record.key, value: record.value, ttl });
    }
    const written = items.length > 0 ? store.setMany(items) : Promise.resolve();
    written.catch(() => undefined); // reported when its turn comes (settleOldest)
    inFlight.push({ written, firstLine: batchFirstLine, lastLine, items: items.length, lines: batch.length });
    batch = [];
    if (inFlight.length >= IMPORT_IN_FLIGHT) await settleOldest();
  };
  const flush = async () => {
    await send();
    while (inFlight.length > 0) await settleOldest();
  };
  const badLine = async (number: number, why: string, exitCode: typeof ExitCodes.BAD_INPUT | typeof ExitCodes.TAGS_REFUSED) => {
    await flush();
    return new CliError(exitCode, `line ${number}: ${why}\nimport stopped: ${stopped()} from the lines before it, nothing from line ${number} on`);
  };
  try {
    for await (const line of readLines(io.stdin as AsyncIterable<unknown>)) {
      if (line.text.trim() === '') continue;
      let record: DecodedRecord;
      try {
        record = decodeRecord(line.text);
        ttlAt(record, Date.now()); // an expiry too far ahead is this line's fault, not its batch's
      } catch (err) {
        throw await badLine(line.number, (err as Error).message, ExitCodes.BAD_INPUT);
      }
      if (record.tags !== undefined && !keepsTags && !options.dropTags) {
        throw await badLine(line.number, tagsRefused(record.key, url), ExitCodes.TAGS_REFUSED);
      }
      if (batch.length === 0) batchFirstLine = line.number;
      batch.push(record);
      lastLine = line.number;
      if (batch.length >= batchSize) await send();
    }
    await flush();
  } finally {
    progress.stop();
  }
  return result;
}
