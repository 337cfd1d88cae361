/**
 * Query semantics are MongoDB's (SPEC §12): a path resolves only through own data fields of
 * objects and array elements — no `.length` of strings or arrays, nothing inherited such as
 * `toString` — with MongoDB's array, null, comparison, `$mod` and regex rules. Each case here
 * is what the MongoDB engine answers for it (test/harness/differential-queries.test.ts checks
 * the same against a live engine, at random); these fixed cases pin the forms found by hand
 * (issue #10 finding 9) and by the differential harness, on the compiled matcher and through
 * the memory store.
 */
import { expect } from 'chai';
import { MemoryStore } from '../lib/backends/memory';
import { MongoStore } from '../lib/backends/mongo';
import { sharedMongo } from './support/mongo-server';
import { ManualClock } from '../lib/clock';
import { freshNamespace, prepare, selectedConfigs } from './support/store-configs';
import { compileQuery, QuerySelector } from '../lib/query';
import type { KeyObject } from '../lib/keys';

function matches(query: Record<string, unknown>, key: KeyObject): boolean {
  return (compileQuery(query) as QuerySelector).test(key);
}

describe('query semantics (MongoDB is the reference)', () => {
  const key = { arr: [1, 2], s: 'abc' };

  describe('finding 9: paths see own data fields only', () => {
    it("{ 'arr.length': { $gt: 1 } } does not match an array's length", () => {
      expect(matches({ 'arr.length': { $gt: 1 } }, key)).to.equal(false);
    });
    it("{ 's.length': { $gte: 3 } } does not match a string's length", () => {
      expect(matches({ 's.length': { $gte: 3 } }, key)).to.equal(false);
    });
    it('{ toString: { $ne: null } } does not see the inherited toString', () => {
      expect(matches({ toString: { $ne: null } }, key)).to.equal(false);
      expect(matches({ toString: null }, key)).to.equal(true);
      expect(matches({ toString: { $exists: true } }, key)).to.equal(false);
    });
    it("{ 'arr.length': 2 } and { 'arr.length': { $gt: 1 } } agree (neither matches)", () => {
      expect(matches({ 'arr.length': 2 }, key)).to.equal(false);
      expect(matches({ 'arr.length': { $gt: 1 } }, key)).to.equal(matches({ 'arr.length': 2 }, key));
    });
    it('a field named like an Object.prototype member matches by its own value', () => {
      expect(matches({ valueOf: 3 }, { valueOf: 3 })).to.equal(true);
      expect(matches({ 'o.length': 2 }, { o: { length: 2 } })).to.equal(true);
      expect(matches({ 'o.hasOwnProperty': { $exists: true } }, { o: { a: 1 } })).to.equal(false);
    });
    it('through the memory store, for get, count and keys', async () => {
      const store = new MemoryStore();
      try {
        await store.set(key, 'v');
        await store.set({ other: 1 }, 'w');
        expect(await store.count({ 'arr.length': { $gt: 1 } })).to.equal(0);
        expect(await store.count({ 's.length': { $gte: 3 } })).to.equal(0);
        expect(await store.keys({ toString: { $ne: null } })).to.deep.equal([]);
        expect(await store.get({ 'arr.length': 2 })).to.deep.equal([]);
        expect(await store.count({ arr: { $size: 2 } })).to.equal(1);
      } finally {
        await store.close();
      }
    });
  });

  describe('MongoDB rules the engine answers', () => {
    it('a path through an array gives "missing" for elements that are not objects (null matches)', () => {
      expect(matches({ 'a.b': null }, { a: [{ b: 2 }, 1] })).to.equal(true);
      expect(matches({ 'a.b': null }, { a: [{ b: 2 }] })).to.equal(false);
      expect(matches({ 'a.b': null }, { a: [] })).to.equal(true);
      expect(matches({ 'a.b': { $exists: true } }, { a: [1, 2] })).to.equal(false);
    });
    it('a numeric segment indexes an array and also names fields of its object elements', () => {
      expect(matches({ 'a.0': 5 }, { a: [{ '0': 5 }] })).to.equal(true);
      expect(matches({ 'a.0': null }, { a: [1, 2] })).to.equal(false);
      expect(matches({ 'a.5': null }, { a: [1, 2] })).to.equal(true);
      expect(matches({ 'a.0': null }, { a: [{ b: 2 }] })).to.equal(true);
      // A scalar at the position with path left gives nothing, so an object element's value decides.
      expect(matches({ 'a.0.0': null }, { a: [5, { '0': [7] }] })).to.equal(false);
      expect(matches({ 'a.0.b': null }, { a: [5, { '0': { b: 2 } }] })).to.equal(false);
      expect(matches({ 'a.0.b': null }, { a: [5] })).to.equal(true);
      expect(matches({ 'a.0.0': null }, { a: [5, { '0': 7 }] })).to.equal(true);
    });
    it('$mod truncates the dividend, skips non-numbers and numbers beyond 64 bits', () => {
      expect(matches({ a: { $mod: [2, 1] } }, { a: 5.5 })).to.equal(true);
      expect(matches({ a: { $mod: [2, -1] } }, { a: -5.5 })).to.equal(true);
      expect(matches({ a: { $mod: [2, 1] } }, { a: '5' })).to.equal(false);
      expect(matches({ a: { $mod: [2, 1] } }, { a: true })).to.equal(false);
      expect(matches({ a: { $mod: [2, 0] } }, { a: null })).to.equal(false);
      expect(matches({ a: { $mod: [2, 0] } }, { a: 1e20 })).to.equal(false);
      expect(matches({ a: { $mod: [2.5, 1] } }, { a: 5 })).to.equal(true);
    });
    it('comparisons stay inside a type bracket; arrays and objects compare as BSON', () => {
      expect(matches({ a: { $gt: [] } }, { a: [1] })).to.equal(true);
      expect(matches({ a: { $gt: [] } }, { a: [] })).to.equal(false);
      expect(matches({ a: { $lt: [3] } }, { a: [1, 2] })).to.equal(true);
      expect(matches({ a: { $lt: [3] } }, { a: [{ b: 2 }, 1] })).to.equal(false);
      expect(matches({ a: { $gt: {} } }, { a: { b: [] } })).to.equal(true);
      expect(matches({ a: { $gt: {} } }, { a: [1, 2] })).to.equal(false);
      expect(matches({ a: { $gte: null } }, { b: 1 })).to.equal(true);
      expect(matches({ a: { $gt: null } }, { a: null })).to.equal(false);
    });
    it('a Date operand never equals or orders a number', () => {
      expect(matches({ a: new Date(5) }, { a: 5 })).to.equal(false);
      expect(matches({ a: { $gt: new Date(0) } }, { a: 5 })).to.equal(false);
    });
    it('strings compare in code point (UTF-8) order, not UTF-16 code unit order', () => {
      expect(matches({ a: { $gt: '\uffff' } }, { a: '\u{10000}' })).to.equal(true);
    });
    it('regexes are PCRE-like: $ matches before a final newline, . does not match \\r? only \\n is special', () => {
      expect(matches({ a: { $regex: 'x$' } }, { a: 'x\n' })).to.equal(true);
      expect(matches({ a: { $regex: '^x.y$' } }, { a: 'x\ry' })).to.equal(true);
      expect(matches({ a: { $regex: '^x.y$' } }, { a: 'x\ny' })).to.equal(false);
      expect(matches({ a: /x\n^/m }, { a: 'x\n' })).to.equal(false); // multiline ^ not after a final newline
      expect(matches({ a: /x\n^y/m }, { a: 'x\ny' })).to.equal(true);
    });
    it("accepts what MongoDB accepts: $options 'x', $type 'object' (owner: query validation)", () => {
      expect(matches({ a: { $regex: 'a b # comment', $options: 'x' } }, { a: 'ab' })).to.equal(true);
      expect(matches({ a: { $type: 'object' } }, { a: { b: 1 } })).to.equal(true);
      expect(matches({ a: { $type: 'object' } }, { a: [1] })).to.equal(false);
    });
    it('rejects what MongoDB rejects: a $mod divisor that truncates to 0 or does not fit 64 bits', () => {
      for (const divisor of [0.5, -0.9, 1e20]) {
        expect(() => compileQuery({ a: { $mod: [divisor, 0] } })).to.throw().with.property('code', 'ERR_INVALID_QUERY');
      }
    });
    it('$eq with a RegExp is equality with a regex value (nothing in a key); $ne and $gt reject one, as MongoDB does', () => {
      expect(matches({ a: /x/ }, { a: 'x' })).to.equal(true);
      expect(matches({ a: { $eq: /x/ } }, { a: 'x' })).to.equal(false);
      expect(matches({ a: { $in: [/x/] } }, { a: 'x' })).to.equal(true);
      for (const op of ['$ne', '$gt', '$gte', '$lt', '$lte']) {
        expect(() => compileQuery({ a: { [op]: /x/ } }), op).to.throw().with.property('code', 'ERR_INVALID_QUERY');
      }
    });
    it('a quantifier after an anchor is refused, as PCRE refuses it (found by the differential harness)', () => {
      // `$+a` became a quantified lookahead that JavaScript accepts; MongoDB refused the query.
      for (const pattern of ['$+a', 'a$*', '^+a', '^{2}a', '$?', '\\b+', '\\B*', '\\A+', '\\z*', '\\Z?']) {
        expect(() => compileQuery({ a: { $regex: pattern } }), pattern).to.throw().with.property('code', 'ERR_INVALID_QUERY');
      }
      for (const pattern of ['(^)+a', '[$]+', '\\$+', '^{', '(?=a)+']) {
        expect(() => compileQuery({ a: { $regex: pattern } }), pattern).to.not.throw();
      }
    });
    it('PCRE subject anchors \\A, \\z and \\Z mean what they mean in MongoDB, not the letters A and z', () => {
      expect(matches({ a: { $regex: '\\Aab' } }, { a: 'ab' })).to.equal(true);
      expect(matches({ a: { $regex: '\\Aab' } }, { a: 'Aab' })).to.equal(false);
      expect(matches({ a: { $regex: 'b\\z' } }, { a: 'ab' })).to.equal(true);
      expect(matches({ a: { $regex: 'b\\z' } }, { a: 'ab\n' })).to.equal(false);
      expect(matches({ a: { $regex: 'b\\Z' } }, { a: 'ab\n' })).to.equal(true);
      expect(matches({ a: { $regex: '[\\A]' } }, { a: 'A' })).to.equal(true); // in a class it stays a letter
    });
    it('$not over several operators negates their conjunction', () => {
      expect(matches({ a: { $not: { $gt: 1, $lt: 5 } } }, { a: 3 })).to.equal(false);
      expect(matches({ a: { $not: { $gt: 1, $lt: 5 } } }, { a: 7 })).to.equal(true);
      expect(matches({ a: { $gt: 1, $lt: 5 } }, { a: [0, 10] })).to.equal(true);
    });
    it('$elemMatch: operators on elements, or a sub-query on object elements only', () => {
      expect(matches({ a: { $elemMatch: { b: null } } }, { a: [{ c: 1 }] })).to.equal(true);
      expect(matches({ a: { $elemMatch: { b: null } } }, { a: [1] })).to.equal(false);
      expect(matches({ a: { $elemMatch: { $gt: 1, $lt: 5 } } }, { a: [0, 10] })).to.equal(false);
      expect(matches({ a: { $elemMatch: { $gt: 1, $lt: 5 } } }, { a: [0, 3] })).to.equal(true);
      // A logical operator makes it a sub-query over the elements' fields (it threw "no implementation").
      expect(matches({ a: { $elemMatch: { $or: [{ b: 1 }, { c: 2 }] } } }, { a: [{ c: 2 }] })).to.equal(true);
      expect(matches({ a: { $elemMatch: { $nor: [{ b: 1 }] } } }, { a: [{ b: 1 }, 5] })).to.equal(false);
    });
    it('object equality ignores field order, as key identity does', () => {
      expect(matches({ a: { $eq: { y: 1, x: 2 } } }, { a: { x: 2, y: 1 } })).to.equal(true);
      expect(matches({ a: { $in: [{ y: 1, x: 2 }] } }, { a: [{ x: 2, y: 1 }] })).to.equal(true);
    });
  });

  describe('on the mongo store (queries translated to native filters)', function () {
    this.timeout(120_000);
    let store: MongoStore;
    before(async () => {
      store = new MongoStore({ url: (await sharedMongo()).url, db: 'query_semantics', namespace: `qs${process.pid}` });
      await store.clear();
    });
    after(async () => {
      await store.clear();
      await store.close();
    });

    it('an object operand matches whatever the order of its fields, as on every other backend', async () => {
      await store.set({ a: { x: 2, y: 1 } }, 'object');
      await store.set({ a: [{ y: 1, x: 2 }] }, 'array');
      await store.set({ a: { z: 0 } }, 'other');
      expect(await store.get({ a: { $eq: { y: 1, x: 2 } } })).to.deep.equal(['object', 'array']);
      expect(await store.get({ a: { $in: [{ y: 1, x: 2 }] } })).to.deep.equal(['object', 'array']);
      expect(await store.get({ a: { $all: [{ y: 1, x: 2 }] } })).to.deep.equal(['object', 'array']);
      expect(await store.get({ a: { $ne: { y: 1, x: 2 } } })).to.deep.equal(['other']);
      expect(await store.get({ a: { $not: { $eq: { y: 1, x: 2 } } } })).to.deep.equal(['other']);
      expect(await store.get({ a: { $elemMatch: { $eq: { y: 1, x: 2 } } } })).to.deep.equal(['array']);
    });

    it('a key whose field named like an Object.prototype member holds objects in an array reads back intact (owner: mongo store)', async () => {
      // The driver's default fieldsAsRaw is {}: fieldsAsRaw['toString'] is inherited and truthy,
      // so bson returns that array's documents as raw Buffers (bson 7.3.4, mongodb 7.x).
      const key = { toString: [{ c: 1 }], valueOf: [{ d: 'x' }] };
      await store.set(key, 'proto-named');
      expect(await store.keys({ 'toString.c': 1 })).to.deep.equal([key]);
      expect(await store.get({ 'toString.c': 1 }, { includeKey: true })).to.deep.equal([{ key, val: 'proto-named' }]);
    });

    it("a RegExp's flags reach MongoDB as meant: s is dotAll, g means nothing", async () => {
      // The driver alone would send `g` as PCRE's `s` and drop `dotAll`.
      await store.set({ r: 'a\nb' }, 'newline');
      expect(await store.get({ r: /a.b/s })).to.deep.equal(['newline']);
      expect(await store.get({ r: /a.b/g })).to.deep.equal([]);
      expect(await store.get({ r: { $in: [/A.B/is] } })).to.deep.equal(['newline']);
      const notMatching = await store.get({ r: { $not: /a.b/s } });
      expect(notMatching).to.include('object'); // no r at all: $not matches
      expect(notMatching).to.not.include('newline');
    });

    it('the PCRE subject anchors give the same answers as the shared matcher', async () => {
      await store.set({ anchored: 'ab\n' }, 'newline-ended');
      await store.set({ anchored: 'Aab' }, 'capital-a');
      expect(await store.get({ anchored: { $regex: 'b\\Z' } })).to.deep.equal(['newline-ended', 'capital-a']);
      expect(await store.get({ anchored: { $regex: 'b\\z' } })).to.deep.equal(['capital-a']);
      expect(await store.get({ anchored: { $regex: '\\Aab' } })).to.deep.equal(['newline-ended']);
    });

    it('finding 9 forms give the same answers as on memory', async () => {
      await store.set({ arr: [1, 2], s: 'abc' }, 'v');
      expect(await store.count({ 'arr.length': { $gt: 1 } })).to.equal(0);
      expect(await store.count({ 's.length': { $gte: 3 } })).to.equal(0);
      expect(await store.count({ 'arr.length': 2 })).to.equal(0);
      expect(await store.get({ toString: { $ne: null }, s: 'abc' })).to.deep.equal([]);
    });
  });

  describe('finding 9 on every store configuration (test/support/store-configs.ts)', function () {
    this.timeout(180_000);
    const configs = selectedConfigs();
    before(async () => {
      await prepare(configs);
    });
    for (const config of configs) {
      it(`${config.name}: .length and inherited names resolve to nothing`, async () => {
        const store = config.open({ clock: new ManualClock(), namespace: freshNamespace('qs') });
        try {
          await store.set({ arr: [1, 2], s: 'abc' }, 'v');
          await store.set({ arr: [1], s: 'x' }, 'w');
          for (const query of [{ 'arr.length': { $gt: 1 } }, { 's.length': { $gte: 3 } }, { 'arr.length': 2 }, { toString: { $ne: null } }]) {
            expect(await store.count(query), JSON.stringify(query)).to.equal(0);
            expect(await store.get(query), JSON.stringify(query)).to.deep.equal([]);
          }
          expect(await store.get({ toString: null })).to.deep.equal(['v', 'w']);
          expect(await store.get({ arr: { $size: 2 } })).to.deep.equal(['v']);
          // A pattern MongoDB refuses is ERR_INVALID_QUERY everywhere, never a storage error.
          const refused = await store.get({ 's.c': { $regex: '$+a' } }).then(() => undefined, (err: { code?: string }) => err.code);
          expect(refused).to.equal('ERR_INVALID_QUERY');
        } finally {
          await store.clear();
          await store.close();
        }
      });
    }
  });
});
