/**
 * Bringing a namespace written by an older layout up to date (docs/redis.md, "Ordered
 * indexes"): on connect, a namespace whose version record is older than LAYOUT_VERSION and
 * that holds entries gets the ordered index records of every entry (REINDEX_SCRIPT, a batch of
 * the order set at a time: none before, layout 2's `n` members replaced by complemented ones),
 * then the record. Writers running this version keep the records
 * themselves meanwhile, so the rebuild can run while the namespace is in use.
 */
import { StoreConfigError } from '../../errors';
import type { RedisBackend } from './backend';
import { rethrow } from './errors';
import { objectKeyOf } from './ids';
import { LAYOUT_VERSION, orderedRecords } from './ordered';
import { REINDEX_SCRIPT, VERSION_SCRIPT } from './read-scripts';
import { walk } from './walk';

/** Rebuilds the namespace's ordered indexes if its records are older than this layout; resolves how many entries it indexed. */
export async function upgradeLayout(b: RedisBackend): Promise<number> {
  const l = b.layout;
  const current = Number(await VERSION_SCRIPT.run(b.pipedSend, [l.version, l.order, l.shardCount], [LAYOUT_VERSION]).catch(rethrow));
  if (current === 1) return 0;
  if (current === -1) {
    const shards = await b.getString(l.shardCount);
    throw new StoreConfigError(
      `setting shards: namespace ${JSON.stringify(b.namespace)} is sharded (its record ${l.shardCount} says shards: ${shards}), this store has shards: ${b.settings.shards}; open it with its shard count`,
    );
  }
  return rebuildOrderedIndexes(b);
}

/** Adds the ordered index records of every entry in the order set, then writes the version record. */
export async function rebuildOrderedIndexes(b: RedisBackend): Promise<number> {
  const l = b.layout;
  let indexed = 0;
  // A batch of the order set at a time (walk.ts: also right where sequences repeat, in a sharded namespace).
  for await (const pairs of walk(b, [l.order])) {
    const keys = [l.order, l.registry];
    const args: Array<string | number> = [];
    for (const [id] of pairs) {
      const key = objectKeyOf(id);
      if (key === undefined) continue; // a string key, or garbage: no ordered records
      let records;
      try {
        records = orderedRecords(l, key);
      } catch {
        continue; // parses, but is no key the store writes: nothing to index
      }
      keys.push(...records.keys);
      args.push(id, records.keys.length, ...records.descriptors);
    }
    if (args.length > 0) indexed += Number(await REINDEX_SCRIPT.run(b.pipedSend, keys, args).catch(rethrow));
  }
  await b.piped((c) => c.set(l.version, LAYOUT_VERSION)).catch(rethrow);
  return indexed;
}
