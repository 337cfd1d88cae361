/**
 * The command's exit codes (documented in `--help` and docs/cli.md): one per failure kind, so a
 * script can tell a typo in a URL from a server that is down.
 */
import { ErrorCodes, StoreError } from '../errors';

/** Exit codes of `memstorage-next`. */
export const ExitCodes = {
  /** Everything done. */
  OK: 0,
  /** An unexpected failure: the server answered with an error, a bug. */
  FAILURE: 1,
  /** A usage error: unknown command or option, missing argument, bad option value. */
  USAGE: 2,
  /** A store URL that cannot be parsed, or settings in it the store refuses (ERR_STORE_CONFIG). */
  BAD_URL: 3,
  /** The store's server cannot be reached (ERR_STORAGE_CONNECTION). */
  UNREACHABLE: 4,
  /** A key, query or sort given on the command line is not valid JSON or not a valid query (ERR_INVALID_QUERY, ERR_INVALID_KEY). */
  BAD_QUERY: 5,
  /** `import`: a line of the input is not a valid record; reported with its line number. */
  BAD_INPUT: 6,
  /** `import`, `copy`: an entry has tags and the destination keeps none (pass --drop-tags to leave them out). */
  TAGS_REFUSED: 7,
  /** `copy`, `export` of a memstorage 0.5.3 collection: some documents cannot be entries; the others were copied, those are listed. */
  INCOMPLETE: 8,
} as const;

/** One of the values of ExitCodes. */
export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];

/** The text `--help` shows under "Exit codes". */
export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  unexpected failure (the server reported an error)
  2  usage error (unknown command or option, missing argument)
  3  bad store URL, or a setting in it the store refuses
  4  server unreachable (ERR_STORAGE_CONNECTION)
  5  bad key, query or --sort given on the command line
  6  import: a corrupt input line (its line number is printed; earlier lines stay imported)
  7  import, copy: an entry has tags the destination cannot keep (--drop-tags leaves them out)
  8  copy, export: memstorage 0.5.3 documents that cannot be entries were left out (listed)`;

/** A failure the command reports with a chosen exit code and message. */
export class CliError extends Error {
  constructor(readonly exitCode: ExitCode, message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** The exit code of any error reaching the top of a command. */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof StoreError) {
    switch (err.code) {
      case ErrorCodes.CONFIG:
        return ExitCodes.BAD_URL;
      case ErrorCodes.CONNECTION:
        return ExitCodes.UNREACHABLE;
      case ErrorCodes.INVALID_QUERY:
      case ErrorCodes.INVALID_KEY:
        return ExitCodes.BAD_QUERY;
    }
  }
  return ExitCodes.FAILURE;
}
