/**
 * How the model-based harness compares and prints keys and values.
 *
 * `fingerprint` renders a value to a string that keeps its type (a Date, a Buffer and a
 * Uint8Array of the same bytes all differ; so do 1 and '1'), so two values are equal for the
 * harness exactly when SPEC §3 says they round-trip. `code` renders a value as JavaScript
 * source, so a shrunk command sequence can be pasted into a test.
 */
import { keyId } from '../../lib/keys';

/** The model's size in a getMeta answer: any whole number of bytes (what a backend stores differs). */
export const ANY_SIZE = Symbol('any whole number of bytes');

/**
 * A getMeta answer rendered for comparison: its times, expiry and tags as they are, its size
 * as 'size ok' when it is a whole number of bytes (or the model's ANY_SIZE); anything else
 * (a missing or extra field, a negative size) shows as itself.
 */
export function metaFingerprint(meta: unknown): string {
  if (meta === undefined || meta === null || typeof meta !== 'object' || Array.isArray(meta)) return fingerprint(meta);
  const { size, ...rest } = meta as Record<string, unknown>;
  const sizeOk = size === ANY_SIZE || (typeof size === 'number' && Number.isInteger(size) && size >= 0);
  return `meta(${sizeOk ? 'size ok' : `size ${fingerprint(size)}`}, ${fingerprint(rest)})`;
}

/** A type-preserving canonical rendering of a value: equal fingerprints ⇔ the same value per SPEC §3. */
export function fingerprint(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'number') return Object.is(value, -0) ? 'num:-0' : `num:${value}`;
  if (typeof value === 'string') return `str:${JSON.stringify(value)}`;
  if (typeof value === 'boolean') return `bool:${value}`;
  if (value instanceof Date) return `date:${value.getTime()}`;
  if (Buffer.isBuffer(value)) return `buffer:${value.toString('hex')}`;
  if (value instanceof Uint8Array) return `u8:${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  if (Array.isArray(value)) return `[${value.map(fingerprint).join(',')}]`;
  if (typeof value === 'object') {
    const fields = Object.keys(value).sort();
    return `{${fields.map((f) => `${JSON.stringify(f)}:${fingerprint((value as Record<string, unknown>)[f])}`).join(',')}}`;
  }
  return `${typeof value}:${String(value)}`;
}

/** The canonical id of a key returned by a store, or a marker when the store returned something that is not a key. */
export function keyFingerprint(key: unknown): string {
  try {
    return `key:${JSON.stringify(keyId(key))}`;
  } catch {
    return `not-a-key:${fingerprint(key)}`;
  }
}

/** JavaScript source for a value (keys, values, queries, options), for readable reproductions. */
export function code(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'number') {
    if (Object.is(value, -0)) return '-0';
    return String(value);
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean') return String(value);
  if (value === ANY_SIZE) return '/* any size */ 0';
  if (value instanceof Date) return `new Date(${value.getTime()})`;
  if (Buffer.isBuffer(value)) return `Buffer.from(${JSON.stringify(value.toString('hex'))}, "hex")`;
  if (value instanceof Uint8Array) return `new Uint8Array([${Array.from(value).join(',')}])`;
  if (Array.isArray(value)) return `[${value.map(code).join(', ')}]`;
  if (typeof value === 'object') {
    const fields = Object.keys(value);
    if (fields.length === 0) return '{}';
    return `{ ${fields.map((f) => `${fieldName(f)}: ${code((value as Record<string, unknown>)[f])}`).join(', ')} }`;
  }
  return String(value);
}

function fieldName(field: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(field) ? field : JSON.stringify(field);
}
