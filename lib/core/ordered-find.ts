/**
 * Reads of many entries with `sort`, `skip` and `limit` (SPEC §14), over any backend: a
 * backend with `supports.nativeSort` gets them in its `find`; for any other the core sorts
 * what `find` yields (stably: ties keep creation order) and skips by discarding.
 */
import type { FindOptions, StoredEntry } from '../backend';
import type { Clock } from '../clock';
import type { Selector } from '../query';
import { sortEntries } from '../query-sort';
import type { CompleteBackend } from './backend-defaults';
import { findPage } from './page-find';
import type { ReadOptions } from './query-options';

/** The entries `selector` matches, in the order and window `options` give. */
export async function* findOrdered(
  storage: CompleteBackend,
  selector: Selector,
  values: boolean,
  options: ReadOptions & Pick<FindOptions, 'page'>,
  clock: Clock,
): AsyncGenerator<StoredEntry> {
  const { sort, limit } = options;
  const skip = options.skip ?? 0;
  if (limit === 0 || selector.kind === 'none') return;
  // A page asked of a tier view (the multi store's complete tier): natively or by the core.
  if (options.page !== undefined) {
    yield* findPage(storage, selector, sort ?? [], options.page.after, limit ?? Infinity);
    return;
  }
  if (storage.supports.nativeSort) {
    yield* storage.find(selector, { values, sort, skip, limit });
    return;
  }
  if (sort !== undefined && sort.length > 0) {
    const all: StoredEntry[] = [];
    for await (const entry of storage.find(selector, { values })) all.push(entry);
    const window = sortEntries(all, sort).slice(skip, limit === undefined ? undefined : skip + limit);
    for (const entry of window) {
      // Expiry is checked per entry as it is yielded (SPEC §12), where the backend said when.
      if (entry.expiresAt != null && entry.expiresAt <= clock.now()) continue;
      yield entry;
    }
    return;
  }
  let seen = 0;
  let yielded = 0;
  for await (const entry of storage.find(selector, { values, limit: limit === undefined ? undefined : skip + limit })) {
    if (seen++ < skip) continue;
    yield entry;
    if (limit !== undefined && ++yielded >= limit) return;
  }
}

/** `findOrdered` over a synchronous find (an in-process backend): the same order and window, without an async step per entry. */
export function findOrderedSync(
  findSync: (selector: Selector, options: { values: boolean; limit?: number; sort?: ReadOptions['sort']; skip?: number }) => Iterable<StoredEntry>,
  native: boolean,
  selector: Selector,
  values: boolean,
  options: ReadOptions,
): StoredEntry[] {
  const { sort, limit } = options;
  const skip = options.skip ?? 0;
  if (limit === 0 || selector.kind === 'none') return [];
  if (native) return [...findSync(selector, { values, sort, skip, limit })];
  if (sort !== undefined && sort.length > 0) {
    return sortEntries([...findSync(selector, { values })], sort).slice(skip, limit === undefined ? undefined : skip + limit);
  }
  const out: StoredEntry[] = [];
  let seen = 0;
  for (const entry of findSync(selector, { values, limit: limit === undefined ? undefined : skip + limit })) {
    if (seen++ < skip) continue;
    out.push(entry);
    if (limit !== undefined && out.length >= limit) break;
  }
  return out;
}

/** How many of `total` matches a count with `skip` and `limit` reports (MongoDB's count with both). */
export function windowCount(total: number, options: ReadOptions): number {
  const after = Math.max(0, total - (options.skip ?? 0));
  return options.limit === undefined ? after : Math.min(after, options.limit);
}
