/**
 * What a memory store shares with all its scopes: one keyspace per namespace, the resolved
 * settings, and the sweep timer, counted by users (SharedResource) so the last one to close
 * stops it. No timer keeps the process alive: it is unref'd.
 */
import { Clock, stampClock } from '../../clock';
import { SharedResource } from '../../core/shared-resource';
import { Keyspace } from './keyspace';
import type { ResolvedMemorySettings } from './settings';

/** State shared by a memory store and all its scopes. */
export class SharedMemory {
  /** Namespace -> its entries. */
  readonly keyspaces = new Map<string, Keyspace>();
  /** The users; while there are any, the sweep runs every `sweepInterval` ms (never if 0). */
  readonly use: SharedResource;

  constructor(
    readonly settings: ResolvedMemorySettings,
    private readonly clock: Clock,
  ) {
    this.use = new SharedResource({ interval: settings.sweepInterval, periodic: () => this.sweep() });
  }

  /** The keyspace of `namespace`, made on first use. */
  keyspace(namespace: string): Keyspace {
    let keyspace = this.keyspaces.get(namespace);
    if (!keyspace) {
      const { maxKeys, maxBytes, indexes } = this.settings;
      const clock = this.clock;
      keyspace = new Keyspace({ maxKeys, maxBytes, indexedPaths: indexes, now: () => clock.now(), stamp: stampClock(clock) });
      this.keyspaces.set(namespace, keyspace);
    }
    return keyspace;
  }

  /** Frees expired entries in every namespace. */
  sweep(): void {
    for (const keyspace of this.keyspaces.values()) keyspace.sweep();
  }
}
