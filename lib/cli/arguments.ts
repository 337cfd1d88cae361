/**
 * Keys, queries, sorts and limits as given on the command line. An argument starting with `{`
 * is JSON (a query, or an object key), one starting with `"` a JSON string (how to name a string
 * key that starts with `{` or `"`); anything else is a string key (or, for `keys`, a glob).
 * Malformed JSON is a CliError (BAD_QUERY); the store checks the query itself (ERR_INVALID_QUERY,
 * BAD_QUERY too).
 */
import type { Query, SortOrder } from '../store-types';
import { CliError, ExitCodes } from './exit-codes';

/** The key or query an argument names (undefined when absent: every entry). */
export function parseQueryArg(arg: string | undefined): Query | undefined {
  if (arg === undefined) return undefined;
  const first = arg.trimStart()[0];
  if (first !== '{' && first !== '"') return arg;
  try {
    const parsed = JSON.parse(arg) as unknown;
    if (typeof parsed !== 'string' && (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new Error('a query is a JSON object or string');
    }
    return parsed as Query;
  } catch (err) {
    throw new CliError(ExitCodes.BAD_QUERY, `bad query ${JSON.stringify(arg)}: not JSON (${(err as Error).message})`);
  }
}

/** `--sort`: JSON (`{"age":-1}`) or paths separated by commas, descending with a leading `-` (`-age,name.last`). */
export function parseSort(arg: string | undefined): SortOrder | undefined {
  if (arg === undefined) return undefined;
  if (arg.trimStart().startsWith('{')) {
    try {
      return JSON.parse(arg) as SortOrder;
    } catch (err) {
      throw new CliError(ExitCodes.BAD_QUERY, `bad --sort ${JSON.stringify(arg)}: not JSON (${(err as Error).message})`);
    }
  }
  const sort: SortOrder = {};
  for (const part of arg.split(',')) {
    const path = part.trim().replace(/^[-+]/, '');
    if (path === '') throw new CliError(ExitCodes.BAD_QUERY, `bad --sort ${JSON.stringify(arg)}: an empty path`);
    sort[path] = part.trim().startsWith('-') ? -1 : 1;
  }
  return sort;
}

/** `--limit`: a whole number ≥ 0. */
export function parseLimit(arg: string | undefined): number | undefined {
  if (arg === undefined) return undefined;
  const n = Number(arg);
  if (!/^\d+$/.test(arg.trim()) || !Number.isSafeInteger(n)) throw new CliError(ExitCodes.USAGE, `bad --limit ${JSON.stringify(arg)}: a whole number ≥ 0`);
  return n;
}

/** `--batch`: a whole number from 1 to 100,000 (entries held at a time). */
export function parseBatch(arg: string | undefined): number | undefined {
  if (arg === undefined) return undefined;
  const n = Number(arg);
  if (!/^\d+$/.test(arg.trim()) || n < 1 || n > 100_000) throw new CliError(ExitCodes.USAGE, `bad --batch ${JSON.stringify(arg)}: a whole number from 1 to 100000`);
  return n;
}
