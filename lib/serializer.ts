/**
 * Serialization for backends that store bytes (Redis; anything a user plugs in).
 *
 * Stored format (documented in the README): a value without Date or bytes is plain JSON.
 * A value holding them is `{"\u0000t":<tagged>}`, where a Date is `{"\u0000d":<epoch ms>}`,
 * a Buffer `{"\u0000b":"<base64>"}`, a Uint8Array `{"\u0000u":"<base64>"}`, and a user object
 * whose own field starts with NUL is wrapped as `{"\u0000o":{...}}` so it cannot be mistaken
 * for a tag. Plain JSON never starts with `{"\u0000t"`, so reading needs no guessing.
 */
import { setField } from './values';

/**
 * A serializer whose methods may return promises (SPEC §16). It must say so, because a backend
 * that keeps program order by running each call synchronously (SQLite, Redis's pipeline) has to
 * order its calls another way then: `serialize` or `deserialize` is an `async function`, or
 * `async: true` is set (see isAsyncSerializer). Byte-storing backends go through
 * lib/compression.ts createValueCodec, which refuses an undeclared promise.
 */
export interface AsyncCapableSerializer {
  serialize(value: unknown): string | Promise<string>;
  deserialize(text: string): unknown;
  /** True when either method may return a promise (needed only when neither is an `async function`). */
  readonly async?: boolean;
}

/** A pluggable serializer (`serializer` setting) whose methods return values, not promises. */
export interface Serializer extends AsyncCapableSerializer {
  serialize(value: unknown): string;
  deserialize(text: string): unknown;
}

/** Whether `serializer` declares that its methods may return promises (`async: true`, or an `async function` among them). */
export function isAsyncSerializer(serializer: AsyncCapableSerializer): boolean {
  return serializer.async === true || isAsyncFunction(serializer.serialize) || isAsyncFunction(serializer.deserialize);
}

function isAsyncFunction(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as { constructor?: { name?: string } }).constructor?.name === 'AsyncFunction';
}

const TAGGED_PREFIX = '{"\\u0000t":';
const TAG = '\u0000';

/** The default serializer: JSON, with Date and byte values tagged (see above). */
export const defaultSerializer: Serializer = {
  serialize(value: unknown): string {
    return needsTags(value) ? JSON.stringify({ [TAG + 't']: tag(value) }) : JSON.stringify(value);
  },
  deserialize(text: string): unknown {
    if (!text.startsWith(TAGGED_PREFIX)) return JSON.parse(text);
    return untag((JSON.parse(text) as Record<string, unknown>)[TAG + 't']);
  },
};

/** True when plain JSON would lose something: a Date, bytes, or a field that looks like a tag. */
function needsTags(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (value instanceof Date || value instanceof Uint8Array) return true;
  if (Array.isArray(value)) return value.some(needsTags);
  for (const field in value as Record<string, unknown>) {
    if (field.charCodeAt(0) === 0 || needsTags((value as Record<string, unknown>)[field])) return true;
  }
  return false;
}

function tag(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return { [TAG + 'd']: value.getTime() };
  if (Buffer.isBuffer(value)) return { [TAG + 'b']: value.toString('base64') };
  if (value instanceof Uint8Array) return { [TAG + 'u']: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (Array.isArray(value)) return value.map(tag);
  const out: Record<string, unknown> = {};
  let needsWrap = false;
  for (const field in value as Record<string, unknown>) {
    if (field.charCodeAt(0) === 0) needsWrap = true;
    setField(out, field, tag((value as Record<string, unknown>)[field]));
  }
  return needsWrap ? { [TAG + 'o']: out } : out;
}

function untag(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(untag);
  const obj = value as Record<string, unknown>;
  const fields = Object.keys(obj);
  if (fields.length === 1 && fields[0].charCodeAt(0) === 0) {
    const inner = obj[fields[0]];
    switch (fields[0]) {
      case TAG + 'd':
        return new Date(inner as number);
      case TAG + 'b':
        return Buffer.from(inner as string, 'base64');
      case TAG + 'u':
        return new Uint8Array(Buffer.from(inner as string, 'base64'));
      case TAG + 'o':
        return untagFields(inner as Record<string, unknown>);
    }
  }
  return untagFields(obj);
}

function untagFields(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of Object.keys(obj)) setField(out, field, untag(obj[field]));
  return out;
}

/** Bytes `value` takes in the default serialized form: the size an in-process backend reports in `getMeta` (SPEC §16). */
export function serializedSize(value: unknown): number {
  return Buffer.byteLength(defaultSerializer.serialize(value), 'utf8');
}
