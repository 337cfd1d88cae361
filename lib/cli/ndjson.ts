/**
 * The command's record format (docs/cli.md): one JSON object a line,
 *
 *     {"key":<key>,"value":<value>,"expiresAt":<epoch ms or null>[,"tags":[…]]}
 *
 * The value is written in the store's own serialized form (lib/serializer.ts, the README's
 * stored format): plain JSON when it holds no Date or bytes, else `{"\u0000t":<tagged>}` with a
 * Date as `{"\u0000d":<epoch ms>}`, a Buffer as `{"\u0000b":"<base64>"}`, a Uint8Array as
 * `{"\u0000u":"<base64>"}`. So Dates and bytes come back with their type, and plain values stay
 * readable by jq. Keys are plain JSON (they hold no Dates or bytes). `expiresAt` is absolute, so
 * an import can leave out what expired since the export; records written by earlier versions
 * carry a relative `ttl` (ms, counted from the import) instead, and are still read.
 */
import { defaultSerializer } from '../serializer';
import { isPlainObject, normalizeKey } from '../keys';
import { checkValue } from '../values';
import { checkTags } from '../tags';
import { MAX_TTL_MS } from '../limits';
import type { Key } from '../keys';

/** The field the serializer's tagged form is wrapped in. */
const TAGGED_FIELD = '\u0000t';

/** The latest expiry a record may carry (epoch ms): far beyond any TTL a store takes, still a safe integer. */
const MAX_EXPIRES_AT = 8.64e15;

/** One entry as a record: key, value, and, in a snapshot, its expiry (epoch ms, null: none) and tags. */
export interface CliRecord {
  key: Key;
  value: unknown;
  /** Absent in `get`'s output. */
  expiresAt?: number | null;
  /** Written only when the entry has some. */
  tags?: readonly string[];
}

/** A record read from an input line: its expiry is either absolute (`expiresAt`) or relative (`ttl`, older files). */
export interface DecodedRecord {
  key: Key;
  value: unknown;
  /** Epoch ms, or null for none; undefined when the line gave a relative `ttl`. */
  expiresAt?: number | null;
  /** ms from the write, or null for none; undefined when the line gave `expiresAt`. */
  ttl?: number | null;
  /** The entry's tags; undefined when it has none. */
  tags?: string[];
}

/** The line (without its newline) of a record; `expiresAt` is left out when undefined (get's output), `tags` when empty. */
export function encodeRecord(record: CliRecord): string {
  let line = `{"key":${JSON.stringify(record.key)},"value":${defaultSerializer.serialize(record.value)}`;
  if (record.expiresAt !== undefined) line += `,"expiresAt":${record.expiresAt === null ? 'null' : Math.ceil(record.expiresAt)}`;
  if (record.tags !== undefined && record.tags.length > 0) line += `,"tags":${JSON.stringify(record.tags)}`;
  return `${line}}`;
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

const FIELDS = new Set(['key', 'value', 'expiresAt', 'ttl', 'tags']);

/**
 * Parses and checks one input line; throws an Error saying what is wrong with it (the caller
 * adds the line number). The key, value and tags are checked as `set` would, so a line that
 * passes is written whole or not at all.
 */
export function decodeRecord(line: string): DecodedRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    throw new Error(`not JSON (${(err as Error).message})`, { cause: err });
  }
  if (!isPlainObject(parsed)) throw new Error('not a JSON object');
  for (const field of Object.keys(parsed)) {
    if (!FIELDS.has(field)) throw new Error(`unknown field ${JSON.stringify(field)} (a record has key, value, expiresAt or ttl, tags)`);
  }
  if (!('key' in parsed)) throw new Error('no key');
  if (!('value' in parsed)) throw new Error('no value');
  if ('ttl' in parsed && 'expiresAt' in parsed) throw new Error('both ttl and expiresAt (a record has one of them)');
  const { key } = normalizeKey(parsed.key);
  let value: unknown;
  try {
    value = decodeValue(parsed.value);
  } catch (err) {
    throw new Error(`value: ${(err as Error).message}`, { cause: err });
  }
  checkValue(value);
  const tags = parsed.tags === undefined ? undefined : checkTags(parsed.tags, 'tags');
  const record: DecodedRecord = { key, value, ...(tags !== undefined && tags.length > 0 && { tags }) };
  if ('expiresAt' in parsed) {
    const at = parsed.expiresAt;
    if (at !== null && (typeof at !== 'number' || !Number.isInteger(at) || at < 0 || at > MAX_EXPIRES_AT)) {
      throw new Error('expiresAt must be null or a whole number of ms since 1970');
    }
    record.expiresAt = at;
    return record;
  }
  const ttl = parsed.ttl ?? null;
  if (ttl !== null && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_TTL_MS)) {
    throw new Error(`ttl must be null or a whole number of ms from 1 to ${MAX_TTL_MS}`);
  }
  record.ttl = ttl;
  return record;
}

/**
 * The TTL to write a record with at `now`: null for none, undefined when it expired already
 * (the caller skips it). An expiry further than the longest TTL a store takes is an Error.
 */
export function ttlAt(record: DecodedRecord, now: number): number | null | undefined {
  if (record.expiresAt === undefined) return record.ttl ?? null;
  if (record.expiresAt === null) return null;
  const ttl = record.expiresAt - now;
  if (ttl <= 0) return undefined;
  if (ttl > MAX_TTL_MS) throw new Error(`expiresAt is more than ${MAX_TTL_MS} ms (the longest TTL) ahead`);
  return ttl;
}
