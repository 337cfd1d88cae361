/**
 * Keys: validation and canonical identity (SPEC §3).
 *
 * A key is a non-empty string or a plain object. Its identity is a canonical string, the
 * "id": a string key is its own id; an object key's id is NUL followed by JSON with fields
 * sorted at every level, so `{ a: 1, b: 2 }` and `{ b: 2, a: 1 }` share one id while
 * `{ age: 20 }` and `{ age: '20' }` do not. The NUL tag keeps the two kinds apart, which is
 * why a string key may not start with NUL.
 */
import { InvalidKeyError } from './errors';

/** A scalar allowed inside an object key. */
export type KeyScalar = string | number | boolean | null;
/** A value allowed inside an object key. */
export type KeyField = KeyScalar | KeyField[] | { [field: string]: KeyField };
/** A plain-object key. */
export type KeyObject = { [field: string]: KeyField };
/** A key: a non-empty string or a plain object. */
export type Key = string | KeyObject;

/** Deepest nesting accepted inside an object key. */
export const MAX_KEY_DEPTH = 16;
/** Longest canonical id accepted, in UTF-16 code units (string keys and object keys alike). */
export const MAX_KEY_LENGTH = 8192;
/** First character of every object key's id. */
export const OBJECT_ID_TAG = '\u0000';

const FORBIDDEN_FIELDS = new Set(['__proto__', 'constructor', 'prototype']);

/** True for `{}`-style objects (prototype Object.prototype or null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A validated key: its id, and for object keys a private, field-sorted copy. */
export interface NormalizedKey {
  id: string;
  key: Key;
}

/** Validates a string key and returns its id; throws InvalidKeyError. */
function stringKeyId(key: string): string {
  if (key.length === 0) throw new InvalidKeyError('a string key must not be empty');
  if (key.length > MAX_KEY_LENGTH) throw new InvalidKeyError(`a key must be at most ${MAX_KEY_LENGTH} characters`);
  if (key.charCodeAt(0) === 0) throw new InvalidKeyError('a string key must not start with the NUL character');
  return key;
}

/** The canonical id of a key; throws InvalidKeyError for anything that is not a valid key. */
export function keyId(key: unknown): string {
  if (typeof key === 'string') return stringKeyId(key);
  const fast = flatKeyId(key);
  return fast ?? objectKeyJson(key).id;
}

/**
 * The hot path for the common key shape: a flat object whose fields are already in sorted
 * order, hold only strings, finite numbers and booleans, and are not integer-like (V8 orders
 * those first, which would break the sort check). Then the native JSON.stringify output is
 * already canonical. Anything else returns undefined and takes the full path.
 */
function flatKeyId(key: unknown): string | undefined {
  if (key === null || typeof key !== 'object' || Object.getPrototypeOf(key) !== Object.prototype) return undefined;
  const record = key as Record<string, unknown>;
  const fields = Object.keys(record);
  if (fields.length === 0) return undefined;
  const order = fieldOrder(fields);
  if (order === null) return undefined;
  for (let i = 0; i < fields.length; i++) {
    const v = record[fields[i]];
    const t = typeof v;
    if (t === 'number') {
      if ((v as number) - (v as number) !== 0) return undefined; // NaN or ±Infinity
    } else if (t !== 'string' && t !== 'boolean') return undefined;
  }
  let canonical = record;
  if (order !== fields && order !== SORTED) {
    // Re-insert in sorted order; with no integer-like names, V8 keeps insertion order.
    canonical = {};
    for (let i = 0; i < order.length; i++) canonical[order[i]] = record[order[i]];
  }
  const id = OBJECT_ID_TAG + JSON.stringify(canonical);
  return id.length > MAX_KEY_LENGTH ? undefined : id;
}

const SORTED: string[] = [];
/** Field lists seen before (joined) -> their sorted order, SORTED when already sorted, null when not eligible. */
const fieldOrders = new Map<string, string[] | null>();

/** The sorted field order for a flat key's field list, memoized: key shapes repeat. */
function fieldOrder(fields: string[]): string[] | null {
  const signature = fields.length === 1 ? fields[0] : fields.join('\u0000');
  const known = fieldOrders.get(signature);
  if (known !== undefined) return known;
  let order: string[] | null = SORTED;
  let previous = '';
  for (const field of fields) {
    const c = field.charCodeAt(0);
    if (field.length === 0 || c === 36 /* $ */ || (c >= 48 && c <= 57) /* digit */ || FORBIDDEN_FIELDS.has(field) || field.includes('.')) {
      order = null;
      break;
    }
    if (field <= previous) order = [...fields].sort();
    previous = field;
  }
  if (fieldOrders.size < 1024) fieldOrders.set(signature, order);
  return order;
}

/** Validates a key and returns its id and a private copy (object keys) — see NormalizedKey. */
export function normalizeKey(key: unknown): NormalizedKey {
  if (typeof key === 'string') return { id: stringKeyId(key), key };
  const { id, json } = objectKeyJson(key);
  return { id, key: JSON.parse(json) as KeyObject };
}

function objectKeyJson(key: unknown): { id: string; json: string } {
  if (!isPlainObject(key)) {
    throw new InvalidKeyError(`a key must be a non-empty string or a plain object, got ${describe(key)}`);
  }
  if (Object.keys(key).length === 0) throw new InvalidKeyError('an object key must have at least one field');
  const json = canonicalJson(key, 0, [], '');
  const id = OBJECT_ID_TAG + json;
  if (id.length > MAX_KEY_LENGTH) throw new InvalidKeyError(`a key must be at most ${MAX_KEY_LENGTH} characters`);
  return { id, json };
}

/** Rebuilds the key from its id (the inverse of keyId). */
export function keyFromId(id: string): Key {
  return id.charCodeAt(0) === 0 ? (JSON.parse(id.slice(1)) as KeyObject) : id;
}

/** True when the id belongs to an object key. */
export function isObjectKeyId(id: string): boolean {
  return id.charCodeAt(0) === 0;
}

function canonicalJson(value: unknown, depth: number, ancestors: object[], path: string): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidKeyError(`key field ${path} is ${value}, which has no identity`);
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new InvalidKeyError(`key field ${path || '(root)'} is a ${typeof value}; keys hold only JSON scalars, arrays and plain objects`);
  }
  if (value === null) return 'null';
  if (depth >= MAX_KEY_DEPTH) throw new InvalidKeyError(`a key may nest at most ${MAX_KEY_DEPTH} levels`);
  if (ancestors.includes(value)) throw new InvalidKeyError(`key field ${path} is cyclic`);
  ancestors.push(value);
  let out: string;
  if (Array.isArray(value)) {
    // Arrays of arrays are refused: MongoDB and sift disagree on matching into them, so no
    // backend could answer queries over them consistently.
    if (value.some(Array.isArray)) throw new InvalidKeyError(`key field ${path} holds an array inside an array, which keys do not allow`);
    out = '[' + value.map((item, i) => canonicalJson(item, depth + 1, ancestors, `${path}[${i}]`)).join(',') + ']';
  } else if (isPlainObject(value)) {
    const fields = Object.keys(value).sort();
    const parts: string[] = [];
    for (const field of fields) {
      checkFieldName(field, path);
      const sub = path ? `${path}.${field}` : field;
      parts.push(JSON.stringify(field) + ':' + canonicalJson(value[field], depth + 1, ancestors, sub));
    }
    out = '{' + parts.join(',') + '}';
  } else {
    throw new InvalidKeyError(`key field ${path} is a ${describe(value)}; keys hold only JSON scalars, arrays and plain objects`);
  }
  ancestors.pop();
  return out;
}

function checkFieldName(field: string, path: string): void {
  if (field.charCodeAt(0) === 36 /* $ */) {
    throw new InvalidKeyError(`key field ${path ? path + '.' : ''}${field} starts with $, which is reserved for query operators`);
  }
  if (FORBIDDEN_FIELDS.has(field)) throw new InvalidKeyError(`key field name ${field} is not allowed`);
  if (field.length === 0) throw new InvalidKeyError('key field names must not be empty');
  if (field.includes('.')) throw new InvalidKeyError(`key field name ${field} contains a dot, which is the path separator`);
}

/** A short description of a value's type for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  return typeof value;
}
