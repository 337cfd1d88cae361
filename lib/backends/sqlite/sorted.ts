/**
 * Native sort (SPEC §14): `find` with `sort`, `skip` and `limit` in lib/query-sort.ts's order
 * (MongoDB's), computed in one synchronous step so no statement stays open across awaits.
 *
 * SQLite orders json_extract's results NULL < numbers < text, reads JSON true/false as 1/0 and
 * an object as its JSON text, and cannot see array elements. So rows are split:
 * - plain rows — no array in the key (column `a` NULL) and no object at a sort path — are
 *   ordered in SQL: per field a bracket (`CASE json_type`: null/missing, numbers, strings,
 *   booleans) then the value, then `seq` (creation order). A single sort field on an indexed
 *   path (`indexes`) is ordered by the indexed expression alone, so the expression index
 *   serves `ORDER BY … LIMIT` with no temporary B-tree; booleans then go with the other rows.
 *   Descending, the index is read backwards (`seq` descending too) and each run of ties is put
 *   back in creation order here; with a limit that SQL decides, the greatest value's run is
 *   read first, forwards through the index (equal values sit in creation order there), which
 *   in most data is the whole answer (topRunFirst);
 * - the other rows — keys holding arrays (multikey: an array's smallest or largest element, an
 *   empty array before null), objects at a sort path — are few in most data, found through the
 *   partial index on `a` and ranges of the expression index, and sorted here (sortKeysOf);
 * the two sorted lists are merged, then skip and limit applied. Where there is no other row,
 * the plain rows' window is taken as they come (plainWindow). The SQL texts of a query shape
 * are built once (sort-shape.ts).
 */
import type { Key } from '../../keys';
import { Selector, selectorMatches } from '../../query';
import { SortSpec, compareKeyLists, sortKeysOf } from '../../query-sort';
import type { FindOptions, StoredEntry } from '../../store';
import { sqliteNumber } from './layout';
import { filterText, selectorWhere } from './query';
import { RowEntry, ScannedRow, ValueEntry, checkedExpiry, deserialize, isLive, keyOfId, valueOf } from './rows';
import type { ScanScope } from './scans';
import { SortShape, otherRowsSql, sortShape } from './sort-shape';

export { bracket, plainRowsWhere, sortColumns } from './sort-shape';

/** A plain row read for a sort, with the value SQL read at its first sort path (x0; x1, t0, t1, ... for the others when read). */
export interface SortRow extends ScannedRow {
  x0: unknown;
}

/** A matched row with its sort keys, ready to merge. */
export interface Ranked {
  row: ScannedRow;
  id: string;
  /** The parsed key; undefined for a plain row of an exact plan until someone reads it (RowEntry). */
  key: Key | undefined;
  keys: unknown[] | undefined;
}

/** A row of a top run as read (sort-shape.ts runSql): id, expiry, seq (or 0), and the value or the seq of a row to read whole. */
type RunCells = [string, unknown, number, unknown?];

/** How many namespaces a shape remembers as holding other rows (SortShape.probeFirst) before it forgets them all. */
const PROBE_FIRST_NAMESPACES = 64;

/** What sortedEntries reads in. */
type SortScope = ScanScope & { indexes: readonly string[]; tableName: string };

/**
 * The entries of `find(selector, options)` with a non-empty sort; `run` runs a statement
 * (reporting corrupt key columns). With `options.keys` false (values only) and a plan SQL
 * decides exactly, the plain rows are read without their ids (ValueEntry); corrupt data met
 * there is read again with ids, so that its error names the key (SPEC §12). Only with a
 * synchronous codec: an asynchronous one's values settle later, out of this step.
 */
export function sortedEntries(scope: SortScope, selector: Selector, options: FindOptions & { sort: SortSpec }, run: <T>(statement: () => T) => T): StoredEntry[] | undefined {
  if (options.keys === false && scope.codec.sync) {
    try {
      return sortedRead(scope, selector, options, run, true);
    } catch {
      // Read again with ids below: the error, if the data is still corrupt, names the key.
    }
  }
  return sortedRead(scope, selector, options, run, false);
}

/** sortedEntries, without ids when `valuesOnly` and the plan is exact. */
function sortedRead(
  scope: SortScope,
  selector: Selector,
  options: FindOptions & { sort: SortSpec },
  run: <T>(statement: () => T) => T,
  valuesOnly: boolean,
): StoredEntry[] | undefined {
  const spec = options.sort;
  const { connection, namespace: ns, clock, codec } = scope;
  const skip = options.skip ?? 0;
  const need = options.limit === undefined ? Infinity : skip + options.limit;
  const { base, shape } = translated(scope, selector, spec, options.values, need, valuesOnly);
  if (!base) return [];
  if (!shape) return undefined; // a field name SQL cannot spell: the caller sorts
  // Ids are needed to match the rows of an inexact plan (the matcher reads their keys).
  const keyless = valuesOnly && base.exact && options.values;
  const now = clock.now();
  // One parameter object for every statement of the read (better-sqlite3 ignores the names a statement does not use).
  const params: Record<string, string | number | bigint> = { ...base.params, ns, now };
  // Only a plan SQL decides exactly can stop at `need` rows (the matcher drops none of them).
  const limited = base.exact && need !== Infinity;

  if (shape.reversedTies && limited) {
    // The common case in one statement, unless this namespace last held other rows; finding nothing leaves the case to the probe.
    if (!shape.probeFirst.has(ns)) {
      const alone = topRunAlone(shape);
      if (alone !== undefined) return alone;
      if (shape.probeFirst.size >= PROBE_FIRST_NAMESPACES) shape.probeFirst.clear();
      shape.probeFirst.add(ns);
    }
    const probe = probeTop(shape);
    // The one statement would have found the run (no other row, a value at the path): try it first next time.
    if (!probe.others && probe.top !== null) shape.probeFirst.delete(ns);
    const others = probe.others ? rankedOthers(shape) : [];
    if (others.length === 0) return plainWindow(topRunFirst(shape, probe.top, false));
    return rankedWindow(topRunFirst(shape, probe.top, true), others);
  }
  const rows = backwards(shape, shape.plainSql(limited), need);
  const others = rankedOthers(shape);
  return others.length === 0 ? plainWindow(rows) : rankedWindow(rows, others);

  /** The window of plain rows in order when no other row is merged in: live matches after `skip`, up to `need`. */
  function plainWindow(rows: readonly ScannedRow[], out: StoredEntry[] = [], seen = { taken: 0 }): StoredEntry[] {
    for (const row of rows) {
      if (seen.taken >= need) break;
      const key = matchedKey(row);
      if (key === null) continue;
      if (seen.taken++ < skip) continue;
      out.push(entryOf(row, row.id, key));
    }
    return out;
  }

  /** The window of plain rows (sorted, with their sort values) merged with the other rows. */
  function rankedWindow(rows: readonly SortRow[], others: Ranked[]): StoredEntry[] {
    const plain: Ranked[] = [];
    for (const row of rows) {
      if (plain.length >= need) break;
      const key = matchedKey(row);
      if (key === null) continue;
      plain.push({ row, id: row.id, key, keys: sqlKeys(row, spec.length) });
    }
    const merged = merge(plain, others, spec);
    return merged.slice(skip, need === Infinity ? undefined : need).map(({ row, id, key }) => entryOf(row, id, key));
  }

  /**
   * A plain row's key if the row is live and matches, else null. Plain rows hold no array (a IS
   * NULL): an exact plan decides them, and their keys are parsed only if read (undefined).
   */
  function matchedKey(row: ScannedRow): Key | undefined | null {
    if (!isLive(row, row.id, now)) return null;
    if (base!.exact) return undefined;
    const key = keyOfId(row.id);
    return selectorMatches(selector, row.id, key) ? key : null;
  }

  function entryOf(row: ScannedRow, id: string, key: Key | undefined): StoredEntry {
    if (keyless) return new ValueEntry(valueOf(row, id, codec, connection), typeof row.e === 'number' ? row.e : null);
    return new RowEntry(id, key, options.values ? valueOf(row, id, codec, connection) : undefined, typeof row.e === 'number' ? row.e : null);
  }

  /** The other rows (otherRows), sorted. */
  function rankedOthers(shape: SortShape): Ranked[] {
    const others = otherRows(scope, selector, spec, shape.paths, shape.indexed, shape.keyedCols, params as Record<string, string | number>, run, shape.otherSql);
    return others.sort((x, y) => compareKeyLists(x.keys!, y.keys!, spec) || x.row.seq - y.row.seq);
  }

  /**
   * The plain rows of `sql` (ordered as the shape says) up to `count` of them when limited;
   * read backwards (reversedTies), each run of equal values is put back in creation order.
   */
  function backwards(shape: SortShape, sql: string, count: number): SortRow[] {
    const rows = run(() => connection.query(sql).all(params)) as SortRow[];
    if (!shape.reversedTies) return rows;
    return restoreTies(rows, limited && rows.length === count, (last, before) => run(() => boundaryRun(shape, last, count - before)));
  }

  /**
   * For a descending sort with a limit on an indexed path (topRunFirst): the greatest value of
   * the array-free rows, booleans (1/0) and objects (JSON text) included — one step down the
   * index — and whether the namespace holds any other row (a key with an array, a boolean or
   * an object at the path: the partial indexes find them), in one statement.
   */
  function probeTop(shape: SortShape): { top: unknown; others: boolean } {
    const [value, other] = run(() => connection.query(shape.probeSql).raw(true).get(params)) as [unknown, unknown];
    return { top: value, others: other === 1 };
  }

  /**
   * A descending sort with a limit on an indexed path when the namespace holds no other row
   * (then no boolean or object shares the greatest value): the window of topRunFirst in one
   * statement, the probe's greatest value a subquery of it — the probe statement cost as much
   * as the run itself reads. Undefined when it finds no row (no match, other rows, or the value
   * NULL: `=` never finds it), which the probe then tells apart. Nothing is merged with these
   * rows (there is no other row), so they carry no sort value.
   */
  function topRunAlone(shape: SortShape): StoredEntry[] | undefined {
    if (keyless) return topValuesAlone(shape);
    const cells = run(() => connection.query(shape.aloneSql).raw(true).all(params)) as RunCells[];
    if (cells.length === 0) return undefined;
    // The plan is exact (limited): every live row is a match, its entry built from its cells.
    const out: StoredEntry[] = [];
    let taken = 0;
    for (const cell of cells) {
      const id = cell[0];
      const v = cell[3];
      const expiresAt = checkedExpiry(cell[1], id);
      if (expiresAt !== null && expiresAt <= now) continue;
      if (taken++ < skip) continue;
      if (!options.values) out.push(new RowEntry(id, undefined, undefined, expiresAt));
      else if (typeof v === 'string' || Buffer.isBuffer(v)) out.push(keyless ? new ValueEntry(deserialize(v, id, codec), expiresAt) : new RowEntry(id, undefined, deserialize(v, id, codec), expiresAt));
      else {
        // A streamed value: the row read whole; gone meanwhile (another connection), it is left out.
        const row = connection.stmt.rowBySeq.get(v) as ScannedRow | undefined;
        if (row && isLive(row, row.id, now)) out.push(entryOf(row, row.id, undefined));
      }
    }
    if (cells.length === need) return out;
    // The whole run, short of the limit: the values below it, as topRunFirst reads them.
    return plainWindow(belowTop(shape, true, need - cells.length), out, { taken });
  }

  /**
   * topRunAlone for a read of values alone (`keyless`): one plucked cell a row
   * (sort-shape.ts aloneValuesSql) — the stored value, or the seq of a row to read whole. A
   * value's entry carries no expiry (`expiresAt` undefined: not read; the statement kept live
   * rows only, at this read's `now`, as valuesSync does).
   */
  function topValuesAlone(shape: SortShape): StoredEntry[] | undefined {
    const cells = run(() => connection.query(shape.aloneValuesSql).pluck(true).all(params)) as unknown[];
    if (cells.length === 0) return undefined;
    const out: StoredEntry[] = [];
    let taken = 0;
    for (const cell of cells) {
      if (typeof cell === 'string' || Buffer.isBuffer(cell)) {
        // Unreadable, it throws: sortedEntries reads again with ids, so that the error names the key.
        if (taken++ >= skip) out.push(new ValueEntry(deserialize(cell, '', codec), undefined));
        continue;
      }
      // A streamed value, or an expiry or value of the wrong type: the row read whole (its id names it if corrupt); gone meanwhile (another connection), it is left out.
      const row = connection.stmt.rowBySeq.get(cell) as ScannedRow | undefined;
      if (!row || !isLive(row, row.id, now)) continue;
      if (taken++ >= skip) out.push(entryOf(row, row.id, undefined));
    }
    if (cells.length === need) return out;
    return plainWindow(belowTop(shape, true, need - cells.length), out, { taken });
  }

  /**
   * The plain rows of the run `sql` selects (sort-shape.ts runSql: an equality on the indexed
   * expression), in creation order, up to `need`. They carry no sort value (`x0`): the caller
   * that merges them gives it.
   */
  function topRun(sql: string): ScannedRow[] {
    const cells = run(() => connection.query(sql).raw(true).all(params)) as RunCells[];
    const rows: ScannedRow[] = [];
    for (const [id, e, seq, v] of cells) {
      if (typeof v !== 'number') rows.push({ seq, id, e, a: null, s: null, c: null, v });
      else {
        // A streamed value: the row read whole; gone meanwhile (another connection), it is left out.
        const row = connection.stmt.rowBySeq.get(v) as ScannedRow | undefined;
        if (row) rows.push(row);
      }
    }
    return rows;
  }

  /** The plain rows below the top run (bound as @top, or the greatest value's subquery), up to `count`: the values below, read backwards, then the NULL run. */
  function belowTop(shape: SortShape, subquery: boolean, count: number): SortRow[] {
    const rows = backwards(shape, shape.belowSql(subquery, count), count);
    if (rows.length === count) return rows;
    params.count = count - rows.length;
    return rows.concat(run(() => connection.query(shape.nullsSql).all(params)) as SortRow[]);
  }

  /**
   * A descending sort with a limit on an indexed path: the run of the greatest value (`top`,
   * probeTop) read forwards through the index, in creation order as the order asks — no row
   * read twice, where reading backwards reads a run newest first and then again from its start
   * (boundaryRun). In most data the limit is reached within that run; otherwise the rows below
   * it are read backwards. `ranked`: the rows will be merged with other rows, so the run's rows
   * are given their sort value (`top`).
   */
  function topRunFirst(shape: SortShape, top: unknown, ranked: true): SortRow[];
  function topRunFirst(shape: SortShape, top: unknown, ranked: false): ScannedRow[];
  function topRunFirst(shape: SortShape, top: unknown, ranked: boolean): ScannedRow[] {
    // NULL (no row, or none with a value: `=` never finds NULL), or a value a boolean or an object may also take in the index: read backwards.
    if (top === null || top === 0 || top === 1 || (typeof top === 'string' && top.charCodeAt(0) === 0x7b)) return backwards(shape, shape.plainSql(true), need);
    // No other row holds this value: the run needs no plainRowsWhere, and its rows no sort columns (their value is `top`).
    // Bound as json_extract reads it (an integer past 2^53 as the integer its JSON digits spell), so `=` finds its run.
    params.top = typeof top === 'number' ? sqliteNumber(top) : (top as string);
    const run = topRun(shape.topRunSql(ranked));
    const first: ScannedRow[] = ranked ? run.map((row): SortRow => ({ ...row, x0: top })) : run;
    if (first.length === need) return first;
    return first.concat(belowTop(shape, false, need - first.length));
  }

  /**
   * The first `count` plain rows, in creation order, whose indexed value equals `last`'s: the
   * run a LIMIT cut, which the backwards read took newest first (sort-shape.ts boundarySql).
   */
  function boundaryRun(shape: SortShape, last: SortRow, count: number): SortRow[] {
    const isNull = last.x0 === null || last.x0 === undefined;
    params.count = count;
    if (!isNull) params.boundary = last.seq;
    return connection.query(shape.boundarySql(isNull)).all(params) as SortRow[];
  }
}

/** A read's translation (query.ts selectorWhere) and its sort shape; `shape` undefined when there is no translation or SQL cannot spell a sort path. */
interface Translated {
  base: ReturnType<typeof selectorWhere>;
  shape: SortShape | undefined;
}

/**
 * The translation and sort shape of a read, remembered per connection for a query given the
 * same values again (SqliteConnection.memo; query.ts filterText names the query): a repeated
 * query builds no WHERE text and no shape key. The remembered parameter values are never
 * written to (each read copies them).
 */
function translated(scope: SortScope, selector: Selector, spec: SortSpec, values: boolean, need: number, valuesOnly: boolean): Translated {
  const build = (): Translated => {
    const base = selectorWhere(selector, scope.connection.exactNumbers);
    return { base, shape: base && sortShape(scope, base.where, spec, values, need, !(valuesOnly && base.exact && values)) };
  };
  const text = selector.kind === 'query' ? filterText(selector.filter) : undefined;
  if (text === undefined) return build();
  let key = `${need}\u0000${values ? 1 : 0}${valuesOnly ? 1 : 0}`;
  // JSON strings: no path can make two keys alike, whatever characters it holds.
  for (const field of spec) key += `\u0000${field.direction}${JSON.stringify(field.path)}`;
  return scope.connection.memo(`${key}\u0000\u0000${text}`, build);
}

/**
 * The rows SQL cannot order (keys holding arrays, objects at a sort path, and for an indexed
 * single path booleans, which its index holds as 1/0), live and matching, with their sort keys
 * (lib/query-sort.ts), unsorted.
 */
export function otherRows(
  scope: ScanScope,
  selector: Selector,
  spec: SortSpec,
  paths: readonly string[],
  indexed: boolean,
  cols: string,
  params: Record<string, string | number>,
  run: <T>(statement: () => T) => T,
  sql = otherRowsSql(scope.table, paths, indexed, cols),
): Ranked[] {
  const { connection, namespace: ns, clock } = scope;
  const now = clock.now();
  const others: Ranked[] = [];
  for (const row of run(() => connection.query(sql).all({ ...params, ns, now })) as ScannedRow[]) {
    if (!isLive(row, row.id, now)) continue;
    const key = keyOfId(row.id);
    if (!selectorMatches(selector, row.id, key)) continue;
    others.push({ row, id: row.id, key, keys: sortKeysOf(key, spec) });
  }
  return others;
}

/** The sort keys of a plain row from the values SQL read (booleans come back as 1/0, told apart by json_type; a top run's rows have only x0). */
export function sqlKeys(row: SortRow, fields: number): unknown[] {
  const keys: unknown[] = new Array(fields);
  const r = row as unknown as Record<string, unknown>;
  for (let i = 0; i < fields; i++) {
    const type = r['t' + i];
    keys[i] = type === 'true' ? true : type === 'false' ? false : type === null || type === 'null' ? null : r['x' + i];
  }
  return keys;
}

/**
 * Rows in (value DESC, seq DESC) order with each run of equal values put back in seq order.
 * When a LIMIT may have cut the last run, its first rows in creation order are read again
 * (`boundary`, given how many rows come before the run).
 */
function restoreTies(rows: SortRow[], cut: boolean, boundary: (last: SortRow, before: number) => SortRow[]): SortRow[] {
  const out: SortRow[] = [];
  let start = 0;
  for (let i = 1; i <= rows.length; i++) {
    if (i < rows.length && rows[i].x0 === rows[start].x0) continue;
    if (i === rows.length && cut) {
      out.push(...boundary(rows[start], out.length));
      return out;
    }
    for (let j = i - 1; j >= start; j--) out.push(rows[j]);
    start = i;
  }
  return out;
}

/** Merges two lists sorted by (sort keys, seq). */
function merge(a: Ranked[], b: Ranked[], spec: SortSpec): Ranked[] {
  const out: Ranked[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const c = compareKeyLists(a[i].keys!, b[j].keys!, spec) || a[i].row.seq - b[j].row.seq;
    out.push(c <= 0 ? a[i++] : b[j++]);
  }
  while (i < a.length) out.push(a[i++]);
  while (j < b.length) out.push(b[j++]);
  return out;
}
