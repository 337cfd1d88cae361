/**
 * `copy --from <store> --to <store> [query]`: every live entry (or those matching a key or JSON
 * query) of one store into another, with its expiry and tags, window by window (setMany).
 * Idempotent and resumable without a state file: an entry the destination already holds equal
 * (value, tags, expiry; lib/cli/copy-plan.ts) is not written again, so a copy run again after an
 * interruption writes only what is missing or differs. The source may be a memstorage 0.5.3
 * collection (`memstorage-0.5.3+mongodb://…`); copied into its own collection it is converted
 * in place (lib/cli/legacy-migration.ts).
 */
import { parseQueryArg } from '../arguments';
import { recordsToWrite } from '../copy-plan';
import { CliError, ExitCodes } from '../exit-codes';
import { inPlaceTarget, migrateInPlace } from '../legacy-migration';
import { withStore } from '../open-store';
import { CliIo } from '../output';
import { startProgress } from '../progress';
import { Source, openSource } from '../source';
import type { SetManyItem } from '../../store-types';
import type { BaseStore } from '../../store';
import { parseSourceUrl } from '../store-url';
import { reportRejected } from './rejected';
import { tagsRefused } from './tags-refused';

/** Options of `copy`. */
export interface CopyOptions {
  /** Copy entries that have tags without them, into a store that keeps none. */
  dropTags?: boolean;
  /** Entries per window (parsed by the caller). */
  batch?: number;
}

/** What a copy did. */
export interface CopyResult {
  /** Entries written. */
  copied: number;
  /** Entries the destination already held equal: not written. */
  equal: number;
  /** Entries that expired between their read and their write: not written. */
  expired: number;
}

/** The line `copy` ends with. */
export function copySummary(result: CopyResult): string {
  return `copied ${result.copied} entries; ${result.equal} already equal at the destination, ${result.expired} expired before their write`;
}

/** Copies from what `from` names into the store `to` names. */
export async function copyCommand(from: string, to: string, queryArg: string | undefined, options: CopyOptions, io: CliIo): Promise<CopyResult> {
  const query = parseQueryArg(queryArg);
  const inPlace = inPlaceTarget(parseSourceUrl(from), to);
  if (inPlace !== undefined) {
    if (query !== undefined) throw new CliError(ExitCodes.USAGE, 'a memstorage 0.5.3 collection is read whole: give no key or query');
    return convertInPlace(inPlace, io);
  }
  const source = await openSource(from, query);
  try {
    const result = await withStore(to, (target) => copyInto(source, target, to, options, io));
    reportRejected(source, copySummary(result), io);
    return result;
  } finally {
    await source.close().catch(() => undefined);
  }
}

/** Copies the windows of `source` into `target` (named `to` in messages). */
export async function copyInto(source: Source, target: BaseStore, to: string, options: CopyOptions, io: CliIo): Promise<CopyResult> {
  const keepTags = target.supports.tags === true;
  const progress = startProgress(io.stderr, 'copy', io.stderr.isTTY ? await source.size() : undefined);
  const result: CopyResult = { copied: 0, equal: 0, expired: 0 };
  let written: Promise<void> = Promise.resolve();
  try {
    for await (const window of source.windows(options.batch)) {
      if (!keepTags && !options.dropTags) {
        const tagged = window.find((record) => record.tags.length > 0);
        if (tagged !== undefined) throw new CliError(ExitCodes.TAGS_REFUSED, `${tagsRefused(tagged.key, to)}\ncopy stopped: ${copySummary(result)}`);
      }
      const changed = await recordsToWrite(target, window, keepTags);
      result.equal += window.length - changed.length;
      const now = Date.now();
      const items: SetManyItem[] = [];
      for (const record of changed) {
        if (record.expiresAt !== null && record.expiresAt <= now) {
          result.expired++;
          continue;
        }
        const ttl = record.expiresAt === null ? null : record.expiresAt - now;
        items.push(keepTags && record.tags.length > 0 ? { key: record.key, value: record.value, ttl, tags: record.tags } : { key: record.key, value: record.value, ttl });
      }
      // The window is written while the next one is read and compared (other keys: the order of the two does not matter).
      await written;
      const sent = items.length > 0 ? target.setMany(items) : Promise.resolve();
      sent.catch(() => undefined); // awaited below or with the next window
      written = sent.then(() => {
        result.copied += items.length;
        progress.add(window.length);
      });
    }
    await written;
  } finally {
    await written.catch(() => undefined);
    progress.stop();
  }
  return result;
}

/** The memstorage 0.5.3 documents of a collection converted where they are. */
async function convertInPlace(settings: Parameters<typeof migrateInPlace>[0], io: CliIo): Promise<CopyResult> {
  let progress: ReturnType<typeof startProgress> | undefined;
  let reported = 0;
  const result = await migrateInPlace(settings, (p) => {
    progress ??= startProgress(io.stderr, 'copy (in place)', p.total);
    const done = p.migrated + p.skipped;
    progress.add(done - reported);
    reported = done;
  });
  progress?.stop();
  const copied: CopyResult = { copied: result.migrated, equal: 0, expired: 0 };
  if (result.skipped > 0) {
    io.stderr.write(`${copySummary(copied)}\n`);
    const list = result.errors.map(({ _id, reason }) => `  _id ${JSON.stringify(_id)}: ${reason}`).join('\n');
    throw new CliError(ExitCodes.INCOMPLETE, `${result.skipped} memstorage 0.5.3 documents cannot be entries: left in place, tagged legacyError:\n${list}`);
  }
  return copied;
}
