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
import { jsonPath, keyPathExpr, oddValuesWhere, pathIndexName } from './layout';
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
  const probe = reversedTies && limited ? probeTop() : undefined;

  // ---- the other rows: arrays anywhere in the key, objects (and, indexed, booleans) at a sort path
  const others = probe?.others === false ? [] : otherRows(scope, selector, spec, paths, indexed, cols, params, run);
  others.sort((x, y) => compareKeyLists(x.keys!, y.keys!, spec) || x.row.seq - y.row.seq);

  // ---- the plain rows, ordered in SQL
  const plainWhere = plainRowsWhere(paths, indexed);
  const order = indexed
    ? `${keyPathExpr(paths[0])}${reversedTies ? ' DESC, seq DESC' : ', seq'}`
    : spec
        .map((f, i) => {
          const dir = f.direction === -1 ? ' DESC' : '';
          return `${bracket(paths[i])}${dir}, ${keyPathExpr(paths[i])}${dir}`;
        })
        .join(', ') + ', seq';
  const sortCols = sortColumns(paths);
  const plainSql = `SELECT ${cols}${sortCols} FROM ${table} WHERE ${base.where} AND a IS NULL AND ${plainWhere} AND ${live} ORDER BY ${order}`;
  const rows = probe ? topRunFirst(probe.top) : backwards(plainSql, params, need);
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
    const x = keyPathExpr(paths[0]);
    const top = `SELECT ${x} FROM ${table} WHERE ${base!.where} AND a IS NULL AND ${live} ORDER BY ${x} DESC LIMIT 1`;
    const arrays = `SELECT 1 FROM ${table} WHERE ns = @ns AND a = 1`;
    const odd = `SELECT 1 FROM ${table} WHERE ns = @ns AND ${oddValuesWhere(paths[0])}`;
    // safeIntegers: an integer beyond 2^53 comes back as the BigInt SQLite holds, so binding it finds its run again.
    const statement = connection.query(`SELECT (${top}), EXISTS (${arrays}) OR EXISTS (${odd})`).raw(true).safeIntegers(true);
    const [value, other] = run(() => statement.get(params)) as [unknown, unknown];
    return { top: value, others: Number(other) === 1 };
  }

  /**
   * A descending sort with a limit on an indexed path: the run of the greatest value (`top`,
   * probeTop) read forwards through the index, in creation order as the order asks — no row
   * read twice, where reading backwards reads a run newest first and then again from its start
   * (boundaryRun). In most data the limit is reached within that run; otherwise the rows below
   * it are read backwards.
   */
  function topRunFirst(exactTop: unknown): SortRow[] {
    // Bound as read (exactTop: a BigInt for an integer); compared and merged as JavaScript reads the key (top).
    const top = typeof exactTop === 'bigint' ? Number(exactTop) : exactTop;
    // NULL (no row, or none with a value: `=` never finds NULL), or a value a boolean or an object may also take in the index: read backwards.
    if (top === null || top === 0 || top === 1 || (typeof top === 'string' && top.charCodeAt(0) === 0x7b)) return backwards(plainSql, params, need);
    const x = keyPathExpr(paths[0]);
    const where = `${base!.where} AND a IS NULL AND ${live}`;
    // No other row holds this value: the run needs no plainRowsWhere, and its rows no sort columns (their value is `top`).
    // As few columns as will do (each costs a conversion), read as arrays (better-sqlite3 builds a row object slower than
    // this loop): seq only to merge other rows (else the constant 0); the value, or for a streamed one its row's seq (read whole then).
    const sql = `SELECT id, e, ${others.length > 0 ? 'seq' : '0'}${options.values ? ', iif(s IS NULL, v, seq)' : ''} FROM ${table} INDEXED BY ${pathIndexName(scope.tableName, spec[0].path)} WHERE ${where} AND ${x} = @top ORDER BY seq ${limitSql(need)}`;
    const cells = run(() => connection.query(sql).raw(true).all({ ...params, top: exactTop as string | number | bigint })) as unknown[][];
    const first: SortRow[] = new Array(cells.length);
    for (let i = 0; i < cells.length; i++) {
      const [id, e, seq, v] = cells[i] as [string, unknown, number, unknown];
      if (typeof v === 'number') first[i] = { ...(connection.stmt.rowBySeq.get(v) as SortRow), x0: top };
      else first[i] = { seq, id, e, a: null, s: null, c: null, v, x0: top };
    }
    if (first.length === need) return first;
    // The values below it (NULL is below none: `x < @below OR x IS NULL` would walk the whole index), then the NULL run.
    const below = `SELECT ${cols}${sortCols} FROM ${table} WHERE ${where} AND ${plainWhere} AND ${x} < @below ORDER BY ${order}`;
    const rows = first.concat(backwards(below, { ...params, below: exactTop as string | number | bigint }, need - first.length));
    if (rows.length === need) return rows;
    const nulls = `SELECT ${cols}${sortCols} FROM ${table} INDEXED BY ${pathIndexName(scope.tableName, spec[0].path)} WHERE ${where} AND ${plainWhere} AND ${x} IS NULL ORDER BY seq ${boundLimitSql('count')}`;
    return rows.concat(run(() => connection.query(nulls).all({ ...params, count: need - rows.length })) as SortRow[]);
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
    const sql = `SELECT ${cols}${sortCols} FROM ${table} INDEXED BY ${pathIndexName(scope.tableName, spec[0].path)} WHERE ${base!.where} AND a IS NULL AND ${plainWhere} AND ${live} AND ${equal} ORDER BY seq ${boundLimitSql('count')}`;
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
