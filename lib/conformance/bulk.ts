/** Conformance: bulk calls and stats() rates (SPEC §15). */
import { expect } from 'chai';
import { SuiteContext, rejection } from './context';

export function bulk(ctx: SuiteContext): void {
  describe('bulk calls', () => {
    it('getMany gives the values in the order of the keys, undefined for a miss, string and object keys alike', async () => {
      const { store } = await ctx.open();
      await store.set('a', 1);
      await store.set({ id: 2 }, { two: true });
      expect(await store.getMany(['a', 'missing', { id: 2 }, 'a'])).to.deep.equal([1, undefined, { two: true }, 1]);
      expect(await store.getMany([])).to.deep.equal([]);
      const stats = await store.stats();
      expect(stats.hits).to.equal(3);
      expect(stats.misses).to.equal(1);
      expect(stats.hitRate).to.equal(0.75);
    });

    it('setMany writes every item with its own ttl (and the default for none), in order: a key given twice keeps the last value', async () => {
      const { store, clock } = await ctx.open({ defaultTtl: 5_000 });
      await store.setMany([
        { key: 'short', value: 1, ttl: 1_000 },
        { key: { id: 'forever' }, value: 2, ttl: null },
        { key: 'default', value: 3 },
        { key: 'twice', value: 'first' },
        { key: 'twice', value: 'second' },
      ]);
      expect(await store.getMany(['short', { id: 'forever' }, 'default', 'twice'])).to.deep.equal([1, 2, 3, 'second']);
      if (store.supports.ttl) {
        expect(await store.ttl({ id: 'forever' })).to.equal(null);
        clock.advance(1_001);
        expect(await store.getMany(['short', 'default'])).to.deep.equal([undefined, 3]);
        clock.advance(4_000);
        expect(await store.getOne('default')).to.equal(undefined);
      }
    });

    it('a bad item refuses the whole setMany: nothing is written', async () => {
      const { store } = await ctx.open();
      const bad: unknown[][] = [
        [{ key: 'ok', value: 1 }, { key: { $bad: 1 }, value: 2 }],
        [{ key: 'ok', value: 1 }, { key: 'x', value: () => 1 }],
        [{ key: 'ok', value: 1 }, { key: 'x', value: 1, ttl: -5 }],
        [{ key: 'ok', value: 1 }, { key: 'x', value: 1, tagz: ['t'] }],
        [{ key: 'ok', value: 1 }, 'not an item'],
        // eslint-disable-next-line no-sparse-arrays
        [{ key: 'ok', value: 1 }, , { key: 'y', value: 1 }],
      ];
      const codes = ['ERR_INVALID_KEY', 'ERR_INVALID_VALUE', 'ERR_INVALID_ARGUMENT', 'ERR_INVALID_ARGUMENT', 'ERR_INVALID_ARGUMENT', 'ERR_INVALID_ARGUMENT'];
      for (let n = 0; n < bad.length; n++) {
        const err = await rejection(store.setMany(bad[n] as never));
        expect(err.code, `case ${n}`).to.equal(codes[n]);
      }
      expect((await rejection(store.setMany('x' as never))).code).to.equal('ERR_INVALID_ARGUMENT');
      expect(await store.keys()).to.deep.equal([]);
    });

    it('delMany deletes the exact keys and counts the live ones; a bad key refuses the call and deletes nothing', async () => {
      const { store } = await ctx.open();
      await store.setMany([{ key: 'a', value: 1 }, { key: 'b', value: 2 }, { key: { id: 3 }, value: 3 }]);
      expect((await rejection(store.delMany(['a', { $where: 'x' }]))).code).to.equal('ERR_INVALID_KEY');
      expect(await store.getMany(['a', 'b'])).to.deep.equal([1, 2]);
      expect(await store.delMany(['a', 'a', 'missing', { id: 3 }])).to.equal(2);
      expect(await store.keys()).to.deep.equal(['b']);
      expect((await rejection(store.getMany('a' as never))).code).to.equal('ERR_INVALID_ARGUMENT');
    });

    it('delKeys deletes what keys(pattern) lists: a glob over string keys, or a query', async () => {
      const { store } = await ctx.open();
      await store.setMany([
        { key: 'user:1', value: 1 },
        { key: 'user:2', value: 2 },
        { key: 'order:1', value: 3 },
        { key: { kind: 'a', n: 1 }, value: 4 },
        { key: { kind: 'b', n: 2 }, value: 5 },
      ]);
      const listed = await store.keys('user:*');
      expect(await store.delKeys('user:*')).to.equal(listed.length);
      expect(await store.delKeys({ kind: 'a' })).to.equal(1);
      expect(await store.delKeys('nothing:*')).to.equal(0);
      expect(await store.keys()).to.have.deep.members(['order:1', { kind: 'b', n: 2 }]);
      expect((await rejection(store.delKeys(undefined as never))).code).to.equal('ERR_INVALID_ARGUMENT');
    });

    it('bulk calls keep program order with the calls around them', async () => {
      const { store } = await ctx.open();
      const done = [
        store.set('k1', 'before'),
        store.setMany([{ key: 'k1', value: 'bulk' }, { key: 'k2', value: 'bulk' }]),
        store.getMany(['k1', 'k2']),
        store.delMany(['k2']),
        store.getOne('k2'),
        store.set('k2', 'after'),
      ];
      const results = await Promise.all(done);
      expect(results[2]).to.deep.equal(['bulk', 'bulk']);
      expect(results[3]).to.equal(1);
      expect(results[4]).to.equal(undefined);
      expect(await store.getMany(['k1', 'k2'])).to.deep.equal(['bulk', 'after']);
    });

    it('resetStats() starts the counters again; hitRate is 0 before any read', async () => {
      const { store } = await ctx.open();
      await store.set('a', 1);
      await store.getOne('a');
      await store.getOne('b');
      await store.resetStats();
      const stats = await store.stats();
      expect([stats.hits, stats.misses, stats.sets, stats.hitRate]).to.deep.equal([0, 0, 0, 0]);
      expect(stats.items).to.equal(1);
    });
  });
}
