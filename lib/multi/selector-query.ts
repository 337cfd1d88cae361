import { InvalidArgumentError } from '../errors';
import type { Selector } from '../query';

/**
 * The public query for a selector, as the tiers' `del`, `count`, `keys` and `entries` take it:
 * the normalized filter, or undefined for 'all'. Other selectors have no query form.
 */
export function selectorQuery(selector: Selector): Record<string, unknown> | undefined {
  if (selector.kind === 'query') return selector.filter;
  if (selector.kind === 'all') return undefined;
  throw new InvalidArgumentError(`a ${selector.kind} selector has no query form`);
}
