/**
 * fast-check commands for the model-based harness: each runs against the real store and the
 * model (model.ts) and throws when the store answers anything the model does not.
 *
 * Two kinds of sequence are built from them (model-run.ts):
 * - sequential: every call awaited before the next, with clock advances, full-content
 *   checkpoints, copies, streams, scopes and an iteration during which the clock moves;
 * - batched: `BatchCommand`s issue many calls (the store's and its scopes', setStream
 *   included) without awaiting in between (SPEC §12 program order) and compare every result
 *   with the model applied in issue order, then the contents.
 *
 * Every command prints as code (`st.set({ g: 1, u: 2 }, 5, { ttl: 100 })`), so a shrunk
 * sequence reads as a test. Commands whose printout depends on the model's state at run time
 * (a clock advance aimed at an expiry) record it when they run, and are cloned per run
 * (fc.cloneMethod) so a later run cannot overwrite what the reported run printed.
 */
import fc from 'fast-check';
import type { ManualClock } from '../../lib/clock';
import { StoreError } from '../../lib/errors';
import type { Key } from '../../lib/keys';
import type { BaseStore } from '../../lib/store';
import { MemoryStore } from '../../lib/backends/memory';
import { ModelEntry, Op, Outcome, Query, StoreModel, Target } from './model';
import { SCOPES, keyArb, opArb, queryArb, targetArb, weightOf } from './model-arbitraries';
import { code, fingerprint, keyFingerprint, metaFingerprint } from './model-values';

/** The system under test for one run: the store, its scopes (index = model Target) and the shared clock. */
export interface RealSystem {
  stores: BaseStore[];
  clock: ManualClock;
  /** Store calls issued in this run (operations and the checks' reads). */
  calls: number;
}

/** A command of this harness: knows how many store operations it issues (coverage counting). */
export interface HarnessCommand extends fc.AsyncCommand<StoreModel, RealSystem> {
  /** Store operations the command itself issues (not counting its verification reads). */
  readonly ops: number;
}

/** Printed name of a target in reproductions. */
export function targetName(target: Target): string {
  return target === 0 ? 'st' : SCOPES[target - 1];
}

/** An operation as code. */
export function opCode(op: Op): string {
  const at = targetName(op.target);
  switch (op.kind) {
    case 'set':
      return `${at}.set(${code(op.key)}, ${code(op.value)}${op.options === undefined ? '' : `, ${code(op.options)}`})`;
    case 'setex':
      return `${at}.setex(${code(op.key)}, ${code(op.value)}, ${code(op.seconds)})`;
    case 'getOne':
    case 'has':
    case 'ttl':
    case 'getMeta':
      return `${at}.${op.kind}(${code(op.key)})`;
    case 'get':
      return `${at}.get(${code(op.query)}${op.options === undefined ? '' : `, ${code(op.options)}`})`;
    case 'count':
    case 'del':
      return `${at}.${op.kind}(${code(op.query)})`;
    case 'keys':
      return `${at}.keys(${op.pattern === undefined ? '' : code(op.pattern)})`;
    case 'clear':
      return `${at}.clear()`;
    case 'getMany':
    case 'delMany':
      return `${at}.${op.kind}(${code(op.keys)})`;
    case 'setMany':
      return `${at}.setMany(${code(op.items)})`;
    case 'delKeys':
      return `${at}.delKeys(${code(op.pattern)})`;
    case 'touch':
      return `${at}.touch(${code(op.key)}, ${code(op.ttl)})`;
    case 'delByTags':
      return `${at}.delByTags(${code(op.tags)})`;
    case 'setStream':
      return `${at}.setStream(${code(op.key)}, Readable.from(${code(op.chunks)})${op.options === undefined ? '' : `, ${code(op.options)}`})`;
  }
}

/** The chunks of a setStream as a byte source that yields them one by one, asynchronously. */
async function* streamOf(chunks: Array<Buffer | string>): AsyncGenerator<Buffer | string> {
  for (const chunk of chunks) yield chunk;
}

/** Issues one operation on the real store (never throws synchronously). */
function issue(real: RealSystem, op: Op): Promise<unknown> {
  const store = real.stores[op.target];
  real.calls++;
  try {
    switch (op.kind) {
      case 'set':
        return op.options === undefined ? store.set(op.key, op.value) : store.set(op.key, op.value, op.options);
      case 'setex':
        return store.setex(op.key, op.value, op.seconds);
      case 'getOne':
        return store.getOne(op.key);
      case 'has':
        return store.has(op.key);
      case 'ttl':
        return store.ttl(op.key);
      case 'getMeta':
        return store.getMeta(op.key);
      case 'get':
        return op.options === undefined ? store.get(op.query) : store.get(op.query, op.options as never);
      case 'count':
        return store.count(op.query);
      case 'keys':
        return op.pattern === undefined ? store.keys() : store.keys(op.pattern);
      case 'del':
        return store.del(op.query);
      case 'clear':
        return store.clear();
      case 'getMany':
        return store.getMany(op.keys);
      case 'setMany':
        return store.setMany(op.items);
      case 'delMany':
        return store.delMany(op.keys);
      case 'delKeys':
        return store.delKeys(op.pattern);
      case 'touch':
        return store.touch(op.key, op.ttl);
      case 'delByTags':
        return store.delByTags(op.tags);
      case 'setStream':
        return op.options === undefined ? store.setStream(op.key, streamOf(op.chunks)) : store.setStream(op.key, streamOf(op.chunks), op.options);
    }
  } catch (err) {
    return Promise.reject(err);
  }
}

/** What a call did, as a comparable string: its result per the operation's kind, or its error code. */
type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

async function settle(p: Promise<unknown>): Promise<Settled> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The comparable form of a result of `op` (void results compare as 'resolved'). */
function resultFingerprint(kind: Op['kind'], value: unknown, includeKey = false): string {
  switch (kind) {
    case 'set':
    case 'setex':
    case 'clear':
    case 'setStream':
    case 'setMany':
      return 'resolved';
    case 'getMeta':
      return metaFingerprint(value);
    case 'getMany':
      return Array.isArray(value) ? `[${value.map(fingerprint).join(', ')}]` : `not-an-array:${fingerprint(value)}`;
    case 'keys':
      return Array.isArray(value) ? `[${value.map(keyFingerprint).join(', ')}]` : `not-an-array:${fingerprint(value)}`;
    case 'get':
      if (!Array.isArray(value)) return `not-an-array:${fingerprint(value)}`;
      if (!includeKey) return `[${value.map(fingerprint).join(', ')}]`;
      return `[${value.map((kv: { key?: unknown; val?: unknown }) => `{key: ${keyFingerprint(kv?.key)}, val: ${fingerprint(kv?.val)}}`).join(', ')}]`;
    default:
      return fingerprint(value);
  }
}

function errorFingerprint(error: unknown): string {
  if (error instanceof StoreError) return `rejects ${error.code}`;
  const e = error as Error;
  return `rejects with a raw ${e?.name ?? typeof error} (not a StoreError): ${e?.message ?? String(error)}`;
}

function expectedFingerprint(op: Op, expected: Outcome): string {
  return expected.ok ? resultFingerprint(op.kind, expected.value, op.kind === 'get' && op.options?.includeKey === true) : `rejects ${expected.code}`;
}

function actualFingerprint(op: Op, actual: Settled): string {
  return actual.ok ? resultFingerprint(op.kind, actual.value, op.kind === 'get' && op.options?.includeKey === true) : errorFingerprint(actual.error);
}

/** Renders a settled call for a failure message. */
function show(actual: Settled): string {
  if (actual.ok) return `resolved ${code(actual.value)}`;
  return errorFingerprint(actual.error);
}

function showExpected(expected: Outcome): string {
  return expected.ok ? `resolve ${code(expected.value)}` : `reject ${expected.code}`;
}

/** A disagreement between the store and the model. */
export class ModelMismatch extends Error {}

/** Compares a settled call with the model's outcome; a message when they differ. */
function mismatch(op: Op, expected: Outcome, actual: Settled): string | undefined {
  if (expectedFingerprint(op, expected) === actualFingerprint(op, actual)) return undefined;
  return `${opCode(op)} ${show(actual)}; the model says it must ${showExpected(expected)}`;
}

/** Compares the whole contents of a namespace (keys, values in creation order, each TTL and each entry's metadata) with the model. */
export async function checkContents(model: StoreModel, real: RealSystem, target: Target, via: 'entries' | 'stream'): Promise<void> {
  const store = real.stores[target];
  const got: Array<{ key: unknown; value: unknown }> = [];
  real.calls++;
  try {
    if (via === 'entries') for await (const e of store.entries()) got.push(e);
    else for await (const e of store.createReadStream()) got.push(e as { key: unknown; value: unknown });
  } catch (err) {
    throw new ModelMismatch(`${targetName(target)}.${via === 'entries' ? 'entries()' : 'createReadStream()'} failed: ${errorFingerprint(err)}`);
  }
  compareEntries(`${targetName(target)}.${via === 'entries' ? 'entries()' : 'createReadStream()'}`, model.entries(target), got);
  await compareTtls(model, real, store, targetName(target), model.entries(target));
  await compareMetas(model, real, store, targetName(target), model.entries(target));
}

function entryLine(key: unknown, value: unknown): string {
  return `${code(key)} => ${code(value)}`;
}

/** Compares entries read from a store with the model's, in order. */
function compareEntries(what: string, want: ModelEntry[], got: Array<{ key: unknown; value: unknown }>): void {
  const wantPrints = want.map((e) => `${keyFingerprint(e.key)} => ${fingerprint(e.value)}`);
  const gotPrints = got.map((e) => `${keyFingerprint(e.key)} => ${fingerprint(e.value)}`);
  if (wantPrints.join('\n') === gotPrints.join('\n')) return;
  throw new ModelMismatch(
    `${what} yielded (${got.length}):\n    ${got.map((e) => entryLine(e.key, e.value)).join('\n    ') || '(nothing)'}\n` +
      `  the model has, in creation order (${want.length}):\n    ${want.map((e) => entryLine(e.key, e.value)).join('\n    ') || '(nothing)'}`,
  );
}

/** getMeta of every entry: its times, expiry and tags as the model has them (SPEC §16). */
async function compareMetas(model: StoreModel, real: RealSystem, store: BaseStore, name: string, want: ModelEntry[]): Promise<void> {
  for (const e of want) {
    real.calls++;
    const actual = await settle(store.getMeta(e.key));
    const expected: Outcome = { ok: true, value: model.meta(e) };
    const op: Op = { kind: 'getMeta', target: 0, key: e.key };
    if (expectedFingerprint(op, expected) !== actualFingerprint(op, actual)) {
      throw new ModelMismatch(`${name}.getMeta(${code(e.key)}) ${show(actual)}; the model says it must ${showExpected(expected)}`);
    }
  }
}

async function compareTtls(model: StoreModel, real: RealSystem, store: BaseStore, name: string, want: ModelEntry[]): Promise<void> {
  for (const e of want) {
    real.calls++;
    const actual = await settle(store.ttl(e.key));
    const expected: Outcome = { ok: true, value: model.remaining(e) };
    const op: Op = { kind: 'ttl', target: 0, key: e.key };
    if (expectedFingerprint(op, expected) !== actualFingerprint(op, actual)) {
      throw new ModelMismatch(`${name}.ttl(${code(e.key)}) ${show(actual)}; the model says it must ${showExpected(expected)}`);
    }
  }
}

// ---- commands --------------------------------------------------------------------------

/** One awaited operation, compared with the model. */
export class OpCommand implements HarnessCommand {
  readonly ops = 1;
  constructor(readonly op: Op) {}
  check(): boolean {
    return true;
  }
  async run(model: StoreModel, real: RealSystem): Promise<void> {
    const actual = await settle(issue(real, this.op));
    const expected = model.apply(this.op);
    const message = mismatch(this.op, expected, actual);
    if (message) throw new ModelMismatch(message);
  }
  toString(): string {
    return `await ${opCode(this.op)}`;
  }
}

/**
 * Operations issued back to back without awaiting (SPEC §12 program order), then awaited
 * together: each must answer what the model answers when applied in issue order, and the
 * contents afterwards must be the model's (values, TTLs, and creation order).
 *
 * Batches hold scopes' calls and setStream too. A streamed write takes effect when its stream
 * has fully arrived (README, "Guarantees": nothing of it is visible before), so a NEW key
 * written by a stream takes its creation position then, which no model can predict while
 * later calls of the batch run on other keys. Batches therefore stream only over a key they
 * have just set (`batchOps`): its position is fixed, and the stream is still ordered against
 * every later call on that key, every clear() and del(query). FUZZ_WITHOUT=batched-streams
 * leaves streams out of batches for triage.
 */
export class BatchCommand implements HarnessCommand {
  readonly ops: number;
  constructor(readonly batch: Op[]) {
    this.ops = batch.length;
  }
  check(): boolean {
    return true;
  }
  async run(model: StoreModel, real: RealSystem): Promise<void> {
    const promises = this.batch.map((op) => issue(real, op));
    const actual = await Promise.all(promises.map(settle));
    const problems: string[] = [];
    this.batch.forEach((op, i) => {
      const message = mismatch(op, model.apply(op), actual[i]);
      if (message) problems.push(`call #${i}: ${message}`);
    });
    if (problems.length > 0) throw new ModelMismatch(`in the un-awaited batch:\n  ${problems.join('\n  ')}`);
    const targets = new Set(this.batch.map((op) => op.target));
    for (const target of targets) await checkContents(model, real, target, 'entries');
  }
  toString(): string {
    return `await Promise.all([\n    ${this.batch.map(opCode).join(',\n    ')},\n  ]) /* then every result and the contents are checked */`;
  }
}

/** How far a clock advance goes: a fixed amount, or to (just before, at, just after) an expiry the model holds. */
export type AdvanceAim = { by: number } | { expiry: number; offset: -1 | 0 | 1 };

const advanceAimArb: fc.Arbitrary<AdvanceAim> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ by: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 6, max: 200 }), fc.integer({ min: 1000, max: 200_000 })) }) },
  { weight: 4, arbitrary: fc.record({ expiry: fc.nat(50), offset: fc.constantFrom<-1 | 0 | 1>(-1, 0, 1) }) },
);

/** The ms an aim resolves to, given the expiries in play (ascending, all in the future). */
function resolveAdvance(aim: AdvanceAim, now: number, expiries: number[]): { ms: number; why: string } {
  if ('by' in aim) return { ms: aim.by, why: '' };
  if (expiries.length === 0) return { ms: 1, why: ' /* nothing expires: 1 ms */' };
  const at = expiries[aim.expiry % expiries.length];
  const ms = Math.max(0, at - now + aim.offset);
  const where = aim.offset === 0 ? 'exactly to' : aim.offset < 0 ? '1 ms before' : '1 ms past';
  return { ms, why: ` /* ${where} an expiry */` };
}

/** Advances the shared ManualClock (the model's clock in step). */
export class AdvanceCommand implements HarnessCommand {
  readonly ops = 0;
  private printed: string;
  constructor(readonly aim: AdvanceAim) {
    this.printed = 'by' in aim ? `clock.advance(${aim.by})` : `clock.advance(/* to expiry #${aim.expiry}, ${aim.offset} */)`;
  }
  check(): boolean {
    return true;
  }
  async run(model: StoreModel, real: RealSystem): Promise<void> {
    const { ms, why } = resolveAdvance(this.aim, model.now, model.expiries());
    this.printed = `clock.advance(${ms})${why}`;
    real.clock.advance(ms);
    model.advance(ms);
  }
  toString(): string {
    return this.printed;
  }
  [fc.cloneMethod](): AdvanceCommand {
    return new AdvanceCommand(this.aim);
  }
}

/** Reads a namespace whole (entries() or createReadStream()) and checks keys, values, order and TTLs. */
export class CheckContentsCommand implements HarnessCommand {
  readonly ops = 0;
  constructor(
    readonly target: Target,
    readonly via: 'entries' | 'stream',
  ) {}
  check(): boolean {
    return true;
  }
  run(model: StoreModel, real: RealSystem): Promise<void> {
    return checkContents(model, real, this.target, this.via);
  }
  toString(): string {
    return `/* check */ ${targetName(this.target)}.${this.via === 'entries' ? 'entries()' : 'createReadStream()'}, ttl() of each`;
  }
}

/**
 * Iterates `entries(query)`, moves the clock after `after` entries, and reads the rest: an entry
 * that expired meanwhile must not come out (SPEC §12: expiry is checked when an entry is
 * yielded), and every entry still live must.
 */
export class IterateAdvancingCommand implements HarnessCommand {
  readonly ops = 1;
  private printed: string;
  constructor(
    readonly target: Target,
    readonly query: Query | undefined,
    readonly after: number,
    readonly aim: AdvanceAim,
  ) {
    this.printed = this.describe('clock.advance(...)');
  }
  private describe(advance: string): string {
    const q = this.query === undefined ? '' : code(this.query);
    return `/* check */ for await (const e of ${targetName(this.target)}.entries(${q})) — after ${this.after} entries ${advance}; expired entries must not come out`;
  }
  check(): boolean {
    return true;
  }
  async run(model: StoreModel, real: RealSystem): Promise<void> {
    const store = real.stores[this.target];
    const before = this.query === undefined ? model.entries(this.target) : model.select(this.target, this.query);
    real.calls++;
    const got: Array<{ key: unknown; value: unknown }> = [];
    const iterator = store.entries(this.query)[Symbol.asyncIterator]();
    let done = false;
    try {
      while (!done && got.length < this.after) {
        const r = await iterator.next();
        if (r.done) done = true;
        else got.push(r.value);
      }
      const later = before.slice(this.after).filter((e) => e.expiresAt !== null).map((e) => e.expiresAt!);
      const { ms, why } = resolveAdvance(this.aim, model.now, [...new Set(later)].sort((a, b) => a - b));
      this.printed = this.describe(`clock.advance(${ms})${why}`);
      real.clock.advance(ms);
      model.advance(ms);
      while (!done) {
        const r = await iterator.next();
        if (r.done) done = true;
        else got.push(r.value);
      }
    } catch (err) {
      throw new ModelMismatch(`${targetName(this.target)}.entries() failed: ${errorFingerprint(err)}`);
    } finally {
      if (!done) await iterator.return?.(undefined).catch(() => undefined);
    }
    const want = [...before.slice(0, this.after), ...before.slice(this.after).filter((e) => model.entry(this.target, e.key) !== undefined)];
    compareEntries(`${targetName(this.target)}.entries(${this.query === undefined ? '' : code(this.query)}) with the clock moved after ${this.after}`, want, got);
  }
  toString(): string {
    return this.printed;
  }
  [fc.cloneMethod](): IterateAdvancingCommand {
    return new IterateAdvancingCommand(this.target, this.query, this.after, this.aim);
  }
}

/** `copy()` into a fresh memory store on the same clock: the count, then the copy's contents and TTLs. */
export class CopyCommand implements HarnessCommand {
  readonly ops = 1;
  constructor(readonly target: Target) {}
  check(): boolean {
    return true;
  }
  async run(model: StoreModel, real: RealSystem): Promise<void> {
    const copy = new MemoryStore({ clock: real.clock });
    try {
      real.calls++;
      const actual = await settle(real.stores[this.target].copy(copy));
      const want = model.entries(this.target);
      const expected: Outcome = { ok: true, value: want.length };
      const op: Op = { kind: 'count', target: this.target, query: {} }; // a number result, compared as such
      if (expectedFingerprint(op, expected) !== actualFingerprint(op, actual)) {
        throw new ModelMismatch(`${targetName(this.target)}.copy(copy) ${show(actual)}; the model says it must ${showExpected(expected)}`);
      }
      const got: Array<{ key: unknown; value: unknown }> = [];
      for await (const e of copy.entries()) got.push(e);
      compareEntries('after copy(), copy.entries()', want, got);
      await compareTtls(model, real, copy, 'copy', want);
    } finally {
      await copy.close();
    }
  }
  toString(): string {
    return `const copy = new MemoryStore({ clock }); await ${targetName(this.target)}.copy(copy) /* then the copy's count, contents and TTLs are checked */`;
  }
}

/**
 * `createValueStream()` of a key the model holds as bytes (a Buffer, or a string read as
 * UTF-8), or does not hold (KeyNotFoundError): the bytes must be the value's.
 */
export class ValueStreamCommand implements HarnessCommand {
  /** Counted as a check, not an operation: check() skips it for values that are not bytes. */
  readonly ops = 0;
  constructor(
    readonly target: Target,
    readonly key: Key,
  ) {}
  check(model: Readonly<StoreModel>): boolean {
    const e = (model as StoreModel).entry(this.target, this.key);
    return e === undefined || Buffer.isBuffer(e.value) || typeof e.value === 'string';
  }
  async run(model: StoreModel, real: RealSystem): Promise<void> {
    const e = model.entry(this.target, this.key);
    real.calls++;
    let actual: string;
    try {
      const parts: Buffer[] = [];
      for await (const chunk of real.stores[this.target].createValueStream(this.key)) parts.push(chunk as Buffer);
      actual = `bytes ${Buffer.concat(parts).toString('hex')}`;
    } catch (err) {
      actual = errorFingerprint(err);
    }
    const expected =
      e === undefined ? 'rejects ERR_KEY_NOT_FOUND' : `bytes ${(Buffer.isBuffer(e.value) ? e.value : Buffer.from(e.value as string, 'utf8')).toString('hex')}`;
    if (actual !== expected) throw new ModelMismatch(`${this.toString()} gave ${actual}; the model says ${expected}`);
  }
  toString(): string {
    return `await read(${targetName(this.target)}.createValueStream(${code(this.key)}))`;
  }
}

// ---- command arbitraries ------------------------------------------------------------------

/** Commands of a sequential run: awaited operations on the store and its scopes, and everything else. */
export function sequentialCommandArbs(): Array<fc.Arbitrary<HarnessCommand>> {
  const target = targetArb(true);
  return [
    fc.oneof(
      { weight: 60, arbitrary: opArb(true).map((op): HarnessCommand => new OpCommand(op)) },
      { weight: 8, arbitrary: advanceAimArb.map((aim): HarnessCommand => new AdvanceCommand(aim)) },
      { weight: 3, arbitrary: fc.tuple(target, fc.constantFrom<'entries' | 'stream'>('entries', 'stream')).map(([t, via]): HarnessCommand => new CheckContentsCommand(t, via)) },
      {
        weight: weightOf('mid-iteration', 2),
        arbitrary: fc
          .tuple(target, fc.option(queryArb, { nil: undefined }), fc.nat(6), advanceAimArb)
          .map(([t, q, after, aim]): HarnessCommand => new IterateAdvancingCommand(t, q, after, aim)),
      },
      { weight: 1, arbitrary: target.map((t): HarnessCommand => new CopyCommand(t)) },
      { weight: 1, arbitrary: fc.tuple(target, keyArb).map(([t, k]): HarnessCommand => new ValueStreamCommand(t, k)) },
    ),
  ];
}

/** A batch's calls, each setStream preceded by a set of its key, so the stream overwrites a live entry (see BatchCommand). */
function batchOps(ops: Op[]): Op[] {
  return ops.flatMap((op): Op[] => (op.kind === 'setStream' ? [{ kind: 'set', target: op.target, key: op.key, value: null }, op] : [op]));
}

/** Commands of a batched run: un-awaited batches on the store, clock advances between them, checkpoints. */
export function batchedCommandArbs(): Array<fc.Arbitrary<HarnessCommand>> {
  return [
    fc.oneof(
      { weight: 10, arbitrary: fc.array(opArb(true, weightOf('batched-streams', 2)), { minLength: 1, maxLength: 30 }).map((ops): HarnessCommand => new BatchCommand(batchOps(ops))) },
      { weight: 4, arbitrary: advanceAimArb.map((aim): HarnessCommand => new AdvanceCommand(aim)) },
      { weight: 1, arbitrary: fc.constant<HarnessCommand>(new CheckContentsCommand(0, 'entries')) },
    ),
  ];
}
