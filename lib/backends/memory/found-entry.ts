import type { StoredEntry } from '../../backend';
import { Key, keyFromId } from '../../keys';

/**
 * An entry handed out by `find`. Its key is rebuilt from the id on demand, so callers get a
 * copy they may mutate freely while the stored key (which the indexes describe) stays intact,
 * and queries that never look at keys pay nothing for it.
 */
export class FoundEntry implements StoredEntry {
  constructor(
    readonly id: string,
    readonly value: unknown,
    readonly expiresAt: number | null,
  ) {}
  get key(): Key {
    return keyFromId(this.id);
  }
}

