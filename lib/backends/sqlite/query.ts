/**
 * Selectors (lib/query.ts) as SQL that narrows the candidates, read in pages of creation order.
 *
 * SQL narrows, and decides when it can: the SQL must return a superset of the matches, never
 * miss one, and a plan is `exact` when, for keys without arrays, it returns exactly the matches
 * (those rows then skip the shared matcher, selectorMatches; keys holding arrays never do). It
 * narrows by what SQLite reads like MongoDB: equality and `$in` of strings, booleans and safe
 * integers at a path of field names (`json_extract(k, '$."age"') IN (...)`, which a declared
 * index serves), and numeric ranges (rangeTerms). Where MongoDB differs, the SQL widens instead
 * of guessing, and the plan is not exact: keys holding an array (equality also matches array
 * elements, invisible to json_extract) are always candidates (column `a`), booleans are read
 * back as 1/0 (so `true` also brings the number 1, which the matcher drops), and other numbers
 * in equalities are not translated. A query with nothing to translate scans its namespace's rows.
 *
 * Pages are `seq > @after ORDER BY seq LIMIT <page size>`: each page is one synchronous
 * statement, so no cursor stays open across awaits (better-sqlite3 forbids writes while one is
 * open) and a scan holds one page in memory, whatever the size of the result.
 */
import type { IndexConstraint, QuerySelector, Selector } from '../../query';
import { isPlainObject } from '../../keys';
import { jsonPath, keyPathExpr } from './layout';

/** Rows per page of a scan. */
export const PAGE_SIZE = 128;
/** Bound parameters one statement may carry (SQLite allows 32,766). */
const MAX_PARAMETERS = 30_000;

/** A scan: its SQL (named parameters @ns, @after, @limit and the constraint values) and the values. */
export interface ScanPlan {
  sql: string;
  params: Record<string, string | number>;
  /**
   * True when the SQL decides the match exactly for keys without arrays (column `a` NULL):
   * those rows need no matcher, and no key parse when only values are wanted.
   */
  exact: boolean;
}

/** The columns a scan reads: keys only, or values too. */
function columns(values: boolean): string {
  return values ? 'seq, id, e, a, s, c, v' : 'seq, id, e, a, s';
}

/**
 * A LIMIT clause with its count written into the SQL ('' for no limit). A bound count
 * (`LIMIT @n`) makes SQLite prepare the statement again each time the parameter is bound (it
 * codes the count as a constant and plans with it, sqlite3ExprIsInteger), which cost more than
 * reading a small page; with the count in the text, the connection's statement cache keeps one
 * statement per shape and count. Counts come from the store's checked options (integers).
 */
export function limitSql(count: number): string {
  return count === Infinity ? '' : `LIMIT ${Math.max(0, Math.trunc(count))}`;
}

/**
 * A LIMIT whose count is bound as `@name` but read when the statement runs (`+ 0` keeps SQLite
 * from coding it as a constant, so binding it does not prepare the statement again): for counts
 * that change from call to call, in statements whose plan an INDEXED BY fixes.
 */
export function boundLimitSql(name: string): string {
  return `LIMIT @${name} + 0`;
}

/**
 * The plan of a selector over `table` (already quoted), pages of `pageSize` rows; undefined
 * when nothing can match. `narrow: false` reads no key column (a scan by ids).
 */
export function scanPlan(selector: Selector, table: string, values: boolean, exactNumbers: boolean, pageSize: number, narrow = true): ScanPlan | undefined {
  const cols = columns(values);
  const page = `ORDER BY seq ${limitSql(pageSize)}`;
  switch (selector.kind) {
    case 'none':
      return undefined;
    case 'exact':
      return { sql: `SELECT ${cols} FROM ${table} WHERE ns = @ns AND id = @id AND seq > @after`, params: { id: selector.id }, exact: false };
    case 'all':
      return { sql: `SELECT ${cols} FROM ${table} WHERE ns = @ns AND seq > @after ${page}`, params: {}, exact: false };
    case 'glob':
      return { sql: `SELECT ${cols} FROM ${table} WHERE ns = @ns AND seq > @after AND k IS NULL ${page}`, params: {}, exact: false };
    case 'query': {
      const narrowed = narrow ? narrowQuery(selector, exactNumbers) : undefined;
      if (!narrowed) return { sql: `SELECT ${cols} FROM ${table} WHERE ns = @ns AND seq > @after AND k IS NOT NULL ${page}`, params: {}, exact: false };
      return {
        sql: `SELECT ${cols} FROM ${table} WHERE seq IN (${candidates(narrowed, table, '')} ORDER BY 1 ${limitSql(pageSize)}) ORDER BY seq`,
        params: narrowed.params,
        exact: narrowed.exact,
      };
    }
  }
}

/**
 * The WHERE clause (over the entries table, with @ns) that selects a superset of `selector`'s
 * matches, for reads that order rows themselves (sorted.ts); `exact` when it decides the match
 * of keys without arrays alone. Undefined when nothing can match.
 */
export function selectorWhere(selector: Selector, exactNumbers: boolean): { where: string; params: Record<string, string | number>; exact: boolean } | undefined {
  switch (selector.kind) {
    case 'none':
      return undefined;
    case 'exact':
      return { where: 'ns = @ns AND id = @id', params: { id: selector.id }, exact: false };
    case 'all':
      return { where: 'ns = @ns', params: {}, exact: true };
    case 'glob':
      return { where: 'ns = @ns AND k IS NULL', params: {}, exact: false };
    case 'query': {
      const narrowed = narrowQuery(selector, exactNumbers);
      if (!narrowed) return { where: 'ns = @ns AND k IS NOT NULL', params: {}, exact: false };
      const where = narrowed.conditions.length === 1 ? narrowed.conditions[0] : narrowed.conditions.map((c) => `(${c})`).join(' OR ');
      return { where: `ns = @ns AND k IS NOT NULL AND (${where})`, params: narrowed.params, exact: narrowed.exact };
    }
  }
}

/**
 * A text that names a query's filter exactly (values included), to remember its translation
 * by (sorted.ts): plain data only — strings, finite numbers other than -0, booleans, null,
 * arrays without holes, plain objects — as JSON writes it, which no two different such filters
 * share; undefined for anything else (a RegExp, a Date, NaN, -0, ...), which is then translated
 * afresh. A selector's constraints are derived from its filter alone (lib/query.ts
 * compileQuery), so equal texts translate alike.
 */
export function filterText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? String(value) : undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      let out: string;
      if (Array.isArray(value)) {
        out = '[';
        for (let i = 0; i < value.length; i++) {
          const item = i in value ? filterText(value[i]) : undefined;
          if (item === undefined) return undefined;
          out += (i > 0 ? ',' : '') + item;
        }
        return out + ']';
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return undefined;
      out = '{';
      let first = true;
      for (const field of Object.keys(value)) {
        const item = filterText((value as Record<string, unknown>)[field]);
        if (item === undefined) return undefined;
        out += (first ? '' : ',') + JSON.stringify(field) + ':' + item;
        first = false;
      }
      return out + '}';
    }
    default:
      return undefined;
  }
}

/** The fast plan of `get(query)` (valuesPlan). */
export interface ValuesPlan {
  /**
   * One column per live match in creation order: the serialized value (TEXT) of a plain row, or
   * the row's seq (INTEGER) for a row the caller must read whole (a key holding an array, a
   * streamed value, an expiry or value of the wrong type). The column's type tells them apart.
   */
  sql: string;
  /** Live keys holding arrays that the SQL does not match (they might match by element): when any exists, the fast plan cannot order them in. */
  otherArraysSql: string;
  params: Record<string, string | number>;
}

/**
 * The fast plan of `get(query)` when the SQL decides every array-free key exactly (the values
 * are collected into one array anyway, so one statement, no pages); live rows only (@now).
 * Undefined when the query is not exact in SQL.
 */
export function valuesPlan(selector: Selector, table: string, limit: number, exactNumbers: boolean): ValuesPlan | undefined {
  if (selector.kind !== 'query') return undefined;
  const narrowed = narrowQuery(selector, exactNumbers);
  if (!narrowed || !narrowed.exact) return undefined;
  const where = narrowed.conditions[0];
  const live = '(e IS NULL OR e > @now)';
  // `e < 1e300` is false for TEXT and BLOB (SQLite orders them after numbers): a corrupt expiry is read whole, and reported.
  const plain = `a IS NULL AND s IS NULL AND (e IS NULL OR e < 1e300) AND typeof(v) = 'text'`;
  // Without a limit the LIMIT clause is left out: even LIMIT -1 costs a few per cent here.
  return {
    sql: `SELECT iif(${plain}, v, seq) FROM ${table} WHERE ns = @ns AND ${where} AND ${live} ORDER BY seq ${limitSql(limit)}`,
    otherArraysSql: `SELECT 1 FROM ${table} WHERE ns = @ns AND a = 1 AND (${where}) IS NOT 1 AND ${live} LIMIT 1`,
    params: narrowed.params,
  };
}

/** A query's narrowing conditions; `exact` when they decide the match of array-free keys alone. */
function narrowQuery(selector: QuerySelector, exactNumbers: boolean): { conditions: string[]; params: Record<string, string | number>; exact: boolean } | undefined {
  const ranges = rangeTerms(selector.filter, exactNumbers);
  const narrowed = narrowingSql(selector.orConstraints ? selector.orConstraints.map((branch) => [...selector.constraints, ...branch]) : [selector.constraints], ranges);
  if (narrowed) narrowed.exact = narrowed.exact && !selector.orConstraints && ranges.exact && isTranslatedWhole(selector.filter, selector.constraints);
  return narrowed;
}

/** The comparison operators translated to SQL ranges. */
const RANGE_OPS = ['$gt', '$gte', '$lt', '$lte'] as const;
type RangeOp = (typeof RANGE_OPS)[number];

/**
 * Whether the filter is a conjunction of what the SQL translates, nothing else: per top-level
 * path an equality or `$in` that is one of the selector's constraints (lib/query-index.ts: of
 * strings, numbers and booleans; narrowingSql decides whether SQL compares those exactly), and
 * the comparisons (rangeTerms). An equality to an array, object, null or Date is no constraint:
 * the matcher's (`{ $eq: [] }` must not match a missing field). Paths with a numeric segment
 * (array positions) are left to the matcher, as the equality indexes leave them.
 */
function isTranslatedWhole(filter: Record<string, unknown>, constraints: readonly IndexConstraint[]): boolean {
  for (const path of Object.keys(filter)) {
    if (path.startsWith('$') || path.split('.').some((segment) => /^\d+$/.test(segment))) return false;
    const cond = filter[path];
    const isEquality = !isPlainObject(cond) || '$eq' in cond || '$in' in cond;
    if (isEquality && !constraints.some((c) => c.path === path)) return false;
    if (!isPlainObject(cond)) continue;
    const ops = Object.keys(cond);
    // `{}` is an equality to an empty object, not an empty set of operators (found by the
    // differential harness, FUZZ_SEED=20261203: `{ a: 'b', c: {} }` took `{ a: 'b' }`).
    if (ops.length === 0) return false;
    if (ops.includes('$eq') && ops.includes('$in')) return false;
    if (!ops.every((op) => op === '$eq' || op === '$in' || (RANGE_OPS as readonly string[]).includes(op))) return false;
  }
  return true;
}

/**
 * `$gt`, `$gte`, `$lt`, `$lte` with a finite number at a top-level path, as json_extract
 * ranges that a declared index serves. A comparison in MongoDB matches numbers only, never
 * null or missing (NULL fails every range here) nor strings or booleans: a path with no upper
 * bound gets `<= 1e999` (+Infinity), which TEXT fails (SQLite sorts it above every number), and
 * a range that holds 0 or 1 leaves out JSON true/false, which json_extract reads as 1/0. Keys
 * holding arrays are candidates anyway (the matcher decides them).
 *
 * The bounds are exact (`exact`) when SQLite parses a JSON number to the double JavaScript
 * does (`exactNumbers`: correctly rounded since SQLite 3.53, connection.ts) and every bound is
 * within ±2^53: a key's integer beyond that is read as the integer its text spells, which may
 * differ from its double by less than half a unit in the last place — harmless unless the bound
 * is that double. Otherwise each bound is widened by a few units in the last place and the
 * matcher decides.
 */
function rangeTerms(filter: Record<string, unknown>, exactNumbers: boolean): { terms: string[]; params: Record<string, number>; exact: boolean } {
  const terms: string[] = [];
  const params: Record<string, number> = {};
  let exact = true;
  for (const path of Object.keys(filter)) {
    const cond = filter[path];
    if (path.startsWith('$') || !isPlainObject(cond)) continue;
    const ops = RANGE_OPS.filter((op) => op in cond);
    if (ops.length === 0) continue;
    const literal = jsonPath(path);
    if (literal === undefined) {
      exact = false;
      continue;
    }
    const x = keyPathExpr(literal);
    const bounds: Array<[RangeOp, number]> = [];
    for (const op of ops) {
      const bound = cond[op];
      if (typeof bound !== 'number' || !Number.isFinite(bound)) exact = false;
      else bounds.push([op, bound]);
    }
    if (bounds.length === 0) continue;
    for (const [op, bound] of bounds) {
      const name = `r${Object.keys(params).length}`;
      const lower = op === '$gt' || op === '$gte';
      if (exactNumbers && Math.abs(bound) <= 2 ** 53) {
        params[name] = bound;
        terms.push(`${x} ${SQL_OP[op]} @${name}`);
      } else {
        exact = false;
        const slack = Math.max(Math.abs(bound) * 2 ** -48, Number.MIN_VALUE);
        params[name] = lower ? bound - slack : bound + slack;
        terms.push(`${x} ${lower ? '>=' : '<='} @${name}`);
      }
    }
    if (!bounds.some(([op]) => op === '$lt' || op === '$lte')) terms.push(`${x} <= 1e999`);
    const holds = (n: number) => bounds.every(([op, bound]) => compare(op, n, bound));
    if (holds(0) || holds(1)) terms.push(`(${x} NOT IN (0, 1) OR json_type(k, ${literal}) IN ('integer', 'real'))`);
  }
  return { terms, params, exact };
}

/** The SQL operator of a comparison. */
const SQL_OP: Record<RangeOp, string> = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' };

/** A comparison of two numbers as the operator makes it. */
function compare(op: RangeOp, n: number, bound: number): boolean {
  return op === '$gt' ? n > bound : op === '$gte' ? n >= bound : op === '$lt' ? n < bound : n <= bound;
}

/**
 * The scan of a narrowed query in one statement, every candidate at once (no @after, no
 * @limit): for reads that collect every match anyway (get(query)). Without `seq > @after` the
 * planner takes the index the narrowing names (a range on `age`), where the paged form's
 * `rowid > ?` drew it to the namespace index or to an equality's index; undefined when the
 * query does not narrow (then the paged scan is as good).
 */
export function wholeScanPlan(selector: Selector, table: string, exactNumbers: boolean): ScanPlan | undefined {
  if (selector.kind !== 'query') return undefined;
  const narrowed = narrowQuery(selector, exactNumbers);
  if (!narrowed) return undefined;
  return { sql: `SELECT ${columns(true)} FROM ${table} WHERE seq IN (${candidates(narrowed, table, '', '')}) ORDER BY seq`, params: narrowed.params, exact: narrowed.exact };
}

/** The creation positions of the candidates: each disjunct's index hits, and every key holding an array. */
function candidates(narrowed: { conditions: string[] }, table: string, extra: string, after = 'AND seq > @after'): string {
  const branches = narrowed.conditions.map((where) => `SELECT seq FROM ${table} WHERE ns = @ns ${after} AND ${where} ${extra}`);
  // Keys holding arrays are always candidates (see the file comment); the partial index `a = 1` finds them.
  branches.push(`SELECT seq FROM ${table} WHERE ns = @ns ${after} AND a = 1 ${extra}`);
  return branches.join(' UNION ');
}

/**
 * The WHERE conditions of the disjuncts (each a conjunction of constraints), or undefined when
 * some disjunct has nothing SQL can narrow by (then only a scan is a superset).
 */
function narrowingSql(
  disjuncts: IndexConstraint[][],
  ranges: { terms: string[]; params: Record<string, number> },
): { conditions: string[]; params: Record<string, string | number>; exact: boolean } | undefined {
  const params: Record<string, string | number> = { ...ranges.params };
  let count = 0;
  let exact = disjuncts.length === 1;
  const conditions: string[] = [];
  for (const constraints of disjuncts) {
    const terms: string[] = [...ranges.terms];
    for (const { path, values } of constraints) {
      const literal = jsonPath(path);
      if (literal === undefined || !values.every(isSupersetInSql)) {
        // This constraint adds no SQL condition: the others may still narrow, but cannot decide.
        exact = false;
        continue;
      }
      if (!values.every(isExactInSql)) exact = false;
      const names = [...new Set(values.map(sqlValue))].map((value) => {
        const name = `p${count++}`;
        params[name] = value;
        return '@' + name;
      });
      terms.push(names.length === 1 ? `${keyPathExpr(literal)} = ${names[0]}` : `${keyPathExpr(literal)} IN (${names.join(', ')})`);
    }
    if (terms.length === 0) return undefined;
    conditions.push(terms.join(' AND '));
  }
  return count > MAX_PARAMETERS || conditions.length === 0 ? undefined : { conditions, params, exact };
}

/** Whether json_extract reads the value back so that `=` finds every key holding it (see the file comment). */
function isSupersetInSql(value: string | number | boolean): boolean {
  return typeof value !== 'number' || Number.isSafeInteger(value);
}

/**
 * Whether `=` on an array-free key finds only keys holding the value: not 0 or 1 (JSON true and
 * false read back as 1 and 0), not a boolean, not a string that could be an object's JSON text
 * (json_extract returns an object at the path as its JSON text).
 */
function isExactInSql(value: string | number | boolean): boolean {
  if (typeof value === 'string') return value.charCodeAt(0) !== 0x7b; // '{'
  return typeof value === 'number' && value !== 0 && value !== 1;
}

/** The value as bound: json_extract reads JSON true/false as 1/0. */
function sqlValue(value: string | number | boolean): string | number {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}
