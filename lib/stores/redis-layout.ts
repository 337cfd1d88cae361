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
 * | `<base>e:<id>`               | hash   | `v` serialized value, `x` expiry (epoch ms, '0' = none); |
 * |                              |        | a streamed value has `n` chunks `0..n-1` and `g` instead |
 * | `<base>z`                    | zset   | every id, scored by creation sequence                    |
 * | `<base>x`                    | zset   | ids with a TTL, scored by expiry (epoch ms)              |
 * | `<base>c`                    | string | the creation sequence counter                            |
 * | `<base>p`                    | set    | the names of the non-empty index keys (for `clear`)      |
 * | `<base>i:<len>:<path>:<tok>` | zset   | ids of object keys with `<tok>` at `<path>`, by sequence |
 * | `<base>t:<random>`           | hash   | a value being streamed in, renamed onto its entry at the end |
 */
import { randomBytes } from 'node:crypto';
import { KeyObject } from '../keys';
import { indexEntries, indexToken } from '../query';

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
  /** Start of every entry key (`<base>e:`); the id follows. */
  readonly entryPrefix: string;
  private readonly indexPrefix: string;

  constructor(
    readonly prefix: string,
    readonly namespace: string,
  ) {
    this.base = `${prefix}{#${escapeNamespace(namespace)}}:`;
    this.entryPrefix = this.base + 'e:';
    this.indexPrefix = this.base + 'i:';
    this.order = this.base + 'z';
    this.expiry = this.base + 'x';
    this.counter = this.base + 'c';
    this.registry = this.base + 'p';
  }

  /** The hash that holds the entry with this id. */
  entry(id: string): string {
    return this.entryPrefix + id;
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

  /** A fresh temporary key for a value being streamed in (same slot as the namespace). */
  temp(): string {
    return this.base + 't:' + randomBytes(12).toString('hex');
  }

  /** A SCAN MATCH pattern for the entry keys whose string key matches `glob` (for operators and tools). */
  entryPattern(glob: string): string {
    return this.entryPrefix.replace(/[*?[\]\\]/g, '\\$&') + glob;
  }
}
