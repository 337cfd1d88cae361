/**
 * Per-call tier skipping on the multi store (SPEC §15, lib/multi/skip-tiers.ts): `skipTiers`
 * on `get` and `set`, by tier index or name. A skipped tier is neither read nor promoted into;
 * a write never skips a complete tier, and a skipped cache tier forgets the key rather than
 * keep the value the write replaced.
 */
import { expect } from 'chai';
import { MemoryStore } from '../lib/backends/memory';
import { MultiStore } from '../lib/multi/multi-store';
import { rejection } from '../lib/conformance/context';

describe('multi store: skipTiers', () => {
  let front: MemoryStore;
  let durable: MemoryStore;
  let store: MultiStore;

  beforeEach(() => {
    front = new MemoryStore();
    durable = new MemoryStore();
    store = new MultiStore({ stores: [{ store: front, name: 'hot' }, { store: durable, name: 'db' }] });
  });

  afterEach(async () => {
    await store.close();
    await Promise.all([front.close(), durable.close()]);
  });

  it('a set skipping the cache tier stores in the complete tier only, and the cache forgets its older copy', async () => {
    await store.set('k', 'old');
    expect(await front.getOne('k')).to.equal('old');
    await store.set('k', 'new', { skipTiers: ['hot'] });
    expect(await front.getOne('k')).to.equal(undefined);
    expect(await durable.getOne('k')).to.equal('new');
    expect(await store.getOne('k')).to.equal('new');
    await store.set({ id: 2 }, 2, { skipTiers: [0], ttl: 60_000, tags: ['t'] });
    expect(await front.has({ id: 2 })).to.equal(false);
    expect(await durable.ttl({ id: 2 })).to.be.within(59_000, 60_000);
    expect(await store.delByTags(['t'])).to.equal(1);
  });

  it('a get skipping the cache tier reads below it and promotes nothing into it', async () => {
    await store.set('k', 'v', { skipTiers: ['hot'] });
    expect(await store.get('k', { skipTiers: ['hot'] })).to.deep.equal(['v']);
    await store.idle();
    expect(await front.has('k')).to.equal(false);
    expect(await store.get('k')).to.deep.equal(['v']); // an ordinary read promotes
    await store.idle();
    expect(await front.getOne('k')).to.equal('v');
  });

  it('a get skipping the complete tier reads only the cache: a miss there is a miss, not a failure', async () => {
    await store.set('cached', 1);
    await store.set('below', 2, { skipTiers: ['hot'] });
    expect(await store.get('cached', { skipTiers: ['db'] })).to.deep.equal([1]);
    expect(await store.get('below', { skipTiers: ['db'], includeKey: true })).to.deep.equal([]);
    expect(await store.get('nowhere', { skipTiers: [1] })).to.deep.equal([]);
  });

  it('keeps the hit events’ tier and works while someone listens', async () => {
    const hits: unknown[] = [];
    store.on('hit', (e) => hits.push(e));
    await store.set('k', 'v', { skipTiers: ['hot'] });
    expect(await store.get('k', { skipTiers: ['hot'] })).to.deep.equal(['v']);
    await store.idle();
    expect(await front.has('k')).to.equal(false);
    expect(hits).to.deep.equal([{ key: 'k', tier: 1, tierName: 'db' }]);
  });

  it('refuses what cannot be skipped, or names no tier, with ERR_INVALID_ARGUMENT and writes nothing', async () => {
    const bad: Array<[() => Promise<unknown>, string]> = [
      [() => store.set('k', 1, { skipTiers: ['db'] }), 'a write skipping the complete tier'],
      [() => store.set('k', 1, { skipTiers: [1] }), 'the same by index'],
      [() => store.set('k', 1, { skipTiers: ['nope'] }), 'an unknown name'],
      [() => store.set('k', 1, { skipTiers: [7] }), 'an index past the tiers'],
      [() => store.set('k', 1, { skipTiers: [] }), 'an empty list'],
      [() => store.set('k', 1, { skipTiers: 'hot' as never }), 'not a list'],
      [() => store.get('k', { skipTiers: [0, 1] }), 'every tier'],
      [() => store.get({ team: 'red' }, { skipTiers: ['db'] }), 'a query skipping the tier that answers queries'],
      [() => store.set('k', 1, Object.defineProperty({}, 'skipTiers', { get: () => ['hot'], enumerable: true })), 'a getter'],
    ];
    for (const [call, what] of bad) expect((await rejection(call())).code, what).to.equal('ERR_INVALID_ARGUMENT');
    expect(await durable.keys()).to.deep.equal([]);
    const plain = new MemoryStore();
    try {
      expect((await rejection(plain.set('k', 1, { skipTiers: [0] }))).code, 'a store that is not a multi store').to.equal('ERR_INVALID_ARGUMENT');
    } finally {
      await plain.close();
    }
  });

  it('keeps program order and answers both callback conventions', async () => {
    const done = await Promise.all([store.set('k', 1), store.set('k', 2, { skipTiers: ['hot'] }), store.get('k', { skipTiers: ['db'] }), store.getOne('k')]);
    expect(done[2]).to.deep.equal([]);
    expect(done[3]).to.equal(2);
    const viaCallback = await new Promise((resolve, reject) => {
      void store.set('cb', 3, { skipTiers: ['hot'] }, ((err: Error | null) => (err ? reject(err) : resolve('written'))) as never);
    });
    expect(viaCallback).to.equal('written');
    const refused = await new Promise<{ code?: string }>((resolve) => {
      void store.set('cb', 3, { skipTiers: ['db'] }, ((err: { code?: string }) => resolve(err)) as never);
    });
    expect(refused.code).to.equal('ERR_INVALID_ARGUMENT');
  });
});
