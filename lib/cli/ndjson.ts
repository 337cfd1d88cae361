/**
 * The command's record format (docs/cli.md): one JSON object a line,
 *
 *     {"key":<key>,"value":<value>,"ttl":<remaining ms or null>}
 *
 * The value is written in the store's own serialized form (lib/serializer.ts, the README's
 * stored format): plain JSON when it holds no Date or bytes, else `{"\u0000t":<tagged>}` with a
 * Date as `{"\u0000d":<epoch ms>}`, a Buffer as `{"\u0000b":"<base64>"}`, a Uint8Array as
 * `{"\u0000u":"<base64>"}`. So Dates and bytes come back with their type, and plain values stay
 * readable by jq. Keys are plain JSON (they hold no Dates or bytes).
 */
import { defaultSerializer } from '../serializer';
import { isPlainObject, normalizeKey } from '../keys';
import { checkValue } from '../values';
import { MAX_TTL_MS } from '../limits';
import type { Key } from '../keys';

/** The field the serializer's tagged form is wrapped in. */
const TAGGED_FIELD = '\u0000t';

/** One record: a key, its value, and its remaining time to live in ms (null: none). */
export interface CliRecord {
  key: Key;
  value: unknown;
  ttl?: number | null;
}

/** The line (without its newline) of a record; `ttl` is left out when undefined (get's output). */
export function encodeRecord(record: CliRecord): string {
  const ttl = record.ttl === undefined ? '' : `,"ttl":${record.ttl === null ? 'null' : Math.max(1, Math.ceil(record.ttl))}`;
  return `{"key":${JSON.stringify(record.key)},"value":${defaultSerializer.serialize(record.value)}${ttl}}`;
}

/** A value as written in a record, back to its types (Date, Buffer, Uint8Array). */
export function decodeValue(written: unknown): unknown {
  // Plain JSON never has a top-level field starting with NUL (the serializer wraps such objects),
  // so only the tagged form needs the serializer's second pass.
  if (isPlainObject(written) && Object.prototype.hasOwnProperty.call(written, TAGGED_FIELD)) {
    return defaultSerializer.deserialize(JSON.stringify(written));
  }
  return written;
}

/**
 * Parses and checks one input line; throws an Error saying what is wrong with it (the caller
 * adds the line number). The key and value are checked as `set` would, so a line that passes
 * is written whole or not at all.
 */
export function decodeRecord(line: string): CliRecord & { ttl: number | null } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    throw new Error(`not JSON (${(err as Error).message})`, { cause: err });
  }
  if (!isPlainObject(parsed)) throw new Error('not a JSON object');
  for (const field of Object.keys(parsed)) {
    if (field !== 'key' && field !== 'value' && field !== 'ttl') throw new Error(`unknown field ${JSON.stringify(field)} (a record has key, value, ttl)`);
  }
  if (!('key' in parsed)) throw new Error('no key');
  if (!('value' in parsed)) throw new Error('no value');
  const ttl = parsed.ttl ?? null;
  if (ttl !== null && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_TTL_MS)) {
    throw new Error(`ttl must be null or a whole number of ms from 1 to ${MAX_TTL_MS}`);
  }
  const { key } = normalizeKey(parsed.key);
  let value: unknown;
  try {
    value = decodeValue(parsed.value);
  } catch (err) {
    throw new Error(`value: ${(err as Error).message}`, { cause: err });
  }
  checkValue(value);
  return { key, value, ttl };
}
