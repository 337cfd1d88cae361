/**
 * getMeta on the Redis store (SPEC §16): an entry's size, times, expiry and tags without its
 * value. The times ride in the entry string's head (layout.ts, timedHead), written by the same
 * scripts as the entry, so they live and die with it; the tags come from the `g` hash. A
 * tick's getMeta calls are queued with the exact reads (RedisConnection.enqueue, kind 'meta')
 * and sent as one META_SCRIPT per batch (per shard of a sharded namespace).
 */
import type { EntryMeta } from '../../backend';
import type { RedisBackend } from './backend';
import type { BatchItem } from './connection';
import { corrupt, toStoreError } from './errors';
import { MALFORMED, headExpiry, headTimes, isStreamed, liveHead, streamedOf } from './layout';
import { META_SCRIPT } from './read-scripts';

/** One META_SCRIPT for a batch of getMeta calls of `b`'s namespace (one slot). */
export function sendMetas(b: RedisBackend, items: BatchItem[]): void {
  const l = b.layout;
  const now = b.clock.now();
  const keys = [l.entryTags];
  const args: Array<string | number> = [now];
  for (const { id } of items) {
    keys.push(l.entry(id), l.chunks(id));
    args.push(id);
  }
  META_SCRIPT.run(b.connection.batchCommand, keys, args).then(
    (reply) => {
      const flat = reply as Array<string | number>;
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        try {
          item.resolve(metaOf(item.id, flat[3 * i], Number(flat[3 * i + 1]), flat[3 * i + 2] as string, now));
        } catch (err) {
          item.reject(err);
        }
      }
    },
    (err) => {
      const error = toStoreError(err);
      for (const item of items) item.reject(error);
    },
  );
}

/** The metadata of one META_SCRIPT answer: its head (0: no live entry), stored bytes and tag prefixes; a head the store did not write is corrupt. */
function metaOf(id: string, head: string | number, size: number, tags: string, now: number): EntryMeta | undefined {
  if (typeof head === 'number') return undefined;
  const k = liveHead(head, now);
  if (k < 0) {
    if (k === MALFORMED) throw corrupt(id, 'it has no <expiry>v or <expiry>c head');
    return undefined;
  }
  if (isStreamed(head, k)) {
    if (streamedOf(head, k) === null) throw corrupt(id, 'its chunk count or generation does not parse');
    if (size < 0) throw corrupt(id, 'its chunks are not a hash');
  }
  const { createdAt, updatedAt } = headTimes(head, k);
  return { size, createdAt, updatedAt, expiresAt: headExpiry(head, k), tags: tagsOf(tags) };
}

/** The tags of an entry's member prefixes in the `g` hash (tagPrefix, layout.ts: each NUL as NUL \x01, two NULs after each tag), in the order they were given. */
export function tagsOf(prefixes: string): string[] {
  const tags: string[] = [];
  let tag = '';
  for (let i = 0; i < prefixes.length; i++) {
    const c = prefixes[i];
    if (c !== '\0') {
      tag += c;
      continue;
    }
    i++;
    if (prefixes[i] === '\x01') {
      tag += '\0';
      continue;
    }
    tags.push(tag);
    tag = '';
  }
  return tags;
}
