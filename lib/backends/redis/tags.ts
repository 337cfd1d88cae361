/**
 * Tags and touch on the Redis store (SPEC §15; layout in layout.ts and docs/redis.md, "Tags").
 *
 * An entry's tags are written by the same script as the entry (PUT in set-scripts.ts): the hash
 * `<base>g` maps a tagged entry's id to its tags' member prefixes, and the zset `<base>b`
 * holds `<prefix><id>` per tag, so a tag's entries are one BYLEX range. Every script that
 * removes an entry (delete, overwrite, setStream, sweep, clear) removes its tag records too,
 * so they live exactly as long as their entries' other records.
 */
import type { RedisBackend } from './backend';
import { corrupt, expiryError, rethrow, validExpiry } from './errors';
import { tagPrefix } from './layout';
import { TAGGED_SCRIPT } from './read-scripts';
import { TOUCH_SCRIPT } from './scripts';
import { drop } from './sweeping';

/**
 * Removes every entry of `b`'s namespace carrying one of `tags`; resolves how many were live.
 * A batch of tagged ids is listed (TAGGED_SCRIPT), then dropped by one script that removes an
 * id only if it still carries one of the tags, so an entry written again without them by
 * another client in between survives; listing again until no id is left takes in entries
 * tagged meanwhile.
 */
export async function deleteByTags(b: RedisBackend, tags: readonly string[]): Promise<number> {
  const l = b.layout;
  const prefixes = tags.map(tagPrefix);
  let removed = 0;
  for (;;) {
    const ids = (await TAGGED_SCRIPT.run(b.pipedSend, [l.tagIndex], [b.settings.batchSize, ...prefixes]).catch(rethrow)) as string[];
    if (ids.length === 0) return removed;
    removed += await drop(b, ids, 't', undefined, prefixes);
  }
}

/**
 * Sets a live entry's expiry in one script (TOUCH_SCRIPT), keeping its value, key, tags and
 * index records; resolves whether it was live. A string the store did not write is
 * ERR_STORAGE_OPERATION naming the key.
 */
export async function touch(b: RedisBackend, id: string, expiresAt: number | null): Promise<boolean> {
  if (expiresAt !== null && !validExpiry(expiresAt)) throw expiryError(expiresAt);
  const l = b.layout;
  const reply = Number(await TOUCH_SCRIPT.run(b.pipedSend, [l.entry(id), l.chunks(id), l.expiry], [id, b.clock.now(), expiresAt ?? '0']).catch(rethrow));
  if (reply < 0) throw corrupt(id, 'it has no <expiry>v or <expiry>c head');
  if (reply === 0) return false;
  if (expiresAt !== null) {
    b.connection.noteDue(b.namespace, expiresAt);
    b.sweeper.sweepIfDue();
  }
  return true;
}
