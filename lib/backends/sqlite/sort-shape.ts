/**
 * The SQL texts of one sort shape (sorted.ts): the selector's WHERE text (its values are bound
 * parameters), the sort fields, the window's size (skip + limit), whether values are read and
 * whether ids are (not when the caller reads values only and the SQL decides the matches).
 * A shape's texts are built when first used and kept per connection (SqliteConnection.shape),
 * so a repeated query builds no SQL; the connection's statement cache keeps each text prepared.
 */
import type { SortSpec } from '../../query-sort';
import { jsonPath, keyPathExpr, oddValuesWhere, pathIndexName } from './layout';
import { boundLimitSql, limitSql } from './query';

/** Live rows only (@now). */
const LIVE = '(e IS NULL OR e > @now)';

/** The sort shape of a read; undefined when a sort path cannot be spelled in SQL (the caller sorts). */
export function sortShape(
  scope: {
    connection: { shape<T>(key: string, build: () => T): T };
    indexes: readonly string[];
    table: string;
    tableName: string;
  },
  where: string,
  spec: SortSpec,
  values: boolean,
  need: number,
  ids = true,
): SortShape | undefined {
  let key = `sort\u0000${need}\u0000${values ? 1 : 0}${ids ? 1 : 0}\u0000${where}`;
  // As JSON strings: a path may hold any character (\u0000 too), and no two sorts may share a key.
  for (const field of spec) key += `\u0000${field.direction}${JSON.stringify(field.path)}`;
  const shape = scope.connection.shape(key, () => {
    const literals = spec.map((f) => jsonPath(f.path));
    if (literals.some((l) => l === undefined)) return null;
    return new SortShape(scope.table, scope.tableName, where, spec, literals as string[], spec.length === 1 && scope.indexes.includes(spec[0].path), values, need, ids);
  });
  return shape ?? undefined;
}

/** The SQL texts of one sort shape, each built on first use. */
export class SortShape {
  /** The entry columns the plain rows are read with (no `id` unless `ids`). */
  readonly cols: string;
  /** The entry columns the other rows are read with: always with `id` (they are matched and ranked by their keys). */
  readonly keyedCols: string;
  /** A single field on an indexed path read descending: the index is read backwards, ties put back in creation order. */
  readonly reversedTies: boolean;
  /**
   * Namespaces where the one-statement top run (`alone`) last found nothing — the namespace
   * holds arrays, or booleans or objects at the path, or no value there: their reads go to
   * the probe first. Only a choice between two complete reads (sorted.ts), never a result.
   */
  readonly probeFirst = new Set<string>();
  private readonly x: string;
  private parts?: { where: string; order: string; cols: string };
  private texts = new Map<string, string>();

  constructor(
    readonly table: string,
    readonly tableName: string,
    readonly where: string,
    readonly spec: SortSpec,
    readonly paths: readonly string[],
    readonly indexed: boolean,
    readonly values: boolean,
    readonly need: number,
    readonly ids = true,
  ) {
    this.keyedCols = values ? 'seq, id, e, a, s, c, v' : 'seq, id, e, a, s';
    this.cols = ids ? this.keyedCols : values ? 'seq, e, a, s, c, v' : 'seq, e, a, s';
    this.reversedTies = indexed && spec[0].direction === -1;
    this.x = keyPathExpr(paths[0]);
  }

  /** A text built once under `name`. */
  private text(name: string, build: () => string): string {
    let sql = this.texts.get(name);
    if (sql === undefined) this.texts.set(name, (sql = build()));
    return sql;
  }

  /** The condition, order and sort columns of the plain rows (ordered in SQL). */
  private get plain(): { where: string; order: string; cols: string } {
    return (this.parts ??= {
      where: plainRowsWhere(this.paths, this.indexed),
      order: this.indexed
        ? `${this.x}${this.reversedTies ? ' DESC, seq DESC' : ', seq'}`
        : this.spec
            .map((f, i) => {
              const dir = f.direction === -1 ? ' DESC' : '';
              return `${bracket(this.paths[i])}${dir}, ${keyPathExpr(this.paths[i])}${dir}`;
            })
            .join(', ') + ', seq',
      cols: sortColumns(this.paths),
    });
  }

  /** The plain rows in sort order (descending on an indexed path: ties newest first), every one or the first `need`. */
  plainSql(limited: boolean): string {
    return this.text(limited ? 'plain-limited' : 'plain', () => {
      const { where, order, cols } = this.plain;
      const sql = `SELECT ${this.cols}${cols} FROM ${this.table} WHERE ${this.where} AND a IS NULL AND ${where} AND ${LIVE} ORDER BY ${order}`;
      return limited ? `${sql} ${limitSql(this.need)}` : sql;
    });
  }

  /** The greatest value of the array-free live matches at the sort path (booleans as 1/0, objects as JSON text), as a subquery. */
  private get topSql(): string {
    return this.text('top', () => `(SELECT ${this.x} FROM ${this.table} WHERE ${this.where} AND a IS NULL AND ${LIVE} ORDER BY ${this.x} DESC LIMIT 1)`);
  }

  /** Whether the namespace holds a row SQL cannot order by the indexed path: a key with an array, or a boolean or an object at the path (the partial indexes find them). */
  private get otherRowsExist(): string {
    return this.text('others', () => `EXISTS (SELECT 1 FROM ${this.table} WHERE ns = @ns AND a = 1) OR EXISTS (SELECT 1 FROM ${this.table} WHERE ns = @ns AND ${oddValuesWhere(this.paths[0])})`);
  }

  /** The probe (sorted.ts probeTop): the greatest value and whether other rows exist, one row of two cells. */
  get probeSql(): string {
    return this.text('probe', () => `SELECT ${this.topSql}, ${this.otherRowsExist}`);
  }

  /**
   * The run of rows whose indexed value `equal` selects, in creation order, up to `need`, as
   * few columns as will do (each costs a conversion), read as arrays: id (NULL unless `ids`), e,
   * seq (merged with other rows only: `withSeq`, else the constant 0) and, with values, the value — or, for a
   * streamed value, the row's seq (read whole then). The value column cannot hold a number (its
   * TEXT affinity turns one into text), so a number in that cell is always a seq.
   */
  private runSql(equal: string, withSeq: boolean): string {
    const value = this.values ? ', iif(s IS NULL, v, seq)' : '';
    return `SELECT ${this.ids ? 'id' : 'NULL'}, e, ${withSeq ? 'seq' : '0'}${value} FROM ${this.table} INDEXED BY ${pathIndexName(this.tableName, this.spec[0].path)} WHERE ${this.where} AND a IS NULL AND ${LIVE} AND ${equal} ORDER BY seq ${limitSql(this.need)}`;
  }

  /**
   * The top run when the namespace holds no other row, its greatest value a subquery (SQLite
   * runs it once); no row when other rows exist or the greatest value is NULL. The check of
   * other rows sits inside the value the index is searched for (NULL then: the search finds
   * nothing at once): as a WHERE term of its own, SQLite tested it on every row of the run,
   * walking the whole run to find nothing (~50 µs in bench/queries-sqlite's data).
   */
  get aloneSql(): string {
    return this.text('alone', () => this.runSql(this.aloneEqual, false));
  }

  /**
   * aloneSql for a read of values alone (no ids): one column a row, read plucked — each cell of
   * a row read as an array costs the driver about as much as the statement spends finding the
   * row. The cell is the stored value (TEXT, or compressed bytes) of a row whose value is in the
   * row and whose expiry is NULL or a number (the WHERE already kept only live ones, as the
   * fast path of get(query) does: query.ts valuesPlan); any other row gives its seq, an
   * INTEGER, and is read whole (a streamed value, an expiry or value of the wrong type).
   */
  get aloneValuesSql(): string {
    return this.text('alone-values', () => {
      const cell = `iif(s IS NULL AND (e IS NULL OR e < 1e300) AND typeof(v) IN ('text', 'blob'), v, seq)`;
      return `SELECT ${cell} FROM ${this.table} INDEXED BY ${pathIndexName(this.tableName, this.spec[0].path)} WHERE ${this.where} AND a IS NULL AND ${LIVE} AND ${this.aloneEqual} ORDER BY seq ${limitSql(this.need)}`;
    });
  }

  /** The run's condition in aloneSql: the greatest value, or NULL when other rows exist. */
  private get aloneEqual(): string {
    return `${this.x} = iif(${this.otherRowsExist}, NULL, ${this.topSql})`;
  }

  /** The run of the value bound as @top. */
  topRunSql(withSeq: boolean): string {
    return this.text(withSeq ? 'run-seq' : 'run', () => this.runSql(`${this.x} = @top`, withSeq));
  }

  /** The plain rows below `top` ('@top', or the greatest value's subquery: `subquery`), read backwards, up to `count`. */
  belowSql(subquery: boolean, count: number): string {
    const prefix = this.text(subquery ? 'below-subquery' : 'below', () => {
      const { where, order, cols } = this.plain;
      // NULL is below none: `x < @below OR x IS NULL` would walk the whole index (the NULL run is read apart: nullsSql).
      return `SELECT ${this.cols}${cols} FROM ${this.table} WHERE ${this.where} AND a IS NULL AND ${LIVE} AND ${where} AND ${this.x} < ${subquery ? this.topSql : '@top'} ORDER BY ${order}`;
    });
    return `${prefix} ${limitSql(count)}`;
  }

  /** The plain rows with no value at the path, in creation order, up to @count. */
  get nullsSql(): string {
    return this.text('nulls', () => {
      const { where, cols } = this.plain;
      return `SELECT ${this.cols}${cols} FROM ${this.table} INDEXED BY ${pathIndexName(this.tableName, this.spec[0].path)} WHERE ${this.where} AND a IS NULL AND ${LIVE} AND ${where} AND ${this.x} IS NULL ORDER BY seq ${boundLimitSql('count')}`;
    });
  }

  /**
   * The first @count plain rows, in creation order, whose indexed value is the row @boundary's
   * (as SQLite holds it: an integer beyond 2^53 has no exact JavaScript number to bind), or
   * NULL (`isNull`). Through the path's index (INDEXED BY: an equality elsewhere in the query
   * must not make the planner walk another index and test every row).
   */
  boundarySql(isNull: boolean): string {
    return this.text(isNull ? 'boundary-null' : 'boundary', () => {
      const { where, cols } = this.plain;
      const equal = isNull ? `${this.x} IS NULL` : `${this.x} = (SELECT ${this.x} FROM ${this.table} WHERE seq = @boundary)`;
      return `SELECT ${this.cols}${cols} FROM ${this.table} INDEXED BY ${pathIndexName(this.tableName, this.spec[0].path)} WHERE ${this.where} AND a IS NULL AND ${where} AND ${LIVE} AND ${equal} ORDER BY seq ${boundLimitSql('count')}`;
    });
  }

  /** The rows SQL cannot order (sorted.ts otherRows). */
  get otherSql(): string {
    return this.text('other', () => otherRowsSql(this.table, this.paths, this.indexed, this.keyedCols));
  }
}

/** The rows SQL cannot order: keys holding arrays, objects at a sort path and, for an indexed single path, booleans (its index holds them as 1/0). */
export function otherRowsSql(table: string, paths: readonly string[], indexed: boolean, cols: string): string {
  // Indexed: the path's partial index of booleans and objects (layout.ts oddValuesIndexSql) finds them.
  const odd = indexed
    ? `SELECT seq FROM ${table} WHERE ns = @ns AND ${oddValuesWhere(paths[0])}`
    : `SELECT seq FROM ${table} WHERE ns = @ns AND (${paths.map((p) => `json_type(k, ${p}) = 'object'`).join(' OR ')})`;
  return `SELECT ${cols} FROM ${table} WHERE seq IN (SELECT seq FROM ${table} WHERE ns = @ns AND a = 1 UNION ${odd}) AND ${LIVE} ORDER BY seq`;
}

/** The condition of the rows SQL orders itself (the complement of the other rows, less keys holding arrays). */
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
