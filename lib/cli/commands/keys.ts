/** `keys <store> [pattern|query]`: the keys, as a JSON array or one JSON key a line (`--ndjson`). */
import { parseLimit, parseQueryArg, parseSort } from '../arguments';
import { withStore } from '../open-store';
import { CliIo, write } from '../output';

/** Options of `keys`. */
export interface KeysOptions {
  ndjson?: boolean;
  sort?: string;
  limit?: string;
}

/** Prints the keys matching a glob over string keys (`user:*`) or a JSON query over object keys; all when none. */
export async function keysCommand(url: string, pattern: string | undefined, options: KeysOptions, io: CliIo): Promise<void> {
  const query = parseQueryArg(pattern);
  const sort = parseSort(options.sort);
  const limit = parseLimit(options.limit);
  await withStore(url, async (store) => {
    const keys = await store.keys(query, { ...(sort && { sort }), ...(limit !== undefined && { limit }) });
    if (!options.ndjson) return write(io.stdout, `${JSON.stringify(keys)}\n`);
    for (const key of keys) await write(io.stdout, `${JSON.stringify(key)}\n`);
  });
}
