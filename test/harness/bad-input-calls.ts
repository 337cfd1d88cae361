/**
 * The calls of the bad-input harness (issue #10): every public method, each argument position
 * given something malformed (bad-input-cases.ts), in promise and callback forms, and the
 * outcome every such call must have (SPEC §10, §12): a StoreError with the documented code for
 * that argument, delivered as a rejection, a callback error or a stream error — never a raw
 * error, never a synchronous throw from a promise-returning method, never a hang.
 */
import fc from 'fast-check';
import type { Readable } from 'node:stream';
import type { BaseStore } from '../../lib/store';
import { ErrorCodes, StoreError } from '../../lib/errors';
import {
  BAD_CALLBACKS,
  BAD_GET_OPTIONS,
  BAD_GLOBS,
  BAD_NAMESPACES,
  BAD_OPTIONS,
  BAD_SECONDS,
  BAD_SOURCES,
  BAD_TAGS,
  BAD_TTLS,
  KeyRecipe,
  QueryRecipe,
  ValueRecipe,
  badKey,
  badQuery,
  badValue,
  buildKey,
  buildQuery,
  buildValue,
} from './bad-input-cases';

/** A key the baseline holds, so a refused write over it must leave its value. */
export const HELD_KEY = 'held';
/** A key the baseline never holds, for getOrSet (which only writes on a miss). */
export const ABSENT_KEY = 'absent-key';

/** Every documented error code (lib/errors.ts, README). */
const DOCUMENTED_CODES = new Set<string>(Object.values(ErrorCodes));

/** How long a call may take to settle before it counts as a hang. */
const SETTLE_MS = 10_000;

const K = ErrorCodes.INVALID_KEY;
const Q = ErrorCodes.INVALID_QUERY;
const V = ErrorCodes.INVALID_VALUE;
const A = ErrorCodes.INVALID_ARGUMENT;

/** What a call is made of: its printable recipe and how to run it on a store. */
export interface BadCall {
  /** Printed in a counterexample. */
  label: string;
  /** The codes the spec allows for this refusal. */
  codes: string[];
  /** 'promise' (the method returns one), 'callback', 'stream' (a Readable that must error), 'iterator', or 'sync' (throws). */
  form: 'promise' | 'callback' | 'stream' | 'iterator' | 'sync';
  /** Makes the call with freshly built hostile input. */
  invoke(store: BaseStore, target: BaseStore): unknown;
}

type Loose = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function pick<T>(table: Record<string, () => T>): fc.Arbitrary<string> {
  return fc.constantFrom(...Object.keys(table));
}

const source = () =>
  (async function* () {
    yield Buffer.from('streamed');
  })();

/** A malformed call on a bad key, in promise or callback form. */
const keyCalls: fc.Arbitrary<BadCall> = fc
  .record({
    key: badKey,
    method: fc.constantFrom('set', 'setTtl', 'setex', 'getOne', 'has', 'ttl', 'getMeta', 'getOrSet', 'setStream', 'createValueStream', 'getMany', 'setMany', 'delMany', 'touch'),
    callback: fc.boolean(),
  })
  .map(({ key, method, callback }) => keyCall(key, method, callback));

function keyCall(key: KeyRecipe, method: string, callback: boolean): BadCall {
  const withCb = callback && ['set', 'setex', 'getOne', 'has', 'ttl', 'getMeta', 'getMany', 'setMany', 'delMany', 'touch'].includes(method);
  const form = method === 'createValueStream' ? 'stream' : withCb ? 'callback' : 'promise';
  return {
    label: `${method}(${JSON.stringify(key)})${withCb ? ' with a callback' : ''}`,
    codes: [K],
    form,
    invoke: (s: Loose, _t, cb?: unknown) => {
      const k = buildKey(key);
      const tail = withCb ? [cb] : [];
      switch (method) {
        case 'set':
          return s.set(k, 'v', ...(withCb ? [{}, cb] : []));
        case 'setTtl':
          return s.set(k, 'v', { ttl: 60_000 });
        case 'setex':
          return s.setex(k, 'v', 60, ...tail);
        case 'getOrSet':
          return s.getOrSet(k, () => 'v');
        case 'setStream':
          return s.setStream(k, source());
        case 'createValueStream':
          return s.createValueStream(k);
        // Bulk forms: the bad key among good ones, so a call that wrote the good ones first is caught.
        case 'getMany':
          return s.getMany([HELD_KEY, k], ...tail);
        case 'setMany':
          return s.setMany([{ key: { fresh: 'bulk' }, value: 'v' }, { key: HELD_KEY, value: 'v' }, { key: k, value: 'v' }], ...tail);
        case 'delMany':
          return s.delMany([HELD_KEY, k], ...tail);
        case 'touch':
          return s.touch(k, 60_000, ...tail);
        default:
          return s[method](k, ...tail);
      }
    },
  } as BadCall;
}

/** A malformed call on a bad query (or glob), in every query-taking form. */
const queryCalls: fc.Arbitrary<BadCall> = fc.oneof(
  fc
    .record({ query: badQuery, method: fc.constantFrom('get', 'del', 'count', 'keys', 'entries', 'createReadStream', 'delKeys'), callback: fc.boolean() })
    .map(({ query, method, callback }) => queryCall(query, method, callback)),
  fc.record({ glob: pick(BAD_GLOBS), callback: fc.boolean(), method: fc.constantFrom('keys', 'delKeys') }).map(({ glob, callback, method }) => ({
    label: `${method}(glob ${glob})${callback ? ' with a callback' : ''}`,
    codes: [Q],
    form: callback ? 'callback' : 'promise',
    invoke: (s: Loose, _t: unknown, cb?: unknown) => s[method](BAD_GLOBS[glob](), ...(callback ? [cb] : [])),
  }) as BadCall),
);

function queryCall(query: QueryRecipe, method: string, callback: boolean): BadCall {
  // keys(fn) is memstorage's callback form of keys(), not a bad pattern.
  if ((method === 'keys' || method === 'delKeys') && 'whole' in query && query.whole === 'function') method = 'count';
  const withCb = callback && ['get', 'del', 'count', 'keys', 'delKeys'].includes(method);
  const form = method === 'createReadStream' ? 'stream' : method === 'entries' ? 'iterator' : withCb ? 'callback' : 'promise';
  return {
    label: `${method}(${JSON.stringify(query)})${withCb ? ' with a callback' : ''}`,
    // A string query is an exact key: a bad one is a bad key.
    codes: [Q, K],
    form,
    invoke: (s: Loose, _t: unknown, cb?: unknown) => s[method](buildQuery(query), ...(withCb ? [cb] : [])),
  } as BadCall;
}

/** A malformed value in every value-taking form. */
const valueCalls: fc.Arbitrary<BadCall> = fc
  .record({ value: badValue, method: fc.constantFrom('set', 'setTtl', 'setex', 'getOrSet', 'setMany'), callback: fc.boolean() })
  .map(({ value, method, callback }) => valueCall(value, method, callback));

function valueCall(value: ValueRecipe, method: string, callback: boolean): BadCall {
  const withCb = callback && (method === 'set' || method === 'setex');
  return {
    label: `${method}(value ${JSON.stringify(value)})${withCb ? ' with a callback' : ''}`,
    codes: [V],
    form: withCb ? 'callback' : 'promise',
    invoke: (s: Loose, _t: unknown, cb?: unknown) => {
      const v = buildValue(value);
      switch (method) {
        case 'set':
          return s.set(HELD_KEY, v, ...(withCb ? [cb] : []));
        case 'setTtl':
          return s.set({ held: true }, v, { ttl: 60_000 });
        case 'setex':
          return s.setex(HELD_KEY, v, 60, ...(withCb ? [cb] : []));
        case 'setMany':
          return s.setMany([{ key: { fresh: 'bulk' }, value: 'v' }, { key: HELD_KEY, value: v }]);
        default:
          return s.getOrSet(ABSENT_KEY, () => v);
      }
    },
  } as BadCall;
}

function promiseCall(label: string, codes: string[], invoke: (s: Loose, t: BaseStore) => unknown): BadCall {
  return { label, codes, form: 'promise', invoke };
}

/** Malformed options, TTLs, seconds, callbacks, copy targets, stream sources and namespaces. */
const argumentCalls: fc.Arbitrary<BadCall> = fc.oneof(
  pick(BAD_TTLS).chain((ttl) =>
    fc.constantFrom(
      promiseCall(`set(held, v, { ttl: ${ttl} })`, [A], (s) => s.set(HELD_KEY, 'v', { ttl: BAD_TTLS[ttl]() })),
      promiseCall(`set(new object key, v, { ttl: ${ttl} })`, [A], (s) => s.set({ fresh: 1 }, 'v', { ttl: BAD_TTLS[ttl]() })),
      promiseCall(`setStream(held, source, { ttl: ${ttl} })`, [A], (s) => s.setStream(HELD_KEY, source(), { ttl: BAD_TTLS[ttl]() })),
      promiseCall(`getOrSet(absent, compute, { ttl: ${ttl} })`, [A], (s) => s.getOrSet(ABSENT_KEY, () => 'v', { ttl: BAD_TTLS[ttl]() })),
      promiseCall(`setMany([good, held with ttl: ${ttl}])`, [A], (s) => s.setMany([{ key: { fresh: 'bulk' }, value: 'v' }, { key: HELD_KEY, value: 'v', ttl: BAD_TTLS[ttl]() }])),
      promiseCall(`touch(held, ${ttl})`, [A], (s) => s.touch(HELD_KEY, BAD_TTLS[ttl]())),
    ),
  ),
  // A refused tag writes nothing: not the entry, not its tags, not the good items around it.
  pick(BAD_TAGS).chain((tags) =>
    fc.constantFrom(
      promiseCall(`set(held, v, { tags: ${tags} })`, [A], (s) => s.set(HELD_KEY, 'v', { tags: BAD_TAGS[tags]() })),
      promiseCall(`set(new object key, v, { ttl: 5000, tags: ${tags} })`, [A], (s) => s.set({ fresh: 1 }, 'v', { ttl: 5000, tags: BAD_TAGS[tags]() })),
      promiseCall(`setMany([good, held with tags: ${tags}])`, [A], (s) => s.setMany([{ key: { fresh: 'bulk' }, value: 'v' }, { key: HELD_KEY, value: 'v', tags: BAD_TAGS[tags]() }])),
      promiseCall(`getOrSet(absent, compute, { tags: ${tags} })`, [A], (s) => s.getOrSet(ABSENT_KEY, () => 'v', { tags: BAD_TAGS[tags]() })),
      promiseCall(`delByTags(${tags})`, [A], (s) => s.delByTags(BAD_TAGS[tags]())),
    ),
  ),
  fc
    .constantFrom<[string, () => unknown]>(['an empty list', () => []], ['undefined', () => undefined], ['null', () => null])
    .map(([name, tags]) => promiseCall(`delByTags(${name})`, [A], (s) => s.delByTags(tags()))),
  fc.constantFrom(promiseCall('touch(held) without a ttl', [A], (s) => s.touch(HELD_KEY))),
  pick(BAD_OPTIONS).chain((o) =>
    fc.constantFrom(
      promiseCall(`set(held, v, options ${o})`, [A], (s) => s.set(HELD_KEY, 'v', BAD_OPTIONS[o]())),
      promiseCall(`setStream(held, source, options ${o})`, [A], (s) => s.setStream(HELD_KEY, source(), BAD_OPTIONS[o]())),
    ),
  ),
  pick(BAD_GET_OPTIONS).map((o) => promiseCall(`get(held, options ${o})`, [A], (s) => s.get(HELD_KEY, BAD_GET_OPTIONS[o]()))),
  fc
    .constantFrom<[string, () => unknown]>(
      ['a string', () => 'held'],
      ['an object', () => ({ 0: 'held', length: 1 })],
      ['null', () => null],
      ['a Set', () => new Set(['held'])],
    )
    .chain(([name, list]) =>
      fc.constantFrom(
        promiseCall(`setMany(${name})`, [A], (s) => s.setMany(list())),
        promiseCall(`getMany(${name})`, [A], (s) => s.getMany(list())),
        promiseCall(`delMany(${name})`, [A], (s) => s.delMany(list())),
      ),
    ),
  // Items that are not { key, value, ttl? } (for getMany and delMany these are valid object keys).
  fc
    .constantFrom<[string, () => unknown[]]>(
      ['an item that is not an object', () => [{ key: { fresh: 'bulk' }, value: 'v' }, 'held']],
      ['an item with an unknown field', () => [{ key: { fresh: 'bulk' }, value: 'v' }, { key: 'held', value: 'v', tagz: ['t'] }]],
      ['an item with a getter', () => [{ key: { fresh: 'bulk' }, value: 'v' }, Object.defineProperty({ key: 'held' }, 'value', { get: () => 'v', enumerable: true })]],
      ['an item without a key', () => [{ key: { fresh: 'bulk' }, value: 'v' }, { value: 'v' }]],
    )
    .map(([name, items]) => promiseCall(`setMany(${name})`, [A, K], (s) => s.setMany(items()))),
  pick(BAD_SECONDS).map((sec) => promiseCall(`setex(held, v, ${sec})`, [A], (s) => s.setex(HELD_KEY, 'v', BAD_SECONDS[sec]()))),
  pick(BAD_CALLBACKS).chain((c) => {
    const cb = () => BAD_CALLBACKS[c]();
    return fc.constantFrom(
      promiseCall(`set(held, v, {}, cb ${c})`, [A], (s) => s.set(HELD_KEY, 'v', {}, cb())),
      promiseCall(`set(held, v, { ttl: 5 }, cb ${c})`, [A], (s) => s.set(HELD_KEY, 'v', { ttl: 5 }, cb())),
      promiseCall(`setex(held, v, 10, cb ${c})`, [A], (s) => s.setex(HELD_KEY, 'v', 10, cb())),
      promiseCall(`get(held, {}, cb ${c})`, [A], (s) => s.get(HELD_KEY, {}, cb())),
      promiseCall(`getOne(held, cb ${c})`, [A], (s) => s.getOne(HELD_KEY, cb())),
      promiseCall(`has(held, cb ${c})`, [A], (s) => s.has(HELD_KEY, cb())),
      promiseCall(`del(held, cb ${c})`, [A], (s) => s.del(HELD_KEY, cb())),
      promiseCall(`del({ toString: 'x' }, cb ${c})`, [A], (s) => s.del({ toString: 'x' }, cb())),
      // count and keys take options before the callback (SPEC §14): the bad callback comes after them.
      promiseCall(`count(held, {}, cb ${c})`, [A], (s) => s.count(HELD_KEY, {}, cb() as never)),
      promiseCall(`keys('*', {}, cb ${c})`, [A], (s) => s.keys('*', {}, cb() as never)),
      promiseCall(`ttl(held, cb ${c})`, [A], (s) => s.ttl(HELD_KEY, cb())),
      promiseCall(`getMeta(held, cb ${c})`, [A], (s) => s.getMeta(HELD_KEY, cb())),
      promiseCall(`clear(cb ${c})`, [A], (s) => s.clear(cb())),
      promiseCall(`copy(target, cb ${c})`, [A], (s, t) => s.copy(t, cb())),
      promiseCall(`stats(cb ${c})`, [A], (s) => s.stats(cb())),
      promiseCall(`resetStats(cb ${c})`, [A], (s) => s.resetStats(cb())),
      promiseCall(`getMany([held], cb ${c})`, [A], (s) => s.getMany([HELD_KEY], cb())),
      promiseCall(`setMany([held], cb ${c})`, [A], (s) => s.setMany([{ key: HELD_KEY, value: 'v' }], cb())),
      promiseCall(`delMany([held], cb ${c})`, [A], (s) => s.delMany([HELD_KEY], cb())),
      promiseCall(`delKeys('*', cb ${c})`, [A], (s) => s.delKeys('*', cb() as never)),
      promiseCall(`touch(held, 5000, cb ${c})`, [A], (s) => s.touch(HELD_KEY, 5000, cb())),
      promiseCall(`delByTags(['t'], cb ${c})`, [A], (s) => s.delByTags(['t'], cb())),
      promiseCall(`setStream(held, source, {}, cb ${c})`, [A], (s) => s.setStream(HELD_KEY, source(), {}, cb())),
      promiseCall(`close(cb ${c})`, [A], (s) => s.close(cb())),
    );
  }),
  fc
    .constantFrom<[string, () => unknown]>(
      ['null', () => null],
      ['object', () => ({})],
      ['number', () => 5],
      ['string', () => 'store'],
      ['Map', () => new Map()],
      ['throwing Proxy', () => new Proxy({}, { getPrototypeOf: () => { throw new Error('trap'); } })],
    )
    .map(([name, target]) => promiseCall(`copy(${name})`, [A], (s) => s.copy(target()))),
  pick(BAD_SOURCES).map((src) => promiseCall(`setStream(held, source ${src})`, [V, A], (s) => s.setStream(HELD_KEY, BAD_SOURCES[src]()))),
  pick(BAD_SOURCES).map((src) => promiseCall(`setStream(new key, source ${src})`, [V, A], (s) => s.setStream({ streamed: 'fresh' }, BAD_SOURCES[src]()))),
  fc
    .constantFrom<[string, () => unknown]>(['a number', () => 5], ['a string', () => 'v'], ['null', () => null], ['an object', () => ({})])
    .map(([name, compute]) => promiseCall(`getOrSet(absent, compute ${name})`, [A], (s) => s.getOrSet(ABSENT_KEY, compute()))),
  pick(BAD_NAMESPACES).map((ns) => ({
    label: `scope(${ns})`,
    codes: [A],
    form: 'sync' as const,
    invoke: (s: Loose) => s.scope(BAD_NAMESPACES[ns]()),
  })),
);

/** The malformed calls, by the area of the API they attack (one property each, so one area's bug does not hide another's). */
export const BAD_CALLS: Record<string, fc.Arbitrary<BadCall>> = {
  keys: keyCalls,
  queries: queryCalls,
  values: valueCalls,
  'options, ttl, callbacks, targets, sources and namespaces': argumentCalls,
};

/** Why `err` is not an acceptable refusal for `call`, or undefined when it is. */
function refusalProblem(call: BadCall, err: unknown): string | undefined {
  if (!(err instanceof StoreError)) {
    const name = err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
    return `${call.label}: ${name} is not a StoreError`;
  }
  if (!DOCUMENTED_CODES.has(err.code)) return `${call.label}: code ${err.code} is not documented`;
  if (!call.codes.includes(err.code)) return `${call.label}: code ${err.code}, expected ${call.codes.join(' or ')} (${err.message})`;
  return undefined;
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: did not settle in ${SETTLE_MS} ms`)), SETTLE_MS);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * Makes the call and checks its refusal; resolves a problem description, or undefined when the
 * call was refused as the spec says.
 */
export async function checkRefusal(call: BadCall, store: BaseStore, target: BaseStore): Promise<string | undefined> {
  if (call.form === 'callback') {
    let calls = 0;
    let settled!: (args: unknown[]) => void;
    const delivered = new Promise<unknown[]>((resolve) => (settled = resolve));
    const cb = (...args: unknown[]) => {
      calls++;
      settled(args);
    };
    let returned: unknown;
    try {
      returned = (call.invoke as (s: BaseStore, t: BaseStore, cb: unknown) => unknown)(store, target, cb);
    } catch (err) {
      return `${call.label}: threw synchronously (${String(err)})`;
    }
    if (returned instanceof Promise) returned.catch(() => undefined);
    let args: unknown[];
    try {
      args = await withTimeout(delivered, call.label);
    } catch (err) {
      return (err as Error).message;
    }
    await new Promise((r) => setImmediate(r));
    if (calls !== 1) return `${call.label}: the callback was called ${calls} times`;
    return refusalProblem(call, args[0]);
  }
  let returned: unknown;
  try {
    returned = call.invoke(store, target);
  } catch (err) {
    if (call.form === 'sync' || call.form === 'iterator') return refusalProblem(call, err);
    return `${call.label}: threw synchronously (${String(err)}) instead of rejecting`;
  }
  if (call.form === 'sync') {
    if (returned !== null && typeof (returned as BaseStore).close === 'function') await (returned as BaseStore).close();
    return `${call.label}: returned instead of throwing`;
  }
  try {
    if (call.form === 'stream') {
      await withTimeout(drain(returned as Readable), call.label);
      return `${call.label}: the stream ended without an error`;
    }
    if (call.form === 'iterator') {
      await withTimeout(
        (async () => {
          for await (const entry of returned as AsyncIterable<unknown>) void entry;
        })(),
        call.label,
      );
      return `${call.label}: the iteration ended without an error`;
    }
    if (!(returned instanceof Promise)) return `${call.label}: returned ${String(returned)}, not a promise`;
    const value = await withTimeout(returned, call.label);
    return `${call.label}: resolved (${safeString(value)}) instead of rejecting`;
  } catch (err) {
    if (err instanceof Error && err.message.endsWith('did not settle in 10000 ms')) return err.message;
    return refusalProblem(call, err);
  }
}

function drain(stream: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.on('data', () => undefined);
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 200) ?? String(value);
  } catch {
    return typeof value;
  }
}
