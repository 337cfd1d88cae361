/**
 * The one matcher every backend's fallback uses (SPEC §12): MongoDB's query semantics over key
 * objects, compiled once from a normalized filter (lib/query.ts) into closures.
 *
 * Written here rather than delegated to sift because sift's semantics are JavaScript's, not
 * MongoDB's, in more places than path resolution: it reads inherited and hidden properties
 * (`'s.length'`, `toString`), coerces in `$mod` (`'5' % 2`), compares Dates with numbers, has
 * no type bracketing for objects and arrays, compares strings by UTF-16 code units, and its
 * regexes are JavaScript's (`$` before a final newline). None of that can be configured away:
 * the path walk lives in sift's core, under every operation. The test/harness differential
 * tests check this file against the MongoDB engine.
 *
 * Path resolution (MongoDB's, as the engine answers it):
 * - a path goes through own fields of plain objects only; nothing inherited, no `.length`;
 * - through an array, a non-numeric segment applies to every element: an object element gives
 *   its field (or "missing"), any other element gives "missing", an empty array gives "missing";
 * - a numeric segment on an array gives the element at that position (a scalar there with path
 *   left gives nothing) and also applies as a field name to every object element; when all that
 *   gives nothing, the path is "missing";
 * - at the end of the path an array is tested element by element and then as a whole.
 * Every operator asks whether some resolved value satisfies it; `$ne`, `$nin`, `$not`, `$nor`
 * and `$exists: false` are negations of the positive forms over all of them.
 */
import type { KeyObject } from './keys';
import { toMongoRegExp } from './query-regex';

export { toMongoRegExp };

/** A key object, or any value a sub-query of `$elemMatch` looks into. */
type Doc = unknown;
/** Whether a document matches. */
type DocTest = (doc: Doc) => boolean;
/** Whether one resolved value (MISSING when the path leads nowhere) satisfies an operator. */
type ValueTest = (value: unknown) => boolean;

/** The value a path resolves to where there is no field. */
const MISSING: unique symbol = Symbol('missing');

const hasOwn = Object.prototype.hasOwnProperty;

/** Compiles a normalized filter (dotted paths, validated operators) into a test over key objects. */
export function compileMatcher(filter: Record<string, unknown>): (key: KeyObject) => boolean {
  return compileDocTest(filter) as (key: KeyObject) => boolean;
}

function compileDocTest(filter: Record<string, unknown>): DocTest {
  const tests: DocTest[] = [];
  for (const field of Object.keys(filter)) {
    const cond = filter[field];
    if (field === '$and' || field === '$or' || field === '$nor') {
      const subs = (cond as Array<Record<string, unknown>>).map(compileDocTest);
      if (field === '$and') tests.push((doc) => subs.every((t) => t(doc)));
      else if (field === '$or') tests.push((doc) => subs.some((t) => t(doc)));
      else tests.push((doc) => !subs.some((t) => t(doc)));
    } else {
      tests.push(compilePathTest(field, cond));
    }
  }
  if (tests.length === 1) return tests[0];
  return (doc) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i](doc)) return false;
    return true;
  };
}

/** A test of the condition `cond` (an operator object or an equality operand) at `path`. */
function compilePathTest(path: string, cond: unknown): DocTest {
  const parts = path.split('.');
  const tests = isOperatorObject(cond) ? compileOperators(cond) : [{ negate: false, test: equalityTest(cond) }];
  if (parts.length === 1 && tests.every((t) => !t.all)) {
    // The common case, `{ age: { $gte: 20, $lt: 25 } }`: one own field, read once, no walker
    // unless it holds an array. Each operator holds unless its test result equals `negate`.
    const field = parts[0];
    if (tests.length === 1) {
      const { test, negate } = tests[0];
      return (doc) => {
        const value = isObject(doc) && hasOwn.call(doc, field) ? doc[field] : MISSING;
        return (Array.isArray(value) ? anyValue(value, parts, 1, test) : test(value)) !== negate;
      };
    }
    return (doc) => {
      const value = isObject(doc) && hasOwn.call(doc, field) ? doc[field] : MISSING;
      const array = Array.isArray(value);
      for (let i = 0; i < tests.length; i++) {
        const t = tests[i];
        if ((array ? anyValue(value, parts, 1, t.test) : t.test(value)) === t.negate) return false;
      }
      return true;
    };
  }
  if (tests.length === 1) return (doc) => runOperator(doc, parts, tests[0]);
  return (doc) => {
    for (let i = 0; i < tests.length; i++) if (!runOperator(doc, parts, tests[i])) return false;
    return true;
  };
}

/**
 * Whether some value that `parts[i..]` resolves to from `value` passes `test` (see the file
 * comment for the rules). Short-circuits on the first hit and allocates nothing.
 */
function anyValue(value: unknown, parts: string[], i: number, test: ValueTest): boolean {
  if (i === parts.length) {
    if (Array.isArray(value)) {
      for (let j = 0; j < value.length; j++) if (test(value[j])) return true;
    }
    return test(value);
  }
  if (Array.isArray(value)) return anyInArray(value, parts, i, test);
  if (value !== null && typeof value === 'object') {
    const part = parts[i];
    if (!hasOwn.call(value, part)) return test(MISSING);
    return anyValue((value as Record<string, unknown>)[part], parts, i + 1, test);
  }
  return test(MISSING);
}

function anyInArray(array: unknown[], parts: string[], i: number, test: ValueTest): boolean {
  const part = parts[i];
  if (isArrayIndex(part)) {
    // The element at that position, and the field of that name in every object element. A
    // scalar at the position with path left yields nothing (not "missing"); only when nothing
    // at all is yielded does the path resolve to "missing" (MongoDB).
    let yielded = false;
    const index = Number(part);
    if (index < array.length) {
      const element = array[index];
      if (i + 1 === parts.length || (element !== null && typeof element === 'object')) {
        yielded = true;
        if (anyValue(element, parts, i + 1, test)) return true;
      }
    }
    for (const element of array) {
      if (isObject(element)) {
        yielded = true;
        if (anyValue(element, parts, i, test)) return true;
      }
    }
    return yielded ? false : test(MISSING);
  }
  if (array.length === 0) return test(MISSING);
  for (const element of array) {
    if (isObject(element) ? anyValue(element, parts, i, test) : test(MISSING)) return true;
  }
  return false;
}

function isArrayIndex(part: string): boolean {
  const c = part.charCodeAt(0);
  return c >= 48 && c <= 57 && /^\d+$/.test(part);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof RegExp) && !(value instanceof Date);
}

function isOperatorObject(cond: unknown): cond is Record<string, unknown> {
  if (!isObject(cond)) return false;
  const fields = Object.keys(cond);
  return fields.length > 0 && fields[0].charCodeAt(0) === 36; /* $ */
}

/**
 * One compiled operator: the path matches when some value passes `test` (or, with `negate`,
 * when none does). `all`, for `$not` over several operators, replaces `test`: the path must
 * meet every one of them, each by any value, and `negate` applies to that conjunction.
 */
interface OperatorTest {
  negate: boolean;
  test: ValueTest;
  all?: OperatorTest[];
}

function compileOperators(ops: Record<string, unknown>): OperatorTest[] {
  const out: OperatorTest[] = [];
  for (const op of Object.keys(ops)) {
    const arg = ops[op];
    switch (op) {
      case '$eq':
        // `$eq: /re/` is BSON equality with a regex value, which no key holds (MongoDB); `{ a: /re/ }` is the pattern match.
        out.push({ negate: false, test: arg instanceof RegExp ? () => false : equalityTest(arg) });
        break;
      case '$ne':
        if (arg instanceof RegExp) throw new Error("$ne: a RegExp is not allowed (MongoDB: can't have regex as arg to $ne)");
        out.push({ negate: true, test: equalityTest(arg) });
        break;
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        if (arg instanceof RegExp) throw new Error(`${op}: a RegExp is not allowed (MongoDB rejects it in a non-equality predicate)`);
        out.push({ negate: false, test: comparisonTest(op, arg) });
        break;
      case '$in':
        out.push({ negate: false, test: inTest(arg as unknown[]) });
        break;
      case '$nin':
        out.push({ negate: true, test: inTest(arg as unknown[]) });
        break;
      case '$all': {
        const items = arg as unknown[];
        if (items.length === 0) out.push({ negate: false, test: () => false });
        else for (const item of items) out.push({ negate: false, test: equalityTest(item) });
        break;
      }
      case '$size':
        out.push({ negate: false, test: (v) => Array.isArray(v) && v.length === arg });
        break;
      case '$exists':
        out.push({ negate: arg !== true, test: (v) => v !== MISSING });
        break;
      case '$mod':
        out.push({ negate: false, test: modTest(arg as [number, number]) });
        break;
      case '$regex': {
        const re = toMongoRegExp(arg as string | RegExp, typeof ops.$options === 'string' ? ops.$options : undefined);
        out.push({ negate: false, test: (v) => typeof v === 'string' && re.test(v) });
        break;
      }
      case '$options':
        break; // read with $regex
      case '$type':
        out.push({ negate: false, test: typeTest(arg as string) });
        break;
      case '$not': {
        const inner = arg instanceof RegExp ? [{ negate: false, test: equalityTest(arg) }] : compileOperators(arg as Record<string, unknown>);
        out.push(notTest(inner));
        break;
      }
      case '$elemMatch':
        out.push({ negate: false, test: elemMatchTest(arg as Record<string, unknown>) });
        break;
      default:
        // lib/query.ts admits only the operators above; reaching here is a bug there.
        throw new Error(`query-match: operator ${op} has no implementation`);
    }
  }
  return out;
}

/**
 * `$not`: the path matches unless it meets the inner condition. With several inner operators
 * each may be met by a different value of the path, so the negation keeps them together.
 */
function notTest(inner: OperatorTest[]): OperatorTest {
  if (inner.length === 1 && !inner[0].all) return { negate: !inner[0].negate, test: inner[0].test };
  return { negate: true, test: () => false, all: inner };
}

/** Equality with `operand`, MongoDB's: null also matches "missing", a RegExp matches strings. */
function equalityTest(operand: unknown): ValueTest {
  if (operand === null) return (v) => v === null || v === MISSING;
  if (operand instanceof RegExp) {
    const re = toMongoRegExp(operand);
    return (v) => typeof v === 'string' && re.test(v);
  }
  switch (typeof operand) {
    case 'string':
    case 'boolean':
      return (v) => v === operand;
    case 'number':
      return (v) => v === operand; // 0 === -0, as in MongoDB
  }
  return (v) => v !== MISSING && compareValues(v, operand) === 0;
}

function inTest(items: unknown[]): ValueTest {
  const tests = items.map(equalityTest);
  return (v) => {
    for (let i = 0; i < tests.length; i++) if (tests[i](v)) return true;
    return false;
  };
}

/** `$gt`/`$gte`/`$lt`/`$lte`: only values of the operand's type bracket compare (MongoDB's bracketing). */
function comparisonTest(op: string, operand: unknown): ValueTest {
  const inclusive = op === '$gte' || op === '$lte';
  if (operand === null) return inclusive ? (v) => v === null || v === MISSING : () => false;
  const bracket = typeOrder(operand);
  const accept =
    op === '$gt' ? (c: number) => c > 0 : op === '$gte' ? (c: number) => c >= 0 : op === '$lt' ? (c: number) => c < 0 : (c: number) => c <= 0;
  if (typeof operand === 'number') {
    switch (op) {
      case '$gt':
        return (v) => typeof v === 'number' && v > operand;
      case '$gte':
        return (v) => typeof v === 'number' && v >= operand;
      case '$lt':
        return (v) => typeof v === 'number' && v < operand;
      default:
        return (v) => typeof v === 'number' && v <= operand;
    }
  }
  return (v) => v !== MISSING && typeOrder(v) === bracket && accept(compareValues(v, operand));
}

/** `$mod: [divisor, remainder]`: numbers only, truncated to 64-bit integers as MongoDB does. */
function modTest([divisorArg, remainderArg]: [number, number]): ValueTest {
  // MongoDB truncates both to 64-bit integers and refuses a divisor of 0 (0.5 included) or
  // either one out of range; compileQuery turns this into ERR_INVALID_QUERY.
  if (Math.trunc(divisorArg) === 0) throw new Error('$mod: the divisor is 0 once truncated to an integer');
  if (!(Math.abs(divisorArg) < 2 ** 63 && Math.abs(remainderArg) < 2 ** 63)) throw new Error('$mod: the divisor and remainder must fit a 64-bit integer');
  const divisor = BigInt(Math.trunc(divisorArg));
  const remainder = BigInt(Math.trunc(remainderArg));
  const small = Math.abs(divisorArg) < 2 ** 53;
  const d = Math.trunc(divisorArg);
  const r = Math.trunc(remainderArg);
  return (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return false;
    const n = Math.trunc(v);
    // A dividend that does not fit a signed 64-bit integer matches nothing (MongoDB).
    if (n >= 2 ** 63 || n < -(2 ** 63)) return false;
    if (small && Math.abs(n) < 2 ** 53) return (n % d) + 0 === r;
    return BigInt(n) % divisor === remainder;
  };
}

const TYPE_TESTS: Record<string, ValueTest> = {
  number: (v) => typeof v === 'number',
  string: (v) => typeof v === 'string',
  bool: (v) => typeof v === 'boolean',
  array: (v) => Array.isArray(v),
  null: (v) => v === null,
  object: (v) => isObject(v),
};

function typeTest(alias: string): ValueTest {
  const test = hasOwn.call(TYPE_TESTS, alias) ? TYPE_TESTS[alias] : undefined;
  if (!test) throw new Error(`query-match: $type alias ${alias} has no implementation`);
  return test;
}

/** `$elemMatch`: an array with one element meeting every condition (operators on the element, or a sub-query on its fields). */
function elemMatchTest(arg: Record<string, unknown>): ValueTest {
  // `{ $elemMatch: { $or: [...] } }` is a sub-query on the elements' fields, like lib/query.ts reads it.
  if (Object.keys(arg).every((f) => f.startsWith('$') && f !== '$and' && f !== '$or' && f !== '$nor')) {
    const ops = compileOperators(arg);
    return (v) => Array.isArray(v) && v.some((element) => ops.every((t) => runOperator(element, [], t)));
  }
  const sub = compileDocTest(arg);
  return (v) => Array.isArray(v) && v.some((element) => isObject(element) && sub(element));
}

/** Runs one operator on what `parts` resolves to from `doc` (with `$not` over several operators). */
function runOperator(doc: unknown, parts: string[], t: OperatorTest): boolean {
  if (t.all) return t.all.every((inner) => runOperator(doc, parts, inner)) !== t.negate;
  return anyValue(doc, parts, 0, t.test) !== t.negate;
}

/** MongoDB's order of type brackets (BSON canonical types), for the types a query can hold. */
function typeOrder(v: unknown): number {
  if (v === null || v === MISSING) return 5;
  switch (typeof v) {
    case 'number':
      return 10;
    case 'string':
      return 15;
    case 'boolean':
      return 40;
  }
  if (Array.isArray(v)) return 25;
  if (v instanceof Date) return 45;
  if (v instanceof RegExp) return 50;
  return 20;
}

/** BSON comparison of two values (woCompare): type bracket first, then value. Also the order of `sort` (lib/query-sort.ts). */
export function compareValues(a: unknown, b: unknown): number {
  const ta = typeOrder(a);
  const tb = typeOrder(b);
  if (ta !== tb) return ta - tb;
  switch (ta) {
    case 10:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 15:
      return compareStrings(a as string, b as string);
    case 40:
      return (a ? 1 : 0) - (b ? 1 : 0);
    case 20:
      return compareObjects(a as Record<string, unknown>, b as Record<string, unknown>);
    case 25:
      return compareArrays(a as unknown[], b as unknown[]);
    case 45:
      return Math.sign((a as Date).getTime() - (b as Date).getTime());
    case 50:
      return compareStrings(String(a), String(b));
    default:
      return 0;
  }
}

/** Strings in code point order, which is UTF-8 byte order (MongoDB's simple collation). */
function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** A UTF-16 code unit's rank in code point order: surrogates stand for code points above U+FFFF. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

function compareArrays(a: unknown[], b: unknown[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Objects field by field in canonical field order (key identity ignores field order): type, name, value. */
function compareObjects(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const fa = canonicalFields(a);
  const fb = canonicalFields(b);
  const n = Math.min(fa.length, fb.length);
  for (let i = 0; i < n; i++) {
    const va = a[fa[i]];
    const vb = b[fb[i]];
    const t = typeOrder(va) - typeOrder(vb);
    if (t !== 0) return t;
    const name = compareStrings(fa[i], fb[i]);
    if (name !== 0) return name;
    const c = compareValues(va, vb);
    if (c !== 0) return c;
  }
  return fa.length - fb.length;
}

/**
 * The field order of a canonical key object as stored (lib/keys.ts sorts the fields, and a
 * JavaScript object then lists integer-like names first, ascending): the order MongoDB sees.
 */
function canonicalFields(o: Record<string, unknown>): string[] {
  const rebuilt: Record<string, true> = {};
  for (const field of Object.keys(o).sort()) rebuilt[field] = true;
  return Object.keys(rebuilt);
}
