/**
 * `has` and `expiresAt` of the Redis store: a live entry's expiry read from the head of its
 * string alone (GETRANGE), whatever the size of the value, with the chunk hash of a streamed
 * value asked about in the same tick.
 */
import type { RedisBackend } from './backend';
import { corrupt, isWrongType, toStoreError } from './errors';
import { MALFORMED, headExpiry, isStreamed, liveHead, streamedOf } from './layout';
import { HEAD_BYTES } from './scripts';

/**
 * A live entry's expiry (null: none), read from the head of its string only; undefined if
 * absent or expired, or a key of another type, or a streamed value whose chunks are gone (as
 * reads see them). A string without an entry head is ERR_STORAGE_OPERATION naming the key.
 * The chunk hash is asked about in the same tick as the head, so both answers come from one
 * moment of this connection's command order, before any command of a later call.
 */
export function readExpiry(b: RedisBackend, id: string): Promise<number | null | undefined> {
  const head = b.piped((c) => c.getrange(b.layout.entry(id), 0, HEAD_BYTES - 1));
  const chunks = b.piped((c) => c.hexists(b.layout.chunks(id), 'g'));
  chunks.catch(() => undefined); // answered below only for a streamed head
  return head.then(
    (h) => {
      const k = liveHead(h, b.clock.now());
      if (k < 0) {
        if (k === MALFORMED) throw corrupt(id, 'it has no <expiry>v or <expiry>c head');
        return undefined;
      }
      const expiresAt = headExpiry(h, k);
      if (!isStreamed(h, k)) return expiresAt;
      if (streamedOf(h, k) === null) throw corrupt(id, 'its chunk count or generation does not parse');
      return chunks.then(
        (n) => (n === 1 ? expiresAt : undefined),
        (err) => {
          throw isWrongType(err) ? corrupt(id, 'its chunks are not a hash', err) : toStoreError(err);
        },
      );
    },
    (err) => {
      if (isWrongType(err)) return undefined; // another type at the entry's name: no entry
      throw toStoreError(err);
    },
  );
}
