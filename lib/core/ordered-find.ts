/**
 * Reads of many entries with `sort`, `skip` and `limit` (SPEC §14), over any backend: a
 * backend with `supports.nativeSort` gets them in its `find`; for any other the core sorts
 * what `find` yields (stably: ties keep creation order) and skips by discarding. The async
 * and synchronous reads share one plan (`planRead`) and one window (`EntryWindow`).
 */
import type { FindOptions, StoredEntry } from '../backend';
import type { Clock } from '../clock';
import type { Selector } from '../query';
import { SortSpec, sortEntries } from '../query-sort';
import type { CompleteBackend } from './backend-defaults';
import { entriesOfBatches, liveNow } from './found-batches';
import { findPage } from './page-find';
import type { ReadOptions } from './query-options';

/** What to ask `find` for, and what the core still does to its output. */
interface ReadPlan {
  request: FindOptions;
  /** Sort everything `find` yields by this first (a backend without native sort). */
  sortHere?: SortSpec;
  skip: number;
  limit?: number;
}

/**
 * The plan of one read: everything passed down to a native backend, else the window kept here.
 * `keys` false (the caller reads values only) is passed on unless the core sorts by the keys.
 */
function planRead(native: boolean, values: boolean, options: ReadOptions, keys: boolean): ReadPlan {
  const { sort, limit } = options;
  const skip = options.skip ?? 0;
  if (native) return { request: keys ? { values, sort, skip, limit } : { values, sort, skip, limit, keys }, skip: 0 };
  if (sort !== undefined && sort.length > 0) return { request: { values }, sortHere: sort, skip, limit };
  const window = limit === undefined ? undefined : skip + limit;
  return { request: keys ? { values, limit: window } : { values, limit: window, keys }, skip, limit };
}

/** Counts entries through a skip-then-limit window. */
class EntryWindow {
  private seen = 0;
  private taken = 0;
  constructor(private readonly skip: number, private readonly limit: number | undefined) {}
  /** Whether the next entry is inside the window. */
  admits(): boolean {
    if (this.seen++ < this.skip) return false;
    this.taken++;
    return true;
  }
  /** Whether the window has all it takes. */
  get full(): boolean {
    return this.limit !== undefined && this.taken >= this.limit;
  }
}

/** `all`, sorted, cut to the plan's window. */
function sortedWindow(all: StoredEntry[], plan: ReadPlan & { sortHere: SortSpec }): StoredEntry[] {
  return sortEntries(all, plan.sortHere).slice(plan.skip, plan.limit === undefined ? undefined : plan.skip + plan.limit);
}

/**
 * Hands `take` each entry `find` yields, until `take` returns true (then the read is closed).
 * A backend that reads in batches (Backend.findBatches) is read a batch at a time: one async
 * step per batch instead of one per entry.
 */
async function eachFound(storage: CompleteBackend, selector: Selector, request: FindOptions, take: (entry: StoredEntry) => boolean): Promise<void> {
  if (storage.findBatches !== undefined) {
    for await (const batch of storage.findBatches(selector, request)) for (const entry of batch) if (take(entry)) return;
    return;
  }
  for await (const entry of storage.find(selector, request)) if (take(entry)) return;
}

/** The entries `find` yields, one at a time, for a reader that may hold each a while (a stream): from the backend's batches where it has them. */
function entriesFound(storage: CompleteBackend, selector: Selector, request: FindOptions, clock: Clock): AsyncIterable<StoredEntry> {
  return storage.findBatches === undefined ? storage.find(selector, request) : entriesOfBatches(storage.findBatches(selector, request), clock);
}

/** Everything `find` yields for a plan the core sorts, sorted and cut to its window (expired entries not yet dropped). */
async function collectedWindow(storage: CompleteBackend, selector: Selector, plan: ReadPlan & { sortHere: SortSpec }): Promise<StoredEntry[]> {
  const all: StoredEntry[] = [];
  await eachFound(storage, selector, plan.request, (entry) => {
    all.push(entry);
    return false;
  });
  return sortedWindow(all, plan);
}

/** The entries `selector` matches, in the order and window `options` give; `keys` false: the caller reads values only (FindOptions.keys). */
export async function* findOrdered(
  storage: CompleteBackend,
  selector: Selector,
  values: boolean,
  options: ReadOptions & Pick<FindOptions, 'page'>,
  clock: Clock,
  keys = true,
): AsyncGenerator<StoredEntry> {
  if (options.limit === 0 || selector.kind === 'none') return;
  // A page asked of a tier view (the multi store's complete tier): natively or by the core.
  if (options.page !== undefined) {
    yield* findPage(storage, selector, options.sort ?? [], options.page.after, options.limit ?? Infinity);
    return;
  }
  const plan = planRead(storage.supports.nativeSort === true, values, options, keys);
  if (plan.sortHere) {
    for (const entry of await collectedWindow(storage, selector, plan as ReadPlan & { sortHere: SortSpec })) {
      if (liveNow(entry, clock)) yield entry;
    }
    return;
  }
  const window = new EntryWindow(plan.skip, plan.limit);
  for await (const entry of entriesFound(storage, selector, plan.request, clock)) {
    if (!window.admits()) continue;
    yield entry;
    if (window.full) return;
  }
}

/**
 * `findOrdered`'s entries as an array, each passed through `shape`: what `get` collects, with
 * no generator step of its own between the backend's `find` (or its batches) and the result (a
 * native backend's window is read straight from `find`).
 */
export async function collectOrdered<R>(
  storage: CompleteBackend,
  selector: Selector,
  values: boolean,
  options: ReadOptions,
  clock: Clock,
  keys: boolean,
  shape: (entry: StoredEntry) => R,
): Promise<R[]> {
  const out: R[] = [];
  if (options.limit === 0 || selector.kind === 'none') return out;
  const plan = planRead(storage.supports.nativeSort === true, values, options, keys);
  if (plan.sortHere) {
    for (const entry of await collectedWindow(storage, selector, plan as ReadPlan & { sortHere: SortSpec })) {
      if (liveNow(entry, clock)) out.push(shape(entry));
    }
    return out;
  }
  const window = new EntryWindow(plan.skip, plan.limit);
  await eachFound(storage, selector, plan.request, (entry) => {
    if (!window.admits()) return false;
    out.push(shape(entry));
    return window.full;
  });
  return out;
}

/** `findOrdered` over a synchronous find (an in-process backend): the same plan, without an async step per entry. */
export function findOrderedSync(
  findSync: (selector: Selector, options: FindOptions) => Iterable<StoredEntry>,
  native: boolean,
  selector: Selector,
  values: boolean,
  options: ReadOptions,
  keys = true,
): StoredEntry[] {
  if (options.limit === 0 || selector.kind === 'none') return [];
  const plan = planRead(native, values, options, keys);
  if (plan.sortHere) return sortedWindow([...findSync(selector, plan.request)], plan as ReadPlan & { sortHere: SortSpec });
  const out: StoredEntry[] = [];
  const window = new EntryWindow(plan.skip, plan.limit);
  for (const entry of findSync(selector, plan.request)) {
    if (!window.admits()) continue;
    out.push(entry);
    if (window.full) break;
  }
  return out;
}

/** How many of `total` matches a count with `skip` and `limit` reports (MongoDB's count with both). */
export function windowCount(total: number, options: ReadOptions): number {
  const after = Math.max(0, total - (options.skip ?? 0));
  return options.limit === undefined ? after : Math.min(after, options.limit);
}
