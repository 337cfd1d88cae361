/** `stats <store>`: the store's counters and item count, as one JSON object. */
import { withStore } from '../open-store';
import { CliIo, write } from '../output';

/** Prints stats() of the store `url` names. */
export async function statsCommand(url: string, io: CliIo): Promise<void> {
  await withStore(url, async (store) => {
    const stats = await store.stats();
    await write(io.stdout, `${JSON.stringify(stats, null, 2)}\n`);
  });
}
