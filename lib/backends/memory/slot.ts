/**
 * The record of a memory entry that needs more than its value and times (an object key, a TTL,
 * a tracked size). Plain string keys without TTL in an unbounded store need none: see
 * keyspace.ts and bare-entries.ts.
 */
import type { Key } from '../../keys';

/** An entry that needs more than its value. */
export class Slot {
  constructor(
    readonly id: string,
    public value: unknown,
    /** The key (object keys keep their normalized copy for queries). */
    readonly key: Key,
    /** Epoch ms, or 0 for no expiry. */
    public expiresAt: number,
    /** Creation sequence, used to merge index hits back into creation order. */
    readonly seq: number,
    /**
     * When the entry was created and its value last written (getMeta, SPEC §16), in ms after
     * the keyspace's time base: small integers, which V8 keeps in the object unboxed (an epoch
     * ms would take a heap number each, 16 bytes more per time) for the first 2^31 ms (24 days)
     * of the keyspace; later times still work, boxed.
     */
    readonly createdAt = 0,
    public updatedAt = createdAt,
  ) {}
}

/**
 * A Slot of a store bounded by maxBytes, which tracks each entry's approximate bytes. Only those
 * stores pay for the field: 8 bytes per entry, 8 MB for 1M object keys.
 */
export class SizedSlot extends Slot {
  constructor(
    id: string,
    value: unknown,
    key: Key,
    expiresAt: number,
    seq: number,
    createdAt: number,
    updatedAt: number,
    /** Approximate bytes. */
    public size: number,
  ) {
    super(id, value, key, expiresAt, seq, createdAt, updatedAt);
  }
}
