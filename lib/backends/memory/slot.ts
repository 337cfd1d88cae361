/**
 * The record of a memory entry that needs more than its value and times (an object key, a TTL,
 * a tracked size). Plain string keys without TTL in an unbounded store need none: see
 * keyspace.ts and bare-entries.ts.
 */
import { Key, KeyObject, keyFromId } from '../../keys';

/**
 * An entry that needs more than its value. An object key is kept as its id (a flat string) and,
 * in a store indexing every path (the default `indexes`), also parsed (ParsedSlot), for queries
 * to read its fields directly. A store given its list of `indexes` keeps no parsed key: `{ id,
 * kind, age, city }` parsed costs ~64 bytes an entry, a third of such an entry; its queries test
 * equalities by index membership (seq-intersect.ts) and parse the key from the id where they
 * need it. Such a Slot has no `parsed` field at all (8 bytes an entry: 1M entries, 8 MB): reading
 * it finds nothing on the object and gives undefined.
 */
export class Slot {
  /** The object key parsed (a normalized copy), in a ParsedSlot; undefined otherwise and for string keys. */
  declare readonly parsed: KeyObject | undefined;
  /**
   * Epoch ms of expiry. An own field only of a Slot made with an expiry (TimedSlot,
   * TimedParsedSlot, SizedSlot) or given one later (then V8 keeps it out of the object, which
   * only such entries pay): most entries have none, and the field cost 8 bytes each (1M
   * entries, 8 MB). Read and written through `expiresAt`.
   */
  declare protected expiry: number | undefined;
  /**
   * When the value was last written (getMeta, SPEC §16), in ms after the keyspace's time base,
   * where that is not its creation time: an own field only of an entry written again later (V8
   * keeps it out of the object, with `expiry` if it has one), so an entry never overwritten pays
   * nothing for it (8 bytes each: 1M object keys, 8 MB). Undefined: its creation time, which the
   * keyspace finds from `seq` (creation-times.ts), not kept here either (8 bytes more).
   */
  declare updated: number | undefined;
  constructor(
    readonly id: string,
    public value: unknown,
    /**
     * The keyspace's creation sequence (each new Slot takes the next): index hits merge back into
     * creation order by it, and the creation time is found from it (creation-times.ts). 0 in a
     * Slot made only for a page walk to read (keyspace-entries.ts slotOf).
     */
    readonly seq: number,
  ) {}

  /** Epoch ms, or 0 for no expiry. */
  get expiresAt(): number {
    return this.expiry ?? 0;
  }

  set expiresAt(at: number) {
    // An entry without an expiry that keeps none gains no field.
    if (at !== 0 || this.expiry !== undefined) this.expiry = at;
  }

  /** The key: the kept parse, or one made from the id for this read; read only. */
  get key(): Key {
    return this.parsed ?? keyFromId(this.id);
  }

  /** Whether the entry's key is an object (its id starts with NUL: lib/keys.ts). */
  get isObjectKey(): boolean {
    return this.id.charCodeAt(0) === 0;
  }
}

/** A Slot made with an expiry (epoch ms): the field is in the object. */
export class TimedSlot extends Slot {
  constructor(id: string, value: unknown, seq: number, expiresAt: number) {
    super(id, value, seq);
    this.expiry = expiresAt;
  }
}

/** A Slot that keeps its object key parsed (a store indexing every path; see Slot). */
export class ParsedSlot extends Slot {
  constructor(
    id: string,
    value: unknown,
    seq: number,
    override readonly parsed: KeyObject | undefined,
  ) {
    super(id, value, seq);
  }
}

/** A ParsedSlot made with an expiry (epoch ms): the field is in the object. */
export class TimedParsedSlot extends ParsedSlot {
  constructor(id: string, value: unknown, seq: number, parsed: KeyObject | undefined, expiresAt: number) {
    super(id, value, seq, parsed);
    this.expiry = expiresAt;
  }
}

/**
 * A Slot of a store bounded by maxBytes, which tracks each entry's approximate bytes. Only those
 * stores pay for the field: 8 bytes per entry, 8 MB for 1M object keys. (Such stores are rare
 * enough that it keeps the `parsed` and expiry fields whatever the store's indexes and TTLs.)
 */
export class SizedSlot extends ParsedSlot {
  constructor(
    id: string,
    value: unknown,
    parsed: KeyObject | undefined,
    expiresAt: number,
    seq: number,
    /** Approximate bytes. */
    public size: number,
  ) {
    super(id, value, seq, parsed);
    this.expiry = expiresAt;
  }
}

/**
 * A new Slot of the lightest class for what it holds: `parsed` only where the store keeps parsed
 * keys, the expiry field only when it has one (0: none).
 */
export function newSlot(id: string, value: unknown, seq: number, parsed: KeyObject | undefined, expiresAt: number): Slot {
  if (parsed !== undefined) return expiresAt !== 0 ? new TimedParsedSlot(id, value, seq, parsed, expiresAt) : new ParsedSlot(id, value, seq, parsed);
  return expiresAt !== 0 ? new TimedSlot(id, value, seq, expiresAt) : new Slot(id, value, seq);
}
