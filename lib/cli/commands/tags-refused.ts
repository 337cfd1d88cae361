/** The message for an entry with tags bound for a store that keeps none (exit code 7). */
import type { Key } from '../../keys';

/** Why the entry `key` cannot be written to `destination` as it is, and what to do. */
export function tagsRefused(key: Key, destination: string): string {
  return `the entry ${JSON.stringify(key)} has tags and ${destination} keeps none (supports.tags is false); pass --drop-tags to write the entries without their tags`;
}
