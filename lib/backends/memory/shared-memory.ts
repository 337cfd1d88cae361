/**
 * What a memory store shares with all its scopes: one keyspace per namespace, the resolved
 * settings, and the sweep timer, counted by users so the last one to close stops it. No timer
 * keeps the process alive: it is unref'd.
 */
import type { Clock } from '../../clock';
import { Keyspace } from './keyspace';
import type { ResolvedMemorySettings } from './settings';

/** State shared by a memory store and all its scopes. */
export class SharedMemory {
  /** Namespace -> its entries. */
  readonly keyspaces = new Map<string, Keyspace>();
  private timer: NodeJS.Timeout | undefined;
  private users = 0;

  constructor(
    readonly settings: ResolvedMemorySettings,
    private readonly clock: Clock,
  ) {}

  /** The keyspace of `namespace`, made on first use. */
  keyspace(namespace: string): Keyspace {
    let keyspace = this.keyspaces.get(namespace);
    if (!keyspace) {
      const { maxKeys, maxBytes } = this.settings;
      const clock = this.clock;
      keyspace = new Keyspace({ maxKeys, maxBytes, now: () => clock.now() });
      this.keyspaces.set(namespace, keyspace);
    }
    return keyspace;
  }

  /** Frees expired entries in every namespace. */
  sweep(): void {
    for (const keyspace of this.keyspaces.values()) keyspace.sweep();
  }

  /** A user connected: the first one starts the sweep timer (unless sweepInterval is 0). */
  attach(): void {
    this.users++;
    const interval = this.settings.sweepInterval;
    if (this.timer || interval <= 0) return;
    this.timer = setInterval(() => this.sweep(), interval);
    this.timer.unref();
  }

  /** A user closed: the last one stops the timer. */
  detach(): void {
    if (--this.users > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
