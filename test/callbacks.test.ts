/**
 * The promise/callback layer (SPEC §5): node-style callbacks from `createStore` and the
 * classes, `callbacks: 'node'` through the default factory, promises without a callback, and
 * a non-function in the callback position rejected with ERR_INVALID_ARGUMENT.
 */
import { expect } from 'chai';
import { Readable } from 'node:stream';
import Store = require('../index');
import { oneAsyncCall, captureStoreWarnings, settleTurns, AnyCallback } from './support/memory-callbacks';
import { runChild, lastJson, ROOT } from './support/memory-child';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

/** A few bytes as a stream, for setStream. */
function bytes(text: string): Readable {
  return Readable.from([Buffer.from(text)]);
}

/** Resolves the error a call produced, whether it threw synchronously or returned a rejected promise. */
async function failureOf(call: () => unknown): Promise<Error & { code?: string }> {
  let result: unknown;
  try {
    result = call();
  } catch (err) {
    return err as Error & { code?: string };
  }
  if (!result || typeof (result as Promise<unknown>).then !== 'function') {
    throw new Error(`expected a rejection, but the call returned ${String(result)} (a callback was probably accepted)`);
  }
  try {
    await result;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** Records unhandled rejections while a test runs. */
function captureUnhandled(): { reasons: unknown[]; stop: () => void } {
  const reasons: unknown[] = [];
  const listener = (reason: unknown) => reasons.push(reason);
  process.on('unhandledRejection', listener);
  return { reasons, stop: () => process.removeListener('unhandledRejection', listener) };
}

describe('callbacks and promises (SPEC §5)', function () {
  describe('node-style callbacks: cb(err, result)', function () {
    const makers: Array<[string, () => Store.BaseStore]> = [
      ['createStore()', () => Store.createStore()],
      ["createStore({ type: 'memory' })", () => Store.createStore({ type: 'memory' })],
      ['new MemoryStore()', () => new Store.MemoryStore()],
      ["Store({ settings: { callbacks: 'node' } })", () => Store({ type: 'memory', settings: { callbacks: 'node' } })],
    ];

    for (const [name, make] of makers) {
      it(`${name}: every method calls back once, asynchronously, with (null, result)`, async function () {
        const store = make() as Loose;
        expect(store.callbackStyle).to.equal('node');
        const other = Store.createStore() as Loose;
        const call = (label: string, invoke: (cb: AnyCallback) => unknown) => oneAsyncCall(invoke, label);

        expect(await call('connect', (cb) => store.connect(cb))).to.deep.equal([null, undefined]);
        expect(await call('set', (cb) => store.set({ id: 1, kind: 'a' }, 'one', cb))).to.deep.equal([null, undefined]);
        expect(await call('set with options', (cb) => store.set('s', 'str', { ttl: 60000 }, cb))).to.deep.equal([null, undefined]);
        expect(await call('setex', (cb) => store.setex({ id: 2, kind: 'a' }, 'two', 60, cb))).to.deep.equal([null, undefined]);
        expect(await call('get', (cb) => store.get({ kind: 'a' }, cb))).to.deep.equal([null, ['one', 'two']]);
        expect(await call('get with options', (cb) => store.get({ kind: 'a' }, { limit: 1, includeKey: true }, cb))).to.deep.equal([
          null,
          [{ key: { id: 1, kind: 'a' }, val: 'one' }],
        ]);
        expect(await call('get miss', (cb) => store.get({ kind: 'z' }, cb))).to.deep.equal([null, []]);
        expect(await call('getOne', (cb) => store.getOne('s', cb))).to.deep.equal([null, 'str']);
        expect(await call('getOne miss', (cb) => store.getOne('nope', cb))).to.deep.equal([null, undefined]);
        expect(await call('has', (cb) => store.has({ kind: 'a', id: 1 }, cb))).to.deep.equal([null, true]);
        expect(await call('count', (cb) => store.count({ kind: 'a' }, cb))).to.deep.equal([null, 2]);
        expect(await call('keys()', (cb) => store.keys(cb))).to.deep.equal([null, [{ id: 1, kind: 'a' }, 's', { id: 2, kind: 'a' }]]);
        expect(await call('keys(glob)', (cb) => store.keys('s*', cb))).to.deep.equal([null, ['s']]);
        const [ttlErr, remaining] = await call('ttl', (cb) => store.ttl('s', cb));
        expect(ttlErr).to.equal(null);
        expect(remaining).to.be.a('number').within(1, 60000);
        expect(await call('ttl without expiry', (cb) => store.ttl({ id: 1, kind: 'a' }, cb))).to.deep.equal([null, null]);
        expect(await call('setStream', (cb) => store.setStream('blob', bytes('hello'), cb))).to.deep.equal([null, undefined]);
        expect(await call('setStream with options', (cb) => store.setStream('blob2', bytes('hi'), { ttl: 60000 }, cb))).to.deep.equal([
          null,
          undefined,
        ]);
        expect(await call('copy', (cb) => store.copy(other, cb))).to.deep.equal([null, 5]);
        const [statsErr, stats] = await call('stats', (cb) => store.stats(cb));
        expect(statsErr).to.equal(null);
        expect(stats).to.include({ items: 5 });
        expect(await call('del', (cb) => store.del({ kind: 'a' }, cb))).to.deep.equal([null, 2]);
        expect(await call('clear', (cb) => store.clear(cb))).to.deep.equal([null, undefined]);
        expect(await call('count after clear', (cb) => store.count({ kind: 'a' }, cb))).to.deep.equal([null, 0]);
        expect(await call('close', (cb) => store.close(cb))).to.deep.equal([null, undefined]);
        expect(await other.count({ kind: 'a' })).to.equal(2);
        await other.close();
      });
    }

    it('a failure calls back once with (err) carrying the code; no error event, no warning, no unhandled rejection', async function () {
      const store = Store.createStore() as Loose;
      const events: Error[] = [];
      store.on('error', (err: Error) => events.push(err));
      const capture = captureStoreWarnings();
      const unhandled = captureUnhandled();
      try {
        const [queryErr, ...rest] = await oneAsyncCall((cb) => store.get({ $where: 'this.a === 1' }, cb));
        expect(rest).to.deep.equal([]);
        expect(queryErr).to.be.instanceOf(Store.InvalidQueryError);
        expect((queryErr as Store.StoreError).code).to.equal('ERR_INVALID_QUERY');
        const [keyErr] = await oneAsyncCall((cb) => store.set({ $bad: 1 }, 1, cb));
        expect((keyErr as Store.StoreError).code).to.equal('ERR_INVALID_KEY');
        const [valueErr] = await oneAsyncCall((cb) => store.set('k', () => 1, cb));
        expect((valueErr as Store.StoreError).code).to.equal('ERR_INVALID_VALUE');
        const [ttlErr] = await oneAsyncCall((cb) => store.set('k', 1, { ttl: -1 }, cb));
        expect((ttlErr as Store.StoreError).code).to.equal('ERR_INVALID_ARGUMENT');
        await store.close();
        const [closedErr] = await oneAsyncCall((cb) => store.getOne('k', cb));
        expect((closedErr as Store.StoreError).code).to.equal('ERR_STORE_CLOSED');
        const [closedSetErr] = await oneAsyncCall((cb) => store.set('k', 1, cb));
        expect((closedSetErr as Store.StoreError).code).to.equal('ERR_STORE_CLOSED');
        await settleTurns();
        expect(events).to.deep.equal([]);
        expect(capture.warnings).to.deep.equal([]);
        expect(unhandled.reasons).to.deep.equal([]);
      } finally {
        capture.stop();
        unhandled.stop();
      }
    });

    it("createStore({ settings: { callbacks: 'result-first' } }) switches to memstorage's convention", async function () {
      const store = Store.createStore({ type: 'memory', settings: { callbacks: 'result-first' } }) as Loose;
      expect(store.callbackStyle).to.equal('result-first');
      expect(await oneAsyncCall((cb) => store.connect(cb))).to.deep.equal([true]);
      expect(await oneAsyncCall((cb) => store.set('x', 21, cb))).to.deep.equal([undefined]);
      expect(await oneAsyncCall((cb) => store.get('x', cb))).to.deep.equal([[21]]);
      await store.close();
    });

    it('the default factory is result-first unless told otherwise; a bad callbacks setting is a config error', function () {
      expect(Store({ type: 'memory' }).callbackStyle).to.equal('result-first');
      expect(Store().callbackStyle).to.equal('result-first');
      for (const bad of ['Node', 'promise', 1, true]) {
        let caught: unknown;
        try {
          Store({ type: 'memory', settings: { callbacks: bad as 'node' } });
        } catch (err) {
          caught = err;
        }
        expect(caught, `callbacks: ${String(bad)}`).to.be.instanceOf(Store.StoreConfigError);
        expect((caught as Store.StoreError).code).to.equal('ERR_STORE_CONFIG');
        expect((caught as Error).message).to.contain('callbacks');
      }
    });

    it('an exception thrown inside a node-style callback surfaces as uncaught and is not re-delivered', async function () {
      this.timeout(30000);
      const script = `
        const Store = require(${JSON.stringify(ROOT + '/index')});
        const report = { okCalls: 0, errCalls: 0, uncaught: [], errorEvents: 0 };
        process.on('uncaughtException', (e) => { report.uncaught.push(e.message); });
        const store = Store.createStore();
        store.on('error', () => { report.errorEvents++; });
        store.set('x', 21, (err) => {
          store.get('x', (err2, v) => { report.okCalls++; report.value = v; throw new Error('thrown after success'); });
          store.get({ $where: 'true' }, (err3) => { report.errCalls++; report.code = err3 && err3.code; throw new Error('thrown after failure'); });
        });
        setTimeout(() => { console.log(JSON.stringify(report)); }, 300);
      `;
      const result = await runChild(script);
      expect(result.timedOut).to.equal(false);
      const report = lastJson<{ okCalls: number; errCalls: number; uncaught: string[]; errorEvents: number; value: unknown; code: string }>(result);
      expect(report.okCalls).to.equal(1);
      expect(report.value).to.deep.equal([21]);
      expect(report.errCalls).to.equal(1);
      expect(report.code).to.equal('ERR_INVALID_QUERY');
      expect(report.uncaught.sort()).to.deep.equal(['thrown after failure', 'thrown after success']);
      expect(report.errorEvents).to.equal(0);
    });
  });

  describe('promises when no callback is given', function () {
    it('every method returns a promise of its result', async function () {
      const store = Store.createStore() as Loose;
      const other = Store.createStore() as Loose;
      const isPromise = (p: unknown) => expect(p).to.be.instanceOf(Promise);
      const p = (x: unknown) => {
        isPromise(x);
        return x as Promise<unknown>;
      };
      expect(await p(store.connect())).to.equal(undefined);
      expect(await p(store.set({ id: 1 }, 'one'))).to.equal(undefined);
      expect(await p(store.set('s', 'str', { ttl: 60000 }))).to.equal(undefined);
      expect(await p(store.setex('e', 'ex', 60))).to.equal(undefined);
      expect(await p(store.get({ id: 1 }))).to.deep.equal(['one']);
      expect(await p(store.get({ id: 1 }, { includeKey: true }))).to.deep.equal([{ key: { id: 1 }, val: 'one' }]);
      expect(await p(store.getOne('s'))).to.equal('str');
      expect(await p(store.has('e'))).to.equal(true);
      expect(await p(store.count({ id: 1 }))).to.equal(1);
      expect(await p(store.keys())).to.deep.equal([{ id: 1 }, 's', 'e']);
      expect(await p(store.ttl('e'))).to.be.a('number');
      expect(await p(store.setStream('blob', bytes('hello')))).to.equal(undefined);
      expect(await p(store.copy(other))).to.equal(4);
      expect(await p(store.stats())).to.include({ items: 4 });
      expect(await p(store.del({ id: 1 }))).to.equal(1);
      expect(await p(store.clear())).to.equal(undefined);
      expect(await p(store.getOrSet('g', () => 5))).to.equal(5);
      expect(await p(store.close())).to.equal(undefined);
      await other.close();
    });

    it('the default factory returns promises too when no callback is given', async function () {
      const store = Store({ type: 'memory' }) as Loose;
      const connected = store.connect();
      expect(connected).to.be.instanceOf(Promise);
      await connected;
      await store.set('x', 21);
      expect(await store.get('x')).to.deep.equal([21]);
      expect(await store.get('y')).to.deep.equal([]);
      await store.close();
    });

    it('failures reject with the typed error (and emit nothing)', async function () {
      // A failure the caller awaits is reported once, by the rejection. A result-first store may
      // report failures of promises nobody observes (legacy fire-and-forget calls, see
      // memstorage-compat.test.ts) as 'error' or a warning, but an awaited rejection must not
      // also become an event or a process warning: every handled bad query would be reported twice.
      const store = Store({ type: 'memory' }) as Loose;
      const events: Error[] = [];
      store.on('error', (err: Error) => events.push(err));
      expect((await failureOf(() => store.get({ $where: '1' }))).code).to.equal('ERR_INVALID_QUERY');
      expect((await failureOf(() => store.set('', 1))).code).to.equal('ERR_INVALID_KEY');
      // Every way of observing a promise counts: then/catch/finally, Promise.all, returning it from an async function.
      const observedForms: Array<[string, () => Promise<unknown>]> = [
        ['.catch', () => store.get({ $where: '1' }).catch((e: Error) => e)],
        ['.then(_, onRejected)', () => store.del({ $bad: 1 }).then(undefined, (e: Error) => e)],
        ['.finally().catch', () => store.set('', 1).finally(() => undefined).catch((e: Error) => e)],
        ['Promise.all', () => Promise.all([store.set('ok', 1), store.count({ $nope: 1 })]).catch((e: Error) => e)],
        ['Promise.allSettled', () => Promise.allSettled([store.getOne('')])],
        ['returned from an async function', () => (async () => store.keys({ $where: '1' }))().catch((e: Error) => e)],
      ];
      for (const [, form] of observedForms) await form();
      await store.close();
      expect((await failureOf(() => store.get('x'))).code).to.equal('ERR_STORE_CLOSED');
      await settleTurns(20);
      expect(events).to.deep.equal([]);
    });

    it('an explicit undefined in the callback position means no callback: a promise', async function () {
      const store = Store.createStore() as Loose;
      const other = Store.createStore() as Loose;
      expect(await store.connect(undefined)).to.equal(undefined);
      expect(await store.set('a', 1, undefined)).to.equal(undefined);
      expect(await store.set('b', 2, { ttl: 60000 }, undefined)).to.equal(undefined);
      expect(await store.setex('c', 3, 60, undefined)).to.equal(undefined);
      expect(await store.get('a', undefined)).to.deep.equal([1]);
      expect(await store.get('a', { limit: 1 }, undefined)).to.deep.equal([1]);
      expect(await store.getOne('a', undefined)).to.equal(1);
      expect(await store.has('a', undefined)).to.equal(true);
      expect(await store.count('a', undefined)).to.equal(1);
      expect(await store.keys('a*', undefined)).to.deep.equal(['a']);
      expect(await store.ttl('a', undefined)).to.equal(null);
      expect(await store.setStream('s', bytes('x'), {}, undefined)).to.equal(undefined);
      expect(await store.copy(other, undefined)).to.equal(4);
      expect(await store.stats(undefined)).to.include({ items: 4 });
      expect(await store.del('a', undefined)).to.equal(1);
      expect(await store.clear(undefined)).to.equal(undefined);
      expect(await store.close(undefined)).to.equal(undefined);
      await other.close();
    });
  });

  describe('a non-function in the callback position', function () {
    const notFunctions: Array<[string, unknown]> = [
      ['a string', 'callback'],
      ['a number', 42],
      ['true', true],
      ['an object', { call: () => undefined }],
    ];

    // [method, call with `bad` in the callback position, what must be unchanged afterwards]
    const calls: Array<[string, (store: Loose, other: Loose, bad: unknown) => unknown]> = [
      ['connect', (s, _o, bad) => s.connect(bad)],
      ['close', (s, _o, bad) => s.close(bad)],
      ['set(key, value, options, cb)', (s, _o, bad) => s.set('new', 1, {}, bad)],
      ['set(key, value, { ttl }, cb)', (s, _o, bad) => s.set('new', 1, { ttl: 1000 }, bad)],
      ['setex', (s, _o, bad) => s.setex('new', 1, 10, bad)],
      ['get(query, options, cb)', (s, _o, bad) => s.get('a', {}, bad)],
      ['getOne', (s, _o, bad) => s.getOne('a', bad)],
      ['has', (s, _o, bad) => s.has('a', bad)],
      ['del', (s, _o, bad) => s.del('a', bad)],
      ['count', (s, _o, bad) => s.count('a', bad)],
      ['keys(pattern, cb)', (s, _o, bad) => s.keys('*', bad)],
      ['ttl', (s, _o, bad) => s.ttl('a', bad)],
      ['clear', (s, _o, bad) => s.clear(bad)],
      ['copy', (s, o, bad) => s.copy(o, bad)],
      ['setStream(key, source, options, cb)', (s, _o, bad) => s.setStream('new', bytes('x'), {}, bad)],
      ['stats', (s, _o, bad) => s.stats(bad)],
    ];

    for (const [factoryName, make] of [
      ['createStore()', () => Store.createStore()],
      ["Store({ type: 'memory' })", () => Store({ type: 'memory' })],
    ] as Array<[string, () => Store.BaseStore]>) {
      for (const [method, call] of calls) {
        it(`${factoryName} ${method}: InvalidArgumentError (ERR_INVALID_ARGUMENT), nothing done, the store still works`, async function () {
          const store = make() as Loose;
          const other = Store.createStore() as Loose;
          await store.set('a', 'A');
          const events: Error[] = [];
          store.on('error', (err: Error) => events.push(err));
          for (const [label, bad] of notFunctions) {
            const err = await failureOf(() => call(store, other, bad));
            expect(err, `${method} with ${label}`).to.be.instanceOf(Store.InvalidArgumentError);
            expect(err.code, `${method} with ${label}`).to.equal('ERR_INVALID_ARGUMENT');
          }
          await settleTurns();
          // Nothing was done: no write, no delete, no clear, no copy, no close.
          expect(await store.keys()).to.deep.equal(['a']);
          expect(await store.getOne('a')).to.equal('A');
          expect(await other.count('a')).to.equal(0);
          await store.set('b', 'B');
          expect(await store.get('b')).to.deep.equal(['B']);
          expect(events, 'a misuse rejected to the caller is not also an error event').to.deep.equal([]);
          await store.close();
          await other.close();
        });
      }
    }
  });
});
