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
 * the two sorted lists are merged, then skip and limit applied.
 */
import type { Key } from '../../keys';
import { Selector, selectorMatches } from '../../query';
import { SortSpec, compareKeyLists, sortKeysOf } from '../../query-sort';
import type { FindOptions, StoredEntry } from '../../store';
import { jsonPath, keyPathExpr, oddValuesWhere, pathIndexName, sqliteNumber } from './layout';
import { boundLimitSql, limitSql, selectorWhere } from './query';
import { RowEntry, ScannedRow, isLive, keyOfId, valueOf } from './rows';
import type { ScanScope } from './scans';

/** A row read for a sort, with the values SQL read at its sort paths (plain rows) and its creation position. */
export interface SortRow extends ScannedRow {
  /** The value SQL read at the first sort path (x1, t1, ... for the next ones). */
  x0?: unknown;
}

/** A matched row with its sort keys, ready to merge. */
export interface Ranked {
  row: SortRow;
  id: string;
  /** The parsed key; undefined for a plain row of an exact plan until someone reads it (RowEntry). */
  key: Key | undefined;
  keys: unknown[] | undefined;
}

/** The entries of `find(selector, options)` with a non-empty sort; `run` runs a statement (reporting corrupt key columns). */
export function sortedEntries(
  scope: ScanScope & { indexes: readonly string[]; tableName: string },
  selector: Selector,
  options: FindOptions & { sort: SortSpec },
  run: <T>(statement: () => T) => T,
): StoredEntry[] | undefined {
  const spec = options.sort;
  const literals = spec.map((f) => jsonPath(f.path));
  if (literals.some((l) => l === undefined)) return undefined; // a field name SQL cannot spell: the caller sorts
  const base = selectorWhere(selector, scope.connection.exactNumbers);
  if (!base) return [];
  const { connection, namespace: ns, clock, codec, table } = scope;
  const now = clock.now();
  const skip = options.skip ?? 0;
  const need = options.limit === undefined ? Infinity : skip + options.limit;
  const paths = literals as string[];
  const indexed = spec.length === 1 && scope.indexes.includes(spec[0].path);
  const cols = options.values ? 'seq, id, e, a, s, c, v' : 'seq, id, e, a, s';
  const params: Record<string, string | number> = { ...base.params, ns, now };
  const live = '(e IS NULL OR e > @now)';

  const reversedTies = indexed && spec[0].direction === -1;
  // Only a plan SQL decides exactly can stop at `need` rows (the matcher drops none of them).
  const limited = base.exact && need !== Infinity;
  // The plain rows are ordered in SQL: the parts of their statements, built when one runs (the top run alone needs none).
  let parts: { where: string; order: string; cols: string } | undefined;
  const plainParts = () =>
    (parts ??= {
      where: plainRowsWhere(paths, indexed),
      order: indexed
        ? `${keyPathExpr(paths[0])}${reversedTies ? ' DESC, seq DESC' : ', seq'}`
        : spec
            .map((f, i) => {
              const dir = f.direction === -1 ? ' DESC' : '';
              return `${bracket(paths[i])}${dir}, ${keyPathExpr(paths[i])}${dir}`;
            })
            .join(', ') + ', seq',
      cols: sortColumns(paths),
    });
  const plainSql = () => `SELECT ${cols}${plainParts().cols} FROM ${table} WHERE ${base.where} AND a IS NULL AND ${plainParts().where} AND ${live} ORDER BY ${plainParts().order}`;
  /** The greatest value of the array-free live matches at the sort path (booleans as 1/0, objects as JSON text), as a subquery. */
  const topSql = reversedTies ? `(SELECT ${keyPathExpr(paths[0])} FROM ${table} WHERE ${base.where} AND a IS NULL AND ${live} ORDER BY ${keyPathExpr(paths[0])} DESC LIMIT 1)` : '';
  // The common case in one statement; an empty answer leaves the case to the probe.
  const alone = reversedTies && limited ? topRunAlone() : undefined;
  if (alone !== undefined && alone.length === need) return topEntries(alone);
  const probe = reversedTies && limited && alone === undefined ? probeTop() : undefined;

  // ---- the other rows: arrays anywhere in the key, objects (and, indexed, booleans) at a sort path
  const others = alone !== undefined || probe?.others === false ? [] : otherRows(scope, selector, spec, paths, indexed, cols, params, run);
  others.sort((x, y) => compareKeyLists(x.keys!, y.keys!, spec) || x.row.seq - y.row.seq);

  // ---- the plain rows, ordered in SQL
  const rows = alone !== undefined ? alone : probe ? topRunFirst(probe.top) : backwards(plainSql(), params, need);
  const plain: Ranked[] = [];
  for (const row of rows) {
    if (plain.length >= need) break;
    if (!isLive(row, row.id, now)) continue;
    // Plain rows hold no array (a IS NULL): an exact plan decides them, and their keys are parsed only if read.
    let key: Key | undefined;
    if (!base.exact && !selectorMatches(selector, row.id, (key = keyOfId(row.id)))) continue;
    plain.push({ row, id: row.id, key, keys: others.length > 0 ? sqlKeys(row, spec.length) : undefined });
  }

  const merged = others.length === 0 ? plain : merge(plain, others, spec);
  const window = merged.slice(skip, need === Infinity ? undefined : need);
  return window.map(({ row, id, key }) => new RowEntry(id, key, options.values ? valueOf(row, id, codec, connection) : undefined, typeof row.e === 'number' ? row.e : null));

  /**
   * The entries of the top run when it fills the window (no other row to merge, no key to
   * parse: the plan is exact), the live rows after `skip` (isLive reports a corrupt expiry).
   */
  function topEntries(rows: SortRow[]): StoredEntry[] {
    const out: StoredEntry[] = [];
    let live = 0;
    for (const row of rows) {
      if (!isLive(row, row.id, now) || live++ < skip) continue;
      out.push(new RowEntry(row.id, undefined, options.values ? valueOf(row, row.id, codec, connection) : undefined, typeof row.e === 'number' ? row.e : null));
    }
    return out;
  }

  /**
   * The plain rows of `sql` (ordered as `order` says) up to `count` of them when limited; read
   * backwards (reversedTies), each run of equal values is put back in creation order.
   */
  function backwards(sql: string, sqlParams: Record<string, string | number | bigint>, count: number): SortRow[] {
    const rows = run(() => connection.query(limited ? `${sql} ${limitSql(count)}` : sql).all(sqlParams)) as SortRow[];
    if (!reversedTies) return rows;
    return restoreTies(rows, limited && rows.length === count, (last, before) => run(() => boundaryRun(last, count - before)));
  }

  /**
   * For a descending sort with a limit on an indexed path (topRunFirst): the greatest value of
   * the array-free rows, booleans (1/0) and objects (JSON text) included — one step down the
   * index — and whether the namespace holds any other row (a key with an array, a boolean or
   * an object at the path: the partial indexes find them), in one statement.
   */
  function probeTop(): { top: unknown; others: boolean } {
    const statement = connection.query(`SELECT ${topSql}, ${otherRowsExist()}`).raw(true);
    const [value, other] = run(() => statement.get(params)) as [unknown, unknown];
    return { top: value, others: other === 1 };
  }

  /** Whether the namespace holds a row SQL cannot order by the indexed path: a key with an array, or a boolean or an object at the path (the partial indexes find them). */
  function otherRowsExist(): string {
    return `EXISTS (SELECT 1 FROM ${table} WHERE ns = @ns AND a = 1) OR EXISTS (SELECT 1 FROM ${table} WHERE ns = @ns AND ${oddValuesWhere(paths[0])})`;
  }

  /**
   * A descending sort with a limit on an indexed path when the namespace holds no other row
   * (otherRowsExist: then no boolean or object shares the greatest value): topRunFirst in one
   * statement, the probe's greatest value a subquery of it (SQLite runs it once) — the probe
   * statement cost as much as the run itself reads. Undefined when it finds no row (no match,
   * other rows, or the value NULL: `=` never finds it), which the probe then tells apart.
   */
  function topRunAlone(): SortRow[] | undefined {
    const first = topRun(`NOT (${otherRowsExist()}) AND ${keyPathExpr(paths[0])} = ${topSql}`, params, undefined, false);
    if (first.length === 0) return undefined;
    if (first.length === need) return first;
    // The whole run, short of the limit: the values below it, as topRunFirst reads them.
    return first.concat(belowTop(topSql, params, need - first.length));
  }

  /**
   * The plain rows of the run `equal` selects (an equality on the indexed expression), in
   * creation order, up to `need`, as few columns as will do (each costs a conversion), read as
   * arrays (better-sqlite3 builds a row object slower than this loop): seq only to merge other
   * rows (`withSeq`, else the constant 0); the value, or for a streamed one its row's seq (read whole then).
   */
  function topRun(equal: string, sqlParams: Record<string, string | number | bigint>, top: unknown, withSeq: boolean): SortRow[] {
    const sql = `SELECT id, e, ${withSeq ? 'seq' : '0'}${options.values ? ', iif(s IS NULL, v, seq)' : ''} FROM ${table} INDEXED BY ${pathIndexName(scope.tableName, spec[0].path)} WHERE ${base!.where} AND a IS NULL AND ${live} AND ${equal} ORDER BY seq ${limitSql(need)}`;
    const cells = run(() => connection.query(sql).raw(true).all(sqlParams)) as unknown[][];
    const first: SortRow[] = new Array(cells.length);
    for (let i = 0; i < cells.length; i++) {
      const [id, e, seq, v] = cells[i] as [string, unknown, number, unknown];
      if (typeof v === 'number') first[i] = { ...(connection.stmt.rowBySeq.get(v) as SortRow), x0: top };
      else first[i] = { seq, id, e, a: null, s: null, c: null, v, x0: top };
    }
    return first;
  }

  /** The plain rows below the run of `top` (bound, or a subquery), up to `count`: the values below, read backwards, then the NULL run. */
  function belowTop(top: string, sqlParams: Record<string, string | number | bigint>, count: number): SortRow[] {
    // The values below it (NULL is below none: `x < @below OR x IS NULL` would walk the whole index), then the NULL run.
    const x = keyPathExpr(paths[0]);
    const where = `${base!.where} AND a IS NULL AND ${live}`;
    const { where: plainWhere, order, cols: sortCols } = plainParts();
    const below = `SELECT ${cols}${sortCols} FROM ${table} WHERE ${where} AND ${plainWhere} AND ${x} < ${top} ORDER BY ${order}`;
    const rows = backwards(below, sqlParams, count);
    if (rows.length === count) return rows;
    const nulls = `SELECT ${cols}${sortCols} FROM ${table} INDEXED BY ${pathIndexName(scope.tableName, spec[0].path)} WHERE ${where} AND ${plainWhere} AND ${x} IS NULL ORDER BY seq ${boundLimitSql('count')}`;
    return rows.concat(run(() => connection.query(nulls).all({ ...params, count: count - rows.length })) as SortRow[]);
  }

  /**
   * A descending sort with a limit on an indexed path: the run of the greatest value (`top`,
   * probeTop) read forwards through the index, in creation order as the order asks — no row
   * read twice, where reading backwards reads a run newest first and then again from its start
   * (boundaryRun). In most data the limit is reached within that run; otherwise the rows below
   * it are read backwards.
   */
  function topRunFirst(top: unknown): SortRow[] {
    // NULL (no row, or none with a value: `=` never finds NULL), or a value a boolean or an object may also take in the index: read backwards.
    if (top === null || top === 0 || top === 1 || (typeof top === 'string' && top.charCodeAt(0) === 0x7b)) return backwards(plainSql(), params, need);
    // No other row holds this value: the run needs no plainRowsWhere, and its rows no sort columns (their value is `top`).
    // Bound as json_extract reads it (an integer past 2^53 as the integer its JSON digits spell), so `=` finds its run.
    const sqlParams = { ...params, top: typeof top === 'number' ? sqliteNumber(top) : (top as string) };
    const first = topRun(`${keyPathExpr(paths[0])} = @top`, sqlParams, top, others.length > 0);
    if (first.length === need) return first;
    return first.concat(belowTop('@top', sqlParams, need - first.length));
  }

  /**
   * The first `count` plain rows, in creation order, whose indexed value equals `last`'s: the
   * run a LIMIT cut, which the backwards read took newest first. Read through the path's index
   * (INDEXED BY: an equality elsewhere in the query must not make the planner walk another
   * index and test every row), whose order within one value is creation order.
   */
  function boundaryRun(last: SortRow, count: number): SortRow[] {
    const value = last.x0 ?? null;
    // The value as SQLite holds it, read from the row itself: an integer beyond 2^53 has no exact JavaScript number to bind.
    const equal = value === null ? `${keyPathExpr(paths[0])} IS NULL` : `${keyPathExpr(paths[0])} = (SELECT ${keyPathExpr(paths[0])} FROM ${table} WHERE seq = @boundary)`;
    const sql = `SELECT ${cols}${plainParts().cols} FROM ${table} INDEXED BY ${pathIndexName(scope.tableName, spec[0].path)} WHERE ${base!.where} AND a IS NULL AND ${plainParts().where} AND ${live} AND ${equal} ORDER BY seq ${boundLimitSql('count')}`;
    return connection.query(sql).all(value === null ? { ...params, count } : { ...params, count, boundary: last.seq }) as SortRow[];
  }
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
): Ranked[] {
  const { connection, namespace: ns, clock, table } = scope;
  const now = clock.now();
  // Indexed: the path's partial index of booleans and objects (layout.ts oddValuesIndexSql) finds them.
  const odd = indexed
    ? [`SELECT seq FROM ${table} WHERE ns = @ns AND ${oddValuesWhere(paths[0])}`]
    : [`SELECT seq FROM ${table} WHERE ns = @ns AND (${paths.map((p) => `json_type(k, ${p}) = 'object'`).join(' OR ')})`];
  const sql = `SELECT ${cols} FROM ${table} WHERE seq IN (SELECT seq FROM ${table} WHERE ns = @ns AND a = 1 UNION ${odd.join(' UNION ')}) AND (e IS NULL OR e > @now) ORDER BY seq`;
  const others: Ranked[] = [];
  for (const row of run(() => connection.query(sql).all({ ...params, ns, now })) as SortRow[]) {
    if (!isLive(row, row.id, now)) continue;
    const key = keyOfId(row.id);
    if (!selectorMatches(selector, row.id, key)) continue;
    others.push({ row, id: row.id, key, keys: sortKeysOf(key, spec) });
  }
  return others;
}

/** The condition of the rows SQL orders itself (the complement of otherRows, less keys holding arrays). */
export function plainRowsWhere(paths: readonly string[], indexed: boolean): string {
  return indexed
    ? `IFNULL(json_type(k, ${paths[0]}), '') NOT IN ('true', 'false', 'object')`
    : paths.map((p) => `IFNULL(json_type(k, ${p}), '') <> 'object'`).join(' AND ');
}

/** The columns that read each sort path's value (x0, x1, ...) and JSON type (t0, t1, ...). */
export function sortColumns(paths: readonly string[]): string {
  return paths.map((p, i) => `, ${keyPathExpr(p)} AS x${i}, json_type(k, ${p}) AS t${i}`).join('');
}

/** The bracket of a JSON value at a path in lib/query-sort.ts's order (objects and arrays never reach it). */
export function bracket(path: string): string {
  return `CASE json_type(k, ${path}) WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 WHEN 'true' THEN 5 WHEN 'false' THEN 5 ELSE 0 END`;
}

/** The sort keys of a plain row from the values SQL read (booleans come back as 1/0, told apart by json_type). */
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
  const x = (row: SortRow) => row.x0;
  for (let i = 1; i <= rows.length; i++) {
    if (i < rows.length && x(rows[i]) === x(rows[start])) continue;
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
