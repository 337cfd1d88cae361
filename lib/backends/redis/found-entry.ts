/**
 * An entry a query read whose key is parsed from its id only if someone asks: a walk of one
 * index, or a range the index decided alone (ids.ts UnparsedCandidate).
 */
import type { Key } from '../../keys';
import type { StoredEntry } from '../../store';
import { keyOfId } from './ids';

/** See the file comment; an id that is not a key is ERR_STORAGE_OPERATION when its key is asked for. */
export class FoundEntry implements StoredEntry {
  private parsedKey: Key | undefined;
  constructor(
    readonly id: string,
    readonly value: unknown,
    readonly expiresAt: number | null,
  ) {}
  get key(): Key {
    return (this.parsedKey ??= keyOfId(this.id));
  }
}
