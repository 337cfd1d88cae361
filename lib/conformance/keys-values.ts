/** Conformance: key identity and value round-trips (SPEC §3). */
import { expect } from 'chai';
import { SuiteContext, rejection } from './context';

export function keysAndValues(ctx: SuiteContext): void {
  describe('keys', () => {
    it('string keys are exact keys', async () => {
      const { store } = await ctx.open();
      await store.set('x', 21);
      expect(await store.get('x')).to.deep.equal([21]);
      expect(await store.getOne('x')).to.equal(21);
      expect(await store.getOne('y')).to.equal(undefined);
    });

    it('object keys are identified canonically, whatever the field order', async () => {
      const { store } = await ctx.open();
      await store.set({ a: 1, b: { c: 2, d: 3 } }, 'first');
      await store.set({ b: { d: 3, c: 2 }, a: 1 }, 'second');
      expect(await store.count({ a: 1 })).to.equal(1);
      expect(await store.getOne({ b: { c: 2, d: 3 }, a: 1 })).to.equal('second');
    });

    it('object key identity is type-sensitive', async () => {
      const { store } = await ctx.open();
      await store.set({ age: 20 }, 'number');
      await store.set({ age: '20' }, 'string');
      expect(await store.getOne({ age: 20 })).to.equal('number');
      expect(await store.getOne({ age: '20' })).to.equal('string');
      expect(await store.get({ age: 20 })).to.deep.equal(['number']);
    });

    it('string keys and object keys never collide', async () => {
      const { store } = await ctx.open();
      await store.set('{"a":1}', 'string');
      await store.set({ a: 1 }, 'object');
      expect(await store.getOne('{"a":1}')).to.equal('string');
      expect(await store.getOne({ a: 1 })).to.equal('object');
    });

    it('keys hold arrays, booleans, null and nested objects', async () => {
      const { store } = await ctx.open();
      const key = { tags: ['a', 'b'], ok: true, none: null, deep: { x: { y: 1 } } };
      await store.set(key, 1);
      expect(await store.getOne({ ...key })).to.equal(1);
      expect(await store.keys({ ok: true })).to.deep.equal([key]);
    });
  });

  describe('values', () => {
    const samples: Array<[string, unknown]> = [
      ['a number', 42.5],
      ['zero', 0],
      ['a string', 'héllo ✓'],
      ['an empty string', ''],
      ['false', false],
      ['null', null],
      ['an array', [1, 'two', { three: 3 }, null]],
      ['an object', { a: 1, nested: { list: [1, 2], flag: true } }],
      ['a Date', new Date('2024-02-03T04:05:06.789Z')],
      ['a Buffer', Buffer.from([0, 1, 2, 255])],
      ['a Uint8Array', new Uint8Array([9, 8, 7])],
      ['nested Date and Buffer', { when: new Date(0), blob: Buffer.from('hi'), list: [new Date(86400000)] }],
      ['an object with tag-like fields', { '\u0000t': 1, $date: 2, __type: 'Date' }],
    ];
    for (const [name, value] of samples) {
      it(`round-trips ${name} with the same type`, async () => {
        const { store } = await ctx.open();
        await store.set('v', value);
        const back = await store.getOne('v');
        expect(back).to.deep.equal(value);
        if (value instanceof Date) expect(back).to.be.instanceOf(Date);
        if (Buffer.isBuffer(value)) expect(Buffer.isBuffer(back)).to.equal(true);
        if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
          expect(back).to.be.instanceOf(Uint8Array);
          expect(Buffer.isBuffer(back)).to.equal(false);
        }
        expect(await store.get('v')).to.deep.equal([value]);
      });
    }

    it('overwriting replaces the value', async () => {
      const { store } = await ctx.open();
      await store.set({ id: 1 }, 'old');
      await store.set({ id: 1 }, { fresh: true });
      expect(await store.get({ id: 1 })).to.deep.equal([{ fresh: true }]);
    });

    const badValues: Array<[string, () => unknown]> = [
      ['undefined', () => undefined],
      ['a function', () => () => 1],
      ['a symbol', () => Symbol('s')],
      ['a nested undefined', () => ({ a: { b: undefined } })],
      ['a nested function', () => ({ a: [1, () => 2] })],
      ['a cycle', () => {
        const o: Record<string, unknown> = { a: 1 };
        o.self = o;
        return o;
      }],
      ['NaN', () => NaN],
      ['a Map', () => new Map()],
    ];
    for (const [name, make] of badValues) {
      it(`rejects ${name} with ERR_INVALID_VALUE and writes nothing`, async () => {
        const { store } = await ctx.open();
        await store.set('k', 'kept');
        const err = await rejection(store.set('k', make()));
        expect(err.code).to.equal('ERR_INVALID_VALUE');
        const err2 = await rejection(store.set('other', make()));
        expect(err2.code).to.equal('ERR_INVALID_VALUE');
        expect(await store.getOne('k')).to.equal('kept');
        expect(await store.has('other')).to.equal(false);
        await store.set('still', 'works');
        expect(await store.getOne('still')).to.equal('works');
      });
    }
  });
}
