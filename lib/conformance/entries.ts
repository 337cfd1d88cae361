/** Conformance: touch(key, ttl), tags on set/setMany and delByTags (SPEC §15). */
import { expect } from 'chai';
import { SuiteContext, rejection } from './context';

export function entries(ctx: SuiteContext): void {
  describe('touch', () => {
    ctx.requires('ttl');

    it('sets a live entry\'s TTL, keeping its value; false and nothing written for a missing key', async () => {
      const { store, clock } = await ctx.open();
      await store.set('a', { v: 1 }, { ttl: 1_000 });
      await store.set({ id: 2 }, 'two');
      expect(await store.touch('a', 5_000)).to.equal(true);
      expect(await store.touch({ id: 2 }, 2_000)).to.equal(true);
      expect(await store.touch('missing', 1_000)).to.equal(false);
      expect(await store.has('missing')).to.equal(false);
      expect(await store.ttl('a')).to.be.within(4_990, 5_000);
      clock.advance(2_001);
      expect(await store.getOne({ id: 2 })).to.equal(undefined);
      expect(await store.getOne('a')).to.deep.equal({ v: 1 });
      clock.advance(3_000);
      expect(await store.getOne('a')).to.equal(undefined);
      expect(await store.touch('a', 1_000)).to.equal(false); // expired: not revived
      expect(await store.getOne('a')).to.equal(undefined);
    });

    it('null or 0 removes the expiry (the default TTL does not apply)', async () => {
      const { store, clock } = await ctx.open({ defaultTtl: 1_000 });
      await store.set('a', 1);
      await store.set('b', 2);
      expect(await store.touch('a', null)).to.equal(true);
      expect(await store.touch('b', 0)).to.equal(true);
      expect(await store.ttl('a')).to.equal(null);
      clock.advance(10_000);
      expect(await store.getMany(['a', 'b'])).to.deep.equal([1, 2]);
    });

    it('a touched entry is still found by queries and key listings, and leaves them when its new TTL passes', async () => {
      const { store, clock } = await ctx.open();
      await store.set({ kind: 'x', n: 1 }, 'one');
      await store.set({ kind: 'x', n: 2 }, 'two', { ttl: 60_000 });
      expect(await store.touch({ kind: 'x', n: 1 }, 1_000)).to.equal(true);
      expect(await store.count({ kind: 'x' })).to.equal(2);
      expect(await store.get({ kind: 'x', n: { $gte: 1 } }, { sort: { n: 1 } })).to.deep.equal(['one', 'two']);
      clock.advance(1_001);
      expect(await store.keys({ kind: 'x' })).to.deep.equal([{ kind: 'x', n: 2 }]);
    });

    it('keeps program order with the calls around it', async () => {
      const { store, clock } = await ctx.open();
      const done = await Promise.all([store.set('k', 1), store.touch('k', 500), store.ttl('k'), store.del('k'), store.touch('k', 500), store.set('k', 2)]);
      expect(done[1]).to.equal(true);
      expect(done[2]).to.be.within(490, 500);
      expect(done[4]).to.equal(false);
      clock.advance(1_000);
      expect(await store.getOne('k')).to.equal(2);
    });

    it('refuses a bad key or ttl with a typed error and writes nothing', async () => {
      const { store } = await ctx.open();
      await store.set('a', 1);
      const cases: Array<[unknown, unknown, string]> = [
        [{ $bad: 1 }, 1_000, 'ERR_INVALID_KEY'],
        ['a', -1, 'ERR_INVALID_ARGUMENT'],
        ['a', '1000', 'ERR_INVALID_ARGUMENT'],
        ['a', undefined, 'ERR_INVALID_ARGUMENT'],
        ['a', Number.NaN, 'ERR_INVALID_ARGUMENT'],
      ];
      for (const [key, ttl, code] of cases) {
        expect((await rejection(store.touch(key as never, ttl as never))).code, `${JSON.stringify(key)} ${String(ttl)}`).to.equal(code);
      }
      expect(await store.ttl('a')).to.equal(null);
    });

    it('answers through both callback conventions', async () => {
      const node = (await ctx.open({ callbacks: 'node' })).store;
      await node.set('a', 1);
      const touched = await new Promise((resolve, reject) => {
        void node.touch('a', 1_000, ((err: Error | null, value: unknown) => (err ? reject(err) : resolve(value))) as never);
      });
      expect(touched).to.equal(true);
      const legacy = (await ctx.open({ callbacks: 'result-first' })).store;
      await legacy.set('a', 1);
      expect(await new Promise((resolve) => void legacy.touch('a', 1_000, resolve as never))).to.equal(true);
      expect(await new Promise((resolve) => void legacy.touch('missing', 1_000, resolve as never))).to.equal(false);
    });
  });

  describe('tags', () => {
    ctx.requires('tags');

    it('delByTags deletes every live entry carrying any of the tags and counts them', async () => {
      const { store } = await ctx.open();
      await store.set('p1', 1, { tags: ['product', 'cheap'] });
      await store.set('p2', 2, { tags: ['product'] });
      await store.set({ id: 3 }, 3, { tags: ['cheap'] });
      await store.set('u1', 4, { tags: ['user'] });
      await store.set('plain', 5);
      expect(await store.delByTags(['cheap'])).to.equal(2);
      expect(await store.keys()).to.have.deep.members(['p2', 'u1', 'plain']);
      expect(await store.delByTags(['product', 'user', 'nobody'])).to.equal(2);
      expect(await store.keys()).to.deep.equal(['plain']);
      expect(await store.delByTags(['product'])).to.equal(0);
    });

    it('a set without tags leaves the entry untagged; a set with others replaces them', async () => {
      const { store } = await ctx.open();
      await store.set('a', 1, { tags: ['t1'] });
      await store.set('a', 2);
      await store.set('b', 1, { tags: ['t1'] });
      await store.set('b', 2, { tags: ['t2'] });
      expect(await store.delByTags(['t1'])).to.equal(0);
      expect(await store.getMany(['a', 'b'])).to.deep.equal([2, 2]);
      expect(await store.delByTags(['t2'])).to.equal(1);
      expect(await store.keys()).to.deep.equal(['a']);
    });

    it('setMany takes tags per item; duplicate tags count once', async () => {
      const { store } = await ctx.open();
      await store.setMany([
        { key: 'a', value: 1, tags: ['x', 'x', 'y'] },
        { key: 'b', value: 2, tags: ['y'] },
        { key: 'c', value: 3 },
      ]);
      expect(await store.delByTags(['y', 'x'])).to.equal(2);
      expect(await store.keys()).to.deep.equal(['c']);
    });

    it('touch keeps the tags; an expired or deleted entry is not counted', async () => {
      const { store, clock } = await ctx.open();
      await store.set('short', 1, { tags: ['t'], ttl: 1_000 });
      await store.set('kept', 2, { tags: ['t'] });
      await store.set('gone', 3, { tags: ['t'] });
      await store.set('touched', 4, { tags: ['t'] });
      expect(await store.touch('touched', 10_000)).to.equal(true);
      await store.del('gone');
      clock.advance(1_001);
      expect(await store.delByTags(['t'])).to.equal(2);
      expect(await store.keys()).to.deep.equal([]);
      await store.set('short', 'new');
      expect(await store.delByTags(['t'])).to.equal(0); // the old tagged entry expired: its tags went with it
      expect(await store.getOne('short')).to.equal('new');
    });

    it('delByTags keeps program order and reaches queries and counts', async () => {
      const { store } = await ctx.open();
      const done = await Promise.all([
        store.set({ kind: 'a', n: 1 }, 1, { tags: ['t'] }),
        store.set({ kind: 'a', n: 2 }, 2),
        store.delByTags(['t']),
        store.count({ kind: 'a' }),
        store.set({ kind: 'a', n: 1 }, 'again', { tags: ['t'] }),
      ]);
      expect(done[2]).to.equal(1);
      expect(done[3]).to.equal(1);
      expect(await store.get({ kind: 'a' }, { sort: { n: 1 } })).to.deep.equal(['again', 2]);
      expect((await store.stats()).deletes).to.be.at.least(1);
    });

    it('bad tags are refused with a typed error and nothing is written or deleted', async () => {
      const { store } = await ctx.open();
      await store.set('a', 1, { tags: ['t'] });
      const badSets: unknown[] = [['', 'x'], 'tag', [1], [{}], Array.from({ length: 65 }, (_, i) => `t${i}`), ['\ud800'], ['x'.repeat(513)]];
      for (const tags of badSets) {
        expect((await rejection(store.set('b', 1, { tags } as never))).code, JSON.stringify(tags)).to.equal('ERR_INVALID_ARGUMENT');
        expect((await rejection(store.setMany([{ key: 'c', value: 1 }, { key: 'b', value: 1, tags } as never]))).code).to.equal('ERR_INVALID_ARGUMENT');
      }
      for (const tags of [[], ['', 'x'], 't', undefined, [null]]) {
        expect((await rejection(store.delByTags(tags as never))).code, JSON.stringify(tags)).to.equal('ERR_INVALID_ARGUMENT');
      }
      expect(await store.keys()).to.deep.equal(['a']);
      expect(await store.delByTags(['t'])).to.equal(1);
    });

    it('tags are plain strings: any text, the same on every backend', async () => {
      const { store } = await ctx.open();
      const odd = ['a:b', '{x}', '*', 'ä ☃ 😀', 'with space', '$in', '.dot', '%s', 'new\nline'];
      for (let i = 0; i < odd.length; i++) await store.set(`k${i}`, i, { tags: [odd[i]] });
      for (let i = 0; i < odd.length; i++) expect(await store.delByTags([odd[i]]), odd[i]).to.equal(1);
      expect(await store.keys()).to.deep.equal([]);
    });
  });

  describe('tags on a backend that cannot keep them', () => {
    it('are refused with ERR_INVALID_ARGUMENT, not silently dropped', async function () {
      const { store } = await ctx.open();
      if (store.supports.tags) this.skip(); // covered by the tags group above
      expect((await rejection(store.set('a', 1, { tags: ['t'] }))).code).to.equal('ERR_INVALID_ARGUMENT');
      expect((await rejection(store.delByTags(['t']))).code).to.equal('ERR_INVALID_ARGUMENT');
      expect(await store.has('a')).to.equal(false);
    });
  });
}
