/**
 * Native keyset paging (SPEC §14, FindOptions.page): the matches in page order — the sort's
 * fields (lib/query-sort.ts, MongoDB's order) then the key id in code point order — strictly
 * after a position, up to a limit, without reading the matches before the position.
 *
 * Rows are split as sorted.ts splits them. The plain rows are ordered in SQL (`ORDER BY` the
 * bracket and value of each field, or an indexed single path's expression alone, then `id`:
 * TEXT under BINARY collation compares UTF-8 bytes, i.e. code points) and cut by a keyset
 * condition, so a page is one statement with `LIMIT`. The keyset condition is the OR-expanded
 * "strictly after" (row values `(a, b, id) > (?, ?, ?)` would only serve ascending fields):
 * field 0 after, or field 0 equal and field 1 after, ..., or every field equal and the id after.
 * For an indexed single path it starts with a range on the expression (`x >= @c`), which the
 * expression index serves. When the SQL does not decide the match alone (the matcher drops
 * rows), the next statement continues after the last row read. The other rows (keys holding
 * arrays, objects at a sort path) are read whole, filtered by position and merged.
 *
 * Numbers of a cursor are bound as SQLite reads them from the key's JSON: SQLite parses JSON
 * reals correctly rounded (checked on 3.53), so those equal the cursor's double; but an integer
 * past 2^53 that JSON writes in digits (2^60 + 256 as 1152921504606847200) is read as that exact
 * 64-bit integer, which no double equals: it is bound as a BigInt of those digits (sqliteNumber).
 * Bound as a double, a page ending on such a value never moved past it.
 */
import { compareValues } from '../../query-match';
import { Selector, selectorMatches } from '../../query';
import { SortSpec, compareKeyLists, sortKeyBracket } from '../../query-sort';
import type { PagePosition, StoredEntry } from '../../backend';
import { jsonPath, keyPathExpr, sqliteNumber } from './layout';
import { limitSql, selectorWhere } from './query';
import type { Key } from '../../keys';
import { RowEntry, isLive, keyOfId, valueOf } from './rows';
import type { ScanScope } from './scans';
import { Ranked, SortRow, bracket, otherRows, plainRowsWhere, sortColumns, sqlKeys } from './sorted';

/** Rows one statement reads at least when the matcher may drop some (a page of 1 would crawl). */
const MIN_BATCH = 64;

/** The value a sort key is compared with in SQL (booleans and numbers as json_extract reads them), or null when only its bracket counts. */
function boundValue(key: unknown): Bound {
  if (typeof key === 'boolean') return key ? 1 : 0;
  if (typeof key === 'number') return sqliteNumber(key);
  return typeof key === 'string' ? key : null;
}

/** A parameter of the keyset condition. */
type Bound = string | number | bigint | null;

/** Orders two ranked rows in page order. */
function comparePage(a: Ranked, b: Ranked, spec: SortSpec): number {
  return compareKeyLists(a.keys!, b.keys!, spec) || compareValues(a.id, b.id);
}

/**
 * The keyset condition "strictly after `after`" over the plain rows, with its parameters.
 * Indexed: one field, its expression alone orders NULL < numbers < text (booleans and objects
 * are other rows). Otherwise per field the bracket, then the value (bound NULL when the
 * cursor's bracket holds no plain value: then only the bracket decides).
 */
function keysetSql(spec: SortSpec, paths: readonly string[], indexed: boolean, after: PagePosition): { sql: string; params: Record<string, Bound> } {
  const params: Record<string, Bound> = { pid: after.id };
  if (spec.length === 0) return { sql: 'id > @pid', params };
  if (indexed) {
    const x = keyPathExpr(paths[0]);
    const b = sortKeyBracket(after.keys[0]);
    const asc = spec[0].direction === 1;
    params.pc = boundValue(after.keys[0]);
    if (b === 1 || b === 2) {
      return { sql: asc ? `${x} >= @pc AND (${x} > @pc OR id > @pid)` : `((${x} <= @pc AND (${x} < @pc OR id > @pid)) OR ${x} IS NULL)`, params };
    }
    if (b === 0) return { sql: asc ? `(${x} IS NOT NULL OR id > @pid)` : `${x} IS NULL AND id > @pid`, params };
    // An empty array sorts before every plain row; objects, arrays and booleans after them.
    return { sql: (b === -1) === asc ? '1' : '0', params };
  }
  const equal: string[] = [];
  const branches: string[] = [];
  spec.forEach((field, i) => {
    const x = keyPathExpr(paths[i]);
    const br = bracket(paths[i]);
    params[`pb${i}`] = sortKeyBracket(after.keys[i]);
    params[`pc${i}`] = boundValue(after.keys[i]);
    const op = field.direction === 1 ? '>' : '<';
    const later = `(${br} ${op} @pb${i} OR (${br} = @pb${i} AND ${x} ${op} @pc${i}))`;
    branches.push(equal.length === 0 ? later : `(${equal.join(' AND ')} AND ${later})`);
    equal.push(`${br} = @pb${i} AND (@pc${i} IS NULL OR ${x} = @pc${i})`);
  });
  branches.push(`(${equal.join(' AND ')} AND id > @pid)`);
  return { sql: `(${branches.join(' OR ')})`, params };
}

/**
 * Up to `limit` live matches of `selector` in page order strictly after `after`; undefined
 * when a sort path cannot be spelled in SQL (the caller pages by reading every match).
 */
export function pagedEntries(
  scope: ScanScope & { indexes: readonly string[] },
  selector: Selector,
  spec: SortSpec,
  after: PagePosition | undefined,
  limit: number,
  values: boolean,
  run: <T>(statement: () => T) => T,
): StoredEntry[] | undefined {
  const literals = spec.map((f) => jsonPath(f.path));
  if (literals.some((l) => l === undefined)) return undefined;
  const paths = literals as string[];
  const base = selectorWhere(selector, scope.connection.exactNumbers);
  if (!base || limit <= 0) return [];
  const { connection, namespace: ns, clock, codec, table } = scope;
  const now = clock.now();
  const indexed = spec.length === 1 && scope.indexes.includes(spec[0].path);
  const cols = values ? 'seq, id, e, a, s, c, v' : 'seq, id, e, a, s';
  const params: Record<string, string | number | null> = { ...base.params, ns, now };

  // ---- the other rows (none without a sort: then every row is ordered in SQL)
  let others: Ranked[] = [];
  if (spec.length > 0) {
    const all = otherRows(scope, selector, spec, paths, indexed, cols, params as Record<string, string | number>, run);
    others = after === undefined ? all : all.filter((r) => (compareKeyLists(r.keys!, after.keys, spec) || compareValues(r.id, after.id)) > 0);
    others.sort((x, y) => comparePage(x, y, spec));
    others.length = Math.min(others.length, limit);
  }

  // ---- the plain rows, ordered and cut in SQL
  const split = spec.length === 0 ? '' : ` AND a IS NULL AND ${plainRowsWhere(paths, indexed)}`;
  const order = indexed
    ? `${keyPathExpr(paths[0])}${spec[0].direction === -1 ? ' DESC' : ''}, id`
    : [...spec.map((f, i) => `${bracket(paths[i])}${f.direction === -1 ? ' DESC' : ''}, ${keyPathExpr(paths[i])}${f.direction === -1 ? ' DESC' : ''}`), 'id'].join(', ');
  // Without a sort, keys holding arrays (which the narrowing misses: query.ts) are ordered with the rest.
  const where = spec.length === 0 && selector.kind === 'query' ? `((${base.where}) OR (ns = @ns AND a = 1))` : base.where;
  const select = `SELECT ${cols}${sortColumns(paths)} FROM ${table} WHERE ${where}${split} AND (e IS NULL OR e > @now)`;
  // SQL decides array-free keys alone when the plan is exact: one statement of `limit` rows then.
  // No limit (a tier view may ask so): one statement reads every row.
  const batch = limit === Infinity ? -1 : base.exact ? limit : Math.max(limit, MIN_BATCH);
  const plain: Ranked[] = [];
  let position = after;
  for (;;) {
    const keyset = position === undefined ? undefined : keysetSql(spec, paths, indexed, position);
    const sql = `${select}${keyset ? ` AND ${keyset.sql}` : ''} ORDER BY ${order} ${limitSql(batch < 0 ? Infinity : batch)}`;
    const rows = run(() => connection.query(sql).all({ ...params, ...keyset?.params })) as SortRow[];
    for (const row of rows) {
      if (plain.length >= limit) break;
      if (!isLive(row, row.id, now)) continue;
      // A row the SQL decides exactly needs no key: it is parsed only if read (the core reads the last one's, for the cursor).
      let key: Key | undefined;
      if (!(base.exact && row.a === null) && !selectorMatches(selector, row.id, (key = keyOfId(row.id)))) continue;
      plain.push({ row, id: row.id, key, keys: sqlKeys(row, spec.length) });
    }
    if (plain.length >= limit || batch < 0 || rows.length < batch) break;
    const last = rows[rows.length - 1];
    position = { keys: sqlKeys(last, spec.length), id: last.id };
  }

  const merged = others.length === 0 ? plain : mergePage(plain, others, spec);
  if (merged.length > limit) merged.length = limit;
  return merged.map(({ row, id, key }) => new RowEntry(id, key, values ? valueOf(row, id, codec, connection) : undefined, typeof row.e === 'number' ? row.e : null));
}

/** Merges two lists in page order. */
function mergePage(a: Ranked[], b: Ranked[], spec: SortSpec): Ranked[] {
  const out: Ranked[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(comparePage(a[i], b[j], spec) <= 0 ? a[i++] : b[j++]);
  while (i < a.length) out.push(a[i++]);
  while (j < b.length) out.push(b[j++]);
  return out;
}
