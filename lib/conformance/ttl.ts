/** Conformance: TTL and expiry with an injected clock (SPEC §6). */
import { expect } from 'chai';
import { SuiteContext, rejection } from './context';

export function ttl(ctx: SuiteContext): void {
  describe('ttl', () => {
    ctx.requires('ttl');
    it('an expired entry is never returned, counted, listed, streamed or copied', async () => {
      const { store, clock } = await ctx.open();
      await store.set({ id: 1, kind: 'k' }, 'short', { ttl: 1000 });
      await store.set({ id: 2, kind: 'k' }, 'long', { ttl: 60_000 });
      await store.set('s:short', 's', { ttl: 1000 });
      await store.set('s:forever', 'f');
      expect(await store.get({ kind: 'k' })).to.deep.equal(['short', 'long']);
      clock.advance(1001);
      expect(await store.get({ kind: 'k' })).to.deep.equal(['long']);
      expect(await store.getOne({ id: 1, kind: 'k' })).to.equal(undefined);
      expect(await store.get({ id: 1, kind: 'k' })).to.deep.equal([]);
      expect(await store.has('s:short')).to.equal(false);
      expect(await store.getOne('s:short')).to.equal(undefined);
      expect(await store.count({ kind: 'k' })).to.equal(1);
      expect(await store.keys('s:*')).to.deep.equal(['s:forever']);
      expect((await store.keys()).length).to.equal(2);
      const streamed: unknown[] = [];
      for await (const entry of store.entries()) streamed.push(entry.value);
      expect(streamed).to.deep.equal(['long', 'f']);
      const { store: target } = await ctx.open({ clock });
      expect(await store.copy(target)).to.equal(2);
      expect(await target.keys()).to.have.length(2);
      expect(await store.del({ id: 1, kind: 'k' })).to.equal(0);
      await target.close();
    });

    it('an iteration does not yield an entry that expired while it ran (expiry checked per entry)', async () => {
      const { store, clock } = await ctx.open();
      const rounds: Array<(round: number) => AsyncIterable<{ value: unknown }>> = [
        () => store.entries(),
        (round) => store.entries({ round }),
        (round) => store.entries({ round, it: { $gte: 0 } }),
        (round) => store.createReadStream({ round }),
      ];
      for (let round = 0; round < rounds.length; round++) {
        // Enough entries that backends reading in batches are still iterating when the clock moves.
        for (let i = 0; i < 30; i++) await store.set({ it: i, round }, i, { ttl: i < 10 ? undefined : 1000 });
        const seen: unknown[] = [];
        for await (const { value } of rounds[round](round)) {
          seen.push(value);
          if (seen.length === 1) clock.advance(1000); // entries 10..29 of this round expire now, mid-iteration
        }
        expect(seen, `round ${round}`).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      }
    });

    it('a TTL over the limit (MAX_TTL_MS, 100 years) is refused before anything is written; one at the limit is stored and read', async () => {
      const { store } = await ctx.open();
      await store.set('tiny', 1);
      for (const ttl of [1e19, Number.MAX_VALUE, Infinity, 100 * 365.25 * 24 * 3600 * 1000 + 1]) {
        const err = await rejection(store.set({ o: 2 }, 'v', { ttl }));
        expect(err.code, String(ttl)).to.equal('ERR_INVALID_ARGUMENT');
      }
      expect((await rejection(store.setex('big', 'v', 1e300))).code).to.equal('ERR_INVALID_ARGUMENT');
      expect(await store.count({ o: 2 })).to.equal(0);
      expect(await store.keys()).to.deep.equal(['tiny']);
      const longest = 100 * 365.25 * 24 * 3600 * 1000;
      await store.set({ o: 3 }, 'far', { ttl: longest });
      expect(await store.getOne({ o: 3 })).to.equal('far');
      expect(await store.get({ o: 3 })).to.deep.equal(['far']);
      expect(await store.ttl({ o: 3 })).to.be.within(longest - 60_000, longest);
    });

    it('ttl() gives remaining ms, null without expiry, undefined when absent', async () => {
      const { store, clock } = await ctx.open();
      await store.set('a', 1, { ttl: 5000 });
      await store.set('b', 2);
      clock.advance(2000);
      const remaining = await store.ttl('a');
      expect(remaining).to.be.a('number');
      expect(remaining!).to.be.within(2900, 3000);
      expect(await store.ttl('b')).to.equal(null);
      expect(await store.ttl('nope')).to.equal(undefined);
      clock.advance(3001);
      expect(await store.ttl('a')).to.equal(undefined);
    });

    it('setex takes seconds', async () => {
      const { store, clock } = await ctx.open();
      await store.setex({ session: 'abc' }, { user: 1 }, 10);
      clock.advance(9000);
      expect(await store.getOne({ session: 'abc' })).to.deep.equal({ user: 1 });
      clock.advance(1001);
      expect(await store.getOne({ session: 'abc' })).to.equal(undefined);
      const err = await rejection(store.setex('k', 1, -1));
      expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
    });

    it('defaultTtl applies when set gives none; ttl 0 or null means no expiry', async () => {
      const { store, clock } = await ctx.open({ defaultTtl: 1000 });
      await store.set('default', 1);
      await store.set('none', 2, { ttl: 0 });
      await store.set('null', 3, { ttl: null });
      await store.set('own', 4, { ttl: 5000 });
      clock.advance(1001);
      expect(await store.keys()).to.deep.equal(['none', 'null', 'own']);
    });

    it('overwriting resets the TTL; an overwrite without ttl removes the expiry', async () => {
      const { store, clock } = await ctx.open();
      await store.set('k', 1, { ttl: 1000 });
      await store.set('k', 2);
      clock.advance(5000);
      expect(await store.getOne('k')).to.equal(2);
      expect(await store.ttl('k')).to.equal(null);
      await store.set('k', 3, { ttl: 1000 });
      clock.advance(999);
      expect(await store.getOne('k')).to.equal(3);
      clock.advance(2);
      expect(await store.getOne('k')).to.equal(undefined);
    });

    it('an expired key set again is a new entry at the end of creation order', async () => {
      const { store, clock } = await ctx.open();
      await store.set({ n: 1, g: 1 }, 'a', { ttl: 1000 });
      await store.set({ n: 2, g: 1 }, 'b');
      clock.advance(1001);
      await store.set({ n: 1, g: 1 }, 'a2');
      expect(await store.get({ g: 1 })).to.deep.equal(['b', 'a2']);
    });

    it('rejects a negative or non-numeric ttl with ERR_INVALID_ARGUMENT', async () => {
      const { store } = await ctx.open();
      for (const bad of [-1, NaN, Infinity, '10']) {
        const err = await rejection(store.set('k', 1, { ttl: bad as number }));
        expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
      }
      expect(await store.has('k')).to.equal(false);
    });
  });
}
