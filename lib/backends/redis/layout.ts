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
 * | `<base>e:<id>`               | string | `<expiry>.<created>.<updated>v<serialized value>`, or    |
 * |                              |        | `<head>z<base64 of the compressed value>`, or for        |
 * |                              |        | a streamed value `<head>c<chunk count>:<generation>`;    |
 * |                              |        | expiry is epoch ms, '0' for none; the times are epoch ms  |
 * |                              |        | of the store clock (getMeta, meta.ts); entries written   |
 * |                              |        | before times have none: `<expiry>v…` (see liveHead)      |
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
 * | `<base>g`                    | hash   | tagged entries only: id → the member prefixes of its tags |
 * |                              |        | (tagPrefix), concatenated (tags.ts)                       |
 * | `<base>b`                    | zset   | tag records: one member `<tagPrefix(tag)><id>` per tag of |
 * |                              |        | each entry, score 0, read BYLEX per tag (tags.ts)         |
 * | `<base>v`                    | string | the layout version the namespace's records follow        |
 * | `<base>h`                    | string | home layout of a sharded namespace only: its shard count |
 * | `<base>t:<random>`           | hash   | a value being streamed in, renamed onto its chunk key at the end |
 * |                              | zset   | or a long `$in`'s merged index sets, while a query walks them |
 * | `<prefix>{!due}`             | zset   | for the whole prefix: the namespaces with TTL'd entries, scored |
 * |                              |        | by when to sweep them next (due-namespaces.ts)            |
 *
 * An entry is one string so that a batch of exact reads is one MGET, the cheapest read Redis
 * has; its expiry rides in the head so that a read needs nothing else. Both the entry and its
 * chunks expire natively (PXAT).
 *
 * Shards (the `shards` setting, N > 1; routing and merging in shards.ts): shard s of the
 * namespace has every key above under its own base `<prefix>{#<namespace>%s<s>:<k>}:`, so each
 * shard is a namespace layout of its own in its own slot and every script stays single-slot.
 * - `%s` cannot occur in an escaped namespace (its only `%` are `%25` and `%7D`), so a shard's
 *   tag never equals another namespace's tag, another shard's, or the unsharded `{#<namespace>}`.
 * - `<k>` is the smallest whole number that puts the tag's slot in the shard's share of the 16384
 *   slots (shard s of N aims at slice s mod G of G = min(N, 64) equal slices), so the shards
 *   spread evenly over the masters of a cluster whose masters hold contiguous slot ranges (what
 *   `redis-cli --cluster create` makes): N = the number of masters, or a multiple of it, puts
 *   shards on every master. It is a pure function of (namespace, s, N) and never changes.
 * - An entry (its string, chunks, order, expiry and index records) lives in shard
 *   `shardIndex(id, N)` of its canonical id: FNV-1a over the id's UTF-16 code units, modulo N
 *   (shards.ts); like the tags, it never changes for a stored namespace.
 * - Creation sequences of a sharded namespace are assigned by the client (sequence.ts): 16
 *   digits (microseconds since 1970), so `n`/`s` members keep the `<16-digit sequence><id>` form
 *   and scores stay exact (< 2^53).
 * - The unsharded base `{#<namespace>}` (the namespace's home) holds `<base>h`, the shard count
 *   the namespace was written with; a store opened with another count refuses to connect
 *   (ERR_STORE_CONFIG) instead of reading an empty layout (shards.ts, checkShardCount).
 * - The due-namespace list of a sharded store is `<prefix>{!due%s<N>}`, one per shard count, so a
 *   visitor sweeps a listed namespace with the shard count it was written with.
 */
import { randomBytes } from 'node:crypto';
import { KeyObject } from '../../keys';
import { indexEntries, indexToken } from '../../query';

/** Escapes what may not appear inside the hash tag: `%` (the escape itself) and `}`. */
function escapeNamespace(namespace: string): string {
  return namespace.replace(/[%}]/g, (c) => (c === '%' ? '%25' : '%7D'));
}

/** Redis Cluster's hash slots. */
const SLOTS = 16384;
/** Most slices of the slot space shard tags aim at (see the file comment): it bounds the search for a tag to about 64 tries. */
const MAX_SLICES = 64;

/** CRC16-XMODEM (what Redis Cluster hashes tags with) of `bytes`, continuing from `crc`. */
function crc16(bytes: Uint8Array, crc = 0): number {
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The hash slot of a hash tag's text (the part between the braces). */
export function slotOfTag(tag: string): number {
  return crc16(Buffer.from(tag, 'utf8')) % SLOTS;
}

/** The hash tag of shard `s` of `shards` of an (escaped) namespace: see the file comment. */
function shardTag(escaped: string, s: number, shards: number): string {
  const stem = `#${escaped}%s${s}:`;
  const slices = Math.min(shards, MAX_SLICES);
  const slice = s % slices;
  const low = Math.floor((slice * SLOTS) / slices);
  const high = Math.floor(((slice + 1) * SLOTS) / slices);
  const start = crc16(Buffer.from(stem, 'utf8'));
  for (let k = 0; ; k++) {
    const slot = crc16(Buffer.from(String(k), 'latin1'), start) % SLOTS;
    if (slot >= low && slot < high) return stem + k;
  }
}

/** The due-namespace list of a prefix for namespaces of `shards` shards (due-namespaces.ts). */
export function dueListKey(prefix: string, shards: number): string {
  return shards === 1 ? `${prefix}{!due}` : `${prefix}{!due%s${shards}}`;
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
  /** The shard count the namespace was written with, when it is sharded (only the home layout's is written). */
  readonly shardCount: string;
  /** Tagged entries' tags: a hash from id to its tags' member prefixes (tags.ts). */
  readonly entryTags: string;
  /** The tag records: a zset of `<tagPrefix(tag)><id>`, one per tag of each entry (tags.ts). */
  readonly tagIndex: string;
  private readonly indexPrefix: string;

  /**
   * `shards` is the namespace's shard count; `shard` which of them this layout is (none: the
   * namespace's home, `{#<namespace>}`, which is the whole namespace when it has one shard).
   */
  constructor(
    readonly prefix: string,
    readonly namespace: string,
    readonly shards = 1,
    readonly shard?: number,
  ) {
    const escaped = escapeNamespace(namespace);
    this.base = `${prefix}{${shard === undefined ? '#' + escaped : shardTag(escaped, shard, shards)}}:`;
    this.entryPrefix = this.base + 'e:';
    this.indexPrefix = this.base + 'i:';
    this.chunkPrefix = this.base + 'k:';
    this.gracePrefix = this.base + 'o:';
    this.order = this.base + 'z';
    this.expiry = this.base + 'x';
    this.counter = this.base + 'c';
    this.registry = this.base + 'p';
    this.version = this.base + 'v';
    this.shardCount = this.base + 'h';
    this.entryTags = this.base + 'g';
    this.tagIndex = this.base + 'b';
    this.dueNamespaces = dueListKey(prefix, shards);
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

/**
 * The start of a tag's members in the tag records (`RedisLayout.tagIndex`): the tag with each
 * NUL written as NUL + \x01, then two NULs. No prefix is the start of another's, and no tag's
 * prefix contains two NULs before its end, so `<prefix><id>` names one (tag, id) pair, a
 * tag's members are one BYLEX range, and an entry's prefixes concatenated split back apart.
 */
export function tagPrefix(tag: string): string {
  return (tag.includes('\0') ? tag.replace(/\0/g, '\0\x01') : tag) + '\0\0';
}

/** The entry string of a value without times (as written before getMeta): its expiry, 'v', then the serialized value. */
export function valueEntry(expiresAt: number | null, text: string): string {
  return (expiresAt === null ? '0v' : expiresAt + 'v') + text;
}

/**
 * The head of a plain value's entry string written at `now` (epoch ms of the store's clock):
 * `<expiry>.<now>.<now>v`, the times being createdAt then updatedAt. The write script keeps
 * the createdAt of the live entry it overwrites (PUT in set-scripts.ts). A clock that gives a
 * fraction or a negative number is floored at 0 ms, so the head stays digits.
 */
export function timedHead(expiresAt: number | null, now: number): string {
  const t = now >= 0 ? String(Math.floor(now)) : '0';
  return (expiresAt === null ? '0.' : expiresAt + '.') + t + '.' + t + 'v';
}

/** liveHead: a well-formed entry that has expired by the clock, or an absent one (an empty string). */
export const EXPIRED = -1;
/** liveHead: a string that is not an entry the store writes (no `<digits>v` or `<digits>c` head): corrupt. */
export const MALFORMED = -2;

/**
 * Where the head of an entry string ends: the index of its kind letter, 'v', 'c' or 'z', after the
 * expiry digits and the optional times `.<createdAt digits, maybe none>.<updatedAt digits>`;
 * EXPIRED when the entry has expired by `now` (or the string is empty, which reads as absent);
 * MALFORMED when the string has no entry head (something else wrote it). Reads the digits
 * without building a string: this runs once per value read.
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
  let kind = s.charCodeAt(k);
  if (kind === 46) {
    // '.': the times, `.<digits, maybe none>.<digits>` (inline: this runs once per value read)
    let second = -1;
    for (k++; k < s.length; k++) {
      const c = s.charCodeAt(k);
      if (c === 46) {
        if (second >= 0) return MALFORMED;
        second = k;
      } else if (c < 48 || c > 57) break;
    }
    if (second < 0 || k === second + 1 || k === s.length) return MALFORMED;
    kind = s.charCodeAt(k);
  }
  if (kind !== 118 && kind !== 99 && kind !== 122) return MALFORMED; // 'v', 'c', 'z'
  return x === 0 || x > now ? k : EXPIRED;
}

/** The expiry in an entry string's head (epoch ms, null for none); `k` is from liveHead. */
export function headExpiry(s: string, k: number): number | null {
  let x = 0;
  for (let i = 0; i < k; i++) {
    const digit = s.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    x = x * 10 + digit;
  }
  return x === 0 ? null : x;
}

/**
 * The times in an entry string's head (`k` from liveHead): createdAt and updatedAt, epoch ms;
 * null where the head has none (an entry written before times were recorded; createdAt alone
 * when such an entry was overwritten while live, so its creation time is unknown).
 */
export function headTimes(s: string, k: number): { createdAt: number | null; updatedAt: number | null } {
  const dot = s.indexOf('.');
  if (dot < 0 || dot > k) return { createdAt: null, updatedAt: null };
  const second = s.indexOf('.', dot + 1);
  return { createdAt: second === dot + 1 ? null : Number(s.slice(dot + 1, second)), updatedAt: Number(s.slice(second + 1, k)) };
}

/**
 * Whether the entry string holds a compressed value (`compress` setting): after its 'z', the
 * base64 of the framed compressed text (lib/compression.ts frameText); `k` is from liveHead.
 */
export function isCompressed(s: string, k: number): boolean {
  return s.charCodeAt(k) === 122; // 'z'
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
