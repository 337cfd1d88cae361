/**
 * Keys: validation and canonical identity (SPEC §3, §12).
 *
 * A key is a non-empty string or a plain object. Its identity is a canonical string, the
 * "id": a string key is its own id; an object key's id is NUL followed by JSON with fields
 * sorted at every level, so `{ a: 1, b: 2 }` and `{ b: 2, a: 1 }` share one id while
 * `{ age: 20 }` and `{ age: '20' }` do not. The NUL tag keeps the two kinds apart, which is
 * why a string key may not start with NUL.
 *
 * Input is read once (SPEC §12): the id is built in one walk that reads every field through
 * its property descriptor, so no getter runs and what was validated is exactly what the id
 * (and the private key copy parsed from it) holds. That walk runs no caller code at all:
 * Proxies are refused before anything touches them (their traps could run anything), and
 * accessor properties (getters/setters) and array holes are refused rather than read.
 * Strings must be well-formed UTF-16: Redis and BSON fold lone surrogates to U+FFFD, which
 * would merge distinct keys.
 */
import { types } from 'node:util';
import { InvalidKeyError, StoreError } from './errors';
import { MAX_KEY_DEPTH, MAX_KEY_LENGTH } from './limits';

// The limits live in lib/limits.ts; re-exported for the modules that import them from here.
export { MAX_KEY_DEPTH, MAX_KEY_LENGTH };

/** A scalar allowed inside an object key. */
export type KeyScalar = string | number | boolean | null;
/** A value allowed inside an object key. */
export type KeyField = KeyScalar | KeyField[] | { [field: string]: KeyField };
/** A plain-object key. */
export type KeyObject = { [field: string]: KeyField };
/** A key: a non-empty string or a plain object. */
export type Key = string | KeyObject;

/** First character of every object key's id. */
export const OBJECT_ID_TAG = '\u0000';

const FORBIDDEN_FIELDS = new Set(['__proto__', 'constructor', 'prototype']);
const isProxy = types.isProxy;
const ownDescriptor = Object.getOwnPropertyDescriptor;
/** Annex B's accessor lookups (see flatKeyId): the getter or setter found for a name, or undefined, nothing run. */
type AccessorLookup = (this: object, name: string) => unknown;
const lookupGetter = (Object.prototype as unknown as { __lookupGetter__: AccessorLookup }).__lookupGetter__;
const lookupSetter = (Object.prototype as unknown as { __lookupSetter__: AccessorLookup }).__lookupSetter__;
/** A character JSON.stringify escapes in a well-formed string: `"`, `\` and the controls below U+0020. */
// eslint-disable-next-line no-control-regex -- the controls are exactly what it looks for
const JSON_ESCAPED = /["\\\u0000-\u001f]/;

/** True for `{}`-style objects (prototype Object.prototype or null). Never true for a Proxy, whose traps could run anything. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || isProxy(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const hasNativeIsWellFormed = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function';

/**
 * True for a string that is well-formed UTF-16 (no lone surrogate), i.e. one that survives
 * UTF-8 and BSON unchanged. Native on Node 20+; a regular expression on Node 18.
 */
export const isWellFormed: (s: string) => boolean = hasNativeIsWellFormed
  ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
  : (s) => !LONE_SURROGATE.test(s);

/** A validated key: its id, and for object keys a private, field-sorted copy. */
export interface NormalizedKey {
  id: string;
  key: Key;
}

/** Validates a string key and returns its id; throws InvalidKeyError. */
function stringKeyId(key: string): string {
  if (key.length === 0) throw new InvalidKeyError('a string key must not be empty');
  if (key.length > MAX_KEY_LENGTH) throw new InvalidKeyError(`a key must be at most ${MAX_KEY_LENGTH} characters`);
  if (key.charCodeAt(0) === 0) throw new InvalidKeyError('a string key must not start with the NUL character');
  if (!isWellFormed(key)) throw new InvalidKeyError('a string key must be well-formed Unicode (it holds a lone surrogate)');
  return key;
}

/** The canonical id of a key; throws InvalidKeyError for anything that is not a valid key. */
export function keyId(key: unknown): string {
  if (typeof key === 'string') return stringKeyId(key);
  const fast = flatKeyId(key);
  return fast ?? objectKeyJson(key).id;
}

/**
 * The hot path for the common key shape: a flat, non-Proxy plain object whose fields are data
 * properties holding strings, finite numbers or booleans. The id is joined from the field
 * plan's precomputed `"name":` prefixes and each value, read once. Anything else returns
 * undefined and takes the full path, which gives the same id or the precise error.
 *
 * It allocates only the id (and a number's text): a property descriptor per field and a
 * concatenated string per piece cost ~800 bytes of garbage a set, about half of what a memory
 * store's set made (1M sets: 129 scavenges; see docs/queries-bench.md, 2026-12-03 fourth
 * session). Accessors are found with Annex B's `__lookupGetter__`/`__lookupSetter__`, which
 * return the accessor's functions without running them and allocate nothing; the pieces go
 * into the plan's own array, joined once into a flat string. No user code can run between
 * filling that array and joining it (no getter, no Proxy trap, no toJSON), so sharing it is safe.
 */
function flatKeyId(key: unknown): string | undefined {
  if (key === null || typeof key !== 'object' || isProxy(key) || Object.getPrototypeOf(key) !== Object.prototype) return undefined;
  const fields = Object.keys(key);
  if (fields.length === 0) return undefined;
  const plan = fieldPlan(fields);
  if (plan === null) return undefined;
  const { order, prefixes, quotedPrefixes, pieces } = plan;
  for (let i = 0; i < order.length; i++) {
    const name = order[i];
    if (lookupGetter.call(key, name) !== undefined || lookupSetter.call(key, name) !== undefined) return undefined;
    const v: unknown = (key as Record<string, unknown>)[name];
    let prefix = prefixes[i];
    let text: string;
    let close = '';
    switch (typeof v) {
      case 'string':
        if (v.length > MAX_KEY_LENGTH || !isWellFormed(v)) return undefined;
        if (JSON_ESCAPED.test(v)) text = JSON.stringify(v);
        else {
          // The text JSON.stringify gives a well-formed string with nothing to escape.
          prefix = quotedPrefixes[i];
          text = v;
          close = '"';
        }
        break;
      case 'number':
        if (v - v !== 0) return undefined; // NaN or ±Infinity
        text = String(v); // the same text JSON.stringify gives a finite number
        break;
      case 'boolean':
        text = v ? 'true' : 'false';
        break;
      default:
        return undefined;
    }
    pieces[3 * i] = prefix;
    pieces[3 * i + 1] = text;
    pieces[3 * i + 2] = close;
  }
  const id = pieces.join('');
  return id.length > MAX_KEY_LENGTH ? undefined : id;
}

/** How to build a flat key's id from its field list: the sorted fields and each one's `"name":` prefix. */
interface FieldPlan {
  order: string[];
  prefixes: string[];
  /** Each prefix with the opening quote of a string value. */
  quotedPrefixes: string[];
  /** flatKeyId's pieces of an id: three per field (prefix, value text, closing quote or ''), then '}'. */
  pieces: string[];
}

/**
 * Field lists seen before -> their plan (null when some name is not allowed in a key).
 *
 * A trie, one level per field name, so two different field lists can never share an entry
 * (issue #10 finding 4: a cache keyed by `fields.join('\u0000')` was poisoned by field names
 * containing NUL). NUL is also refused in key field names, for BSON's sake (see fieldNameProblem).
 * Bounded: past MAX_PLAN_NODES, new shapes get a plan computed per call and not kept.
 */
class PlanNode {
  readonly next = new Map<string, PlanNode>();
  plan: FieldPlan | null | undefined = undefined;
}
const planRoot = new PlanNode();
const MAX_PLAN_NODES = 4096;
let planNodes = 0;

/** The plan for a flat key's field list (in Object.keys order), memoized: key shapes repeat. */
function fieldPlan(fields: string[]): FieldPlan | null {
  let node = planRoot;
  for (let i = 0; i < fields.length; i++) {
    let next = node.next.get(fields[i]);
    if (next === undefined) {
      if (planNodes >= MAX_PLAN_NODES) return makePlan(fields);
      next = new PlanNode();
      node.next.set(fields[i], next);
      planNodes++;
    }
    node = next;
  }
  if (node.plan === undefined) node.plan = makePlan(fields);
  return node.plan;
}

function makePlan(fields: string[]): FieldPlan | null {
  for (const field of fields) if (fieldNameProblem(field) !== undefined) return null;
  const order = [...fields].sort();
  const prefixes = order.map((f, i) => (i === 0 ? OBJECT_ID_TAG + '{' : ',') + JSON.stringify(f) + ':');
  const pieces = new Array<string>(3 * order.length + 1).fill('');
  pieces[pieces.length - 1] = '}';
  return { order, prefixes, quotedPrefixes: prefixes.map((p) => p + '"'), pieces };
}

/** Validates a key and returns its id and a private copy (object keys) — see NormalizedKey. */
export function normalizeKey(key: unknown): NormalizedKey {
  if (typeof key === 'string') return { id: stringKeyId(key), key };
  const { id, json } = objectKeyJson(key);
  return { id, key: JSON.parse(json) as KeyObject };
}

function objectKeyJson(key: unknown): { id: string; json: string } {
  let json: string;
  try {
    if (!isPlainObject(key)) {
      throw new InvalidKeyError(`a key must be a non-empty string or a plain object, got ${describe(key)}`);
    }
    if (Object.keys(key).length === 0) throw new InvalidKeyError('an object key must have at least one field');
    json = canonicalJson(key, 0, []);
  } catch (err) {
    if (err instanceof StoreError) throw err;
    if (err instanceof BadKey) throw new InvalidKeyError(`key field ${err.path.reverse().join('') || '(root)'} ${err.reason}`);
    // The walk runs no caller code, so this is only a safety net (e.g. an engine limit).
    throw new InvalidKeyError('the key cannot be read', { cause: err });
  }
  const id = OBJECT_ID_TAG + json;
  if (id.length > MAX_KEY_LENGTH) throw new InvalidKeyError(`a key must be at most ${MAX_KEY_LENGTH} characters`);
  return { id, json };
}

/** Rebuilds the key from its id (the inverse of keyId). */
export function keyFromId(id: string): Key {
  return id.charCodeAt(0) === 0 ? (JSON.parse(id.slice(1)) as KeyObject) : id;
}

/** True when the id belongs to an object key. */
export function isObjectKeyId(id: string): boolean {
  return id.charCodeAt(0) === 0;
}

/** Raised inside the walk; the field path is collected while unwinding, so the happy path builds no strings. */
class BadKey {
  readonly path: string[] = [];
  constructor(readonly reason: string) {}
}

const TOO_LONG = `makes the key longer than ${MAX_KEY_LENGTH} characters`;

/** Reads an own data property without running caller code; throws BadKey for an accessor or a hole. */
function readField(container: object, field: string): unknown {
  const d = ownDescriptor(container, field);
  if (d === undefined) throw new BadKey('is a hole in a sparse array; keys hold only dense arrays');
  if (d.get !== undefined || d.set !== undefined) throw new BadKey('is an accessor (getter/setter); keys hold only data fields');
  return d.value;
}

/** The canonical JSON of a key (or part of one), read in one walk; throws BadKey. */
function canonicalJson(value: unknown, depth: number, ancestors: object[]): string {
  switch (typeof value) {
    case 'string':
      if (value.length > MAX_KEY_LENGTH) throw new BadKey(TOO_LONG);
      if (!isWellFormed(value)) throw new BadKey('is not well-formed Unicode (it holds a lone surrogate)');
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new BadKey(`is ${value}, which has no identity`);
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new BadKey(`is a ${typeof value}; keys hold only JSON scalars, arrays and plain objects`);
  }
  if (value === null) return 'null';
  if (isProxy(value)) throw new BadKey('is a Proxy; keys hold only plain data');
  if (depth >= MAX_KEY_DEPTH) throw new BadKey(`nests deeper than ${MAX_KEY_DEPTH} levels`);
  if (ancestors.includes(value)) throw new BadKey('is cyclic');
  ancestors.push(value);
  let out: string;
  if (Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype) {
    // Each element takes at least two characters of the id: a longer array cannot fit.
    if (value.length > MAX_KEY_LENGTH / 2) throw new BadKey(TOO_LONG);
    out = '[';
    for (let i = 0; i < value.length; i++) {
      try {
        const item = readField(value, String(i));
        // Arrays of arrays are refused: MongoDB and sift disagree on matching into them, so no
        // backend could answer queries over them consistently.
        if (Array.isArray(item)) throw new BadKey('is an array inside an array, which keys do not allow');
        out += (i === 0 ? '' : ',') + canonicalJson(item, depth + 1, ancestors);
      } catch (err) {
        if (err instanceof BadKey) err.path.push(`[${i}]`);
        throw err;
      }
    }
    out += ']';
  } else if (isPlainObject(value)) {
    const fields = Object.keys(value);
    if (fields.length > MAX_KEY_LENGTH / 4) throw new BadKey(TOO_LONG);
    fields.sort();
    out = '{';
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i];
      try {
        const problem = fieldNameProblem(field);
        if (problem !== undefined) throw new BadKey(`has a name that ${problem}`);
        out += (i === 0 ? '' : ',') + JSON.stringify(field) + ':' + canonicalJson(readField(value, field), depth + 1, ancestors);
      } catch (err) {
        if (err instanceof BadKey) err.path.push(depth === 0 ? field : `.${field}`);
        throw err;
      }
    }
    out += '}';
  } else {
    throw new BadKey(`is a ${describe(value)}; keys hold only JSON scalars, arrays and plain objects`);
  }
  ancestors.pop();
  return out;
}

/** Why a field name is not allowed in a key ("... has a name that <problem>"), or undefined when it is. */
function fieldNameProblem(field: string): string | undefined {
  if (field.length === 0) return 'is empty';
  if (field.charCodeAt(0) === 36 /* $ */) return 'starts with $, which is reserved for query operators';
  if (FORBIDDEN_FIELDS.has(field)) return 'is reserved (__proto__, constructor, prototype)';
  if (field.includes('.')) return 'contains a dot, which is the path separator';
  // BSON stores field names as C strings, so MongoDB cannot hold a NUL inside one.
  if (field.includes('\u0000')) return 'contains the NUL character';
  if (field.length > MAX_KEY_LENGTH) return `is longer than ${MAX_KEY_LENGTH} characters`;
  if (!isWellFormed(field)) return 'is not well-formed Unicode (it holds a lone surrogate)';
  return undefined;
}

/** A short description of a value's type for error messages; runs no caller code. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') {
    if (isProxy(value)) return 'Proxy';
    if (Array.isArray(value)) return 'array';
    let proto: unknown;
    try {
      proto = Object.getPrototypeOf(value);
    } catch {
      return 'object';
    }
    if (proto === null || proto === Object.prototype) return 'object';
    const ctor = ownDescriptor(proto as object, 'constructor')?.value as unknown;
    const name = typeof ctor === 'function' ? ownDescriptor(ctor, 'name')?.value : undefined;
    return typeof name === 'string' && name.length > 0 ? name : 'object';
  }
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  return typeof value;
}
