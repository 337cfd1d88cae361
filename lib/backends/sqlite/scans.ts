/**
 * Reads over many entries (queries, globs, whole namespaces): SQL narrows (query.ts), the
 * shared matcher decides, expiry is checked per entry as it is taken.
 */
import type { Clock } from '../../clock';
import type { Key } from '../../keys';
import { Selector, selectorMatches } from '../../query';
import type { ValueCodec } from '../../compression';
import type { FindOptions, StoredEntry } from '../../store';
import type { SqliteConnection } from './connection';
import { corruptEntry, toStoreError } from './layout';
import { PAGE_SIZE, ScanPlan, scanPlan, valuesPlan, wholeScanPlan } from './query';
import { ScannedRow, isLive, keyOfId, valueOf } from './rows';
import { expiredAt } from './streams';
import { sortedEntries } from './sorted';
import { SortSpec, sortEntries, sortKeysOf } from '../../query-sort';
import type { PagePosition } from '../../backend';
import { comparePositions } from '../../core/page-cursor';
import { pagedEntries } from './paged';

/** Errors that report a key column json_extract cannot read (a scan by ids still works then). */
const badKeyColumnErrors = new WeakSet<object>();

/** Whether `err` reports a key column that is not JSON: a delete retries with a scan by ids (`narrow: false`). */
export function isBadKeyColumn(err: unknown): boolean {
  return typeof err === 'object' && err !== null && badKeyColumnErrors.has(err);
}

/** Rows per page when a query's values are collected into one array anyway. */
const VALUES_PAGE_SIZE = 1024;

/** What the scans of one namespace need. */
export interface ScanScope {
  connection: SqliteConnection;
  namespace: string;
  clock: Clock;
  codec: ValueCodec;
  /** The entries table, quoted. */
  table: string;
}

/** An entry found by a scan, with its row's creation position and chunk set (for deletes). */
export type ScannedEntry = StoredEntry & { seq: number; s?: unknown };

/** The scans of one namespace. */
export interface Scans {
  /**
   * Matching rows in creation order, as entries; `lenient` skips rows whose key cannot be read
   * (deletes); `narrow: false` reads no key column (ids only).
   */
  scan(selector: Selector, values: boolean, lenient?: boolean, narrow?: boolean): Generator<ScannedEntry>;
  /** Live matches in creation order, synchronously (the core's fast path for get(query)). */
  findSync(selector: Selector, options: FindOptions): Iterable<StoredEntry>;
  /** The values of a query's matches, without building entries. */
  valuesSync(selector: Selector, limit: number): unknown[] | undefined;
}

/** Builds the scans of one namespace. */
export function createScans({ connection, namespace: ns, clock, codec, table }: ScanScope): Scans {
  /** The rows a plan selects (its pages `pageSize` rows), page by page in creation order (each page one statement: no cursor stays open). */
  function* planRows(plan: ScanPlan, pageSize: number): Generator<ScannedRow> {
    const statement = connection.query(plan.sql);
    const params: Record<string, string | number> = { ...plan.params, ns, after: 0 };
    for (;;) {
      const rows = run(() => statement.all(params)) as ScannedRow[];
      for (const row of rows) yield row;
      if (rows.length < pageSize) return;
      params.after = rows[rows.length - 1].seq;
    }
  }

  /** Matching rows in creation order, as entries; `lenient` skips rows whose key cannot be read (deletes). */
  function* scan(selector: Selector, values: boolean, lenient = false, narrow = true): Generator<ScannedEntry> {
    const plan = scanPlan(selector, table, values, connection.exactNumbers, PAGE_SIZE, narrow);
    if (!plan) return;
    for (const row of planRows(plan, PAGE_SIZE)) {
      const id = row.id;
      let key: Key;
      try {
        if (!lenient && !isLive(row, id, clock.now())) continue;
        if (lenient && expiredAt(row, clock.now())) continue;
        key = keyOfId(id);
      } catch (err) {
        if (lenient) continue;
        throw err;
      }
      if (!(plan.exact && row.a === null) && !selectorMatches(selector, id, key)) continue;
      const value = values ? valueOf(row, id, codec, connection) : undefined;
      yield { id, key, value, expiresAt: typeof row.e === 'number' ? row.e : null, seq: row.seq, s: row.s };
    }
  }

  /** The values of a query's matches, without building entries: rows the SQL decides exactly need no key parse. */
  const valuesSync = (selector: Selector, limit: number): unknown[] | undefined => {
    if (selector.kind !== 'query') return undefined;
    try {
      return exactValues(selector, limit) ?? checkedValues(selector, limit);
    } catch (err) {
      throw toStoreError(err, 'get');
    }
  };

  /** valuesSync in one statement when the SQL is exact (query.ts valuesPlan); undefined when it cannot answer. */
  const exactValues = (selector: Selector, limit: number): unknown[] | undefined => {
    const plan = valuesPlan(selector, table, limit, connection.exactNumbers);
    if (!plan) return undefined;
    const now = clock.now();
    const params: Record<string, string | number> = { ...plan.params, ns, now };
    if (run(() => connection.query(plan.otherArraysSql).pluck(true).get(params)) !== undefined) return undefined;
    const cells = run(() => connection.query(plan.sql).pluck(true).all(params)) as Array<string | number>;
    const out: unknown[] = new Array(cells.length);
    let n = 0;
    for (const cell of cells) {
      if (typeof cell === 'string') {
        let value: unknown;
        try {
          value = codec.decode(cell);
        } catch {
          return undefined; // corrupt: the checked path reads the row again and names its key
        }
        if (value === undefined) return undefined;
        out[n++] = value;
        continue;
      }
      const row = connection.stmt.rowBySeq.get(cell) as ScannedRow | undefined;
      if (!row || !isLive(row, row.id, now)) continue;
      if (row.a !== null && !selectorMatches(selector, row.id, keyOfId(row.id))) continue;
      out[n++] = valueOf(row, row.id, codec, connection);
    }
    out.length = n;
    // A candidate the matcher dropped took a place under LIMIT: the checked path fills the rest.
    return n < cells.length && cells.length === limit ? undefined : out;
  };

  /** valuesSync row by row through the matcher. */
  const checkedValues = (selector: Selector, limit: number): unknown[] => {
    const out: unknown[] = [];
    // Every match is collected anyway: one statement when the query narrows and has no limit.
    const whole = limit === Infinity ? wholeScanPlan(selector, table, connection.exactNumbers) : undefined;
    const plan = whole ?? scanPlan(selector, table, true, connection.exactNumbers, VALUES_PAGE_SIZE);
    if (!plan) return out;
    const rows = whole ? (run(() => connection.query(whole.sql).all({ ...whole.params, ns })) as ScannedRow[]) : planRows(plan, VALUES_PAGE_SIZE);
    for (const row of rows) {
      const id = row.id;
      if (!isLive(row, id, clock.now())) continue;
      if (!(plan.exact && row.a === null) && !selectorMatches(selector, id, keyOfId(id))) continue;
      out.push(valueOf(row, id, codec, connection));
      if (out.length >= limit) break;
    }
    return out;
  };

  /**
   * Live matches in creation order, or in `options.sort` order (sorted.ts), `skip` and `limit`
   * applied, synchronously (the core's fast path for get(query)).
   */
  function findSync(selector: Selector, options: FindOptions): Iterable<StoredEntry> {
    // A sort reads its window in one step: an array, which the caller iterates with no generator step per entry.
    if (options.page === undefined && options.sort !== undefined && options.sort.length > 0) return sortedSync(selector, options as FindOptions & { sort: SortSpec });
    return scanSync(selector, options);
  }

  /** findSync with a sort: the window, live entries only (its statements ran inside sortedEntries). */
  function sortedSync(selector: Selector, options: FindOptions & { sort: SortSpec }): StoredEntry[] {
    let sorted: StoredEntry[];
    try {
      sorted = sortedEntries({ connection, namespace: ns, clock, codec, table, indexes: connection.settings.indexes, tableName: connection.settings.table }, selector, options, run) ?? sortedHere(selector, options);
    } catch (err) {
      throw toStoreError(err, 'find');
    }
    // Expiry is checked per entry as it is returned (SPEC §12).
    const now = clock.now();
    const live = (entry: StoredEntry) => entry.expiresAt === null || entry.expiresAt === undefined || entry.expiresAt > now;
    return sorted.every(live) ? sorted : sorted.filter(live);
  }

  /** findSync without a sort (or a page): live matches in creation order, `skip` and `limit` applied. */
  function* scanSync(selector: Selector, options: FindOptions): Generator<StoredEntry> {
    if (options.page !== undefined) {
      yield* pageSync(selector, options.sort ?? [], options.page.after, options.limit ?? Infinity, options.values);
      return;
    }
    let found = 0;
    let skipped = 0;
    const skip = options.skip ?? 0;
    const entries = scan(selector, options.values);
    for (;;) {
      let step: IteratorResult<StoredEntry>;
      try {
        step = entries.next();
      } catch (err) {
        throw toStoreError(err, 'find');
      }
      if (step.done) return;
      if (skipped < skip) {
        skipped++;
        continue;
      }
      yield step.value;
      if (options.limit !== undefined && ++found >= options.limit) return;
    }
  }

  /** One page (FindOptions.page, paged.ts), live entries only. */
  function* pageSync(selector: Selector, sort: SortSpec, after: PagePosition | undefined, limit: number, values: boolean): Generator<StoredEntry> {
    let page: StoredEntry[];
    try {
      const scope = { connection, namespace: ns, clock, codec, table, indexes: connection.settings.indexes };
      page = pagedEntries(scope, selector, sort, after, limit, values, run) ?? pagedHere(selector, sort, after, limit, values);
    } catch (err) {
      throw toStoreError(err, 'page');
    }
    for (const entry of page) if (entry.expiresAt === null || entry.expiresAt === undefined || entry.expiresAt > clock.now()) yield entry;
  }

  /** A page whose sort SQL cannot spell: every match read, those after the position kept, ordered. */
  function pagedHere(selector: Selector, sort: SortSpec, after: PagePosition | undefined, limit: number, values: boolean): StoredEntry[] {
    const ranked: Array<{ entry: StoredEntry; position: PagePosition }> = [];
    for (const entry of scan(selector, values)) {
      const position = { keys: sortKeysOf(entry.key, sort), id: entry.id };
      if (after === undefined || comparePositions(position, after, sort) > 0) ranked.push({ entry, position });
    }
    ranked.sort((a, b) => comparePositions(a.position, b.position, sort));
    return ranked.slice(0, limit).map((r) => r.entry);
  }

  /** A sort SQL cannot spell (a field name with a quote or a control character): every match read, sorted as the core would. */
  function sortedHere(selector: Selector, options: FindOptions): StoredEntry[] {
    const skip = options.skip ?? 0;
    const all = [...scan(selector, options.values)];
    return sortEntries(all, options.sort ?? []).slice(skip, options.limit === undefined ? undefined : skip + options.limit);
  }

  /**
   * Runs a query statement. json_extract fails on a key column that is not JSON (a row this
   * backend did not write): that is corruption, reported naming the row's key (SPEC §12).
   */
  function run<T>(statement: () => T): T {
    try {
      return statement();
    } catch (err) {
      if (!/malformed JSON/i.test((err as Error)?.message ?? '')) throw err;
      const id = connection.stmt.badKey.get(ns) as string | undefined;
      if (id === undefined) throw err;
      const corrupt = corruptEntry(id, 'its key column k is not JSON', err);
      badKeyColumnErrors.add(corrupt);
      throw corrupt;
    }
  }

  return { scan, findSync, valuesSync };
}
