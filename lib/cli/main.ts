#!/usr/bin/env node
/**
 * `memstorage-next`: look inside a store, export and import NDJSON snapshots, copy between any
 * two stores (docs/cli.md). Stores are named by URL (store-url.ts); every failure has its own
 * exit code (exit-codes.ts). The argument parsing is commander's; each command is one file in
 * lib/cli/commands/.
 */
import { Command, CommanderError } from 'commander';
import { StoreError } from '../errors';
import { parseBatch } from './arguments';
import { SNAPSHOT_WINDOW } from './snapshot';
import { copyCommand, copySummary } from './commands/copy';
import { EXPORT_WINDOW, exportCommand, exportSummary } from './commands/export';
import { getCommand } from './commands/get';
import { IMPORT_BATCH, importCommand, importSummary } from './commands/import';
import { keysCommand } from './commands/keys';
import { statsCommand } from './commands/stats';
import { EXIT_CODES_HELP, ExitCode, ExitCodes, exitCodeOf } from './exit-codes';
import { tuneHeapForStreaming } from './heap-tuning';
import type { CliIo } from './output';
import { STORE_URL_HELP } from './store-url';

const FOOTER = `\n${STORE_URL_HELP}\n\nA key or query argument starting with { is JSON (a query, or an object key), one starting with " a JSON string; anything else is a string key.\n\n${EXIT_CODES_HELP}\n`;

/** The command-line program, writing to `io`. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('memstorage-next')
    .description('Inspect memstorage-next stores, export and import NDJSON snapshots, copy between stores.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', FOOTER);
  const command = (spec: string, description: string) =>
    program.command(spec).description(description).exitOverride().addHelpText('after', FOOTER);
  const message = (text: string): void => {
    io.stderr.write(`${text}\n`);
  };

  command('stats <store>', "print the store's counters and item count as JSON").action((store: string) => statsCommand(store, io));
  command('keys <store> [pattern]', 'print the keys: all, a glob over string keys (user:*), or a JSON query over object keys')
    .option('--ndjson', 'one JSON key a line instead of one JSON array')
    .option('--sort <order>', 'JSON ({"age":-1}) or paths with - for descending (-age,name)')
    .option('--limit <n>', 'at most n keys')
    .action((store: string, pattern: string | undefined, options) => keysCommand(store, pattern, options, io));
  command('get <store> <query>', 'print the entries of a key or JSON query as {key, value} records')
    .option('--ndjson', 'one record a line instead of one JSON array')
    .option('--sort <order>', 'JSON ({"age":-1}) or paths with - for descending (-age,name)')
    .option('--limit <n>', 'at most n entries')
    .action((store: string, query: string, options) => getCommand(store, query, options, io));
  command('export <store> [query]', 'write every live entry (or those of a key or JSON query) as NDJSON records {key, value, expiresAt, tags} to stdout')
    .option('--batch <n>', `entries read (and their metadata asked) at a time (default ${EXPORT_WINDOW})`)
    .action(async (store: string, query: string | undefined, options: { batch?: string }) =>
      message(exportSummary(await exportCommand(store, query, { batch: parseBatch(options.batch) }, io))),
    );
  command('import <store>', 'read NDJSON records {key, value, expiresAt, tags} from stdin into the store (entries expired by then are skipped)')
    .option('--drop-tags', 'write entries without their tags into a store that keeps none (else such an entry stops the import, exit code 7)')
    .option('--batch <n>', `entries per setMany (default ${IMPORT_BATCH})`)
    .action(async (store: string, options: { dropTags?: boolean; batch?: string }) =>
      message(importSummary(await importCommand(store, { dropTags: options.dropTags, batch: parseBatch(options.batch) }, io))),
    );
  command('copy [query]', 'copy every live entry (or those of a key or JSON query) with its expiry and tags from one store to another; entries already equal at the destination are not written again, so an interrupted copy resumes by running it again')
    .requiredOption('--from <store>', 'the store to read (or a memstorage 0.5.3 collection: memstorage-0.5.3+mongodb://…)')
    .requiredOption('--to <store>', 'the store to write')
    .option('--drop-tags', 'copy entries without their tags into a store that keeps none (else such an entry stops the copy, exit code 7)')
    .option('--batch <n>', `entries read, compared and written at a time (default ${SNAPSHOT_WINDOW})`)
    .action(async (query: string | undefined, options: { from: string; to: string; dropTags?: boolean; batch?: string }) =>
      message(copySummary(await copyCommand(options.from, options.to, query, { dropTags: options.dropTags, batch: parseBatch(options.batch) }, io))),
    );
  return program;
}

/** Runs the command line `argv` (without node and the script); resolves the exit code. */
export async function main(argv: string[], io: CliIo): Promise<ExitCode> {
  try {
    await buildProgram(io).parseAsync(argv, { from: 'user' });
    return ExitCodes.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has printed its message (or the help) already.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? ExitCodes.OK : ExitCodes.USAGE;
    }
    const code = err instanceof StoreError ? ` ${err.code}` : '';
    io.stderr.write(`memstorage-next: error${code}: ${(err as Error).message}\n`);
    return exitCodeOf(err);
  }
}

if (require.main === module) {
  // Before any store is opened: the drivers' code would grow the young generation.
  tuneHeapForStreaming();
  // A reader that goes away (`| head`) is not a failure of the command.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(ExitCodes.OK);
    throw err;
  });
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }).then((code) => {
    process.exitCode = code;
  });
}
