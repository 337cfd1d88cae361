/**
 * `copy --from <store> --to <store> [query]`: every live entry (or those matching a key or JSON
 * query) of one store into another, with its remaining TTL, in batches (setMany). Idempotent: a
 * copy run again overwrites the same keys with the same values.
 */
import { parseQueryArg } from '../arguments';
import { withStore } from '../open-store';
import { CliIo } from '../output';
import { startProgress } from '../progress';
import { snapshotBatches, snapshotSize } from '../snapshot';

/** Copies from the store `from` names into the store `to` names; resolves how many entries. */
export async function copyCommand(from: string, to: string, queryArg: string | undefined, io: CliIo): Promise<number> {
  const query = parseQueryArg(queryArg);
  return withStore(from, (source) =>
    withStore(to, async (target) => {
      const progress = startProgress(io.stderr, 'copy', io.stderr.isTTY ? await snapshotSize(source, query) : undefined);
      let copied = 0;
      try {
        for await (const batch of snapshotBatches(source, query)) {
          if (batch.length === 0) continue;
          await target.setMany(batch);
          copied += batch.length;
          progress.add(batch.length);
        }
      } finally {
        progress.stop();
      }
      return copied;
    }),
  );
}
