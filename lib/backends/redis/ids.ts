/**
 * The keys behind ids read back from the store's own sets (order, expiry, index sets). Such a
 * set may hold garbage written by something else: an id that is not a key the store writes
 * matches no query, and reading an entry under it is ERR_STORAGE_OPERATION.
 */
import { Key, KeyObject, isObjectKeyId, isPlainObject } from '../../keys';
import { corrupt } from './errors';

/**
 * The object key of an id read from one of the store's sets, or undefined when it is not one
 * the store writes (garbage written by something else): such a member matches no query.
 */
export function objectKeyOf(id: string): KeyObject | undefined {
  if (!isObjectKeyId(id)) return undefined;
  try {
    const key: unknown = JSON.parse(id.slice(1));
    return isPlainObject(key) ? (key as KeyObject) : undefined;
  } catch {
    return undefined;
  }
}

/** The key of an id read from one of the store's sets; ERR_STORAGE_OPERATION when it is not a key. */
export function keyOfId(id: string): Key {
  if (!isObjectKeyId(id)) return id;
  const key = objectKeyOf(id);
  if (key === undefined) throw corrupt(id, 'its id is not a key the store writes');
  return key;
}

/**
 * A candidate entry before its value is read. `key` is undefined for a member of a set that is
 * not a key the store writes: a read reports it if an entry is stored under it, and skips it
 * otherwise; a delete by query passes over it.
 */
export interface Candidate {
  id: string;
  key: Key | undefined;
  /** Its creation sequence (its score in the order set), which orders candidates of several shards (shard-find.ts). */
  seq: number;
  /** Its entry string as a script read it with the candidate (0: absent or expired; see EMIT), so no MGET needs to. */
  entry?: string | number;
}

/**
 * A candidate an index decided alone (nothing left to test on its key), its key parsed from
 * the id only if someone asks: a read then yields an entry whose key is parsed on first use
 * (find.ts FoundEntry), as a walk of one equality's index does. Only for ids of object keys.
 */
export class UnparsedCandidate implements Candidate {
  private parsed: Key | undefined | null = null;
  constructor(
    readonly id: string,
    readonly seq: number,
  ) {}
  get key(): Key | undefined {
    if (this.parsed === null) this.parsed = objectKeyOf(this.id);
    return this.parsed;
  }
}
