/**
 * A namespace spread over several hash-slot groups (the `shards` setting, SPEC §14), so that
 * one namespace uses every master of a cluster. Each shard is a whole namespace layout of its
 * own (layout.ts: `{#<namespace>%s<s>:<k>}`) served by a RedisBackend of its own, so every
 * script stays single-slot and atomic: a write touches only the shard of its id.
 *
 * - Routing: an id lives in shard `shardIndex(id, N)` (FNV-1a, below); it is part of the
 *   stored layout and never changes for a given N.
 * - Exact calls (get, set, has, TTL, delete, streams) go to the id's shard. Calls of one tick
 *   are queued with this backend as their batch owner (RedisConnection.enqueue) and split per
 *   shard when sent (`sendBatch`), so a storm of 1,000 getOne calls is one MGET per shard, not
 *   1,000 runs of one. Each shard's calls keep their issue order; calls on different shards
 *   touch different ids, so their relative order cannot be observed by exact calls, and any
 *   other command flushes the queue first (program order, SPEC §12, as with one shard).
 * - Creation order: the client assigns the sequence (sequence.ts), comparable across shards.
 * - Queries fan out to every shard and merge in creation or sort order (shard-find.ts); count,
 *   deleteMatching, clear and the sweep add up the shards' answers.
 * - The shard count is part of the namespace's layout: it is recorded at the namespace's home
 *   (`{#<namespace>}:h`) when the namespace is first opened sharded, and a store with another
 *   count (shards: 1 included, through VERSION_SCRIPT) refuses to connect with ERR_STORE_CONFIG.
 *   Two processes opening an empty namespace for the first time at the same moment with
 *   different counts can still both write: the next connect of either then refuses.
 */
import { StoreConfigError } from '../../errors';
import type { Key } from '../../keys';
import type { Selector } from '../../query';
import type { BackendContext } from '../../backend';
import type { BackendStats, EntryWithExpiry, FindOptions, StoredEntry } from '../../store';
import { RedisBackend } from './backend';
import { sendBatch } from './batching';
import type { BatchItem, BatchKind, RedisConnection } from './connection';
import { rethrow } from './errors';
import { entriesOfBatches } from '../../core/found-batches';
import { count, deleteMatching } from './find';
import { upgradeLayout } from './migrate';
import { SHARDS_SCRIPT } from './read-scripts';
import type { ResolvedRedisSettings } from './settings';
import { shardedFindBatches } from './shard-find';
import { clearNamespace } from './sweeping';

/**
 * The shard of an id among `shards`: FNV-1a (32 bits) over the id's UTF-16 code units, one
 * step per code unit, modulo the count. Stored namespaces depend on it: never change it.
 */
export function shardIndex(id: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

/** The Redis backend of a namespace with shards > 1; its scopes have as many shards. */
export class ShardedRedisBackend extends RedisBackend {
  /** One backend per shard, each over its own layout, in shard order. */
  readonly shards: RedisBackend[] = [];

  constructor(connection: RedisConnection, settings: ResolvedRedisSettings, context: BackendContext) {
    super(connection, settings, context);
    for (let s = 0; s < settings.shards; s++) this.shards.push(new RedisBackend(connection, settings, context, s));
    // A queued run holds a tick's calls of every shard; sendBatch cuts it into exactBatch per shard.
    this.exactBatch = Infinity;
  }

  /** The backend of the shard that holds `id`. */
  shardOf(id: string): RedisBackend {
    return this.shards[shardIndex(id, this.shards.length)];
  }

  /** Checks the namespace's recorded shard count, then each shard's layout version. */
  protected async prepareLayout(): Promise<void> {
    const home = this.layout;
    const count = String(this.shards.length);
    const written = String(await SHARDS_SCRIPT.run(this.pipedSend, [home.shardCount, home.order], [count]).catch(rethrow));
    if (written !== count) {
      throw new StoreConfigError(
        `setting shards: namespace ${JSON.stringify(this.namespace)} was written with shards: ${written}, this store has shards: ${count}; open it with shards: ${written}`,
      );
    }
    await Promise.all(this.shards.map((shard) => upgradeLayout(shard)));
  }

  scope(namespace: string, context?: BackendContext): ShardedRedisBackend {
    return new ShardedRedisBackend(this.connection, this.settings, context ?? this.foreignContext(namespace));
  }

  /** Sends a tick's run of exact calls: one batch per shard (at most exactBatch calls each), each shard's calls in issue order. */
  sendBatch(kind: BatchKind, items: BatchItem[]): void {
    const n = this.shards.length;
    const groups: BatchItem[][] = new Array(n);
    for (const item of items) (groups[shardIndex(item.id, n)] ??= []).push(item);
    const max = this.settings.exactBatch;
    for (let s = 0; s < n; s++) {
      const group = groups[s];
      if (group === undefined) continue;
      if (group.length <= max) sendBatch(this.shards[s], kind, group);
      else for (let i = 0; i < group.length; i += max) sendBatch(this.shards[s], kind, group.slice(i, i + max));
    }
  }

  /** One MGET per shard, answers in the order of `ids`. */
  async getEntries(ids: string[]): Promise<Array<EntryWithExpiry | undefined | Error>> {
    const n = this.shards.length;
    const groups: number[][] = new Array(n);
    ids.forEach((id, i) => (groups[shardIndex(id, n)] ??= []).push(i));
    const out = new Array<EntryWithExpiry | undefined | Error>(ids.length);
    await Promise.all(
      groups.map(async (positions, s) => {
        const found = await this.shards[s].getEntries(positions.map((i) => ids[i]));
        positions.forEach((i, j) => (out[i] = found[j]));
      }),
    );
    return out;
  }

  has(id: string): Promise<boolean> {
    return this.shardOf(id).has(id);
  }

  expiresAt(id: string): Promise<number | null | undefined> {
    return this.shardOf(id).expiresAt(id);
  }

  delete(id: string): Promise<boolean> {
    return this.shardOf(id).delete(id);
  }

  touch(id: string, expiresAt: number | null): Promise<boolean> {
    return this.shardOf(id).touch(id, expiresAt);
  }

  /** Every shard's, added up: an entry's tag records live in its own shard. */
  async deleteByTags(tags: readonly string[]): Promise<number> {
    return sum(await Promise.all(this.shards.map((shard) => shard.deleteByTags(tags))));
  }

  setStream(id: string, key: Key, source: AsyncIterable<Buffer>, expiresAt: number | null): Promise<void> {
    return this.shardOf(id).setStream(id, key, source, expiresAt);
  }

  valueStream(id: string): Promise<AsyncIterable<Buffer> | undefined> {
    return this.shardOf(id).valueStream(id);
  }

  find(selector: Selector, options: FindOptions): AsyncIterable<StoredEntry> {
    return entriesOfBatches(shardedFindBatches(this, selector, options), this.clock);
  }

  findBatches(selector: Selector, options: FindOptions): AsyncIterable<StoredEntry[]> {
    return shardedFindBatches(this, selector, options);
  }

  async deleteMatching(selector: Selector): Promise<number> {
    return sum(await Promise.all(this.shards.map((shard) => deleteMatching(shard, selector))));
  }

  async count(selector: Selector): Promise<number> {
    return sum(await Promise.all(this.shards.map((shard) => count(shard, selector))));
  }

  async clear(): Promise<void> {
    // The shard count record stays, as the version records do: what is written next follows this layout.
    await Promise.all(this.shards.map((shard) => clearNamespace(shard)));
  }

  async sweep(): Promise<number> {
    return sum(await Promise.all(this.shards.map((shard) => shard.sweeper.sweep())));
  }

  async nextDue(): Promise<number | undefined> {
    const dues = await Promise.all(this.shards.map((shard) => shard.sweeper.nextDue()));
    const first = Math.min(...dues.map((due) => due ?? Infinity));
    return first === Infinity ? undefined : first;
  }

  async stats(): Promise<BackendStats> {
    await this.sweep();
    const items = await Promise.all(this.shards.map((shard) => shard.piped((c) => c.zcard(shard.layout.order)))).catch(rethrow);
    return { items: sum(items), expirations: sum(this.shards.map((shard) => shard.sweeper.expirations)) };
  }
}

function sum(counts: number[]): number {
  let total = 0;
  for (const n of counts) total += n;
  return total;
}
