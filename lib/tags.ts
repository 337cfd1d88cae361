/**
 * Tags (SPEC §15): the labels `set(..., { tags })` puts on an entry so `delByTags` can remove
 * every entry carrying one of them. Checked here once, for every store, before a backend sees
 * them: a backend gets a non-empty array of distinct non-empty strings, in the caller's order.
 */
import { types } from 'node:util';
import { InvalidArgumentError } from './errors';

/** With the u flag a paired surrogate is one code point, so this matches only lone halves. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** The most tags one entry (or one delByTags call) takes: a bound on what one write indexes. */
export const MAX_TAGS = 64;
/** The longest tag, in UTF-16 code units. */
export const MAX_TAG_LENGTH = 512;

/**
 * `tags` checked and deduplicated (first occurrence kept); undefined when none were given.
 * An empty array on a write means "no tags" (undefined); `required` refuses it (delByTags).
 */
export function checkTags(tags: unknown, method: string, required = false): string[] | undefined {
  if (tags === undefined && !required) return undefined;
  // A Proxy passes Array.isArray; reading it would run the caller's traps.
  if (!Array.isArray(tags) || types.isProxy(tags)) throw new InvalidArgumentError(`${method}: tags must be an array of strings`);
  if (tags.length > MAX_TAGS) throw new InvalidArgumentError(`${method}: at most ${MAX_TAGS} tags, got ${tags.length}`);
  const seen = new Set<string>();
  for (let i = 0; i < tags.length; i++) {
    // Read without running anything: a getter could answer differently on each read.
    const field = Object.getOwnPropertyDescriptor(tags, i);
    if (field !== undefined && !('value' in field)) throw new InvalidArgumentError(`${method}: tag ${i} must be a plain array element, not a getter`);
    const tag: unknown = field?.value;
    if (typeof tag !== 'string' || tag.length === 0 || tag.length > MAX_TAG_LENGTH) {
      throw new InvalidArgumentError(`${method}: tag ${i} must be a non-empty string of at most ${MAX_TAG_LENGTH} characters`);
    }
    if (LONE_SURROGATE.test(tag)) throw new InvalidArgumentError(`${method}: tag ${i} has a lone surrogate (tags must be well-formed text)`);
    seen.add(tag);
  }
  if (seen.size === 0) {
    if (required) throw new InvalidArgumentError(`${method}: give at least one tag`);
    return undefined;
  }
  return [...seen];
}
