/**
 * Conformance: getMeta(key) → { size, createdAt, updatedAt, expiresAt, tags } (SPEC §16). Times
 * are the store's clock (the suite's ManualClock), so they are checked exactly. A backend that
 * does not record times (one that leaves getMeta to the core's default) runs with
 * `entryTimes: false` and must then report them as null; the tests on expiry and tags run
 * where the backend declares `ttl` and `tags`.
 */
import { expect } from 'chai';
import type { EntryMeta } from '../backend';
import type { BaseStore } from '../store';
import { SuiteContext, rejection } from './context';

/** A string of `n` characters that no compressor shrinks much (deterministic). */
function noisy(n: number): string {
  let out = '';
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out += String.fromCharCode(33 + ((x >>> 0) % 90));
  }
  return out;
}

/** The given chunks as a byte source for setStream. */
async function* chunks(...parts: Buffer[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield part;
}

export function meta(ctx: SuiteContext): void {
  const recordsTimes = ctx.options.entryTimes;

  /** Checks the two times: equal to the given clock readings, or null where the backend records none. */
  function expectTimes(found: EntryMeta | undefined, createdAt: number, updatedAt: number, label = ''): void {
    expect(found, `${label} meta`).to.not.equal(undefined);
    if (recordsTimes) {
      expect(found!.createdAt, `${label} createdAt`).to.equal(createdAt);
      expect(found!.updatedAt, `${label} updatedAt`).to.equal(updatedAt);
    } else {
      expect(found!.createdAt, `${label} createdAt`).to.equal(null);
      expect(found!.updatedAt, `${label} updatedAt`).to.equal(null);
    }
  }

  async function metaOf(store: BaseStore, key: Parameters<BaseStore['getMeta']>[0]): Promise<EntryMeta> {
    const found = await store.getMeta(key);
    expect(found, `getMeta(${JSON.stringify(key)})`).to.not.equal(undefined);
    return found!;
  }

  describe('getMeta', () => {
    it('undefined for an absent key; after a set: its size, the clock time as created and updated, no expiry, no tags', async () => {
      const { store, clock } = await ctx.open();
      expect(await store.getMeta('absent')).to.equal(undefined);
      expect(await store.getMeta({ id: 'absent' })).to.equal(undefined);
      const t0 = clock.now();
      await store.set('a', { name: 'x', n: [1, 2, 3] });
      const found = await metaOf(store, 'a');
      expect(Object.keys(found).sort()).to.deep.equal(['createdAt', 'expiresAt', 'size', 'tags', 'updatedAt']);
      expectTimes(found, t0, t0);
      expect(found.expiresAt).to.equal(null);
      expect(found.tags).to.deep.equal([]);
      expect(Number.isInteger(found.size) && found.size > 0, `size ${found.size}`).to.equal(true);
      expect(await store.getOne('a')).to.deep.equal({ name: 'x', n: [1, 2, 3] }); // reading metadata changes nothing
    });

    it('an overwrite later keeps createdAt and moves updatedAt', async () => {
      const { store, clock } = await ctx.open();
      const t0 = clock.now();
      await store.set('k', 1);
      await store.set({ id: 7, kind: 'o' }, 'first');
      clock.advance(1_500);
      await store.set('k', 2);
      await store.set({ id: 7, kind: 'o' }, 'second');
      expectTimes(await store.getMeta('k'), t0, t0 + 1_500, 'string key');
      expectTimes(await store.getMeta({ id: 7, kind: 'o' }), t0, t0 + 1_500, 'object key');
      clock.advance(10);
      await store.setMany([{ key: 'k', value: 3 }]);
      expectTimes(await store.getMeta('k'), t0, t0 + 1_510, 'setMany');
    });

    it('a deleted key set again is a new entry: createdAt is the new set\'s', async () => {
      const { store, clock } = await ctx.open();
      await store.set('k', 1);
      await store.del('k');
      expect(await store.getMeta('k')).to.equal(undefined);
      clock.advance(700);
      const t1 = clock.now();
      await store.set('k', 2);
      expectTimes(await store.getMeta('k'), t1, t1);
    });

    it('size is positive and grows with the value', async () => {
      const { store } = await ctx.open();
      await store.set('small', 'x');
      await store.set('big', noisy(20_000));
      await store.set('bytes', Buffer.from(noisy(5_000)));
      const small = (await metaOf(store, 'small')).size;
      const big = (await metaOf(store, 'big')).size;
      expect(small).to.be.greaterThan(0);
      expect(big, `big ${big}, small ${small}`).to.be.greaterThan(small);
      expect(big).to.be.at.least(10_000);
      expect((await metaOf(store, 'bytes')).size).to.be.at.least(2_500);
    });

    it('a streamed value: its size counts its bytes, its times are the set\'s', async () => {
      const { store, clock } = await ctx.open();
      const bytes = Buffer.from(noisy(50_000));
      const t0 = clock.now();
      await store.setStream('file', chunks(bytes.subarray(0, 20_000), bytes.subarray(20_000)));
      const found = await metaOf(store, 'file');
      // Its stored bytes: at least half of them even where chunks are compressed (Redis with
      // `compress`: this text shrinks by a fifth), at most twice (a frame or encoding per chunk).
      expect(found.size, `size ${found.size}`).to.be.within(bytes.length / 2, 2 * bytes.length);
      expectTimes(found, t0, t0);
      clock.advance(100);
      await store.setStream('file', chunks(bytes.subarray(0, 10)));
      const again = await metaOf(store, 'file');
      expectTimes(again, t0, t0 + 100, 'rewritten');
      expect(again.size).to.be.lessThan(found.size);
    });

    it('object keys: found by the same key in any field order, not by a part of it', async () => {
      const { store } = await ctx.open();
      await store.set({ id: 1, kind: 'k', tags: ['a', 'b'] }, 'v');
      const found = await metaOf(store, { tags: ['a', 'b'], kind: 'k', id: 1 });
      expect(found.size).to.be.greaterThan(0);
      expect(await store.getMeta({ id: 1 })).to.equal(undefined);
      expect(await store.getMeta({ id: 1, kind: 'k' })).to.equal(undefined);
      expect(await store.getMeta({ id: '1', kind: 'k', tags: ['a', 'b'] })).to.equal(undefined);
    });

    it('keeps program order with the calls around it', async () => {
      const { store, clock } = await ctx.open();
      const t0 = clock.now();
      const [, first, , second, , third] = await Promise.all([
        store.set('k', 1),
        store.getMeta('k'),
        store.del('k'),
        store.getMeta('k'),
        store.set('k', 'longer value'),
        store.getMeta('k'),
      ]);
      expectTimes(first, t0, t0, 'after set');
      expect(second).to.equal(undefined);
      expectTimes(third, t0, t0, 'after set again');
      expect(third!.size).to.be.greaterThan(first!.size);
    });

    it('refuses a bad key with ERR_INVALID_KEY and a bad callback with ERR_INVALID_ARGUMENT', async () => {
      const { store } = await ctx.open();
      await store.set('a', 1);
      for (const bad of ['', { $gt: 1 }, { a: undefined }, { __proto__x: 1, constructor: 1 }, 5, null, undefined, [1], () => 1]) {
        expect((await rejection(store.getMeta(bad as never))).code, String(JSON.stringify(bad))).to.equal('ERR_INVALID_KEY');
      }
      expect((await rejection(store.getMeta('a', 'not a function' as never))).code).to.equal('ERR_INVALID_ARGUMENT');
      expect((await rejection(store.getMeta('a', {} as never))).code).to.equal('ERR_INVALID_ARGUMENT');
      expect(await store.getOne('a')).to.equal(1);
    });

    it('answers through both callback conventions', async () => {
      const { store: node, clock } = await ctx.open({ callbacks: 'node' });
      const t0 = clock.now();
      await node.set('a', 1);
      const viaNode = await new Promise<EntryMeta | undefined>((resolve, reject) => {
        void node.getMeta('a', ((err: Error | null, found: EntryMeta | undefined) => (err ? reject(err) : resolve(found))) as never);
      });
      expectTimes(viaNode, t0, t0, 'node');
      const nodeErr = await new Promise<Error & { code?: string }>((resolve) => {
        void node.getMeta({ $bad: 1 } as never, ((err: Error) => resolve(err)) as never);
      });
      expect(nodeErr.code).to.equal('ERR_INVALID_KEY');

      const { store: legacy } = await ctx.open({ callbacks: 'result-first' });
      await legacy.set('a', 1);
      const viaLegacy = await new Promise<unknown>((resolve) => void legacy.getMeta('a', resolve as never));
      expect((viaLegacy as EntryMeta).size).to.be.greaterThan(0);
      expect(await new Promise<unknown>((resolve) => void legacy.getMeta('missing', resolve as never))).to.equal(undefined);
      const events: Array<Error & { code?: string }> = [];
      legacy.on('error', (e) => events.push(e));
      const failed = await new Promise<unknown>((resolve) => void legacy.getMeta({ $bad: 1 } as never, resolve as never));
      expect(Boolean(failed), 'the failure value is falsy').to.equal(false);
      expect(events.map((e) => e.code)).to.deep.equal(['ERR_INVALID_KEY']);
    });
  });

  describe('getMeta with TTLs', () => {
    ctx.requires('ttl');

    it('expiresAt is the set\'s clock time plus its ttl, as ttl() reads it', async () => {
      const { store, clock } = await ctx.open();
      const t0 = clock.now();
      await store.set('a', 1, { ttl: 5_000 });
      await store.set({ id: 2 }, 2, { ttl: 60_000 });
      await store.setex('s', 3, 10);
      clock.advance(1_000);
      for (const [key, ttl] of [['a', 5_000], [{ id: 2 }, 60_000], ['s', 10_000]] as const) {
        const found = await metaOf(store, key);
        expect(found.expiresAt, JSON.stringify(key)).to.be.within(t0 + ttl - 10, t0 + ttl);
        expect(found.expiresAt! - clock.now(), JSON.stringify(key)).to.equal(await store.ttl(key));
        expectTimes(found, t0, t0, JSON.stringify(key));
      }
    });

    it('touch changes expiresAt, not updatedAt nor createdAt', async () => {
      const { store, clock } = await ctx.open();
      const t0 = clock.now();
      await store.set('a', 1);
      await store.set({ id: 2 }, 2, { ttl: 1_000 });
      clock.advance(500);
      expect(await store.touch('a', 5_000)).to.equal(true);
      expect(await store.touch({ id: 2 }, null)).to.equal(true);
      const a = await metaOf(store, 'a');
      expect(a.expiresAt).to.be.within(t0 + 5_490, t0 + 5_500);
      expectTimes(a, t0, t0, 'a');
      const two = await metaOf(store, { id: 2 });
      expect(two.expiresAt).to.equal(null);
      expectTimes(two, t0, t0, '{ id: 2 }');
      clock.advance(500);
      await store.set('a', 3, { ttl: 1_000 });
      expectTimes(await store.getMeta('a'), t0, t0 + 1_000, 'a overwritten after touch');
    });

    it('an expired entry has none; set again it is a new entry, created then', async () => {
      const { store, clock } = await ctx.open();
      await store.set('a', 1, { ttl: 1_000 });
      await store.set({ id: 2 }, 2, { ttl: 1_000 });
      clock.advance(1_000);
      expect(await store.getMeta('a')).to.equal(undefined);
      expect(await store.getMeta({ id: 2 })).to.equal(undefined);
      clock.advance(250);
      const t1 = clock.now();
      await store.set('a', 'again');
      await store.set({ id: 2 }, 'again', { ttl: 1_000 });
      expectTimes(await store.getMeta('a'), t1, t1, 'a');
      expectTimes(await store.getMeta({ id: 2 }), t1, t1, '{ id: 2 }');
    });

    it('defaultTtl gives the expiry', async () => {
      const { store, clock } = await ctx.open({ defaultTtl: 2_000 });
      const t0 = clock.now();
      await store.set('d', 1);
      expect((await metaOf(store, 'd')).expiresAt).to.be.within(t0 + 1_990, t0 + 2_000);
    });
  });

  describe('getMeta with tags', () => {
    ctx.requires('tags');

    it('tags as given; replaced by a set with others, gone with a set without; kept by touch', async () => {
      const { store, clock } = await ctx.open();
      await store.set('a', 1, { tags: ['zeta', 'alpha'] });
      await store.set({ id: 2 }, 2, { tags: ['only'] });
      await store.setMany([{ key: 'm', value: 3, tags: ['many'] }]);
      expect((await metaOf(store, 'a')).tags).to.deep.equal(['zeta', 'alpha']);
      expect((await metaOf(store, { id: 2 })).tags).to.deep.equal(['only']);
      expect((await metaOf(store, 'm')).tags).to.deep.equal(['many']);
      if (store.supports.ttl) {
        expect(await store.touch('a', 60_000)).to.equal(true);
        expect((await metaOf(store, 'a')).tags).to.deep.equal(['zeta', 'alpha']);
      }
      clock.advance(10);
      await store.set('a', 4, { tags: ['beta'] });
      expect((await metaOf(store, 'a')).tags).to.deep.equal(['beta']);
      await store.set({ id: 2 }, 5);
      expect((await metaOf(store, { id: 2 })).tags).to.deep.equal([]);
      const found = await metaOf(store, 'a');
      found.tags.push('mutated'); // a copy: the caller may change it
      expect((await metaOf(store, 'a')).tags).to.deep.equal(['beta']);
      await store.delByTags(['beta']);
      expect(await store.getMeta('a')).to.equal(undefined);
    });
  });
}
