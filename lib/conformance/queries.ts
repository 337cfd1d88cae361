/** Conformance: queries, get/del/count/keys semantics and bad keys/queries (SPEC §3, §4, §10). */
import { expect } from 'chai';
import type { BaseStore } from '../store';
import { SuiteContext, rejection } from './context';

const PEOPLE = [
  { key: { name: { first: 'Ann', last: 'Apple' }, age: 20, tags: ['a', 'b'] }, value: 'ann' },
  { key: { name: { first: 'Bob', last: 'Apple' }, age: 31, tags: ['b'] }, value: 'bob' },
  { key: { name: { first: 'Cid', last: 'Pear' }, age: 20, tags: [] as string[] }, value: 'cid' },
  { key: { name: { first: 'Dee', last: 'Plum' }, age: 45, tags: ['c'], vip: true }, value: 'dee' },
  { key: { name: { first: 'Eve', last: 'Pear' }, age: '20', tags: ['a'] }, value: 'eve' },
];

async function seed(store: BaseStore): Promise<void> {
  for (const p of PEOPLE) await store.set(p.key, p.value);
  await store.set('plain:string', 'str');
}

export function queries(ctx: SuiteContext): void {
  describe('queries', () => {
    const cases: Array<[string, Record<string, unknown>, string[]]> = [
      ['equality', { age: 20 }, ['ann', 'cid']],
      ['type-sensitive equality', { age: '20' }, ['eve']],
      ['a nested object, partially, by dotted path', { name: { last: 'Apple' } }, ['ann', 'bob']],
      ['an explicit dotted path', { 'name.last': 'Pear' }, ['cid', 'eve']],
      ['two fields', { age: 20, 'name.last': 'Pear' }, ['cid']],
      ['$gte/$lt', { age: { $gte: 20, $lt: 40 } }, ['ann', 'bob', 'cid']],
      ['$in', { age: { $in: [31, 45] } }, ['bob', 'dee']],
      ['$in across types', { age: { $in: [45, '20'] } }, ['dee', 'eve']],
      ['$nin', { 'name.last': { $nin: ['Apple', 'Pear'] } }, ['dee']],
      ['$ne', { 'name.last': { $ne: 'Apple' } }, ['cid', 'dee', 'eve']],
      ['$eq', { age: { $eq: 45 } }, ['dee']],
      ['$exists', { vip: { $exists: true } }, ['dee']],
      ['array element equality', { tags: 'b' }, ['ann', 'bob']],
      ['$all', { tags: { $all: ['a', 'b'] } }, ['ann']],
      ['$size', { tags: { $size: 0 } }, ['cid']],
      ['$elemMatch', { tags: { $elemMatch: { $eq: 'c' } } }, ['dee']],
      ['$regex', { 'name.first': { $regex: '^[AB]' } }, ['ann', 'bob']],
      ['$regex with $options', { 'name.first': { $regex: '^[ab]', $options: 'i' } }, ['ann', 'bob']],
      ['a RegExp value', { 'name.last': /^p/i }, ['cid', 'dee', 'eve']],
      ['$not', { age: { $not: { $gte: 30 } } }, ['ann', 'cid', 'eve']],
      ['$or', { $or: [{ age: 31 }, { 'name.first': 'Dee' }] }, ['bob', 'dee']],
      ['$and', { $and: [{ age: 20 }, { tags: 'a' }] }, ['ann']],
      ['$nor', { $nor: [{ age: 20 }, { 'name.last': 'Pear' }] }, ['bob', 'dee']],
      ['$mod', { age: { $mod: [2, 1] } }, ['bob', 'dee']],
      ['no match', { age: 99 }, []],
    ];
    for (const [name, query, expected] of cases) {
      it(`get matches ${name}, in creation order`, async () => {
        const { store } = await ctx.open();
        await seed(store);
        expect(await store.get(query)).to.deep.equal(expected);
        expect(await store.count(query)).to.equal(expected.length);
        const keys = await store.keys(query);
        expect(keys.map((k) => PEOPLE.find((p) => JSON.stringify(sortDeep(p.key)) === JSON.stringify(sortDeep(k)))?.value)).to.deep.equal(expected);
      });
    }

    it('{} matches nothing (memstorage); clear() deletes everything', async () => {
      const { store } = await ctx.open();
      await seed(store);
      expect(await store.get({})).to.deep.equal([]);
      expect(await store.count({})).to.equal(0);
      expect(await store.del({})).to.equal(0);
      expect(await store.count({ age: { $exists: true } })).to.equal(PEOPLE.length);
      await store.clear();
      expect(await store.keys()).to.deep.equal([]);
    });

    it('an object query never matches string keys, a glob never matches object keys', async () => {
      const { store } = await ctx.open();
      await seed(store);
      await store.set('user:1', 1);
      await store.set('user:2', 2);
      await store.set('config:a', 3);
      await store.set('config:ab', 4);
      expect(await store.keys('user:*')).to.deep.equal(['user:1', 'user:2']);
      expect(await store.keys('config:?')).to.deep.equal(['config:a']);
      expect(await store.keys('config:[a]*')).to.deep.equal(['config:a', 'config:ab']);
      expect(await store.keys('*')).to.deep.equal(['plain:string', 'user:1', 'user:2', 'config:a', 'config:ab']);
      expect((await store.keys()).length).to.equal(PEOPLE.length + 5);
    });

    it('del(query) removes every match and nothing else, and returns the count', async () => {
      const { store } = await ctx.open();
      await seed(store);
      expect(await store.del({ age: 20 })).to.equal(2);
      expect(await store.get({ age: 20 })).to.deep.equal([]);
      expect(await store.get({ 'name.last': { $exists: true } })).to.deep.equal(['bob', 'dee', 'eve']);
      expect(await store.getOne('plain:string')).to.equal('str');
      expect(await store.del('plain:string')).to.equal(1);
      expect(await store.del('plain:string')).to.equal(0);
    });

    it('results keep creation order: overwriting keeps the position, re-creating moves to the end', async () => {
      const { store } = await ctx.open();
      for (let i = 0; i < 5; i++) await store.set({ n: i, kind: 'x' }, i);
      await store.set({ kind: 'x', n: 1 }, 'one again');
      expect(await store.get({ kind: 'x' })).to.deep.equal([0, 'one again', 2, 3, 4]);
      await store.del({ n: 2 });
      await store.set({ n: 2, kind: 'x' }, 'two again');
      expect(await store.get({ kind: 'x' })).to.deep.equal([0, 'one again', 3, 4, 'two again']);
      expect(await store.get({ n: { $in: [4, 0, 2] } })).to.deep.equal([0, 4, 'two again']);
    });

    it('get supports includeKey and limit', async () => {
      const { store } = await ctx.open();
      await seed(store);
      const keyed = await store.get({ age: 20 }, { includeKey: true });
      expect(keyed).to.deep.equal([
        { key: PEOPLE[0].key, val: 'ann' },
        { key: PEOPLE[2].key, val: 'cid' },
      ]);
      expect(await store.get({ 'name.last': { $exists: true } }, { limit: 2 })).to.deep.equal(['ann', 'bob']);
      expect(await store.get('plain:string', { includeKey: true })).to.deep.equal([{ key: 'plain:string', val: 'str' }]);
    });

    it('nullOnMiss and includeKey settings apply to get', async () => {
      const { store } = await ctx.open({ nullOnMiss: true, includeKey: true });
      expect(await store.get('nope')).to.equal(null);
      await store.set('k', 1);
      expect(await store.get('k')).to.deep.equal([{ key: 'k', val: 1 }]);
    });

    it('has, count and getOne on exact keys', async () => {
      const { store } = await ctx.open();
      await seed(store);
      expect(await store.has(PEOPLE[1].key)).to.equal(true);
      expect(await store.has({ age: 31 })).to.equal(false); // exact, not a query
      expect(await store.getOne({ age: 31 })).to.equal(undefined);
      expect(await store.count('plain:string')).to.equal(1);
    });
  });

  describe('bad keys and queries', () => {
    const badKeys: Array<[string, () => unknown]> = [
      ['undefined', () => undefined],
      ["''", () => ''],
      ['a function', () => () => 1],
      ['a symbol', () => Symbol('k')],
      ['a number', () => 5],
      ['NaN in a field', () => ({ a: NaN })],
      ['a $-prefixed field', () => ({ $gt: 1 })],
      ['a nested $-prefixed field', () => ({ a: { $in: [1] } })],
      ['__proto__ (from JSON)', () => JSON.parse('{"__proto__": {"polluted": 1}}')],
      ['constructor', () => ({ constructor: 1 })],
      ['a cycle', () => {
        const o: Record<string, unknown> = { a: 1 };
        o.b = o;
        return o;
      }],
      ['an over-deep key', () => {
        let o: Record<string, unknown> = { leaf: 1 };
        for (let i = 0; i < 40; i++) o = { n: o };
        return o;
      }],
      ['an oversized key', () => 'k'.repeat(100000)],
      ['a Date in a field', () => ({ when: new Date() })],
      ['an empty object', () => ({})],
    ];
    for (const [name, make] of badKeys) {
      it(`set rejects the key ${name} with ERR_INVALID_KEY and leaves the store unchanged`, async () => {
        const { store } = await ctx.open();
        await store.set('k', 'kept');
        const err = await rejection(store.set(make() as string, 'v'));
        expect(err.code).to.equal('ERR_INVALID_KEY');
        expect(await store.keys()).to.deep.equal(['k']);
        expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
        const err2 = await rejection(store.getOne(make() as string));
        expect(err2.code).to.equal('ERR_INVALID_KEY');
      });
    }

    const badQueries: Array<[string, unknown]> = [
      ['$where', { $where: 'this.a == 1' }],
      ['$where on a field', { a: { $where: 'true' } }],
      ['an unknown operator', { a: { $foo: 1 } }],
      ['an unknown top-level operator', { $text: { $search: 'x' } }],
      ['$in with a non-array', { a: { $in: 5 } }],
      ['$or with a non-array', { $or: { a: 1 } }],
      ['$size with a string', { a: { $size: 'x' } }],
      ['$exists with a string', { a: { $exists: 'yes' } }],
      ['$regex with a number', { a: { $regex: 5 } }],
      ['$mod with one number', { a: { $mod: [3] } }],
      ['operators mixed with fields', { a: { $gt: 1, b: 2 } }],
      ['a __proto__ path', { '__proto__.polluted': 1 }],
      ['a constructor.prototype path', { 'constructor.prototype.polluted': 1 }],
      ['a function value', { a: () => 1 }],
      ['a number', 42],
    ];
    for (const [name, query] of badQueries) {
      it(`rejects ${name} with ERR_INVALID_QUERY on get, del and count`, async () => {
        const { store } = await ctx.open();
        await store.set({ a: 1 }, 'kept');
        for (const op of [store.get(query as string), store.del(query as string), store.count(query as string)]) {
          const err = await rejection(op);
          expect(err.code).to.equal('ERR_INVALID_QUERY');
        }
        expect(await store.get({ a: 1 })).to.deep.equal(['kept']);
        expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      });
    }
  });
}

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortDeep((value as Record<string, unknown>)[k])]));
  }
  return value;
}
