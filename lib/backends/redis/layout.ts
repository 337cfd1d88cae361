/**
 * Where one namespace of the Redis store lives in Redis (docs/redis.md has the full picture).
 *
 * Every key of a namespace starts with `<prefix>{#<namespace>}:`. The braces are a Redis
 * Cluster hash tag, so a namespace's entries, its order and expiry sets and its indexes share
 * one slot: the Lua scripts that keep them consistent touch one node and stay atomic. The
 * namespace is escaped so that its text can never close the tag early or collide with
 * another namespace's keys, and `#` keeps the root namespace's tag non-empty (an empty tag
 * `{}` would spread the root's keys over every slot).
 *
 * | key                          | type   | holds                                                    |
 * |------------------------------|--------|----------------------------------------------------------|
 * | `<base>e:<id>`               | string | `<expiry>v<serialized value>`, or for a streamed value   |
 * |                              |        | `<expiry>c<chunk count>:<generation>`; expiry is epoch   |
 * |                              |        | ms, '0' for none (see parseHead)                         |
 * | `<base>k:<id>`               | hash   | a streamed value's chunks `0..n-1` and generation `g`    |
 * | `<base>o:<generation>`       | hash   | the chunks of a streamed value just replaced or deleted, |
 * |                              |        | kept for a grace of a few command timeouts (expiring)    |
 * | `<base>z`                    | zset   | every id, scored by creation sequence                    |
 * | `<base>x`                    | zset   | ids with a TTL, scored by expiry (epoch ms)              |
 * | `<base>c`                    | string | the creation sequence counter                            |
 * | `<base>p`                    | set    | the names of the non-empty index keys (for `clear`)      |
 * | `<base>i:<len>:<path>:<tok>` | zset   | ids of object keys with `<tok>` at `<path>`, by sequence |
 * | `<base>n:<len>:<path>`       | zset   | ordered index: keys whose `<path>` is one number, scored |
 * |                              |        | by it; member `<16-digit sequence><id>` (ordered.ts)      |
 * | `<base>s:<len>:<path>`       | zset   | ordered index: keys whose `<path>` is one string; score 0,|
 * |                              |        | member `<string, \0 as \0\1>\0\0<16-digit sequence><id>` |
 * | `<base>r:<len>:<path>`       | zset   | ordered index: keys that reach `<path>` with anything else |
 * |                              |        | (arrays, objects, booleans, null, mixed), by sequence     |
 * | `<base>v`                    | string | the layout version the namespace's records follow        |
 * | `<base>t:<random>`           | hash   | a value being streamed in, renamed onto its chunk key at the end |
 * |                              | zset   | or a long `$in`'s merged index sets, while a query walks them |
 * | `<prefix>{!due}`             | zset   | for the whole prefix: the namespaces with TTL'd entries, scored |
 * |                              |        | by when to sweep them next (due-namespaces.ts)            |
 *
 * An entry is one string so that a batch of exact reads is one MGET, the cheapest read Redis
 * has; its expiry rides in the head so that a read needs nothing else. Both the entry and its
 * chunks expire natively (PXAT).
 */
import { randomBytes } from 'node:crypto';
import { KeyObject } from '../../keys';
import { indexEntries, indexToken } from '../../query';

/** Escapes what may not appear inside the hash tag: `%` (the escape itself) and `}`. */
function escapeNamespace(namespace: string): string {
  return namespace.replace(/[%}]/g, (c) => (c === '%' ? '%25' : '%7D'));
}

/** Key names of one namespace. */
export class RedisLayout {
  /** Common start of every key of the namespace, hash tag included. */
  readonly base: string;
  /** Creation-order set of every id. */
  readonly order: string;
  /** Expiry set: ids with a TTL, scored by epoch ms. */
  readonly expiry: string;
  /** Creation sequence counter. */
  readonly counter: string;
  /** Registry of the index keys in use. */
  readonly registry: string;
  /** The namespaces to sweep, for every namespace of the prefix (due-namespaces.ts). */
  readonly dueNamespaces: string;
  /** Start of every entry key (`<base>e:`); the id follows. */
  readonly entryPrefix: string;
  /** Start of every chunk key (`<base>k:`); the id follows. */
  readonly chunkPrefix: string;
  /** Start of every grace key (`<base>o:`); a replaced value's generation follows. */
  readonly gracePrefix: string;
  /** The layout version record: older namespaces are rebuilt on connect (ordered.ts). */
  readonly version: string;
  private readonly indexPrefix: string;

  constructor(
    readonly prefix: string,
    readonly namespace: string,
  ) {
    this.base = `${prefix}{#${escapeNamespace(namespace)}}:`;
    this.entryPrefix = this.base + 'e:';
    this.indexPrefix = this.base + 'i:';
    this.chunkPrefix = this.base + 'k:';
    this.gracePrefix = this.base + 'o:';
    this.order = this.base + 'z';
    this.expiry = this.base + 'x';
    this.counter = this.base + 'c';
    this.registry = this.base + 'p';
    this.version = this.base + 'v';
    this.dueNamespaces = `${prefix}{!due}`;
  }

  /** The string that holds the entry with this id. */
  entry(id: string): string {
    return this.entryPrefix + id;
  }

  /** The hash that holds the chunks of the entry's streamed value. */
  chunks(id: string): string {
    return this.chunkPrefix + id;
  }

  /**
   * Where the chunks of a streamed value of this generation are kept for a grace period once
   * the value has been replaced or deleted (see RETIRE in scripts.ts).
   */
  graceChunks(generation: string): string {
    return this.gracePrefix + generation;
  }

  /** The index zset of one (path, token) pair; the length prefix keeps any path unambiguous. */
  index(path: string, token: string): string {
    return `${this.indexPrefix}${path.length}:${path}:${token}`;
  }

  /** The index key for an equality on `path` with a scalar value. */
  indexFor(path: string, value: string | number | boolean): string {
    return this.index(path, indexToken(value));
  }

  /** Every index key an object key is recorded in (duplicates removed): a pure function of the id. */
  indexesOf(key: KeyObject): string[] {
    const out = new Set<string>();
    for (const [path, token] of indexEntries(key)) out.add(this.index(path, token));
    return [...out];
  }

  /**
   * An ordered index of `path` (see ordered.ts): 'n' the keys whose path is one number, 's' one
   * string, 'r' the rest of the keys that reach it.
   */
  ordered(kind: 'n' | 's' | 'r', path: string): string {
    return `${this.base}${kind}:${path.length}:${path}`;
  }

  /** A fresh temporary key for a value being streamed in (same slot as the namespace). */
  temp(): string {
    return this.base + 't:' + randomBytes(12).toString('hex');
  }

  /** A SCAN MATCH pattern for the entry keys whose string key matches `glob` (for operators and tools). */
  entryPattern(glob: string): string {
    return this.entryPrefix.replace(/[*?[\]\\]/g, '\\$&') + glob;
  }
}

/** The entry string of a value: its expiry, 'v', then the serialized value. */
export function valueEntry(expiresAt: number | null, text: string): string {
  return (expiresAt === null ? '0v' : expiresAt + 'v') + text;
}

/** liveHead: a well-formed entry that has expired by the clock, or an absent one (an empty string). */
export const EXPIRED = -1;
/** liveHead: a string that is not an entry the store writes (no `<digits>v` or `<digits>c` head): corrupt. */
export const MALFORMED = -2;

/**
 * Where the expiry digits at the head of an entry string end (the index of its kind letter,
 * 'v' or 'c'); EXPIRED when the entry has expired by `now` (or the string is empty, which
 * reads as absent); MALFORMED when the string has no entry head (something else wrote it).
 * Reads the digits without building a string: this runs once per value read.
 */
export function liveHead(s: string, now: number): number {
  let x = 0;
  let k = 0;
  for (; k < s.length; k++) {
    const digit = s.charCodeAt(k) - 48;
    if (digit < 0 || digit > 9) break;
    x = x * 10 + digit;
  }
  if (k === 0 || k === s.length) return s.length === 0 ? EXPIRED : MALFORMED;
  const kind = s.charCodeAt(k);
  if (kind !== 118 && kind !== 99) return MALFORMED; // 'v', 'c'
  return x === 0 || x > now ? k : EXPIRED;
}

/** The expiry in an entry string's head (epoch ms, null for none); `k` is from liveHead. */
export function headExpiry(s: string, k: number): number | null {
  const x = Number(s.slice(0, k));
  return x === 0 ? null : x;
}

/** Whether the entry string holds a streamed value (its chunks are under RedisLayout.chunks); `k` is from liveHead. */
export function isStreamed(s: string, k: number): boolean {
  return s.charCodeAt(k) === 99; // 'c'
}

/**
 * A streamed entry's chunk count and generation (`k` from liveHead), or null when they do not
 * parse: at least one chunk (an empty stream writes one empty chunk) and a non-empty generation.
 */
export function streamedOf(s: string, k: number): { count: number; generation: string } | null {
  const colon = s.indexOf(':', k);
  if (colon < 0 || colon === s.length - 1) return null;
  const digits = s.slice(k + 1, colon);
  if (!/^[1-9]\d{0,14}$/.test(digits)) return null;
  return { count: Number(digits), generation: s.slice(colon + 1) };
}

/**
 * Whether a generation is one the store writes (hex, at most 64 characters): only such a
 * value's chunks are kept under a grace key when it is replaced (the scripts check the same).
 */
export function graceable(generation: string): boolean {
  return /^[0-9a-fA-F]{1,64}$/.test(generation);
}

/**
 * The largest expiry a write sends (epoch ms, 15 digits, about the year 33658). The scripts
 * refuse anything else that is not a positive whole number of this size before writing, so
 * a value Redis cannot store (`PXAT` past 2^63, `1e+19`, a fraction) never half-writes.
 */
export const MAX_EXPIRY_MS = 999_999_999_999_999;
