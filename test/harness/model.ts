/**
 * The reference model of one store (issue #10, model-based tests): what every store
 * configuration must answer, written from SPEC §3–§7 and §12 alone.
 *
 * Each namespace (the store, and each scope made from it) is a Map from a key's canonical id
 * to its entry. A Map iterates in insertion order, which is the creation order SPEC §3 asks
 * for: overwriting a live key updates it in place (keeps its position); a key that was deleted,
 * cleared or has expired is gone from the Map, so writing it again appends it (a first `set`
 * again — the memory store does the same: lib/backends/memory/keyspace.ts `set`).
 *
 * Time is the model's own integer `now`, moved in step with the store's ManualClock. Expiry:
 * `expiresAt = ceil(now + ttl)` (lib/store.ts expiryFor), computed here in exact arithmetic:
 * with an integer `now` that is `now + ceil(ttl)`, so any positive TTL, however small (1e-320),
 * lives at least 1 ms — SPEC §6 and issue #10 item 10: a positive TTL must not store an
 * already-expired entry. An entry is live while `now < expiresAt` (the memory store expires at
 * `expiresAt <= now`), so advancing exactly to `expiresAt` expires it. TTLs above MAX_TTL_MS
 * are ERR_INVALID_ARGUMENT and change nothing (SPEC §12 limits).
 *
 * Times (getMeta, SPEC §16): an entry records the model's `now` when it is created (its first
 * write since the key held no live entry) and when its value is last written; touch changes
 * neither. Its size the model cannot know for every backend: it asks for a whole number of bytes.
 *
 * Only `keyId` is shared with the library (the brief: canonical ids); queries and globs are
 * matched by model-queries.ts, not by lib/query.ts.
 */
import type { Key } from '../../lib/keys';
import { keyId } from '../../lib/keys';
import { MAX_TTL_MS } from '../../lib/limits';
import { ModelQuery, globMatches, queryMatches } from './model-queries';
import { ANY_SIZE } from './model-values';
import { sortModelEntries, validSort } from './model-sort';

/** Which store an operation runs on: 0 the store itself, 1.. its scopes (model-commands.ts SCOPES). */
export type Target = number;

/** A query as operations carry it: an exact string key or an object query. */
export type Query = string | ModelQuery;

/** `set` options as the caller passes them (absent, `{}`, `{ ttl }`). */
export interface SetOpts {
  ttl?: number | null;
  /** SPEC §15: replace the entry's tags (an empty list, or none, leaves it untagged). */
  tags?: string[];
}

/** `get` options as the caller passes them. */
export interface GetOpts {
  limit?: number;
  includeKey?: boolean;
  /** SPEC §14 (issue #12): sorted by model-sort.ts, then `skip`, then `limit` (0 gives nothing). */
  sort?: Record<string, unknown>;
  skip?: number;
}

/** One store call the model can predict. Batches are lists of these. */
export type Op =
  | { kind: 'set'; target: Target; key: Key; value: unknown; options?: SetOpts }
  | { kind: 'setex'; target: Target; key: Key; value: unknown; seconds: number }
  | { kind: 'getOne'; target: Target; key: Key }
  | { kind: 'has'; target: Target; key: Key }
  | { kind: 'ttl'; target: Target; key: Key }
  /** SPEC §16: `{ size, createdAt, updatedAt, expiresAt, tags }` of a live entry, undefined when absent. */
  | { kind: 'getMeta'; target: Target; key: Key }
  | { kind: 'get'; target: Target; query: Query; options?: GetOpts }
  | { kind: 'count'; target: Target; query: Query }
  | { kind: 'keys'; target: Target; pattern?: Query }
  | { kind: 'del'; target: Target; query: Query }
  | { kind: 'clear'; target: Target }
  | { kind: 'getMany'; target: Target; keys: Key[] }
  | { kind: 'setMany'; target: Target; items: Array<{ key: Key; value: unknown; ttl?: number | null; tags?: string[] }> }
  /** SPEC §15: a live entry's TTL set again (null: none), its value and tags kept. */
  | { kind: 'touch'; target: Target; key: Key; ttl: number | null }
  /** SPEC §15: every live entry carrying any of the tags deleted. */
  | { kind: 'delByTags'; target: Target; tags: string[] }
  | { kind: 'delMany'; target: Target; keys: Key[] }
  | { kind: 'delKeys'; target: Target; pattern: Query }
  /** A value from a byte stream (SPEC §7): stored as the chunks joined, read back as one Buffer. */
  | { kind: 'setStream'; target: Target; key: Key; chunks: Array<Buffer | string>; options?: SetOpts };

/** What a call must do: resolve with `value`, or reject with a StoreError of `code`. */
export type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

/** One entry of the model. */
export interface ModelEntry {
  id: string;
  /** The key as first written (the store may return it with fields in another order). */
  key: Key;
  value: unknown;
  /** Epoch ms, or null for no expiry. */
  expiresAt: number | null;
  /** Its tags (SPEC §15), none when untagged. */
  tags: ReadonlySet<string>;
  /** The model's `now` when the entry was created, and when its value was last written (SPEC §16). */
  createdAt: number;
  updatedAt: number;
}

const NO_TAGS: ReadonlySet<string> = new Set();

const INVALID_ARGUMENT = 'ERR_INVALID_ARGUMENT';

/** See the file comment. */
export class StoreModel {
  private readonly spaces: Array<Map<string, ModelEntry>>;

  constructor(
    /** The model's clock, epoch ms (an integer: the harness advances by whole ms). */
    public now: number,
    /** The store's defaultTtl setting (scopes inherit it). */
    readonly defaultTtl: number | undefined,
    targets: number,
    /** Whether the store keeps tags (`supports.tags`): without, every tagged write and delByTags is refused. */
    readonly keepsTags = true,
  ) {
    this.spaces = Array.from({ length: targets }, () => new Map<string, ModelEntry>());
  }

  /** Moves time forward and drops what expired. */
  advance(ms: number): void {
    this.now += ms;
    for (const space of this.spaces) {
      for (const [id, entry] of space) if (entry.expiresAt !== null && entry.expiresAt <= this.now) space.delete(id);
    }
  }

  /** The live entries of a namespace, in creation order. */
  entries(target: Target): ModelEntry[] {
    return [...this.spaces[target].values()];
  }

  /** The live entry under a key, if any. */
  entry(target: Target, key: Key): ModelEntry | undefined {
    return this.spaces[target].get(keyId(key));
  }

  /** Every future expiry across namespaces, ascending (the clock-advance command aims at them). */
  expiries(): number[] {
    const out = new Set<number>();
    for (const space of this.spaces) for (const e of space.values()) if (e.expiresAt !== null) out.add(e.expiresAt);
    return [...out].sort((a, b) => a - b);
  }

  /** What getMeta must answer for a live entry (its size: any whole number of bytes). */
  meta(entry: ModelEntry): { size: typeof ANY_SIZE; createdAt: number; updatedAt: number; expiresAt: number | null; tags: string[] } {
    return { size: ANY_SIZE, createdAt: entry.createdAt, updatedAt: entry.updatedAt, expiresAt: entry.expiresAt, tags: [...entry.tags] };
  }

  /** Remaining ms, null without expiry (SPEC §4 ttl()). */
  remaining(entry: ModelEntry): number | null {
    return entry.expiresAt === null ? null : entry.expiresAt - this.now;
  }

  /** Applies one operation and returns what the store must answer. */
  apply(op: Op): Outcome {
    switch (op.kind) {
      case 'set':
        if (this.refusesTags(op.options?.tags)) return { ok: false, code: INVALID_ARGUMENT };
        return this.write(op.target, op.key, op.value, op.options?.ttl, op.options?.tags);
      case 'setex':
        // lib/store.ts setex: seconds must be a positive finite number; the TTL is seconds * 1000 ms.
        if (!(Number.isFinite(op.seconds) && op.seconds > 0)) return { ok: false, code: INVALID_ARGUMENT };
        return this.write(op.target, op.key, op.value, op.seconds * 1000);
      case 'getOne':
        return ok(this.entry(op.target, op.key)?.value);
      case 'has':
        return ok(this.entry(op.target, op.key) !== undefined);
      case 'ttl': {
        const e = this.entry(op.target, op.key);
        return ok(e === undefined ? undefined : this.remaining(e));
      }
      case 'getMeta': {
        const e = this.entry(op.target, op.key);
        return ok(e === undefined ? undefined : this.meta(e));
      }
      case 'get': {
        const { sort, skip, limit } = op.options ?? {};
        if (sort !== undefined && !validSort(sort)) return { ok: false, code: INVALID_ARGUMENT };
        let found = this.select(op.target, op.query);
        if (sort !== undefined) found = sortModelEntries(found, sort);
        if (skip !== undefined) found = found.slice(skip);
        if (limit !== undefined) found = found.slice(0, limit);
        return ok(found.map((e) => (op.options?.includeKey ? { key: e.key, val: e.value } : e.value)));
      }
      case 'count':
        return ok(this.select(op.target, op.query).length);
      case 'keys':
        return ok(this.selectKeys(op.target, op.pattern).map((e) => e.key));
      case 'del': {
        const found = this.select(op.target, op.query);
        for (const e of found) this.spaces[op.target].delete(e.id);
        return ok(found.length);
      }
      case 'clear':
        this.spaces[op.target].clear();
        return ok(undefined);
      case 'getMany':
        return ok(op.keys.map((key) => this.entry(op.target, key)?.value));
      case 'setMany': {
        // Every item is checked before any is written (SPEC §10): one bad TTL refuses them all.
        const bad = op.items.some(({ ttl, tags }) => (ttl !== undefined && ttl !== null && !validTtl(ttl)) || this.refusesTags(tags));
        if (bad) return { ok: false, code: INVALID_ARGUMENT };
        for (const item of op.items) this.write(op.target, item.key, item.value, item.ttl, item.tags);
        return ok(undefined);
      }
      case 'touch': {
        if (op.ttl !== null && !validTtl(op.ttl)) return { ok: false, code: INVALID_ARGUMENT };
        const e = this.entry(op.target, op.key);
        if (e === undefined) return ok(false);
        // An explicit TTL: 0 and null mean none; the defaultTtl does not apply (lib/core/store-entries.ts).
        e.expiresAt = op.ttl ? this.now + Math.ceil(op.ttl) : null;
        return ok(true);
      }
      case 'delByTags': {
        if (!this.keepsTags || op.tags.length === 0) return { ok: false, code: INVALID_ARGUMENT };
        const found = this.entries(op.target).filter((e) => op.tags.some((tag) => e.tags.has(tag)));
        for (const e of found) this.spaces[op.target].delete(e.id);
        return ok(found.length);
      }
      case 'delMany': {
        let removed = 0;
        for (const id of new Set(op.keys.map((key) => keyId(key)))) if (this.spaces[op.target].delete(id)) removed++;
        return ok(removed);
      }
      case 'delKeys': {
        const found = this.selectKeys(op.target, op.pattern);
        for (const e of found) this.spaces[op.target].delete(e.id);
        return ok(found.length);
      }
      case 'setStream': {
        // A streamed value takes a TTL only: tags are refused (lib/core/store-streams.ts).
        if (op.options?.tags !== undefined) return { ok: false, code: INVALID_ARGUMENT };
        const bytes = Buffer.concat(op.chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
        return this.write(op.target, op.key, bytes, op.options?.ttl);
      }
    }
  }

  /** Entries a query selects: a string is an exact key; an object query matches object keys. */
  select(target: Target, query: Query): ModelEntry[] {
    if (typeof query === 'string') {
      const e = this.entry(target, query);
      return e ? [e] : [];
    }
    return this.entries(target).filter((e) => queryMatches(query, e.key));
  }

  /** keys(): everything; a string is a glob over string keys; an object a query over object keys. */
  private selectKeys(target: Target, pattern: Query | undefined): ModelEntry[] {
    if (pattern === undefined) return this.entries(target);
    if (typeof pattern === 'string') return this.entries(target).filter((e) => globMatches(pattern, e.key));
    return this.select(target, pattern);
  }

  /** Whether a write with these tags is refused: tags on a store that keeps none (an empty list is no tags). */
  private refusesTags(tags: string[] | undefined): boolean {
    return tags !== undefined && tags.length > 0 && !this.keepsTags;
  }

  private write(target: Target, key: Key, value: unknown, ttl: number | null | undefined, tags?: string[]): Outcome {
    if (ttl !== undefined && ttl !== null && !validTtl(ttl)) {
      return { ok: false, code: INVALID_ARGUMENT };
    }
    const effective = ttl === undefined ? this.defaultTtl : ttl;
    // 0 and null mean no expiry, even with a defaultTtl (SPEC §4 / lib/store.ts SetOptions).
    const expiresAt = effective ? this.now + Math.ceil(effective) : null;
    const space = this.spaces[target];
    const id = keyId(key);
    const existing = space.get(id);
    // A write replaces the tags: none given leaves the entry untagged.
    const tagSet = tags === undefined || tags.length === 0 ? NO_TAGS : new Set(tags);
    if (existing) {
      existing.value = value;
      existing.expiresAt = expiresAt;
      existing.tags = tagSet;
      existing.updatedAt = this.now;
    } else space.set(id, { id, key, value, expiresAt, tags: tagSet, createdAt: this.now, updatedAt: this.now });
    return ok(undefined);
  }
}

/** A TTL the store accepts: a finite number of ms from 0 to MAX_TTL_MS. */
function validTtl(ttl: number): boolean {
  return Number.isFinite(ttl) && ttl >= 0 && ttl <= MAX_TTL_MS;
}

function ok(value: unknown): Outcome {
  return { ok: true, value };
}
