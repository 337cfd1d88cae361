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
import type { IndexConstraint, Selector } from '../../query';
import { jsonPath, keyPathExpr } from './layout';

/** Rows per page of a scan. */
export const PAGE_SIZE = 128;
/** Bound parameters one statement may carry (SQLite allows 32,766). */
const MAX_PARAMETERS = 30_000;

/** A scan: its SQL (named parameters @ns, @after, @limit and the constraint values) and the values. */
export interface ScanPlan {
  sql: string;
  params: Record<string, string | number>;
}

/** The columns a scan reads: keys only, or values too. */
function columns(values: boolean): string {
  return values ? 'seq, id, e, v, s, c' : 'seq, id, e, s';
}

/** The plan of a selector over `table` (already quoted); undefined when nothing can match. */
export function scanPlan(selector: Selector, table: string, values: boolean): ScanPlan | undefined {
  const cols = columns(values);
  const page = `ORDER BY seq LIMIT @limit`;
  switch (selector.kind) {
    case 'none':
      return undefined;
    case 'exact':
      return { sql: `SELECT ${cols} FROM ${table} WHERE ns = @ns AND id = @id AND seq > @after`, params: { id: selector.id } };
    case 'all':
      return { sql: `SELECT ${cols} FROM ${table} WHERE ns = @ns AND seq > @after ${page}`, params: {} };
    case 'glob':
      return { sql: `SELECT ${cols} FROM ${table} WHERE ns = @ns AND seq > @after AND k IS NULL ${page}`, params: {} };
    case 'query': {
      const narrowed = narrowingSql(selector.orConstraints
        ? selector.orConstraints.map((branch) => [...selector.constraints, ...branch])
        : [selector.constraints]);
      if (!narrowed) return { sql: `SELECT ${cols} FROM ${table} WHERE ns = @ns AND seq > @after AND k IS NOT NULL ${page}`, params: {} };
      const branches = narrowed.conditions.map((where) => `SELECT seq FROM ${table} WHERE ns = @ns AND seq > @after AND ${where}`);
      // Keys holding arrays are always candidates (see the file comment); the partial index `a = 1` finds them.
      branches.push(`SELECT seq FROM ${table} WHERE ns = @ns AND seq > @after AND a = 1`);
      return {
        sql: `SELECT ${cols} FROM ${table} WHERE seq IN (${branches.join(' UNION ')} ORDER BY 1 LIMIT @limit) ORDER BY seq`,
        params: narrowed.params,
      };
    }
  }
}

/**
 * The WHERE conditions of the disjuncts (each a conjunction of constraints), or undefined when
 * some disjunct has nothing SQL can narrow by (then only a scan is a superset).
 */
function narrowingSql(disjuncts: IndexConstraint[][]): { conditions: string[]; params: Record<string, string | number> } | undefined {
  const params: Record<string, string | number> = {};
  let count = 0;
  const conditions: string[] = [];
  for (const constraints of disjuncts) {
    const terms: string[] = [];
    for (const { path, values } of constraints) {
      const literal = jsonPath(path);
      if (literal === undefined || !values.every(isExactInSql)) continue;
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
  return count > MAX_PARAMETERS || conditions.length === 0 ? undefined : { conditions, params };
}

/** Whether json_extract reads the value back so that `=` finds every key holding it (see the file comment). */
function isExactInSql(value: string | number | boolean): boolean {
  return typeof value !== 'number' || Number.isSafeInteger(value);
}

/** The value as bound: json_extract reads JSON true/false as 1/0. */
function sqlValue(value: string | number | boolean): string | number {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}
