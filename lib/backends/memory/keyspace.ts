/**
 * One namespace of the memory store (keyspace-entries.ts holds its entries, indexes, expiry and
 * LRU), with its queries: `find` in creation order, `findSorted`, `findPage` (keyset pages) and
 * `indexedValues` (get(query)'s hot path), each planned by query-plan.ts over the ordered
 * indexes, or a scan when no index serves the selector. Kept apart from the entries so each
 * file holds one thing; the backend around it (backend.ts) stays a thin adapter to the contract.
 */
import { Key, KeyObject, isObjectKeyId } from '../../keys';
import { QuerySelector, Selector, selectorMatches } from '../../query';
import type { PagePosition, StoredEntry } from '../../backend';
import { SortSpec, sortEntries } from '../../query-sort';
import { IdOrder } from './id-order';
import { KeyspaceEntries } from './keyspace-entries';
import { heldPageSource, readPage } from './page-walk';
import { Plan, planQuery } from './query-plan';
import { sortedWalk } from './sorted-walk';
import { Slot } from './slot';
import { FoundEntry } from './found-entry';

export type { KeyspaceOptions, RemovalObserver } from './keyspace-entries';

/** What a scan passes selectorMatches for an object key outside a query: only its not being a string is read. */
const NOT_A_STRING_KEY: KeyObject = Object.freeze({});

/** Largest answer made at its final size up front (`new Array(n)` is a slow dictionary past ~100,000). */
const PRESIZED_MAX = 50_000;

/** What the last query did, for tests and diagnostics: the plan used and how many entries it examined. */
export interface QueryReport {
  plan: string;
  examined: number;
  /** The index decided every candidate alone: the matcher never ran (set by get and find). */
  exact?: boolean;
}

/** A keyspace's entries (keyspace-entries.ts) with its queries: see the file comment. */
export class Keyspace extends KeyspaceEntries {
  /** See QueryReport; written by every query. */
  lastQuery: QueryReport = { plan: 'none', examined: 0 };

  /** The planner's choice for a query selector; undefined for other selectors (scan). */
  private plan(selector: Selector): Plan | undefined {
    if (selector.kind !== 'query') return undefined;
    const plan = planQuery(this.indexes, selector);
    return plan.slots === undefined ? undefined : plan;
  }

  /** Live entries for an 'all', 'glob' or 'query' selector, in creation order, after `skip`, at most `limit`. */
  *find(selector: Selector, limit = Infinity, skip = 0): Generator<StoredEntry> {
    if (limit <= 0) return;
    const now = this.options.now();
    let yielded = 0;
    let examined = 0;
    const report: QueryReport = { plan: 'scan', examined: 0 };
    this.lastQuery = report;
    const plan = this.plan(selector);
    if (plan) {
      report.plan = plan.describe;
      report.exact = plan.exact;
      // The candidates are a fresh array (query-plan.ts): a reader may write between the entries yielded.
      for (const slot of plan.slots!) {
        report.examined = ++examined;
        if (!this.indexHit(slot, selector, plan.exact, now)) continue;
        if (skip > 0) {
          skip--;
          continue;
        }
        yield new FoundEntry(slot.id, slot.value, slot.expiresAt === 0 ? null : slot.expiresAt);
        if (++yielded >= limit) return;
      }
      return;
    }
    for (const [id, held] of this.slots) {
      report.examined = ++examined;
      let value: unknown;
      let expiresAt: number | null = null;
      if (typeof held === 'number') value = this.bare.value(held);
      else {
        if (held.expiresAt !== 0 && held.expiresAt <= now) continue;
        value = held.value;
        if (held.expiresAt !== 0) expiresAt = held.expiresAt;
      }
      if (!this.matchesScanned(selector, id, held)) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      if (this.recency) this.touch(id);
      yield new FoundEntry(id, value, expiresAt);
      if (++yielded >= limit) return;
    }
  }

  /**
   * Live entries in `sort` order (lib/query-sort.ts; ties in creation order), after `skip`, at
   * most `limit`. A query sorted on an indexed path whose every entry the index orders exactly
   * walks that index and stops after skip + limit matches, unless the planner's candidates are
   * so few that sorting them is cheaper; anything else is collected and sorted.
   */
  *findSorted(selector: Selector, sort: SortSpec, skip = 0, limit = Infinity): Generator<StoredEntry> {
    if (limit <= 0) return;
    const now = this.options.now();
    const field = sort[0];
    if (selector.kind === 'query' && this.indexes.indexes(field.path) && this.indexes.sortable(field.path)) {
      const plan = planQuery(this.indexes, selector);
      const want = skip + limit;
      const total = Math.max(1, this.indexes.objectEntries);
      // Matches spread evenly: the walk meets `want` of them after about want × total / matches entries.
      const walkCost = plan.slots === undefined ? want : (want * total) / Math.max(1, plan.size);
      if (plan.slots === undefined || walkCost < 2 * plan.size) {
        const report: QueryReport = { plan: `sort(${field.path})`, examined: 0 };
        this.lastQuery = report;
        const index = this.indexes.path(field.path)!;
        // Collected before yielding: an async reader may write between entries, and a tree walk must not see that.
        for (const slot of [...sortedWalk(index, sort, selector, now, skip, limit, report)]) {
          if (this.recency) this.touch(slot.id);
          yield new FoundEntry(slot.id, slot.value, slot.expiresAt === 0 ? null : slot.expiresAt);
        }
        return;
      }
      this.lastQuery = { plan: `${plan.describe} then sorted`, examined: plan.size };
      const hits: Slot[] = [];
      for (const slot of plan.slots) if (this.indexHit(slot, selector, plan.exact, now)) hits.push(slot);
      for (const slot of sortEntries(hits, sort).slice(skip, skip + limit)) {
        yield new FoundEntry(slot.id, slot.value, slot.expiresAt === 0 ? null : slot.expiresAt);
      }
      return;
    }
    const all = [...this.find(selector)];
    this.lastQuery.plan += ' then sorted';
    yield* sortEntries(all, sort).slice(skip, skip + limit);
  }

  /** One page (SPEC §14 keyset paging; page-walk.ts): `sort`, then id; strictly after `after`; at most `limit`. */
  *findPage(selector: Selector, sort: SortSpec, after: PagePosition | undefined, limit: number): Generator<StoredEntry> {
    const report: QueryReport = { plan: 'page', examined: 0 };
    this.lastQuery = report;
    // Collected before yielding, as a sorted walk is: a reader may write between entries.
    for (const slot of readPage(
      heldPageSource(this.slots, this.slotOf, this.indexes, this.options.now(), (slot, exact, key) =>
        exact || (selector.kind === 'query' ? slot.isObjectKey && this.testQuery(selector, slot, key) : this.matchesScanned(selector, slot.id, slot)),
        () => (this.idOrder ??= new IdOrder(this.slots.keys())),
      ),
      { selector, sort, after, limit },
      report,
    )) {
      if (this.recency) this.touch(slot.id);
      yield new FoundEntry(slot.id, slot.value, slot.expiresAt === 0 ? null : slot.expiresAt);
    }
  }

  /**
   * The values of the live entries an index serves for `selector`, in creation order, passed
   * through `read`; undefined when no index applies (the caller falls back to `find`). This is
   * `get(query)`'s hot path: no generator and no entry object per match.
   */
  indexedValues(selector: Selector, limit: number, read: (value: unknown) => unknown): unknown[] | undefined {
    const plan = this.plan(selector);
    if (!plan) return undefined;
    const report: QueryReport = { plan: plan.describe, examined: 0, exact: plan.exact };
    this.lastQuery = report;
    const now = this.options.now();
    if (limit <= 0) return [];
    // Candidates counted in an array: the answer has at most that many, so it is made at that size
    // once rather than grown by pushes (a third of the bytes this query allocates; GC dominates it).
    const sized = Array.isArray(plan.slots) && plan.size <= Math.min(limit, PRESIZED_MAX);
    const out: unknown[] = sized ? new Array<unknown>(plan.size) : [];
    let n = 0;
    let examined = 0;
    for (const slot of plan.slots!) {
      examined++;
      if (!this.indexHit(slot, selector, plan.exact, now)) continue;
      if (sized) out[n] = read(slot.value);
      else out.push(read(slot.value));
      n++;
      if (n >= limit) break;
    }
    if (sized) out.length = n;
    report.examined = examined;
    return out;
  }

  /** Whether an index candidate is live and matches (`exact`: the index alone decides); touches it for LRU if so. */
  private indexHit(slot: Slot, selector: Selector, exact: boolean, now: number): boolean {
    if (slot.expiresAt !== 0 && slot.expiresAt <= now) return false;
    if (!exact && !this.testQuery(selector as QuerySelector, slot)) return false;
    if (this.recency) this.touch(slot.id);
    return true;
  }

  /**
   * Whether an entry met in a full scan matches ('all', 'glob', or a query no index serves): an
   * object key is parsed (slot.ts) only for a query; a glob never matches one.
   */
  private matchesScanned(selector: Selector, id: string, held: Slot | number): boolean {
    if (!isObjectKeyId(id)) return selectorMatches(selector, id, id);
    if (selector.kind === 'query') return selector.test((held as Slot).key as KeyObject);
    return selectorMatches(selector, id, NOT_A_STRING_KEY);
  }

  /** Whether an object-key entry matches a query; `key`: its key if the caller parsed it already. */
  private testQuery(selector: QuerySelector, slot: Slot, key?: Key): boolean {
    if (key !== undefined) return selector.test(key as KeyObject);
    // Every condition an indexed equality: membership checks are cheaper than the matcher (and its key parse).
    const met = selector.coveredByConstraints ? this.indexes.meetsEqualities(selector, slot) : undefined;
    return met ?? selector.test(slot.key as KeyObject);
  }

}
