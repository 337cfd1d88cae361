/**
 * `export <store> [query] > file.ndjson`: every live entry (or those matching a key or JSON
 * query) as one record a line (lib/cli/ndjson.ts): key, value, remaining TTL. Streamed in
 * constant memory; a progress bar on stderr when it is a terminal. Tags are not written yet:
 * reading them needs getMeta (issue #14 item 4).
 */
import { parseQueryArg } from '../arguments';
import { encodeRecord } from '../ndjson';
import { withStore } from '../open-store';
import { CliIo, write } from '../output';
import { startProgress } from '../progress';
import { snapshotBatches, snapshotSize } from '../snapshot';

/** Writes the snapshot of the store `url` names to stdout; resolves how many entries. */
export async function exportCommand(url: string, queryArg: string | undefined, io: CliIo): Promise<number> {
  const query = parseQueryArg(queryArg);
  return withStore(url, async (store) => {
    const progress = startProgress(io.stderr, 'export', io.stderr.isTTY ? await snapshotSize(store, query) : undefined);
    let written = 0;
    try {
      for await (const batch of snapshotBatches(store, query)) {
        let text = '';
        for (const record of batch) text += `${encodeRecord(record)}\n`;
        await write(io.stdout, text);
        written += batch.length;
        progress.add(batch.length);
      }
    } finally {
      progress.stop();
    }
    return written;
  });
}
