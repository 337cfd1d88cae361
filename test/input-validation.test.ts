/**
 * Regression tests for the input layer (issue #10 findings 4, 5 and 8; SPEC §3, §12): key
 * identity that no crafted key can confuse, lone surrogates and sparse arrays refused in keys,
 * accessors and Proxies turned into typed errors (and never read twice), query depth bounds that
 * cover `$not`/`$elemMatch` chains and operands, the `$in` length bound, and bad globs.
 *
 * Field names are unique per test (the field-plan cache is process-wide, so a shape another
 * test already used could hide a poisoning bug).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { keyId, normalizeKey, MAX_KEY_DEPTH as KEYS_MAX_KEY_DEPTH } from '../lib/keys';
import { checkValue, MAX_VALUE_DEPTH as VALUES_MAX_VALUE_DEPTH } from '../lib/values';
import { compileGlob, compileQuery, QuerySelector } from '../lib/query';
import { MAX_KEY_DEPTH, MAX_QUERY_DEPTH, MAX_QUERY_LIST_LENGTH, MAX_VALUE_DEPTH } from '../lib/limits';
import { StoreError } from '../lib/errors';
import { MemoryStore } from '../lib/backends/memory';

/** The StoreError `fn` throws (fails the test when it throws nothing or something else). */
function thrown(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (err) {
    expect(err, `expected a StoreError, got ${String(err)}`).to.be.instanceOf(StoreError);
    return err as StoreError;
  }
  expect.fail('expected a throw');
}

const badKey = (key: unknown) => expect(thrown(() => keyId(key)).code).to.equal('ERR_INVALID_KEY');
const badNormalizedKey = (key: unknown) => expect(thrown(() => normalizeKey(key)).code).to.equal('ERR_INVALID_KEY');
const badQuery = (query: unknown) => expect(thrown(() => compileQuery(query)).code).to.equal('ERR_INVALID_QUERY');
const badValue = (value: unknown) => thrown(() => checkValue(value));

/** `{ [name]: { [name]: ... inner } }`, `depth` levels. */
function nest(depth: number, name: string, inner: unknown): unknown {
  let out = inner;
  for (let i = 0; i < depth; i++) out = { [name]: out };
  return out;
}

describe('input validation (issue #10)', () => {
  describe('finding 4: key identity after crafted field names', () => {
    it('a field name holding NUL cannot merge two field lists in the shape cache', () => {
      expect(() => keyId({ 'f4b\u0000f4a': 1 })).to.throw(StoreError); // NUL is refused in field names
      expect(keyId({ f4b: 1, f4a: 2 })).to.equal(keyId({ f4a: 2, f4b: 1 }));
      expect(keyId({ f4b: 1, f4a: 2 })).to.equal(normalizeKey({ f4a: 2, f4b: 1 }).id);
    });

    it('a crafted one-field key does not let a $-field through later', () => {
      badKey({ 'f4ok\u0000$bad': 1 });
      badKey({ f4ok: 1, $bad: 2 });
    });

    it('a crafted one-field key does not let a __proto__ field through later', () => {
      badKey({ 'f4p\u0000__proto__': 1 });
      badKey(JSON.parse('{"f4p":1,"__proto__":2}'));
    });

    it('the poisoning does not work in the other order either', () => {
      expect(keyId({ f4d: 1, f4c: 2 })).to.equal('\u0000{"f4c":2,"f4d":1}');
      badKey({ 'f4d\u0000f4c': 1 });
      expect(keyId({ f4c: 2, f4d: 1 })).to.equal('\u0000{"f4c":2,"f4d":1}');
    });

    it('the fast path and the full path give the same id for odd but valid shapes', () => {
      const shapes: Array<Record<string, unknown>> = [
        { '1': 'a', b: 2 },
        { b: 2, '10': true, '2': 'x' },
        { toString: 'x', hasOwnProperty: 1, length: 0 },
        { 'é': 'ü', '😀': '👍', a: '\u2028' },
        { a: -0, b: 1e21, c: 5e-324, d: '"\\' },
      ];
      for (const shape of shapes) {
        // Sorted by UTF-16 code units, integer-like names too ("10" < "2" < "b").
        const sorted = Object.entries(shape).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        const full = '\u0000{' + sorted.map(([f, v]) => JSON.stringify(f) + ':' + JSON.stringify(v)).join(',') + '}';
        expect(keyId(shape), JSON.stringify(shape)).to.equal(full);
        expect(normalizeKey(shape).id).to.equal(full);
      }
    });

    it('the fast path gives the full path\'s id for any flat key of scalars, the same plan reused across keys (fast-check)', () => {
      // Field names include integer-like and odd ones; strings mix text JSON must escape (quotes,
      // backslashes, controls) with text it leaves alone (U+2028, DEL, astral), so both ways the
      // fast path writes a string are compared, one key after another on a shared plan.
      const name = fc.constantFrom('a', 'b', 'id', '10', '2', 'é', '😀', 'toString', 'length', 'x y', 'q"', 'back\\slash');
      const text = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', '"', '\\', '\n', '\u0001', '\u001f', '\u007f', '\u2028', 'é', '😀'), maxLength: 8 });
      const scalar = fc.oneof(text, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean(), fc.constant(-0));
      // Keys of one field list share a plan (and its pieces), so several values per list.
      const keyList = fc
        .tuple(fc.uniqueArray(name, { minLength: 1, maxLength: 5 }), fc.array(fc.array(scalar, { minLength: 5, maxLength: 5 }), { minLength: 1, maxLength: 6 }))
        .map(([fields, rows]) => rows.map((row) => Object.fromEntries(fields.map((f, i) => [f, row[i]]))));
      fc.assert(
        fc.property(fc.array(keyList, { minLength: 1, maxLength: 3 }), (lists) => {
          const keys = lists.flat();
          for (const k of keys) {
            const sorted = Object.entries(k).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
            const model = '\u0000{' + sorted.map(([f, v]) => JSON.stringify(f) + ':' + JSON.stringify(v)).join(',') + '}';
            expect(keyId(k), JSON.stringify(k)).to.equal(model);
            expect(normalizeKey(k).id).to.equal(model);
          }
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('finding 5: lone surrogates in keys', () => {
    it('are refused in string keys, field values, nested values, array items and field names', () => {
      badKey('\ud800');
      badKey('x\udc00');
      badKey({ f5a: '\ud800' });
      badKey({ f5b: { c: 'x\udfff' } });
      badKey({ f5c: ['ok', '\udbff'] });
      badKey({ 'f5d\ud800': 1 });
      badNormalizedKey('\ud800');
      badNormalizedKey({ f5a: '\ud800' });
    });

    it('whole surrogate pairs (emoji) are fine', () => {
      expect(keyId('😀')).to.equal('😀');
      expect(keyId({ f5e: '😀' })).to.equal('\u0000{"f5e":"😀"}');
    });

    it('are refused in queries too (a byte backend would fold them into U+FFFD and match it)', () => {
      badQuery({ f5q: '\ud800' });
      badQuery({ f5q: { $in: ['\udc00'] } });
      badQuery({ 'f5q\ud800': 1 });
    });
  });

  describe('finding 8: sparse arrays, accessors and Proxies in keys', () => {
    it('a sparse array in a key is InvalidKeyError, not a SyntaxError or a silently different key', () => {
      // eslint-disable-next-line no-sparse-arrays
      badKey({ f8a: [, 1] });
      // eslint-disable-next-line no-sparse-arrays
      badKey({ f8b: [,] });
      badNormalizedKey({ f8b: new Array(2) });
    });

    it('a getter that throws is InvalidKeyError', () => {
      badKey({
        get f8c(): string {
          throw new Error('boom');
        },
      });
      badKey({
        f8d: {
          get x(): string {
            throw new Error('boom');
          },
        },
      });
    });

    it('a setter-only or get/set accessor is InvalidKeyError, and neither function runs', () => {
      let runs = 0;
      badKey({
        set f8s(_v: unknown) {
          runs++;
        },
      });
      badKey({
        a: 1,
        get f8t(): number {
          runs++;
          return 1;
        },
        set f8t(_v: number) {
          runs++;
        },
      });
      const defined = { a: 1 };
      Object.defineProperty(defined, 'f8u', { get: () => runs++, enumerable: true });
      badKey(defined);
      expect(runs).to.equal(0);
    });

    it('a getter that changes between reads cannot get an unchecked value into an id', () => {
      let reads = 0;
      const key = {
        get f8e(): unknown {
          return reads++ === 0 ? 'x' : { $where: 'sleep(1000)' };
        },
      };
      badKey(key);
      expect(reads, 'the getter is never run').to.equal(0);
    });

    it('the memory fast path stores nothing for a changing getter', async () => {
      const store = new MemoryStore();
      let reads = 0;
      const key = {
        get f8f(): unknown {
          return reads++ === 0 ? 'x' : { $where: 'sleep(1000)' };
        },
      };
      const err = await store.set(key as never, 1).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(StoreError);
      expect((err as StoreError).code).to.equal('ERR_INVALID_KEY');
      expect(await store.keys()).to.deep.equal([]);
      await store.close();
    });

    it('a Proxy whose traps throw is InvalidKeyError, wherever it sits', () => {
      const trap = () => {
        throw new Error('trap');
      };
      const hostile = { ownKeys: trap, get: trap, getOwnPropertyDescriptor: trap, getPrototypeOf: trap, has: trap };
      badKey(new Proxy({ f8g: 1 }, hostile));
      badKey({ f8h: new Proxy({ a: 1 }, hostile) });
      badKey({ f8i: new Proxy([1, 2], hostile) });
      badNormalizedKey(new Proxy({ f8g: 1 }, hostile));
    });

    it('a harmless Proxy is refused too (keys are plain data, and a trap may run anything)', () => {
      badKey(new Proxy({ f8j: 1 }, {}));
    });

    it('a huge array or field list is refused without walking it all', () => {
      badKey({ f8k: new Array(10_000_000).fill(1) });
      const wide: Record<string, number> = {};
      for (let i = 0; i < 5000; i++) wide[`w${i}`] = i;
      badKey(wide);
    });
  });

  describe('finding 8: values', () => {
    it('a getter that throws inside a value is InvalidValueError with the original as cause', () => {
      const boom = new Error('boom');
      const err = badValue({
        a: {
          get b(): number {
            throw boom;
          },
        },
      });
      expect(err.code).to.equal('ERR_INVALID_VALUE');
      expect(err.cause).to.equal(boom);
    });

    it('a Proxy trap that throws inside a value is InvalidValueError with the original as cause', () => {
      const boom = new Error('trap');
      const trap = () => {
        throw boom;
      };
      for (const handler of [{ ownKeys: trap }, { getPrototypeOf: trap }, { get: trap }]) {
        const err = badValue({ list: [new Proxy({ a: 1 }, handler)] });
        expect(err.code).to.equal('ERR_INVALID_VALUE');
        expect(err.cause).to.equal(boom);
      }
    });

    it('sparse arrays, cycles and deep values are InvalidValueError', () => {
      // eslint-disable-next-line no-sparse-arrays
      expect(badValue([1, , 3]).code).to.equal('ERR_INVALID_VALUE');
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      expect(badValue(cyclic).code).to.equal('ERR_INVALID_VALUE');
      expect(badValue(nest(100_000, 'v', 1)).code).to.equal('ERR_INVALID_VALUE');
    });

    it('a harmless Proxy value is accepted (reactive objects are common values)', () => {
      expect(() => checkValue(new Proxy({ a: [1, 2] }, {}))).not.to.throw();
    });
  });

  describe('finding 8: queries', () => {
    it('a 10,000-deep $not chain is InvalidQueryError, not a RangeError', () => {
      let cond: unknown = { $eq: 1 };
      for (let i = 0; i < 10_000; i++) cond = { $not: cond };
      badQuery({ q8a: cond });
    });

    it('a 10,000-deep $elemMatch chain is InvalidQueryError, both forms', () => {
      let ops: unknown = { $eq: 1 };
      for (let i = 0; i < 10_000; i++) ops = { $elemMatch: ops };
      badQuery({ q8b: ops });
      let sub: unknown = { x: 1 };
      for (let i = 0; i < 10_000; i++) sub = { x: { $elemMatch: sub } };
      badQuery(sub);
    });

    it('the depth bound counts $not and $elemMatch levels', () => {
      let cond: unknown = { $eq: 1 };
      for (let i = 0; i < MAX_QUERY_DEPTH + 1; i++) cond = { $not: cond };
      badQuery({ q8c: cond });
      cond = { $eq: 1 };
      for (let i = 0; i < 3; i++) cond = { $not: cond };
      expect(compileQuery({ q8c: cond }).kind).to.equal('query');
    });

    it('deep operands and deep nested fields are InvalidQueryError', () => {
      badQuery({ q8d: { $eq: nest(10_000, 'x', 1) } });
      badQuery({ q8d: { $in: [nest(10_000, 'x', 1)] } });
      badQuery({ q8d: nest(10_000, 'x', 1) });
      let list: unknown = 1;
      for (let i = 0; i < 10_000; i++) list = [list];
      badQuery({ q8d: list });
      let and: unknown = { q8d: 1 };
      for (let i = 0; i < 10_000; i++) and = { $and: [and] };
      badQuery(and);
    });

    it(`$in, $nin and $all take at most ${MAX_QUERY_LIST_LENGTH} operands`, () => {
      const ok = Array.from({ length: MAX_QUERY_LIST_LENGTH }, (_, i) => i);
      const tooMany = [...ok, -1];
      for (const op of ['$in', '$nin', '$all']) {
        expect(compileQuery({ q8e: { [op]: ok } }).kind).to.equal('query');
        badQuery({ q8e: { [op]: tooMany } });
      }
    });

    it('a getter that throws in a query is InvalidQueryError', () => {
      badQuery({
        get q8f(): number {
          throw new Error('boom');
        },
      });
      badQuery({
        q8f: {
          get $eq(): number {
            throw new Error('boom');
          },
        },
      });
      badQuery({
        q8f: {
          $in: [
            {
              get x(): number {
                throw new Error('boom');
              },
            },
          ],
        },
      });
    });

    it('a getter that changes between reads cannot slip $where past validation', () => {
      let reads = 0;
      badQuery({
        get q8g(): unknown {
          return reads++ === 0 ? 1 : { $where: 'while(true){}' };
        },
      });
      expect(reads).to.equal(0);
    });

    it('a Proxy anywhere in a query is InvalidQueryError', () => {
      const trap = () => {
        throw new Error('trap');
      };
      const hostile = { ownKeys: trap, get: trap, getOwnPropertyDescriptor: trap, getPrototypeOf: trap };
      badQuery(new Proxy({ q8h: 1 }, hostile));
      badQuery({ q8h: new Proxy({ $eq: 1 }, hostile) });
      badQuery({ q8h: { $in: new Proxy([1], hostile) } });
      badQuery({ $or: new Proxy([{ q8h: 1 }], hostile) });
      badQuery({ q8h: { $eq: new Proxy({ a: 1 }, {}) } });
    });

    it('the compiled filter shares no object with the caller, so later mutation changes nothing', () => {
      const inner = { x: 1 };
      const list = [inner];
      const empty = {};
      const selector = compileQuery({ q8i: { $in: list, $ne: inner }, q8j: empty }) as QuerySelector;
      inner.x = 2;
      list.push({ x: 3 });
      (empty as Record<string, number>).z = 1;
      expect(selector.filter).to.deep.equal({ q8i: { $in: [{ x: 1 }], $ne: { x: 1 } }, q8j: {} });
    });

    it('sparse arrays in a query are InvalidQueryError', () => {
      // eslint-disable-next-line no-sparse-arrays
      badQuery({ q8k: { $in: [1, , 3] } });
      // eslint-disable-next-line no-sparse-arrays
      badQuery({ $or: [{ q8k: 1 }, , { q8k: 2 }] });
    });

    it("keys('[z-a]') and other bad globs are InvalidQueryError, not a SyntaxError", () => {
      for (const pattern of ['[z-a]', 'a[z-a]*', '[\\d-a]', '\ud800*']) {
        expect(thrown(() => compileGlob(pattern)).code, pattern).to.equal('ERR_INVALID_QUERY');
      }
      expect(compileGlob('[a-z]*').kind).to.equal('glob');
    });

    it("keys('[z-a]') on a store rejects with InvalidQueryError", async () => {
      const store = new MemoryStore();
      const err = await store.keys('[z-a]').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(StoreError);
      expect((err as StoreError).code).to.equal('ERR_INVALID_QUERY');
      await store.close();
    });
  });

  describe('limits', () => {
    it('live in lib/limits.ts and the old exports still work', () => {
      expect(KEYS_MAX_KEY_DEPTH).to.equal(MAX_KEY_DEPTH);
      expect(VALUES_MAX_VALUE_DEPTH).to.equal(MAX_VALUE_DEPTH);
    });

    it('key depth: MAX_KEY_DEPTH levels pass, one more is InvalidKeyError', () => {
      expect(() => keyId(nest(MAX_KEY_DEPTH, 'd', 1))).not.to.throw();
      badKey(nest(MAX_KEY_DEPTH + 1, 'd', 1));
    });

    it('value depth: deep values up to the bound pass', () => {
      expect(() => checkValue(nest(MAX_VALUE_DEPTH - 1, 'd', 1))).not.to.throw();
      expect(badValue(nest(MAX_VALUE_DEPTH + 1, 'd', 1)).code).to.equal('ERR_INVALID_VALUE');
    });
  });
});
