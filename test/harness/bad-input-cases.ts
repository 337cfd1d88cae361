/**
 * The malformed inputs of the bad-input harness (issue #10), as fast-check arbitraries.
 *
 * An arbitrary yields a *recipe* (plain data: what to build and where), and `build*` turns it
 * into the hostile input at call time. Hostile inputs have state (a getter that counts its
 * reads) or identity (a cycle, a Proxy), so each execution (and each shrink step) needs a fresh
 * one, and a recipe prints readably in a counterexample.
 */
import fc from 'fast-check';

/** The key field names that are valid but easy to get wrong (inherited names, unicode, emoji). */
export const ODD_FIELD_NAMES = ['toString', 'hasOwnProperty', 'valueOf', 'length', 'size', 'then', 'é', '😀', 'a b', '0', '10', 'A', 'x-y', ' '];

const fieldName = fc.oneof(fc.constantFrom(...ODD_FIELD_NAMES), fc.string({ minLength: 1, maxLength: 6 }).filter(validFieldName));

/** True for a field name a key may hold (SPEC §3). */
export function validFieldName(f: string): boolean {
  return f.length > 0 && !f.startsWith('$') && !f.includes('.') && !f.includes('\u0000') && !['__proto__', 'constructor', 'prototype'].includes(f) && isWellFormed(f);
}

/** True for a well-formed UTF-16 string (no lone surrogate). */
export function isWellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

const scalar = fc.oneof(
  fc.string({ maxLength: 8 }).filter(isWellFormed),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);

/** Valid, possibly odd object keys: inherited-looking names, unicode, emoji, empty strings, nesting, arrays. */
export const validObjectKey: fc.Arbitrary<Record<string, unknown>> = fc.dictionary(
  fieldName,
  fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fieldName, scalar, { minKeys: 1, maxKeys: 2 })),
  { minKeys: 1, maxKeys: 4 },
);

/** Valid, possibly odd string keys. */
export const validStringKey = fc.oneof(
  fc.constantFrom('toString', '__proto__', 'constructor', 'ünïcödé', '😀', ' ', '$where', 'a.b', '*', '[z-a]'),
  fc.string({ minLength: 1, maxLength: 12 }).filter((s) => isWellFormed(s) && s.charCodeAt(0) !== 0),
);

/** Valid, possibly odd values: empty strings, unicode, dates, buffers, nesting, inherited-looking names. */
export const validValue: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('', 0, -1, true, false, null, 'ünï😀', 1e21, -0.5),
    // Values may hold lone surrogates: JSON escapes them, so every backend keeps them as they are.
    fc.constantFrom('\ud800', 'a\udc00b', '\udbff\ud800', { '\ud800': '\udfff' }),
    fc.string({ maxLength: 10 }),
    fc.integer(),
    fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }),
    fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...ODD_FIELD_NAMES, '$x', 'a.b'), fc.string({ maxLength: 5 })), tie('v'), { maxKeys: 3 }),
  ),
})).v;

// ---------------------------------------------------------------------------------------------
// Hostile leaves: something installed at one field of an otherwise valid object.

/** How a bad leaf is installed at `container[field]`. */
type Install = (container: Record<string, unknown> | unknown[], field: string) => void;

const boom = () => new Error('hostile input');
const trapThrows = () => {
  throw boom();
};

function defineGetter(container: object, field: string, get: () => unknown): void {
  Object.defineProperty(container, field, { get, enumerable: true, configurable: true });
}

/** A Proxy around `target` whose listed traps throw. */
export function throwingProxy(target: object, traps: string[]): object {
  return new Proxy(target, Object.fromEntries(traps.map((t) => [t, trapThrows])));
}

const PROXY_TRAPS = ['ownKeys', 'get', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'has'];

/** Leaves that no key, query operand or value may hold (each builds a fresh hostile thing). */
const LEAVES_BAD_EVERYWHERE: Record<string, Install> = {
  undefined: (c, f) => set(c, f, undefined),
  function: (c, f) => set(c, f, () => 1),
  symbol: (c, f) => set(c, f, Symbol('s')),
  bigint: (c, f) => set(c, f, 10n),
  throwingGetter: (c, f) => defineGetter(c, f, trapThrows),
  changingGetter: (c, f) => {
    let reads = 0;
    defineGetter(c, f, () => (reads++ % 2 === 0 ? 'ok' : { $where: 'while (true) {}' }));
  },
  throwingProxyObject: (c, f) => set(c, f, throwingProxy({ a: 1 }, PROXY_TRAPS)),
  throwingProxyArray: (c, f) => set(c, f, throwingProxy([1, 2], PROXY_TRAPS)),
  proxyOwnKeysThrows: (c, f) => set(c, f, throwingProxy({ a: 1 }, ['ownKeys'])),
  proxyPrototypeThrows: (c, f) => set(c, f, throwingProxy({ a: 1 }, ['getPrototypeOf'])),
  cycle: (c, f) => {
    const o: Record<string, unknown> = { a: 1 };
    o.self = o;
    set(c, f, o);
  },
  map: (c, f) => set(c, f, new Map([['a', 1]])),
  weakMap: (c, f) => set(c, f, new WeakMap()),
  promise: (c, f) => set(c, f, Promise.resolve(1)),
  classInstance: (c, f) => set(c, f, new (class Thing { a = 1 })()),
  invalidDate: (c, f) => set(c, f, new Date(NaN)),
};

/** Leaves a key may not hold (beyond the ones above): things values may hold. */
const LEAVES_BAD_IN_KEYS: Record<string, Install> = {
  ...LEAVES_BAD_EVERYWHERE,
  nan: (c, f) => set(c, f, NaN),
  infinity: (c, f) => set(c, f, -Infinity),
  loneHighSurrogate: (c, f) => set(c, f, 'x\ud800'),
  loneLowSurrogate: (c, f) => set(c, f, '\udc00y'),
  sparseArray: (c, f) => set(c, f, [1, , 3]), // eslint-disable-line no-sparse-arrays
  holeOnlyArray: (c, f) => set(c, f, new Array(1)),
  arrayInArray: (c, f) => set(c, f, [[1]]),
  date: (c, f) => set(c, f, new Date(0)),
  buffer: (c, f) => set(c, f, Buffer.from('x')),
  harmlessProxy: (c, f) => set(c, f, new Proxy({ a: 1 }, {})),
  hugeString: (c, f) => set(c, f, 'x'.repeat(9000)),
  hugeArray: (c, f) => set(c, f, new Array(200_000).fill(0)),
  deep: (c, f) => set(c, f, nest(20, 1)),
  veryDeep: (c, f) => set(c, f, nest(20_000, 1)),
  emptyFieldName: (c) => set(c, '', 1),
  dollarFieldName: (c) => set(c, '$where', 'x'),
  dottedFieldName: (c) => set(c, 'a.b', 1),
  nulFieldName: (c, f) => set(c, `${f}\u0000$bad`, 1),
  protoFieldName: (c) => Object.defineProperty(c, '__proto__', { value: 1, enumerable: true, configurable: true, writable: true }),
  constructorFieldName: (c) => set(c, 'constructor', 1),
  loneSurrogateFieldName: (c) => set(c, 'a\ud800', 1),
  setterOnly: (c, f) => Object.defineProperty(c, f, { set: () => undefined, enumerable: true, configurable: true }),
};

/** Leaves a value may not hold. */
const LEAVES_BAD_IN_VALUES: Record<string, Install> = {
  ...LEAVES_BAD_EVERYWHERE,
  nan: (c, f) => set(c, f, NaN),
  infinity: (c, f) => set(c, f, Infinity),
  sparseArray: (c, f) => set(c, f, [1, , 3]), // eslint-disable-line no-sparse-arrays
  veryDeep: (c, f) => set(c, f, nest(20_000, 1)),
  deepArray: (c, f) => set(c, f, nestArray(150)),
};
// A value may hold a changing getter (the memory store keeps the caller's object: see lib/values.ts).
delete LEAVES_BAD_IN_VALUES.changingGetter;

/** Leaves a query operand may not hold. */
const LEAVES_BAD_IN_QUERIES: Record<string, Install> = {
  ...LEAVES_BAD_EVERYWHERE,
  nan: (c, f) => set(c, f, NaN),
  loneSurrogate: (c, f) => set(c, f, '\ud800'),
  sparseArray: (c, f) => set(c, f, [1, , 3]), // eslint-disable-line no-sparse-arrays
  harmlessProxy: (c, f) => set(c, f, new Proxy({ a: 1 }, {})),
  veryDeep: (c, f) => set(c, f, nest(20_000, 1)),
  veryDeepArray: (c, f) => set(c, f, nestArray(20_000)),
};

function set(container: Record<string, unknown> | unknown[], field: string, value: unknown): void {
  (container as Record<string, unknown>)[field] = value;
}

function nest(depth: number, inner: unknown): unknown {
  let out = inner;
  for (let i = 0; i < depth; i++) out = { n: out };
  return out;
}

function nestArray(depth: number): unknown {
  let out: unknown = 1;
  for (let i = 0; i < depth; i++) out = [out];
  return out;
}

/** Where in a valid object a bad leaf goes: the top, inside a nested object, in an object in an array, or as an array element. */
type Spot = 'top' | 'nested' | 'array' | 'element';

/** Leaves that are field names: as an array element they would be ignored (not an index), so they go in an object there. */
const NAME_LEAVES = new Set(['emptyFieldName', 'dollarFieldName', 'dottedFieldName', 'nulFieldName', 'protoFieldName', 'constructorFieldName', 'loneSurrogateFieldName']);

/** A recipe: a valid base object and a bad leaf installed at one spot. */
export interface LeafRecipe {
  base: Record<string, unknown>;
  leaf: string;
  spot: Spot;
}

function leafRecipe(leaves: Record<string, Install>, base: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<LeafRecipe> {
  return fc.record({ base, leaf: fc.constantFrom(...Object.keys(leaves)), spot: fc.constantFrom<Spot>('top', 'nested', 'array', 'element') });
}

function buildLeaf(leaves: Record<string, Install>, recipe: LeafRecipe): Record<string, unknown> {
  const out = structuredClone(recipe.base);
  const install = leaves[recipe.leaf];
  if (recipe.spot === 'top') install(out, 'zz');
  else if (recipe.spot === 'element' && !NAME_LEAVES.has(recipe.leaf)) {
    const list: unknown[] = [1];
    install(list, '1');
    out.zz = list;
  } else {
    const inner: Record<string, unknown> = { ok: 1 };
    install(inner, 'zz');
    out.zz = recipe.spot === 'nested' ? inner : [1, inner];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Whole bad keys, queries, values, options and callbacks.

/** Keys that are not keys at all. */
const WHOLE_BAD_KEYS: Record<string, () => unknown> = {
  emptyString: () => '',
  nulStart: () => '\u0000x',
  loneSurrogateString: () => '\ud800',
  loneSurrogateTail: () => 'key\udbff',
  hugeString: () => 'k'.repeat(8193),
  emptyObject: () => ({}),
  array: () => ['a'],
  number: () => 5,
  nan: () => NaN,
  boolean: () => true,
  null: () => null,
  undefined: () => undefined,
  symbol: () => Symbol('k'),
  function: () => () => 'k',
  date: () => new Date(0),
  buffer: () => Buffer.from('k'),
  map: () => new Map([['a', 1]]),
  harmlessProxy: () => new Proxy({ a: 1 }, {}),
  throwingProxy: () => throwingProxy({ a: 1 }, PROXY_TRAPS),
  proxyPrototypeThrows: () => throwingProxy({ a: 1 }, ['getPrototypeOf']),
  classInstance: () => new (class Key { a = 1 })(),
  tooDeep: () => nest(17, 1),
  veryDeep: () => nest(50_000, 1),
  tooWide: () => Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`f${i}`, i])),
  nullPrototypeWithDollar: () => Object.assign(Object.create(null) as object, { $bad: 1 }),
};

/** A recipe for a bad key. */
export type KeyRecipe = { whole: string } | LeafRecipe;

/** Bad keys: whole (not a key at all) or a valid key with one bad leaf. */
export const badKey: fc.Arbitrary<KeyRecipe> = fc.oneof(
  fc.constantFrom(...Object.keys(WHOLE_BAD_KEYS)).map((whole) => ({ whole })),
  leafRecipe(LEAVES_BAD_IN_KEYS, validObjectKey),
);

/** Builds a fresh bad key from its recipe. */
export function buildKey(recipe: KeyRecipe): unknown {
  return 'whole' in recipe ? WHOLE_BAD_KEYS[recipe.whole]() : buildLeaf(LEAVES_BAD_IN_KEYS, recipe);
}

const deepChain = (op: string, depth: number) => () => {
  let cond: unknown = { $eq: 1 };
  for (let i = 0; i < depth; i++) cond = { [op]: cond };
  return { a: cond };
};

/** Queries that must be refused. */
const WHOLE_BAD_QUERIES: Record<string, () => unknown> = {
  whereString: () => ({ $where: 'this.a == 1' }),
  whereFunction: () => ({ $where: () => true }),
  whereNested: () => ({ a: { $where: '1' } }),
  whereInOr: () => ({ $or: [{ a: 1 }, { $where: '1' }] }),
  whereInElemMatch: () => ({ a: { $elemMatch: { $where: '1' } } }),
  expr: () => ({ $expr: { $eq: ['$a', 1] } }),
  functionOp: () => ({ a: { $function: { body: 'return 1', args: [], lang: 'js' } } }),
  unknownOp: () => ({ a: { $foo: 1 } }),
  regexAtTop: () => ({ $regex: 'a' }),
  mixed: () => ({ a: { $eq: 1, b: 2 } }),
  inNotArray: () => ({ a: { $in: 5 } }),
  inTooLong: () => ({ a: { $in: Array.from({ length: 10_001 }, (_, i) => i) } }),
  ninTooLong: () => ({ a: { $nin: Array.from({ length: 20_000 }, (_, i) => i) } }),
  sizeNegative: () => ({ a: { $size: -1 } }),
  sizeFraction: () => ({ a: { $size: 1.5 } }),
  modZero: () => ({ a: { $mod: [0, 1] } }),
  modShort: () => ({ a: { $mod: [2] } }),
  regexInvalid: () => ({ a: { $regex: '(' } }),
  optionsBad: () => ({ a: { $regex: 'a', $options: 'g' } }),
  optionsAlone: () => ({ a: { $options: 'i' } }),
  typeUnknown: () => ({ a: { $type: 'date' } }),
  existsString: () => ({ a: { $exists: 'yes' } }),
  notScalar: () => ({ a: { $not: 5 } }),
  elemMatchEmpty: () => ({ a: { $elemMatch: {} } }),
  orEmpty: () => ({ $or: [] }),
  orNotArray: () => ({ $or: { a: 1 } }),
  orWithEmpty: () => ({ $or: [{}] }),
  andScalar: () => ({ $and: [1] }),
  emptyPath: () => ({ '': 1 }),
  emptySegment: () => ({ 'a..b': 1 }),
  protoPath: () => JSON.parse('{"__proto__": {"a": 1}}'),
  protoSegment: () => ({ 'a.__proto__.b': 1 }),
  constructorPath: () => ({ 'constructor.name': 'Object' }),
  loneSurrogatePath: () => ({ 'a\udc00': 1 }),
  loneSurrogateRegex: () => ({ a: { $regex: '\ud800' } }),
  notChain: deepChain('$not', 10_000),
  elemMatchChain: deepChain('$elemMatch', 10_000),
  notChainJustTooDeep: deepChain('$not', 40),
  andChain: () => {
    let q: unknown = { a: 1 };
    for (let i = 0; i < 10_000; i++) q = { $and: [q] };
    return q;
  },
  deepPath: () => nest(10_000, 1),
  array: () => [{ a: 1 }],
  number: () => 7,
  null: () => null,
  boolean: () => false,
  symbol: () => Symbol('q'),
  function: () => () => true,
  regex: () => /a/,
  map: () => new Map(),
  emptyString: () => '',
  loneSurrogateString: () => '\ud800',
  harmlessProxy: () => new Proxy({ a: 1 }, {}),
  throwingProxy: () => throwingProxy({ a: 1 }, PROXY_TRAPS),
  throwingGetter: () => {
    const q = {};
    defineGetter(q, 'a', trapThrows);
    return q;
  },
  changingGetter: () => {
    let reads = 0;
    const q = {};
    defineGetter(q, 'a', () => (reads++ % 2 === 0 ? 1 : { $where: 'while (true) {}' }));
    return q;
  },
  changingOperand: () => {
    let reads = 0;
    const ops = {};
    defineGetter(ops, '$eq', () => (reads++ % 2 === 0 ? 1 : () => true));
    return { a: ops };
  },
  sparseOr: () => ({ $or: [{ a: 1 }, , { a: 2 }] }), // eslint-disable-line no-sparse-arrays
};

/** A recipe for a bad query. */
export type QueryRecipe = { whole: string } | { operand: LeafRecipe; op: string };

/** Bad queries: whole, or a valid query whose operand holds one bad leaf. */
export const badQuery: fc.Arbitrary<QueryRecipe> = fc.oneof(
  fc.constantFrom(...Object.keys(WHOLE_BAD_QUERIES)).map((whole) => ({ whole })),
  fc.record({
    operand: leafRecipe(LEAVES_BAD_IN_QUERIES, fc.constant({ ok: 1 })),
    op: fc.constantFrom('$eq', '$ne', '$in', '$nin', '$all', '$gt', 'plain', '$elemMatch', '$not'),
  }),
);

/** Builds a fresh bad query from its recipe. */
export function buildQuery(recipe: QueryRecipe): unknown {
  if ('whole' in recipe) return WHOLE_BAD_QUERIES[recipe.whole]();
  const operand = buildLeaf(LEAVES_BAD_IN_QUERIES, recipe.operand);
  switch (recipe.op) {
    case 'plain':
      return { a: operand };
    case '$in':
    case '$nin':
    case '$all':
      return { a: { [recipe.op]: [1, operand] } };
    case '$elemMatch':
      return { a: { $elemMatch: { b: { $eq: operand } } } };
    case '$not':
      return { a: { $not: { $eq: operand } } };
    default:
      return { a: { [recipe.op]: operand } };
  }
}

/** Globs `keys()` must refuse. */
export const BAD_GLOBS: Record<string, () => unknown> = {
  reversedRange: () => '[z-a]',
  reversedRangeLater: () => 'user:[9-0]*',
  loneSurrogate: () => 'a\ud800*',
  emptyString: () => '',
};

/** Whole values that cannot be stored. */
const WHOLE_BAD_VALUES: Record<string, () => unknown> = {
  undefined: () => undefined,
  function: () => () => 1,
  symbol: () => Symbol('v'),
  bigint: () => 1n,
  nan: () => NaN,
  infinity: () => Infinity,
  cycle: () => {
    const a: unknown[] = [];
    a.push(a);
    return a;
  },
  veryDeep: () => nest(100_000, 1),
  map: () => new Map(),
  set: () => new Set([1]),
  error: () => new Error('e'),
  invalidDate: () => new Date(NaN),
  throwingProxy: () => throwingProxy({ a: 1 }, PROXY_TRAPS),
  proxyOwnKeysThrows: () => throwingProxy({ a: 1 }, ['ownKeys']),
  throwingGetter: () => {
    const v = {};
    defineGetter(v, 'a', trapThrows);
    return v;
  },
};

/** A recipe for a bad value. */
export type ValueRecipe = { whole: string } | LeafRecipe;

/** Bad values: whole, or a valid object with one bad leaf. */
export const badValue: fc.Arbitrary<ValueRecipe> = fc.oneof(
  fc.constantFrom(...Object.keys(WHOLE_BAD_VALUES)).map((whole) => ({ whole })),
  leafRecipe(LEAVES_BAD_IN_VALUES, fc.dictionary(fc.constantFrom('a', 'b', 'toString', 'é'), fc.oneof(fc.string(), fc.integer()), { maxKeys: 2 })),
);

/** Builds a fresh bad value from its recipe. */
export function buildValue(recipe: ValueRecipe): unknown {
  return 'whole' in recipe ? WHOLE_BAD_VALUES[recipe.whole]() : buildLeaf(LEAVES_BAD_IN_VALUES, recipe);
}

/** TTLs (ms) `set` must refuse. */
/** Tags `set`, `setMany` and `delByTags` must refuse (lib/tags.ts): not an array of well-formed non-empty strings, or too many or too long. */
export const BAD_TAGS: Record<string, () => unknown> = {
  string: () => 'tag',
  emptyString: () => ['ok', ''],
  number: () => [1],
  nullTag: () => [null],
  objectTag: () => [{}],
  loneSurrogate: () => ['\ud800'],
  tooMany: () => Array.from({ length: 65 }, (_, i) => `t${i}`),
  tooLong: () => ['x'.repeat(513)],
  sparse: () => [, 'a'], // eslint-disable-line no-sparse-arrays
  object: () => ({ 0: 'a', length: 1 }),
  set: () => new Set(['a']),
  getterArray: () => Object.defineProperty(['a'], 0, { get: () => 'a', enumerable: true }),
  proxyArray: () => new Proxy(['a'], {}),
};

export const BAD_TTLS: Record<string, () => unknown> = {
  negative: () => -1,
  nan: () => NaN,
  infinity: () => Infinity,
  minusInfinity: () => -Infinity,
  huge: () => 1e300,
  maxValue: () => Number.MAX_VALUE,
  beyondRedis: () => 1e19,
  overHundredYears: () => 100 * 365.25 * 24 * 3600 * 1000 + 1,
  string: () => '100',
  boolean: () => true,
  object: () => ({}),
  array: () => [100],
  bigint: () => 100n,
  symbol: () => Symbol('ttl'),
  date: () => new Date(),
};

/** Whole options arguments `set` must refuse (callbacks aside). */
export const BAD_OPTIONS: Record<string, () => unknown> = {
  number: () => 5,
  string: () => 'ttl',
  boolean: () => true,
  array: () => [],
  date: () => new Date(),
  map: () => new Map([['ttl', 1]]),
  classInstance: () => new (class Options { ttl = 1 })(),
  throwingProxy: () => throwingProxy({ ttl: 1 }, PROXY_TRAPS),
  throwingGetter: () => {
    const o = {};
    defineGetter(o, 'ttl', trapThrows);
    return o;
  },
  changingGetter: () => {
    let reads = 0;
    const o = {};
    // Bad on the first read: a store that reads options once must refuse it.
    defineGetter(o, 'ttl', () => (reads++ === 0 ? -5 : 1000));
    return o;
  },
};

/** Options `get` must refuse. */
export const BAD_GET_OPTIONS: Record<string, () => unknown> = {
  limitNegative: () => ({ limit: -1 }),
  limitFraction: () => ({ limit: 1.5 }),
  limitNaN: () => ({ limit: NaN }),
  limitString: () => ({ limit: '5' }),
  includeKeyString: () => ({ includeKey: 'yes' }),
  number: () => 5,
  string: () => 'x',
  throwingProxy: () => throwingProxy({ limit: 1 }, PROXY_TRAPS),
  throwingGetter: () => {
    const o = {};
    defineGetter(o, 'limit', trapThrows);
    return o;
  },
};

/** setex seconds that must be refused. */
export const BAD_SECONDS: Record<string, () => unknown> = {
  zero: () => 0,
  negative: () => -5,
  nan: () => NaN,
  infinity: () => Infinity,
  huge: () => 1e300,
  beyondRedis: () => 1e16,
  string: () => '10',
  null: () => null,
  object: () => ({ seconds: 1 }),
};

/** Things in the callback position that are not functions. */
export const BAD_CALLBACKS: Record<string, () => unknown> = {
  number: () => 5,
  string: () => 'cb',
  object: () => ({}),
  array: () => [],
  boolean: () => true,
  symbol: () => Symbol('cb'),
};

/** Scope namespaces that must be refused. */
export const BAD_NAMESPACES: Record<string, () => unknown> = {
  empty: () => '',
  number: () => 5,
  null: () => null,
  undefined: () => undefined,
  object: () => ({}),
  nul: () => 'a\u0000b',
  long: () => 'n'.repeat(300),
  loneSurrogate: () => 'ns\ud800',
};

/** Sources `setStream` must refuse (or fail on) without storing anything. */
export const BAD_SOURCES: Record<string, () => unknown> = {
  null: () => null,
  number: () => 5,
  string: () => 'bytes',
  object: () => ({}),
  array: () => [Buffer.from('x')],
  yieldsNumbers: () =>
    (async function* () {
      yield 1;
    })(),
  yieldsObjects: () =>
    (async function* () {
      yield Buffer.from('ok');
      yield { not: 'bytes' };
    })(),
  throwsMidway: () =>
    (async function* () {
      yield Buffer.from('partial');
      throw boom();
    })(),
  iteratorThrows: () => ({
    [Symbol.asyncIterator]: trapThrows,
  }),
};
