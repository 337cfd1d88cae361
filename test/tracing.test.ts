/**
 * diagnostics_channel tracing (SPEC §15, lib/core/tracing.ts): each operation publishes start,
 * end, asyncStart, asyncEnd (and error) on `tracing:memstorage-next:<method>:*` while its
 * channel has subscribers, with a context naming the method, the store and the key or query;
 * nothing is traced without subscribers.
 */
import { expect } from 'chai';
import * as dc from 'node:diagnostics_channel';
import { MemoryStore } from '../lib/backends/memory';
import { Store as LegacyStore, createStore } from '../lib/factory';
import { MultiStore } from '../lib/multi/multi-store';
import { CHANNEL_PREFIX, TRACED_METHODS, TRACING, TraceContext, TracedMethod } from '../lib/core/tracing';
import type { BaseStore } from '../lib/store';

type Phase = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';

/** Subscribes to one method's channels; `events` lists [phase, a copy of the context] as published. */
function subscribe(method: TracedMethod): { events: Array<[Phase, Record<string, unknown>]>; stop(): void } {
  const events: Array<[Phase, Record<string, unknown>]> = [];
  const handler = (phase: Phase) => (message: unknown) => events.push([phase, { ...(message as Record<string, unknown>) }]);
  const handlers = { start: handler('start'), end: handler('end'), asyncStart: handler('asyncStart'), asyncEnd: handler('asyncEnd'), error: handler('error') };
  const channel = dc.tracingChannel(CHANNEL_PREFIX + method);
  channel.subscribe(handlers);
  return { events, stop: () => channel.unsubscribe(handlers) };
}

/** The phases in order. */
const phases = (events: Array<[Phase, unknown]>) => events.map(([phase]) => phase);

interface Case {
  method: TracedMethod;
  call(store: BaseStore): Promise<unknown>;
  subject: Record<string, unknown>;
  result: unknown;
}

const KEYS = ['a', 'zz'];
async function* bytes() {
  yield Buffer.from('xy');
}
const ITEMS = [{ key: 'n', value: 9 }];
const CASES: Case[] = [
  { method: 'getOne', call: (s) => s.getOne('a'), subject: { key: 'a' }, result: 1 },
  { method: 'get', call: (s) => s.get({ g: 1 }), subject: { query: { g: 1 } }, result: [2] },
  { method: 'getMany', call: (s) => s.getMany(KEYS), subject: { keys: KEYS }, result: [1, undefined] },
  { method: 'has', call: (s) => s.has('a'), subject: { key: 'a' }, result: true },
  { method: 'set', call: (s) => s.set('b', 3, { ttl: 60_000 }), subject: { key: 'b' }, result: undefined },
  { method: 'setMany', call: (s) => s.setMany(ITEMS), subject: { items: ITEMS }, result: undefined },
  { method: 'ttl', call: (s) => s.ttl('a'), subject: { key: 'a' }, result: null },
  { method: 'touch', call: (s) => s.touch('a', null), subject: { key: 'a' }, result: true },
  { method: 'getMeta', call: (s) => s.getMeta('absent'), subject: { key: 'absent' }, result: undefined },
  { method: 'count', call: (s) => s.count({ g: 1 }), subject: { query: { g: 1 } }, result: 1 },
  { method: 'keys', call: (s) => s.keys('a*'), subject: { query: 'a*' }, result: ['a'] },
  { method: 'page', call: (s) => s.page({ g: 1 }, { limit: 5 }), subject: { query: { g: 1 } }, result: { items: [2], cursor: null } },
  { method: 'del', call: (s) => s.del('a'), subject: { query: 'a' }, result: 1 },
  { method: 'delMany', call: (s) => s.delMany(KEYS), subject: { keys: KEYS }, result: 1 },
  { method: 'delKeys', call: (s) => s.delKeys('a*'), subject: { query: 'a*' }, result: 1 },
  { method: 'delByTags', call: (s) => s.delByTags(['t']), subject: { tags: ['t'] }, result: 1 },
  { method: 'setStream', call: (s) => s.setStream('bytes', bytes()), subject: { key: 'bytes' }, result: undefined },
  { method: 'copy', call: (s) => s.copy(new MemoryStore()), subject: {}, result: 3 },
  { method: 'clear', call: (s) => s.clear(), subject: {}, result: undefined },
  { method: 'getOrSet', call: (s) => s.getOrSet('computed', () => 5), subject: { key: 'computed' }, result: 5 },
];

describe('tracing: diagnostics_channel per operation', () => {
  let store: MemoryStore;

  beforeEach(async () => {
    store = new MemoryStore({ namespace: 'traced' });
    await store.set('a', 1);
    await store.set({ g: 1 }, 2);
    await store.set('tagged', 0, { tags: ['t'] });
  });

  afterEach(() => store.close());

  it('has a case for every traced method', () => {
    expect(CASES.map((c) => c.method).sort()).to.deep.equal([...TRACED_METHODS].sort());
  });

  for (const c of CASES) {
    it(`${c.method}: start, end, asyncStart, asyncEnd with the method, the store, the subject and the result`, async () => {
      const { events, stop } = subscribe(c.method);
      try {
        const result = await c.call(store);
        expect(result).to.deep.equal(c.result);
      } finally {
        stop();
      }
      expect(phases(events)).to.deep.equal(['start', 'end', 'asyncStart', 'asyncEnd']);
      const context = { method: c.method, store: 'MemoryStore', namespace: 'traced', ...c.subject };
      expect(events[0][1]).to.deep.equal(context);
      expect(events[3][1]).to.deep.equal({ ...context, result: c.result });
    });
  }

  it('a failing call publishes error with the StoreError, and the caller still gets it', async () => {
    const { events, stop } = subscribe('getOne');
    let caught: { code?: string } | undefined;
    try {
      await store.getOne({ $bad: 1 } as never);
    } catch (err) {
      caught = err as { code?: string };
    } finally {
      stop();
    }
    expect(caught?.code).to.equal('ERR_INVALID_KEY');
    expect(phases(events)).to.deep.equal(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    expect((events[2][1].error as { code?: string }).code).to.equal('ERR_INVALID_KEY');
  });

  it('a callback call is traced and the callback gets the outcome once', async () => {
    const { events, stop } = subscribe('getOne');
    const outcome = await new Promise<unknown[]>((resolve) => {
      const returned = store.getOne('a', (...args: unknown[]) => resolve(args));
      expect(returned).to.equal(undefined);
    });
    stop();
    expect(outcome).to.deep.equal([null, 1]);
    expect(phases(events)).to.deep.equal(['start', 'end', 'asyncStart', 'asyncEnd']);
  });

  it('a bad callback is refused inside the trace with ERR_INVALID_ARGUMENT', async () => {
    const { events, stop } = subscribe('getOne');
    const err = await (store.getOne as (k: string, cb: unknown) => Promise<unknown>)('a', 42).then(
      () => undefined,
      (e: { code?: string }) => e,
    );
    stop();
    expect(err?.code).to.equal('ERR_INVALID_ARGUMENT');
    expect(phases(events)).to.deep.equal(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
  });

  it('a function where the value goes is refused as a value (ERR_INVALID_VALUE), never called as a callback', async () => {
    const { events, stop } = subscribe('set');
    let called = false;
    const err = await (store.set as (k: string, v: unknown) => Promise<void>)('f', () => (called = true)).then(
      () => undefined,
      (e: { code?: string }) => e,
    );
    stop();
    expect(err?.code).to.equal('ERR_INVALID_VALUE');
    expect(called).to.equal(false);
    expect(phases(events)).to.deep.equal(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
  });

  it('setex is traced once, as the set it makes', async () => {
    const set = subscribe('set');
    await store.setex('s', 1, 10);
    set.stop();
    expect(phases(set.events)).to.deep.equal(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(set.events[0][1]).to.deep.equal({ method: 'set', store: 'MemoryStore', namespace: 'traced', key: 's' });
  });

  it('a result-first store (Store()) reports an unawaited failure once, and the callback form gets its failure value', async () => {
    const legacy = LegacyStore({ type: 'memory' }) as BaseStore;
    const errors: Array<{ code?: string }> = [];
    legacy.on('error', (err) => errors.push(err as { code?: string }));
    const { events, stop } = subscribe('getOne');
    try {
      void legacy.getOne({ $bad: 1 } as never); // fire and forget
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(errors.map((e) => e.code)).to.deep.equal(['ERR_INVALID_KEY']);
      const value = await new Promise((resolve) => legacy.getOne({ $bad: 1 } as never, (v: unknown) => resolve(v)));
      expect(value).to.equal(undefined);
      await new Promise((resolve) => setImmediate(resolve));
      expect(errors.map((e) => e.code)).to.deep.equal(['ERR_INVALID_KEY', 'ERR_INVALID_KEY']);
    } finally {
      stop();
      await legacy.close();
    }
    expect(phases(events).filter((p) => p === 'start')).to.have.length(2);
  });

  it('without subscribers nothing is traced (tracePromise is never called)', async () => {
    const channels = TRACING.getOne as unknown as { tracePromise: (...args: unknown[]) => unknown };
    const original = channels.tracePromise;
    let calls = 0;
    channels.tracePromise = (...args: unknown[]) => {
      calls++;
      return original.apply(channels, args);
    };
    try {
      await store.getOne('a');
      await store.getOne('missing');
      expect(calls).to.equal(0);
      const { stop } = subscribe('getOne');
      await store.getOne('a');
      stop();
      expect(calls).to.equal(1);
      await store.getOne('a');
      expect(calls).to.equal(1);
    } finally {
      channels.tracePromise = original;
    }
  });

  it('the multi store traces its fast path too, naming the store type and namespace', async () => {
    const multi = new MultiStore({ namespace: 'm', stores: [{ type: 'memory' }, { type: 'memory' }] });
    await multi.set('k', 'v');
    const { events, stop } = subscribe('getOne');
    expect(await multi.getOne('k')).to.equal('v');
    stop();
    await multi.close();
    expect(phases(events)).to.deep.equal(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(events[3][1]).to.deep.equal({ method: 'getOne', store: 'MultiStore', namespace: 'm', key: 'k', result: 'v' });
  });

  it('createStore() stores are traced under their class name', async () => {
    const made = createStore({ type: 'memory' });
    const { events, stop } = subscribe('set');
    await made.set('x', 1);
    stop();
    await made.close();
    expect((events[0][1] as unknown as TraceContext).store).to.equal(made.constructor.name);
    expect(phases(events)).to.deep.equal(['start', 'end', 'asyncStart', 'asyncEnd']);
  });
});
