/**
 * memstorage 0.5.3 compatibility (issue 2, item 4): every behaviour is exercised the way legacy
 * code calls it — the default export as a factory, `connect` first, result-first callbacks
 * nested one inside the other — and the failure path of SPEC §5.
 */
import { expect } from 'chai';
import { oneAsyncCall, captureStoreWarnings, settleTurns, AnyCallback } from './support/memory-callbacks';
import { runChild, lastJson, ROOT } from './support/memory-child';

// Exactly the legacy require line: the package's default export is the factory itself.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Store = require('../index');

/** A legacy-style store: `Store({ type: 'memory', settings })`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function legacyStore(settings?: Record<string, unknown>): any {
  return Store(settings === undefined ? { type: 'memory' } : { type: 'memory', settings });
}

/** The three people of memstorage's own '#nested' tests, set one after the other. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function setPeople(test: any, done: () => void): void {
  test.set({ name: { first: 'Anna', last: 'Apple' }, hair: 'red', awesome: true }, { email: 'anna@apple.com' }, function () {
    test.set({ name: { first: 'Benjamin', last: 'Banana' }, hair: 'green', awesome: true }, { email: 'ben@banana.com' }, function () {
      test.set({ name: { first: 'Arthur', last: 'Apple' }, hair: 'green', awesome: false }, { email: 'arthur@apple.com' }, function () {
        done();
      });
    });
  });
}

describe('memstorage 0.5.3 compatibility (default export, result-first callbacks)', function () {
  describe('factory and connect', function () {
    it('require(...) is the factory: Store({ type: "memory" }) and Store() give memory stores', function () {
      expect(Store).to.be.a('function');
      expect(legacyStore()).to.be.instanceOf(Store.MemoryStore);
      expect(Store()).to.be.instanceOf(Store.MemoryStore);
    });

    it('new Store() works as in memstorage\'s README ("var passports = new Store()")', function (done) {
      const passports = new Store();
      expect(passports).to.be.instanceOf(Store.MemoryStore);
      const passport = { id: 'abcdef' };
      passports.connect(function () {
        passports.set({ name: 'Leander', age: 20 }, passport, function () {
          passports.get({ name: 'Leander' }, function (v: unknown) {
            expect(v).to.deep.equal([passport]);
            passports.del({ age: 20 }, function () {
              passports.get({ name: 'Leander' }, function (w: unknown) {
                expect(w).to.deep.equal([]);
                expect(new Store({ type: 'memory' })).to.be.instanceOf(Store.MemoryStore);
                done();
              });
            });
          });
        });
      });
    });

    it('the type is case-insensitive, as memstorage lowercased it: "Memory", "MEMORY"', function () {
      expect(Store({ type: 'Memory' })).to.be.instanceOf(Store.MemoryStore);
      expect(Store({ type: 'MEMORY', settings: { nullOnMiss: true } })).to.be.instanceOf(Store.MemoryStore);
    });

    it('connect(cb) calls back with true, once, asynchronously', async function () {
      const test = legacyStore();
      const args = await oneAsyncCall((cb) => test.connect(cb), 'connect callback');
      expect(args).to.deep.equal([true]);
    });

    it('operations work without connect (the first one connects)', function (done) {
      const test = legacyStore();
      test.set('x', 21, function () {
        test.get('x', function (v: unknown) {
          expect(v).to.deep.equal([21]);
          done();
        });
      });
    });
  });

  describe('get', function () {
    it('string keys: set("x", 21) then get("x") gives [21]', function (done) {
      const test = legacyStore();
      test.connect(function () {
        test.set('x', 21, function () {
          test.get('x', function (v: unknown) {
            expect(v).to.deep.equal([21]);
            done();
          });
        });
      });
    });

    it('returns an array of every value whose key matches, in creation order', function (done) {
      const test = legacyStore();
      test.connect(function () {
        test.set({ first: 'Anna', last: 'Apple' }, { email: 'anna@apple.com' }, function () {
          test.set({ first: 'Samantha', last: 'Apple' }, { email: 'arthur@apple.com' }, function () {
            test.set({ first: 'Carl', last: 'Cherry' }, { email: 'carl@cherry.com' }, function () {
              test.get({ last: 'Apple' }, function (v: unknown) {
                expect(v).to.deep.equal([{ email: 'anna@apple.com' }, { email: 'arthur@apple.com' }]);
                done();
              });
            });
          });
        });
      });
    });

    it('matches numbers by value', function (done) {
      const test = legacyStore();
      test.connect(function () {
        test.set({ first: 'Anna', age: 20 }, { email: 'anna@apple.com' }, function () {
          test.set({ first: 'Samantha', age: 20 }, { email: 'arthur@apple.com' }, function () {
            test.set({ first: 'Tom', age: 21 }, { email: 'tom@apple.com' }, function () {
              test.get({ age: 20 }, function (v: unknown) {
                expect(v).to.deep.equal([{ email: 'anna@apple.com' }, { email: 'arthur@apple.com' }]);
                done();
              });
            });
          });
        });
      });
    });

    it('nested partial key queries: { name: { last: "Apple" } } matches every Apple', function (done) {
      const test = legacyStore();
      test.connect(function () {
        setPeople(test, function () {
          test.get({ name: { last: 'Apple' } }, function (v: unknown) {
            expect(v).to.deep.equal([{ email: 'anna@apple.com' }, { email: 'arthur@apple.com' }]);
            done();
          });
        });
      });
    });

    it('nested partial queries combine with other fields, in either field order', function (done) {
      const test = legacyStore();
      test.connect(function () {
        setPeople(test, function () {
          test.get({ name: { last: 'Apple' }, hair: 'green' }, function (v: unknown) {
            expect(v).to.deep.equal([{ email: 'arthur@apple.com' }]);
            test.get({ hair: 'green', name: { last: 'Apple' } }, function (w: unknown) {
              expect(w).to.deep.equal([{ email: 'arthur@apple.com' }]);
              done();
            });
          });
        });
      });
    });

    it('matches booleans, alone and with other fields', function (done) {
      const test = legacyStore();
      test.connect(function () {
        setPeople(test, function () {
          test.get({ awesome: true }, function (v: unknown) {
            expect(v).to.deep.equal([{ email: 'anna@apple.com' }, { email: 'ben@banana.com' }]);
            test.get({ awesome: true, hair: 'green' }, function (w: unknown) {
              expect(w).to.deep.equal([{ email: 'ben@banana.com' }]);
              done();
            });
          });
        });
      });
    });

    it('a miss gives [] (no match, a partly matching query, an unknown string key)', function (done) {
      const test = legacyStore();
      test.connect(function () {
        test.set({ first: 'Anna', age: 20 }, { email: 'anna@apple.com' }, function () {
          test.get({ first: 'Tom' }, function (v: unknown) {
            expect(v).to.deep.equal([]);
            test.get({ first: 'Anna', age: 21 }, function (w: unknown) {
              expect(w).to.deep.equal([]);
              test.get('nosuchkey', function (x: unknown) {
                expect(x).to.deep.equal([]);
                done();
              });
            });
          });
        });
      });
    });

    it('the empty query {} matches nothing', function (done) {
      const test = legacyStore();
      test.connect(function () {
        test.set({ first: 'Anna', last: 'Apple' }, { email: 'anna@apple.com' }, function () {
          test.get({}, function (v: unknown) {
            expect(v).to.deep.equal([]);
            done();
          });
        });
      });
    });

    it('nullOnMiss: a miss gives null, a hit still gives the array', function (done) {
      const test = legacyStore({ nullOnMiss: true });
      test.connect(function () {
        test.set({ id: 1 }, 'one', function () {
          test.get({ id: 2 }, function (v: unknown) {
            expect(v).to.equal(null);
            test.get({}, function (w: unknown) {
              expect(w).to.equal(null);
              test.get({ id: 1 }, function (x: unknown) {
                expect(x).to.deep.equal(['one']);
                done();
              });
            });
          });
        });
      });
    });

    it('includeKey: get gives { key, val } for object and string keys', function (done) {
      const test = legacyStore({ includeKey: true });
      test.connect(function () {
        test.set({ name: { first: 'Anna', last: 'Apple' }, age: 20 }, { email: 'anna@apple.com' }, function () {
          test.set('x', 21, function () {
            test.get({ name: { last: 'Apple' } }, function (v: unknown) {
              expect(v).to.deep.equal([{ key: { name: { first: 'Anna', last: 'Apple' }, age: 20 }, val: { email: 'anna@apple.com' } }]);
              test.get('x', function (w: unknown) {
                expect(w).to.deep.equal([{ key: 'x', val: 21 }]);
                done();
              });
            });
          });
        });
      });
    });

    it('includeKey as a get option on a store without the setting', function (done) {
      const test = legacyStore();
      test.set({ id: 7 }, 'seven', function () {
        test.get({ id: 7 }, { includeKey: true }, function (v: unknown) {
          expect(v).to.deep.equal([{ key: { id: 7 }, val: 'seven' }]);
          test.get({ id: 7 }, function (w: unknown) {
            expect(w).to.deep.equal(['seven']);
            done();
          });
        });
      });
    });
  });

  describe('set', function () {
    it('a repeated set of the same key overwrites: one entry, the last value', function (done) {
      const test = legacyStore();
      test.connect(function () {
        test.set({ venue: 'venue1', origin: 'test', destination: 'test' }, { foo: 'bar1' }, function () {
          test.set({ venue: 'venue1', origin: 'test', destination: 'test' }, { foo: 'bar2' }, function () {
            test.get({ venue: 'venue1', origin: 'test', destination: 'test' }, function (v: unknown) {
              expect(v).to.deep.equal([{ foo: 'bar2' }]);
              done();
            });
          });
        });
      });
    });

    it('a key whose value is also the query overwrites ({ foo: "bar1" })', function (done) {
      const test = legacyStore();
      test.connect(function () {
        test.set({ foo: 'bar1' }, { foo: 'bar1' }, function () {
          test.get({ foo: 'bar1' }, function (v: unknown) {
            expect(v).to.deep.equal([{ foo: 'bar1' }]);
            test.set({ foo: 'bar1' }, { foo: 'bar2' }, function () {
              test.get({ foo: 'bar1' }, function (w: unknown) {
                expect(w).to.deep.equal([{ foo: 'bar2' }]);
                done();
              });
            });
          });
        });
      });
    });

    it('the same key in another field order (also nested) overwrites the first', function (done) {
      const test = legacyStore();
      test.connect(function () {
        test.set({ a: 1, b: 2, name: { first: 'Anna', last: 'Apple' } }, 'first', function () {
          test.set({ name: { last: 'Apple', first: 'Anna' }, b: 2, a: 1 }, 'second', function () {
            test.get({ a: 1 }, function (v: unknown) {
              expect(v).to.deep.equal(['second']);
              test.get({ b: 2, name: { first: 'Anna' } }, function (w: unknown) {
                expect(w).to.deep.equal(['second']);
                done();
              });
            });
          });
        });
      });
    });

    it('a repeated set of a string key overwrites', function (done) {
      const test = legacyStore();
      test.set('x', 21, function () {
        test.set('x', 22, function () {
          test.get('x', function (v: unknown) {
            expect(v).to.deep.equal([22]);
            done();
          });
        });
      });
    });
  });

  describe('del', function () {
    it('removes every match (memstorage "#del")', function (done) {
      const test = legacyStore();
      test.connect(function () {
        test.set({ first: 'Anna', age: 20 }, { email: 'anna@domain.com' }, function () {
          test.set({ first: 'Ben', age: 20 }, { email: 'ben@domain.com' }, function () {
            test.set({ first: 'Carl', age: 21 }, { email: 'carl@domain.com' }, function () {
              test.get({ age: 20 }, function (v: unknown) {
                expect(v).to.deep.equal([{ email: 'anna@domain.com' }, { email: 'ben@domain.com' }]);
                test.del({ first: 'Anna' }, function () {
                  test.get({ age: 20 }, function (w: unknown) {
                    expect(w).to.deep.equal([{ email: 'ben@domain.com' }]);
                    done();
                  });
                });
              });
            });
          });
        });
      });
    });

    it('removes every match and nothing else (memstorage "#del advanced 1")', function (done) {
      const test = legacyStore();
      test.connect(function () {
        test.set({ kind: 'person', first: 'Anna', age: 20 }, { email: 'anna@domain.com' }, function () {
          test.set({ kind: 'person', first: 'Ben', age: 20 }, { email: 'ben@domain.com' }, function () {
            test.set({ kind: 'person', first: 'Carl', age: 21 }, { email: 'carl@domain.com' }, function () {
              test.set({ kind: 'person', first: 'Dan' }, { email: 'dan@domain.com' }, function () {
                test.del({ age: 20 }, function () {
                  test.get({ kind: 'person' }, function (v: unknown) {
                    expect(v).to.deep.equal([{ email: 'carl@domain.com' }, { email: 'dan@domain.com' }]);
                    done();
                  });
                });
              });
            });
          });
        });
      });
    });

    it('a query that matches in some fields only deletes nothing (memstorage "#del advanced 2")', function (done) {
      const test = legacyStore();
      test.connect(function () {
        test.set({ venue: 'venue1', origin: 'test', destination: 'test' }, { foo: 'bar' }, function () {
          test.del({ venue: 'venue1', origin: 'faux', destination: 'test' }, function () {
            test.get({ venue: 'venue1', origin: 'test', destination: 'test' }, function (v: unknown) {
              expect(v).to.deep.equal([{ foo: 'bar' }]);
              done();
            });
          });
        });
      });
    });

    it('a query on a field no key has deletes nothing (memstorage "#del nonexist")', function (done) {
      const test = legacyStore();
      test.connect(function () {
        test.set({ kind: 'person', first: 'Anna', age: 20 }, { email: 'anna@domain.com' }, function () {
          test.set({ kind: 'person', first: 'Ben', age: 20 }, { email: 'ben@domain.com' }, function () {
            test.del({ foo: 20 }, function () {
              test.get({ kind: 'person' }, function (v: unknown) {
                expect(v).to.deep.equal([{ email: 'anna@domain.com' }, { email: 'ben@domain.com' }]);
                done();
              });
            });
          });
        });
      });
    });

    it('del({}) deletes nothing; del("x") deletes the string key only', function (done) {
      const test = legacyStore();
      test.set('x', 1, function () {
        test.set('xy', 2, function () {
          test.set({ x: 1 }, 3, function () {
            test.del({}, function () {
              test.del('x', function () {
                test.get('x', function (v: unknown) {
                  expect(v).to.deep.equal([]);
                  test.get('xy', function (w: unknown) {
                    expect(w).to.deep.equal([2]);
                    test.get({ x: 1 }, function (y: unknown) {
                      expect(y).to.deep.equal([3]);
                      done();
                    });
                  });
                });
              });
            });
          });
        });
      });
    });
  });

  describe('copy', function () {
    it('copy(otherStore) copies every entry; the source keeps them', function (done) {
      const source = legacyStore();
      const target = legacyStore();
      source.connect(function () {
        target.connect(function () {
          source.set({ first: 'Anna', age: 20 }, { email: 'anna@domain.com' }, function () {
            source.set({ first: 'Ben', age: 20 }, { email: 'ben@domain.com' }, function () {
              source.set('x', 21, function () {
                source.copy(target, function () {
                  target.get({ age: 20 }, function (v: unknown) {
                    expect(v).to.deep.equal([{ email: 'anna@domain.com' }, { email: 'ben@domain.com' }]);
                    target.get('x', function (w: unknown) {
                      expect(w).to.deep.equal([21]);
                      source.get({ age: 20 }, function (y: unknown) {
                        expect(y).to.deep.equal([{ email: 'anna@domain.com' }, { email: 'ben@domain.com' }]);
                        done();
                      });
                    });
                  });
                });
              });
            });
          });
        });
      });
    });

    it('copy overwrites the same keys in the target and leaves its other entries', function (done) {
      const source = legacyStore();
      const target = legacyStore();
      source.set({ id: 1 }, 'new', function () {
        target.set({ id: 1 }, 'old', function () {
          target.set({ id: 2 }, 'kept', function () {
            source.copy(target, function () {
              target.get({ id: 1 }, function (v: unknown) {
                expect(v).to.deep.equal(['new']);
                target.get({ id: 2 }, function (w: unknown) {
                  expect(w).to.deep.equal(['kept']);
                  done();
                });
              });
            });
          });
        });
      });
    });
  });

  describe('failure path', function () {
    // A closed store is the memory store's dependable failure: every operation fails with ERR_STORE_CLOSED.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async function closedStore(settings?: Record<string, unknown>): Promise<any> {
      const test = legacyStore(settings);
      await oneAsyncCall((cb) => test.connect(cb));
      await oneAsyncCall((cb) => test.close(cb));
      return test;
    }

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    type LegacyStore = any;
    const cases: Array<{ method: string; call: (store: LegacyStore, cb: AnyCallback) => void; failure: unknown; settings?: Record<string, unknown> }> = [
      { method: 'connect', call: (s, cb) => s.connect(cb), failure: false },
      { method: 'set', call: (s, cb) => s.set('x', 21, cb), failure: false },
      { method: 'get', call: (s, cb) => s.get({ age: 20 }, cb), failure: [] },
      { method: 'get (nullOnMiss)', call: (s, cb) => s.get({ age: 20 }, cb), failure: null, settings: { nullOnMiss: true } },
      { method: 'del', call: (s, cb) => s.del({ age: 20 }, cb), failure: 0 },
      { method: 'setex', call: (s, cb) => s.setex('x', 21, 10, cb), failure: false },
      { method: 'getOne', call: (s, cb) => s.getOne('x', cb), failure: undefined },
      { method: 'has', call: (s, cb) => s.has('x', cb), failure: false },
      { method: 'count', call: (s, cb) => s.count({ age: 20 }, cb), failure: 0 },
      { method: 'keys', call: (s, cb) => s.keys('*', cb), failure: [] },
      { method: 'ttl', call: (s, cb) => s.ttl('x', cb), failure: undefined },
      { method: 'clear', call: (s, cb) => s.clear(cb), failure: false },
      { method: 'copy', call: (s, cb) => s.copy(legacyStore(), cb), failure: 0 },
      { method: 'stats', call: (s, cb) => s.stats(cb), failure: false },
    ];

    for (const c of cases) {
      it(`${c.method}: the callback gets memstorage's failure value once, asynchronously, and 'error' is emitted`, async function () {
        const test = await closedStore(c.settings);
        const errors: Array<Error & { code?: string }> = [];
        test.on('error', (err: Error) => errors.push(err));
        const args = await oneAsyncCall((cb) => c.call(test, cb), `${c.method} callback`);
        expect(args).to.deep.equal([c.failure]);
        expect(errors).to.have.length(1);
        expect(errors[0]).to.be.instanceOf(Store.StoreError);
        expect(errors[0].code).to.equal('ERR_STORE_CLOSED');
      });
    }

    it('invalid input also fails through the callback and the error event, and the store keeps working', async function () {
      const test = legacyStore();
      const errors: Array<Error & { code?: string }> = [];
      test.on('error', (err: Error) => errors.push(err));
      expect(await oneAsyncCall((cb) => test.set(undefined, 1, cb))).to.deep.equal([false]);
      expect(await oneAsyncCall((cb) => test.set('k', undefined, cb))).to.deep.equal([false]);
      expect(await oneAsyncCall((cb) => test.get({ $where: 'this.a === 1' }, cb))).to.deep.equal([[]]);
      expect(await oneAsyncCall((cb) => test.del({ a: { $nosuch: 1 } }, cb))).to.deep.equal([0]);
      expect(errors.map((e) => e.code)).to.deep.equal(['ERR_INVALID_KEY', 'ERR_INVALID_VALUE', 'ERR_INVALID_QUERY', 'ERR_INVALID_QUERY']);
      expect(await oneAsyncCall((cb) => test.set('k', 1, cb))).to.deep.equal([undefined]);
      expect(await oneAsyncCall((cb) => test.get('k', cb))).to.deep.equal([[1]]);
      expect(await oneAsyncCall((cb) => test.get('nothing', cb))).to.deep.equal([[]]);
    });

    it('with no error listener the failure becomes a process warning, never a crash', async function () {
      const test = await closedStore();
      expect(test.listenerCount('error')).to.equal(0);
      const capture = captureStoreWarnings();
      try {
        const args = await oneAsyncCall((cb) => test.get({ age: 20 }, cb));
        expect(args).to.deep.equal([[]]);
        const setArgs = await oneAsyncCall((cb) => test.set('x', 1, cb));
        expect(setArgs).to.deep.equal([false]);
        await settleTurns();
        expect(capture.warnings.map((w) => w.code)).to.deep.equal(['ERR_STORE_CLOSED', 'ERR_STORE_CLOSED']);
      } finally {
        capture.stop();
      }
    });

    it('a successful operation emits no error and no warning', async function () {
      const test = legacyStore();
      const errors: Error[] = [];
      test.on('error', (err: Error) => errors.push(err));
      const capture = captureStoreWarnings();
      try {
        await oneAsyncCall((cb) => test.set('x', 1, cb));
        expect(await oneAsyncCall((cb) => test.get('x', cb))).to.deep.equal([[1]]);
        await settleTurns();
        expect(errors).to.deep.equal([]);
        expect(capture.warnings).to.deep.equal([]);
      } finally {
        capture.stop();
      }
    });
  });

  describe('calls without a callback (memstorage made every callback optional)', function () {
    this.timeout(30000);

    it('a fire-and-forget call that fails never crashes the process: the failure goes to error / a warning', async function () {
      const script = `
        const Store = require(${JSON.stringify(ROOT + '/index')});
        const report = { warnings: [], errors: [] };
        process.on('warning', (w) => { if (w.name === 'StoreWarning') report.warnings.push(w.code); });
        const quiet = Store({ type: 'memory' });
        quiet.set('x', undefined);          // memstorage stored this; here it is an InvalidValueError
        quiet.get({ $where: 'true' });      // an InvalidQueryError, result ignored
        const listened = Store({ type: 'memory' });
        listened.on('error', (err) => { report.errors.push(err.code); });
        listened.set(undefined, 1);
        listened.del({ a: { $nosuch: 1 } });
        quiet.set('ok', 1);
        setTimeout(() => {
          quiet.get('ok', (v) => {
            report.value = v;
            report.alive = true;
            console.log(JSON.stringify(report));
          });
        }, 200);
      `;
      const result = await runChild(script);
      expect(result.timedOut).to.equal(false);
      expect(result.code, result.stderr).to.equal(0);
      const report = lastJson<{ warnings: string[]; errors: string[]; value: unknown; alive: boolean }>(result);
      expect(report.alive).to.equal(true);
      expect(report.value).to.deep.equal([1]);
      expect(report.warnings).to.deep.equal(['ERR_INVALID_VALUE', 'ERR_INVALID_QUERY']);
      expect(report.errors).to.deep.equal(['ERR_INVALID_KEY', 'ERR_INVALID_QUERY']);
    });
  });

  describe('an exception thrown inside a callback', function () {
    this.timeout(30000);

    it('surfaces as uncaught; it is not caught, re-delivered, or turned into a store error', async function () {
      const script = `
        const Store = require(${JSON.stringify(ROOT + '/index')});
        const report = { okCalls: 0, failCalls: 0, uncaught: [], errorEvents: 0, warnings: 0 };
        process.on('uncaughtException', (e) => { report.uncaught.push(e.message); });
        process.on('warning', (w) => { if (w.name === 'StoreWarning') report.warnings++; });
        const test = Store({ type: 'memory' });
        const closed = Store({ type: 'memory' });
        test.on('error', () => { report.errorEvents++; });
        closed.on('error', () => { report.errorEvents++; });
        test.connect(() => {
          test.set('x', 21, () => {
            test.get('x', (v) => { report.okCalls++; report.value = v; throw new Error('thrown by a success callback'); });
          });
        });
        closed.close(() => {
          closed.get({ a: 1 }, (v) => { report.failCalls++; report.failValue = v; throw new Error('thrown by a failure callback'); });
        });
        setTimeout(() => { console.log(JSON.stringify(report)); }, 300);
      `;
      const result = await runChild(script);
      expect(result.timedOut).to.equal(false);
      const report = lastJson<{ okCalls: number; failCalls: number; uncaught: string[]; errorEvents: number; warnings: number; value: unknown; failValue: unknown }>(result);
      expect(report.okCalls, 'the success callback runs once').to.equal(1);
      expect(report.value).to.deep.equal([21]);
      expect(report.failCalls, 'the failure callback runs once').to.equal(1);
      expect(report.failValue).to.deep.equal([]);
      expect(report.uncaught.sort()).to.deep.equal(['thrown by a failure callback', 'thrown by a success callback']);
      // One error event: the closed store's own failure. The thrown exceptions are not re-delivered as store errors.
      expect(report.errorEvents).to.equal(1);
      expect(report.warnings).to.equal(0);
      expect(result.code).to.equal(0);
    });

    it('an error listener that throws does not stop the callback: it still runs once with the failure value', async function () {
      const script = `
        const Store = require(${JSON.stringify(ROOT + '/index')});
        const report = { calls: 0, surfaced: [] };
        process.on('uncaughtException', (e) => { report.surfaced.push(e.message); });
        process.on('unhandledRejection', (e) => { report.surfaced.push(e && e.message); });
        const test = Store({ type: 'memory' });
        test.on('error', () => { throw new Error('thrown by an error listener'); });
        test.close(() => {
          test.get({ a: 1 }, (v) => { report.calls++; report.value = v; });
        });
        setTimeout(() => { console.log(JSON.stringify(report)); }, 300);
      `;
      const result = await runChild(script);
      expect(result.timedOut).to.equal(false);
      const report = lastJson<{ calls: number; value: unknown; surfaced: string[] }>(result);
      expect(report.calls, 'the callback runs once').to.equal(1);
      expect(report.value).to.deep.equal([]);
      expect(report.surfaced, "the listener's exception is not swallowed").to.deep.equal(['thrown by an error listener']);
    });

    it('with no uncaughtException handler it ends the process like any uncaught exception', async function () {
      const script = `
        const Store = require(${JSON.stringify(ROOT + '/index')});
        const test = Store({ type: 'memory' });
        test.set('x', 21, () => {
          test.get('x', () => { throw new Error('legacy callback bug'); });
        });
        setTimeout(() => { console.log('still running'); }, 2000);
      `;
      const result = await runChild(script);
      expect(result.timedOut).to.equal(false);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain('legacy callback bug');
      expect(result.stdout).not.to.contain('still running');
    });
  });
});
