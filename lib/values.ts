/**
 * Values (SPEC §3): what may be stored, checked before anything is written, and the deep
 * copy used by `clone: true`.
 *
 * Allowed: JSON values, Date, Buffer/Uint8Array, and arrays/plain objects of those. Rejected:
 * undefined (anywhere), functions, symbols, bigint, non-finite numbers (JSON cannot carry
 * them, so they would not round-trip), class instances other than Date/Buffer/Uint8Array,
 * and cycles (reported as nesting deeper than MAX_VALUE_DEPTH). Shared (acyclic) references are fine.
 *
 * "Input is read once" (SPEC §12) for values: unlike keys, a value is not snapshotted here.
 * The memory store keeps the caller's reference by default (like Map: SPEC §3), so a value's
 * getters and Proxy traps are the caller's own behaviour, run again whenever the caller's
 * object is read; copying every value to freeze it would cost every set for no gain there.
 * Byte backends serialize the value once, and those bytes are the snapshot. So the check walk
 * accepts accessors and Proxies (reactive objects are common values) but never lets their
 * errors out raw: anything thrown while reading the value is an InvalidValueError with the
 * original as `cause`. A serializer must do the same for what it reads (see lib/serializer.ts).
 */
import { InvalidValueError } from './errors';
import { describe } from './keys';
import { MAX_VALUE_DEPTH } from './limits';

// The limit lives in lib/limits.ts; re-exported for the modules that import it from here.
export { MAX_VALUE_DEPTH };

/** What the check learned about a value, so serializers can take their fast path. */
export interface ValueShape {
  /** The value holds a Date, Buffer or Uint8Array somewhere (plain JSON cannot carry it). */
  special: boolean;
}

const PLAIN: ValueShape = Object.freeze({ special: false });
const SPECIAL: ValueShape = Object.freeze({ special: true });

/** Throws InvalidValueError unless `value` can be stored; reports whether it needs tagging. */
export function checkValue(value: unknown): ValueShape {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return PLAIN;
  special = false;
  try {
    walk(value, 0);
  } catch (err) {
    if (err instanceof BadValue) {
      const where = err.path.length > 0 ? `(value)${err.path.reverse().join('')}` : '(value)';
      throw new InvalidValueError(`${where} ${err.reason}`);
    }
    // A getter or Proxy trap in the caller's value threw (or an engine limit was hit).
    throw new InvalidValueError(`(value) cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  return special ? SPECIAL : PLAIN;
}

function errorMessage(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'it threw';
  }
}

/** Raised inside the walk; the path is collected while unwinding, so the happy path builds no strings. */
class BadValue {
  readonly path: string[] = [];
  constructor(readonly reason: string) {}
}

let special = false;

function walk(value: unknown, depth: number): void {
  const type = typeof value;
  if (type === 'string' || type === 'boolean') return;
  if (type === 'number') {
    if ((value as number) - (value as number) !== 0) throw new BadValue(`is ${value}, which does not round-trip`);
    return;
  }
  if (type === 'undefined') throw new BadValue('is undefined; store null or leave the field out');
  if (type !== 'object') throw new BadValue(`is a ${type}, which cannot be stored`);
  if (value === null) return;
  // Cycles are caught by the depth bound: a cyclic value nests forever.
  if (depth >= MAX_VALUE_DEPTH) throw new BadValue(`is cyclic or nests deeper than ${MAX_VALUE_DEPTH} levels`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      try {
        walk(value[i], depth + 1);
      } catch (err) {
        if (err instanceof BadValue) err.path.push(`[${i}]`);
        throw err;
      }
    }
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    for (const field in value as Record<string, unknown>) {
      try {
        walk((value as Record<string, unknown>)[field], depth + 1);
      } catch (err) {
        if (err instanceof BadValue) err.path.push(`.${field}`);
        throw err;
      }
    }
    return;
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new BadValue('is an invalid Date');
    special = true;
    return;
  }
  if (value instanceof Uint8Array) {
    special = true;
    return;
  }
  throw new BadValue(`is a ${describe(value)}; only JSON values, Date and Buffer can be stored`);
}

/** A deep copy of a checked value that keeps Date, Buffer and Uint8Array types. */
export function cloneValue<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (Buffer.isBuffer(value)) return Buffer.from(value) as T;
  if (value instanceof Uint8Array) return new Uint8Array(value) as T;
  if (Array.isArray(value)) return value.map(cloneValue) as T;
  const out: Record<string, unknown> = {};
  for (const field in value as Record<string, unknown>) setField(out, field, cloneValue((value as Record<string, unknown>)[field]));
  return out as T;
}

/** Approximate bytes a value occupies, for `maxBytes` accounting. */
export function approximateSize(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return 16 + value.length * 2;
    case 'number':
    case 'boolean':
      return 8;
    case 'object':
      if (value === null) return 8;
      if (value instanceof Uint8Array) return 64 + value.byteLength;
      if (value instanceof Date) return 32;
      if (Array.isArray(value)) {
        let n = 32;
        for (const item of value) n += 8 + approximateSize(item);
        return n;
      }
      {
        let n = 32;
        for (const field in value as Record<string, unknown>) {
          n += 16 + field.length * 2 + approximateSize((value as Record<string, unknown>)[field]);
        }
        return n;
      }
    default:
      return 8;
  }
}

/** Sets an own field, even one named `__proto__`, without touching any prototype. */
export function setField(target: Record<string, unknown>, field: string, value: unknown): void {
  if (field === '__proto__') Object.defineProperty(target, field, { value, enumerable: true, writable: true, configurable: true });
  else target[field] = value;
}
