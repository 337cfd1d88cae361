/**
 * What a backend declares about sharing its data (SPEC §8, `supports`): `shared` — another
 * store over the same data (another process, another connection) sees this one's writes;
 * `persistent` — the data outlives the store that wrote it. Chosen from `supports`, so a
 * backend that declares neither (the memory store) is not asked.
 */
import { expect } from 'chai';
import { SuiteContext } from './context';

export function sharing(ctx: SuiteContext): void {
  describe('sharing: a second store over the same data (supports.shared)', () => {
    ctx.requires('shared');

    it("sees the first one's writes, queries and deletes, and the first sees its writes", async () => {
      const { store: first, namespace } = await ctx.open();
      await first.set('plain', 'p');
      await first.set({ id: 1, kind: 'k' }, { n: 1 });
      await first.set({ id: 2, kind: 'k' }, { n: 2 });
      // Opened after the writes and never used before them: a cache tier of a multi store
      // holds nothing stale (coherence between processes is the invalidation bus's, §15).
      const { store: second } = await ctx.open({ namespace });
      expect(await second.getOne('plain')).to.equal('p');
      expect(await second.get({ kind: 'k' })).to.deep.equal([{ n: 1 }, { n: 2 }]);
      expect(await second.count({ kind: 'k' })).to.equal(2);
      expect(await second.del({ id: 1, kind: 'k' })).to.equal(1);
      await second.set('from second', 's');
      const { store: third } = await ctx.open({ namespace });
      expect(await third.keys()).to.have.deep.members(['plain', { id: 2, kind: 'k' }, 'from second']);
      expect(await first.getOne('from second')).to.equal('s');
    });
  });

  describe('persistence: the data outlives the store that wrote it (supports.persistent)', () => {
    ctx.requires('persistent');

    it('entries, their creation order and their TTLs are there after the writer closed', async () => {
      const { store: writer, namespace, clock } = await ctx.open();
      await writer.set('b', 2);
      await writer.set('a', 1, { ttl: 60_000 });
      await writer.set({ id: 3 }, { three: 3 });
      await writer.close();
      const { store: reader } = await ctx.open({ namespace, clock });
      expect(await reader.keys()).to.deep.equal(['b', 'a', { id: 3 }]);
      expect(await reader.getOne({ id: 3 })).to.deep.equal({ three: 3 });
      expect(await reader.ttl('a')).to.be.within(59_000, 60_000);
      expect(await reader.ttl('b')).to.equal(null);
    });
  });
}
