/**
 * A tier that fails or stalls on demand, for the multi store's fault tests without servers:
 * a backend over a real store's backend (its tier view, lib/core/tier-access.ts) that,
 * according to `control.mode`, passes
 * every call through, rejects it with a StorageConnectionError, or stalls it until the mode
 * changes (tests must set the mode back to 'ok' when done). By default
 * it presents itself as a shared, persistent store (a stand-in for a remote tier), so the
 * multi store gives it a timeout.
 */
import type { Backend, BackendContext, BackendStats, Capabilities, EntryMeta, EntryWithExpiry, FindOptions, StoredEntry } from '../../lib/backend';
import { BackendStore } from '../../lib/backend-store';
import { TierBackend, tierBackend, tierScope } from '../../lib/core/tier-access';
import { StorageConnectionError, StorageOperationError } from '../../lib/errors';
import type { Key } from '../../lib/keys';
import type { Selector } from '../../lib/query';
import type { BaseStore, CommonSettings } from '../../lib/store';

/** What the test switches at run time. */
export interface FaultControl {
  mode: 'ok' | 'fail' | 'hang';
  /** Extra latency per call in ms (real time), applied in 'ok' mode. */
  delay: number;
  /** Calls per primitive name. */
  calls: Record<string, number>;
  /** Ids whose exact reads fail with a StorageOperationError (a value that no longer parses), whatever the mode. */
  badIds?: Set<string>;
}

/** Creates a control object. */
export function faultControl(): FaultControl {
  return { mode: 'ok', delay: 0, calls: {} };
}

/** A store over a FaultyBackend: `inner` is the store whose data it serves. */
export class FaultyStore extends BackendStore<CommonSettings> {
  constructor(
    readonly inner: BaseStore,
    readonly control: FaultControl = faultControl(),
    settings: CommonSettings = {},
    supports: Partial<Capabilities> = {},
  ) {
    super(settings, (_s, context) => new FaultyBackend(inner, control, { ...inner.supports, shared: true, persistent: true, ...supports }, context.namespace));
  }
}

/** See the file comment: each primitive passes through `gate` (fail, stall or delay), then to the inner store's backend. */
class FaultyBackend implements Backend {
  private readonly below: TierBackend;

  constructor(
    private readonly inner: BaseStore,
    private readonly control: FaultControl,
    readonly supports: Capabilities,
    /** This backend's namespace (its scopes are named in full; the inner store's scopes below it). */
    private readonly namespace: string,
  ) {
    this.below = inner[tierBackend]();
  }

  private async gate(op: string): Promise<void> {
    this.control.calls[op] = (this.control.calls[op] ?? 0) + 1;
    // 'hang' stalls the call until the mode changes, like a server that stops answering and resumes.
    while (this.control.mode === 'hang') await new Promise((resolve) => setTimeout(resolve, 10));
    if (this.control.mode === 'fail') throw new StorageConnectionError(`injected failure in ${op}`);
    if (this.control.delay > 0) await new Promise((resolve) => setTimeout(resolve, this.control.delay));
  }

  async connect(): Promise<void> {
    await this.gate('connect');
    await this.below.connect();
  }
  async close(): Promise<void> {
    await this.below.close();
  }
  async set(id: string, key: Key, value: unknown, expiresAt: number | null, tags?: readonly string[]): Promise<void> {
    await this.gate('set');
    await this.below.set(id, key, value, expiresAt, tags);
  }
  async touch(id: string, expiresAt: number | null): Promise<boolean> {
    await this.gate('touch');
    return this.below.touch(id, expiresAt);
  }
  async deleteByTags(tags: readonly string[]): Promise<number> {
    await this.gate('deleteByTags');
    return this.below.deleteByTags!(tags);
  }
  async getMeta(id: string): Promise<EntryMeta | undefined> {
    await this.gate('getMeta');
    return this.below.getMeta(id);
  }
  async get(id: string): Promise<unknown> {
    await this.gate('get');
    return this.below.get(id);
  }
  async getEntry(id: string): Promise<EntryWithExpiry | undefined> {
    await this.gate('getEntry');
    if (this.control.badIds?.has(id)) throw new StorageOperationError(`injected bad value under ${id}`);
    return this.below.getEntry(id);
  }
  async delete(id: string): Promise<boolean> {
    await this.gate('delete');
    return this.below.delete(id);
  }
  async expiresAt(id: string): Promise<number | null | undefined> {
    await this.gate('ttl');
    return this.below.expiresAt(id);
  }
  async *find(selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
    await this.gate('find');
    yield* this.below.find(selector, options);
  }
  async deleteMatching(selector: Selector): Promise<number> {
    await this.gate('deleteMatching');
    return this.below.deleteMatching(selector);
  }
  async clear(): Promise<void> {
    await this.gate('clear');
    await this.below.clear();
  }
  async stats(): Promise<BackendStats> {
    await this.gate('stats');
    return this.below.stats();
  }
  scope(namespace: string, context: BackendContext): FaultyBackend {
    const own = this.namespace;
    return new FaultyBackend(this.inner[tierScope](own ? namespace.slice(own.length + 1) : namespace), this.control, this.supports, context.namespace);
  }
}
