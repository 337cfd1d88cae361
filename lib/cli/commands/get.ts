/**
 * `get <store> <key|query>`: the matching entries as `{ key, value }` records (values in the
 * export's lossless form, lib/cli/ndjson.ts), a JSON array or one record a line (`--ndjson`).
 */
import { parseLimit, parseQueryArg, parseSort } from '../arguments';
import { encodeRecord } from '../ndjson';
import { withStore } from '../open-store';
import { CliIo, write } from '../output';

/** Options of `get`. */
export interface GetOptions {
  ndjson?: boolean;
  sort?: string;
  limit?: string;
}

/** Prints the entries of an exact key (a string, or JSON object key) or a JSON query. */
export async function getCommand(url: string, keyOrQuery: string, options: GetOptions, io: CliIo): Promise<void> {
  const query = parseQueryArg(keyOrQuery)!;
  const sort = parseSort(options.sort);
  const limit = parseLimit(options.limit);
  await withStore(url, async (store) => {
    // entries() streams (no sort) where get() would gather every match first.
    const lines = store.entries(query, { ...(sort && { sort }), ...(limit !== undefined && { limit }) });
    if (options.ndjson) {
      for await (const entry of lines) await write(io.stdout, `${encodeRecord(entry)}\n`);
      return;
    }
    let first = true;
    for await (const entry of lines) {
      await write(io.stdout, `${first ? '[' : ','}${encodeRecord(entry)}`);
      first = false;
    }
    await write(io.stdout, first ? '[]\n' : ']\n');
  });
}
