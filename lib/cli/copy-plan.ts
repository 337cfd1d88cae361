/**
 * What `copy` needs to write: the entries of a window that are not already at the destination
 * as they are at the source. An entry counts as equal when the destination holds the same value
 * (same serialized form, so a Date is not equal to its ISO string), the same tags (as a set),
 * and the same expiry within EXPIRY_TOLERANCE_MS. This is what makes a copy idempotent and
 * resumable without a state file: run again after an interruption, it writes only what the
 * interrupted run did not. Costs one getMany of the window at the destination, and a getMeta
 * (one tick, so one round trip) of the entries whose value matched.
 */
import type { EntryMeta } from '../backend';
import { defaultSerializer } from '../serializer';
import type { BaseStore } from '../store';
import type { SnapshotRecord } from './snapshot';

/**
 * How far apart two expiries may be and still be the same: a copy writes `expiresAt - now` as
 * the TTL, and the destination counts it from its own write, a few ms later (Redis rounds to
 * the ms, MongoDB stores the date).
 */
export const EXPIRY_TOLERANCE_MS = 1_000;

/** The records of `window` that `target` does not hold equal; `keepTags` false compares as if the records had none. */
export async function recordsToWrite(target: BaseStore, window: readonly SnapshotRecord[], keepTags: boolean): Promise<SnapshotRecord[]> {
  const current = await target.getMany(window.map((record) => record.key));
  const sameValue: number[] = [];
  for (let i = 0; i < window.length; i++) {
    if (current[i] !== undefined && defaultSerializer.serialize(current[i]) === defaultSerializer.serialize(window[i].value)) sameValue.push(i);
  }
  const metas: Array<Promise<EntryMeta | undefined>> = sameValue.map((i) => target.getMeta(window[i].key));
  const answers = await Promise.all(metas);
  const equal = new Set<number>();
  for (let n = 0; n < sameValue.length; n++) {
    const record = window[sameValue[n]];
    const meta = answers[n];
    if (meta !== undefined && sameExpiry(meta.expiresAt, record.expiresAt) && sameTags(meta.tags, keepTags ? record.tags : [])) equal.add(sameValue[n]);
  }
  return equal.size === 0 ? [...window] : window.filter((_, i) => !equal.has(i));
}

function sameExpiry(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) <= EXPIRY_TOLERANCE_MS;
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((tag) => set.has(tag));
}
