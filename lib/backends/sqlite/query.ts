/**
 * Selectors (lib/query.ts) as SQL that narrows the candidates, read in pages of creation order.
 *
 * SQL only narrows: every candidate is finished by the shared matcher (selectorMatches), so
 * the SQL must return a superset of the matches, never miss one. It narrows by what SQLite
 * reads exactly like MongoDB: equality and `$in` of strings, booleans and safe integers at a
 * path of field names (`json_extract(k, '$."age"') IN (...)`, which a declared index serves).
 * Where MongoDB differs, the SQL widens instead of guessing: keys holding an array (equality
 * also matches array elements, invisible to json_extract) are always candidates (column `a`),
 * booleans are read back as 1/0 (so `true` also brings the number 1, which the matcher drops),
 * and other numbers are not translated (SQLite's text-to-double conversion is not promised to
 * round as JavaScript's does). A query with nothing to translate scans its namespace's rows.
 *
 * Pages are `seq > @after ORDER BY seq LIMIT @limit`: each page is one synchronous statement,
 * so no cursor stays open across awaits (better-sqlite3 forbids writes while one is open)
 * and a scan holds one page in memory, whatever the size of the result.
 */
import type { IndexConstraint, QuerySelector, Selector } from '../../query';
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

/** The plan of a selector over `table` (already quoted); undefined when nothing can match. `narrow: false` reads no key column (a scan by ids). */
export function scanPlan(selector: Selector, table: string, values: boolean, narrow = true): ScanPlan | undefined {
  const cols = columns(values);
  const page = `ORDER BY seq LIMIT @limit`;
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
      const narrowed = narrow ? narrowQuery(selector) : undefined;
      if (!narrowed) return { sql: `SELECT ${cols} FROM ${table} WHERE ns = @ns AND seq > @after AND k IS NOT NULL ${page}`, params: {}, exact: false };
      return {
        sql: `SELECT ${cols} FROM ${table} WHERE seq IN (${candidates(narrowed, table, '')} ORDER BY 1 LIMIT @limit) ORDER BY seq`,
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
export function selectorWhere(selector: Selector): { where: string; params: Record<string, string | number>; exact: boolean } | undefined {
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
      const narrowed = narrowQuery(selector);
      if (!narrowed) return { where: 'ns = @ns AND k IS NOT NULL', params: {}, exact: false };
      const where = narrowed.conditions.length === 1 ? narrowed.conditions[0] : narrowed.conditions.map((c) => `(${c})`).join(' OR ');
      return { where: `ns = @ns AND k IS NOT NULL AND (${where})`, params: narrowed.params, exact: narrowed.exact };
    }
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
export function valuesPlan(selector: Selector, table: string, limited: boolean): ValuesPlan | undefined {
  if (selector.kind !== 'query') return undefined;
  const narrowed = narrowQuery(selector);
  if (!narrowed || !narrowed.exact) return undefined;
  const where = narrowed.conditions[0];
  const live = '(e IS NULL OR e > @now)';
  // `e < 1e300` is false for TEXT and BLOB (SQLite orders them after numbers): a corrupt expiry is read whole, and reported.
  const plain = `a IS NULL AND s IS NULL AND (e IS NULL OR e < 1e300) AND typeof(v) = 'text'`;
  // Without a limit the LIMIT clause is left out: even LIMIT -1 costs a few per cent here.
  return {
    sql: `SELECT iif(${plain}, v, seq) FROM ${table} WHERE ns = @ns AND ${where} AND ${live} ORDER BY seq${limited ? ' LIMIT @limit' : ''}`,
    otherArraysSql: `SELECT 1 FROM ${table} WHERE ns = @ns AND a = 1 AND (${where}) IS NOT 1 AND ${live} LIMIT 1`,
    params: narrowed.params,
  };
}

/** A query's narrowing conditions; `exact` when they decide the match of array-free keys alone. */
function narrowQuery(selector: QuerySelector): { conditions: string[]; params: Record<string, string | number>; exact: boolean } | undefined {
  const ranges = rangeTerms(selector.filter);
  const narrowed = narrowingSql(selector.orConstraints ? selector.orConstraints.map((branch) => [...selector.constraints, ...branch]) : [selector.constraints], ranges);
  if (narrowed) narrowed.exact = narrowed.exact && selector.coveredByConstraints && !selector.orConstraints && ranges.terms.length === 0;
  return narrowed;
}

/**
 * `$gt`, `$gte`, `$lt`, `$lte` with a finite number at a top-level path, as json_extract
 * ranges that a declared index serves. They only narrow: the bound is widened by a few units
 * in the last place (SQLite's parse of a JSON number may round differently from JavaScript's),
 * strings (TEXT sorts above every number) and booleans (read as 1/0) may come through, and the
 * matcher decides. A comparison in MongoDB matches numbers only, never null or missing (NULL
 * fails every range here), and keys holding arrays are candidates anyway.
 */
function rangeTerms(filter: Record<string, unknown>): { terms: string[]; params: Record<string, number> } {
  const terms: string[] = [];
  const params: Record<string, number> = {};
  for (const path of Object.keys(filter)) {
    const cond = filter[path];
    if (path.startsWith('$') || cond === null || typeof cond !== 'object' || Array.isArray(cond) || cond instanceof RegExp) continue;
    const literal = jsonPath(path);
    if (literal === undefined) continue;
    for (const op of ['$gt', '$gte', '$lt', '$lte'] as const) {
      const bound = (cond as Record<string, unknown>)[op];
      if (typeof bound !== 'number' || !Number.isFinite(bound)) continue;
      const slack = Math.max(Math.abs(bound) * 2 ** -48, Number.MIN_VALUE);
      const name = `r${terms.length}`;
      const lower = op === '$gt' || op === '$gte';
      params[name] = lower ? bound - slack : bound + slack;
      terms.push(`${keyPathExpr(literal)} ${lower ? '>=' : '<='} @${name}`);
    }
  }
  return { terms, params };
}

/**
 * The scan of a narrowed query in one statement, every candidate at once (no @after, no
 * @limit): for reads that collect every match anyway (get(query)). Without `seq > @after` the
 * planner takes the index the narrowing names (a range on `age`), where the paged form's
 * `rowid > ?` drew it to the namespace index or to an equality's index; undefined when the
 * query does not narrow (then the paged scan is as good).
 */
export function wholeScanPlan(selector: Selector, table: string): ScanPlan | undefined {
  if (selector.kind !== 'query') return undefined;
  const narrowed = narrowQuery(selector);
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
