/**
 * A tier that fails or stalls on demand, for the multi store's fault tests without servers:
 * it wraps a real store through its public API and, according to `control.mode`, passes
 * every call through, rejects it with a StorageConnectionError, or stalls it until the mode
 * changes (tests must set the mode back to 'ok' when done). By default
 * it presents itself as a shared, persistent store (a stand-in for a remote tier), so the
 * multi store gives it a timeout.
 */
import { StorageConnectionError, StorageOperationError } from '../../lib/errors';
import { Key, keyFromId, keyId } from '../../lib/keys';
import { Selector } from '../../lib/query';
import { BackendStats, BaseStore, Capabilities, CommonSettings, EntryWithExpiry, FindOptions, StoredEntry } from '../../lib/store';
import { entryOf } from './tier-access';

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

/** See the file comment. */
export class FaultyStore extends BaseStore {
  readonly supports: Capabilities;

  constructor(
    readonly inner: BaseStore,
    readonly control: FaultControl = faultControl(),
    settings: CommonSettings = {},
    supports: Partial<Capabilities> = {},
  ) {
    super(settings);
    this.supports = { ...inner.supports, shared: true, persistent: true, ...supports };
  }

  private async gate(op: string): Promise<void> {
    this.control.calls[op] = (this.control.calls[op] ?? 0) + 1;
    // 'hang' stalls the call until the mode changes, like a server that stops answering and resumes.
    while (this.control.mode === 'hang') await new Promise((resolve) => setTimeout(resolve, 10));
    if (this.control.mode === 'fail') throw new StorageConnectionError(`injected failure in ${op}`);
    if (this.control.delay > 0) await new Promise((resolve) => setTimeout(resolve, this.control.delay));
  }

  private ttlFor(expiresAt: number | null): number | null {
    return expiresAt === null ? null : Math.max(1, expiresAt - this.clock.now());
  }

  protected async _connect(): Promise<void> {
    await this.gate('connect');
    await this.inner.connect();
  }
  protected async _close(): Promise<void> {
    await this.inner.close();
  }
  protected async _set(_id: string, key: Key, value: unknown, expiresAt: number | null): Promise<void> {
    await this.gate('set');
    await this.inner.set(key, value, { ttl: this.ttlFor(expiresAt) });
  }
  protected async _get(id: string): Promise<unknown> {
    await this.gate('get');
    return this.inner.getOne(keyFromId(id));
  }
  protected async _getEntry(id: string): Promise<EntryWithExpiry | undefined> {
    await this.gate('getEntry');
    if (this.control.badIds?.has(id)) throw new StorageOperationError(`injected bad value under ${id}`);
    return entryOf(this.inner, keyFromId(id));
  }
  protected async _delete(id: string): Promise<boolean> {
    await this.gate('delete');
    return (await this.inner.del(keyFromId(id))) > 0;
  }
  protected async _expiresAt(id: string): Promise<number | null | undefined> {
    await this.gate('ttl');
    const remaining = await this.inner.ttl(keyFromId(id));
    return remaining === undefined || remaining === null ? remaining : this.clock.now() + remaining;
  }
  protected async *_find(selector: Selector, options: FindOptions): AsyncGenerator<StoredEntry> {
    await this.gate('find');
    let n = 0;
    if (selector.kind === 'glob') {
      for (const key of await this.inner.keys(selector.pattern)) {
        yield { id: key as string, key, value: options.values ? await this.inner.getOne(key) : undefined };
        if (options.limit !== undefined && ++n >= options.limit) return;
      }
      return;
    }
    const query = selector.kind === 'query' ? selector.filter : undefined;
    for await (const entry of query ? this.inner.entries(query) : this.inner.entries()) {
      yield { id: keyId(entry.key), key: entry.key, value: entry.value };
      if (options.limit !== undefined && ++n >= options.limit) return;
    }
  }
  protected async _deleteMatching(selector: Selector): Promise<number> {
    await this.gate('deleteMatching');
    return selector.kind === 'query' ? this.inner.del(selector.filter) : super._deleteMatching(selector);
  }
  protected async _clear(): Promise<void> {
    await this.gate('clear');
    await this.inner.clear();
  }
  protected async _stats(): Promise<BackendStats> {
    await this.gate('stats');
    const { items, expirations, evictions } = await this.inner.stats();
    return { items, expirations, evictions };
  }
  protected _scope(namespace: string): BaseStore {
    const relative = this.namespace ? namespace.slice(this.namespace.length + 1) : namespace;
    return new FaultyStore(this.inner.scope(relative), this.control, { ...this.settings, namespace }, this.supports);
  }
}
