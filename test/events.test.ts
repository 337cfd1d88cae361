/**
 * Per-operation events (SPEC §15, lib/core/observe.ts): 'hit' 'miss' 'set' 'delete' with the
 * user's key (and the serving tier on a multi store), 'expire' / 'evict' from the backend
 * through BackendEvents.wants/emit, and nothing emitted — nothing wrapped — while nobody listens.
 * Runs on the memory store and on a multi store [memory, redis] over a real redis-server.
 */
import { expect } from 'chai';
import type { BackendContext } from '../lib/backend';
import { BackendStore } from '../lib/backend-store';
import { ManualClock } from '../lib/clock';
import { MemoryStore } from '../lib/backends/memory';
import { keyId } from '../lib/keys';
import { MultiStore } from '../lib/multi/multi-store';
import type { BaseStore } from '../lib/store';
import { createMapBackend } from './fixtures/map-backend';
import { freshNamespace } from './support/store-configs';
import { sharedRedis } from './support/redis-server';
import { StoreSetup, describeEachStore, memoryAndMultiRedis } from './support/store-setups';

const EVENTS = ['hit', 'miss', 'set', 'delete', 'expire', 'evict'] as const;

/** Every per-operation event the store emits, in order: [name, payload]. */
function record(store: BaseStore, names: readonly string[] = EVENTS): Array<[string, unknown]> {
  const seen: Array<[string, unknown]> = [];
  for (const name of names) store.on(name, (payload: unknown) => seen.push([name, payload]));
  return seen;
}

interface Setup extends StoreSetup {
  /** What a hit served by the fastest tier adds to the payload. */
  frontHit: (store: BaseStore) => Record<string, unknown>;
}

const [memorySetup, multiSetup] = memoryAndMultiRedis('events');
const SETUPS: Setup[] = [
  { ...memorySetup, frontHit: () => ({}) },
  { ...multiSetup, frontHit: (store) => ({ tier: 0, tierName: (store as MultiStore).tiers[0].name }) },
];

describeEachStore(SETUPS, (s) => `events on ${s.name}`, (setup, current) => {
  let store: BaseStore;
  beforeEach(() => {
    store = current();
  });


  it('getOne emits hit and miss with the key (the tier on a multi store)', async () => {
    await store.set('a', 1);
    await store.set({ user: 7, tags: ['x'] }, 2);
    const seen = record(store);
    expect(await store.getOne('a')).to.equal(1);
    expect(await store.getOne('absent')).to.equal(undefined);
    expect(await store.getOne({ tags: ['x'], user: 7 })).to.equal(2);
    expect(seen).to.deep.equal([
      ['hit', { key: 'a', ...setup.frontHit(store) }],
      ['miss', { key: 'absent' }],
      ['hit', { key: { tags: ['x'], user: 7 }, ...setup.frontHit(store) }],
    ]);
  });

  it('a callback getOne and getMany emit per key', async () => {
    await store.setMany([{ key: 'm1', value: 1 }, { key: 'm2', value: 2 }]);
    const seen = record(store);
    const value = await new Promise((resolve, reject) => store.getOne('m1', (err: Error | null, v: unknown) => (err ? reject(err) : resolve(v))));
    expect(value).to.equal(1);
    expect(await store.getMany(['m2', 'none', 'm1'])).to.deep.equal([2, undefined, 1]);
    const hit = (key: string) => ['hit', { key, ...setup.frontHit(store) }];
    expect(seen).to.deep.equal([hit('m1'), hit('m2'), ['miss', { key: 'none' }], hit('m1')]);
  });

  it('set, setex, setMany emit set per key; del, delMany emit delete per removed key only', async () => {
    const seen = record(store);
    await store.set('s1', 1);
    await store.setex('s2', 2, 60);
    await store.set({ id: 3 }, 3, { ttl: 60_000 });
    await store.setMany([{ key: 's4', value: 4 }, { key: { id: 5 }, value: 5 }]);
    expect(await store.del('s1')).to.equal(1);
    expect(await store.del('s1')).to.equal(0);
    expect(await store.delMany(['s2', 'nothing', { id: 5 }])).to.equal(2);
    expect(seen).to.deep.equal([
      ['set', { key: 's1' }],
      ['set', { key: 's2' }],
      ['set', { key: { id: 3 } }],
      ['set', { key: 's4' }],
      ['set', { key: { id: 5 } }],
      ['delete', { key: 's1' }],
      ['delete', { key: 's2' }],
      ['delete', { key: { id: 5 } }],
    ]);
  });

  it('a query delete, delKeys and delByTags emit one delete with what was asked and the count (none when nothing went)', async () => {
    await store.set({ team: 'red', n: 1 }, 1);
    await store.set({ team: 'red', n: 2 }, 2);
    await store.set({ team: 'blue', n: 3 }, 3);
    await store.set('user:1', 1);
    await store.set('user:2', 2);
    const seen = record(store, ['delete']);
    expect(await store.del({ team: 'red' })).to.equal(2);
    expect(await store.del({ team: 'green' })).to.equal(0);
    expect(await store.delKeys('user:*')).to.equal(2);
    expect(seen).to.deep.equal([
      ['delete', { query: { team: 'red' }, count: 2 }],
      ['delete', { query: 'user:*', count: 2 }],
    ]);
  });

  it('delByTags emits one delete with the tags and the count', async () => {
    await store.set('t1', 1, { tags: ['a'] });
    await store.set('t2', 2, { tags: ['b', 'a'] });
    const seen = record(store, ['delete']);
    expect(await store.delByTags(['a'])).to.equal(2);
    expect(await store.delByTags(['a'])).to.equal(0);
    expect(seen).to.deep.equal([['delete', { tags: ['a'], count: 2 }]]);
  });

  it('emits nothing, and leaves the backend unwrapped, while nobody listens (also after the last listener goes)', async () => {
    const emitted: string[] = [];
    const emit = store.emit.bind(store);
    store.emit = (name: string | symbol, ...args: unknown[]) => {
      emitted.push(String(name));
      return emit(name, ...args);
    };
    const plain = (store as unknown as { storage: unknown }).storage;
    const ops = async () => {
      await store.set('q', 1);
      await store.getOne('q');
      await store.getOne('nope');
      await store.getMany(['q', 'nope']);
      await store.setMany([{ key: 'r', value: 1 }]);
      await store.delMany(['r']);
      await store.del({ k: 1 });
      await store.del('q');
    };
    await ops();
    const listener = () => undefined;
    store.on('hit', listener);
    expect((store as unknown as { storage: unknown }).storage).to.not.equal(plain);
    store.off('hit', listener);
    expect((store as unknown as { storage: unknown }).storage).to.equal(plain);
    const before = emitted.length;
    await ops();
    expect(emitted.slice(before).filter((name) => (EVENTS as readonly string[]).includes(name))).to.deep.equal([]);
    expect(emitted.filter((name) => (EVENTS as readonly string[]).includes(name))).to.deep.equal([]);
  });

  it('removeAllListeners() keeps the listener hooks: events stop, then start again with a new listener', async () => {
    record(store, ['set']);
    store.removeAllListeners();
    const plain = (store as unknown as { storage: unknown }).storage;
    await store.set('x', 1); // nobody listens: nothing to see
    const seen = record(store, ['set']);
    await store.set('y', 2);
    expect(seen).to.deep.equal([['set', { key: 'y' }]]);
    expect((store as unknown as { storage: unknown }).storage).to.not.equal(plain);
    store.removeAllListeners('set');
    expect((store as unknown as { storage: unknown }).storage).to.equal(plain);
  });

  it('a listener that throws does not fail the call: its error is reported as error', async () => {
    const boom = new Error('listener bug');
    store.on('set', () => {
      throw boom;
    });
    const errors: unknown[] = [];
    store.on('error', (err) => errors.push(err));
    await store.set('z', 1);
    expect(await store.getOne('z')).to.equal(1);
    expect(errors).to.deep.equal([boom]);
  });
});

describe('events: the multi store names the tier that served a hit', function () {
  this.timeout(30_000);
  it('a hit below the front tier carries that tier; getWithSource emits too', async () => {
    const { url } = await sharedRedis();
    const front = new MemoryStore();
    const store = new MultiStore({ namespace: freshNamespace('events-tier'), stores: [front, { type: 'redis', settings: { url } }] });
    try {
      await store.set('k', 'v');
      await store.tiers[0].store.clear(); // only the Redis tier holds it now (the tier is the front store's scope)
      const seen = record(store, ['hit', 'miss']);
      expect(await store.getOne('k')).to.equal('v');
      await store.idle(); // the promotion into the front tier
      expect(await store.getWithSource('k')).to.deep.include({ value: 'v', tier: 0 });
      expect(await store.getWithSource('gone')).to.equal(undefined);
      expect(seen).to.deep.equal([
        ['hit', { key: 'k', tier: 1, tierName: store.tiers[1].name }],
        ['hit', { key: 'k', tier: 0, tierName: store.tiers[0].name }],
        ['miss', { key: 'gone' }],
      ]);
    } finally {
      await store.clear();
      await store.close();
      await front.close();
    }
  });
});

describe('events: expire and evict come from the backend (BackendEvents.wants / emit)', () => {
  it('wants() is true only while someone listens; the payload is { key }', async () => {
    let context: BackendContext | undefined;
    const store = new BackendStore({}, (_settings, ctx) => {
      context = ctx;
      return createMapBackend(ctx);
    });
    const events = (context as BackendContext).events;
    expect(events.wants?.('expire')).to.equal(false);
    expect(events.wants?.('evict')).to.equal(false);
    const seen = record(store, ['expire']);
    expect(events.wants?.('expire')).to.equal(true);
    expect(events.wants?.('evict')).to.equal(false);
    events.emit('expire', { id: keyId({ a: 1 }), key: { a: 1 } });
    events.emit('expire', { id: keyId('plain') });
    expect(seen).to.deep.equal([
      ['expire', { key: { a: 1 } }],
      ['expire', { key: 'plain' }],
    ]);
    store.removeAllListeners('expire');
    expect(events.wants?.('expire')).to.equal(false);
    await store.close();
  });
});

describe('events: expire and evict on the memory store', () => {
  it('a swept expired entry emits expire { key }; an entry pushed out by maxKeys emits evict { key }; none without a listener', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryStore({ clock, maxKeys: 2, sweepInterval: 0 });
    try {
      await store.set('quiet', 1, { ttl: 10 });
      clock.advance(20);
      store.sweep(); // nobody listens: freed without an event
      const seen = record(store, ['expire', 'evict']);
      await store.set({ id: 1 }, 1, { ttl: 10 });
      clock.advance(20);
      store.sweep();
      await store.set('a', 1);
      await store.set('b', 2);
      await store.set('c', 3); // a third key: 'a', the least recently used, goes
      expect(seen).to.deep.equal([
        ['expire', { key: { id: 1 } }],
        ['evict', { key: 'a' }],
      ]);
    } finally {
      await store.close();
    }
  });
});


describe('events: expire and evict on a multi store come from its tiers, with the tier', () => {
  it('forwards a tier’s expiry and eviction while someone listens, and stops when nobody does', async () => {
    const clock = new ManualClock(1_000_000);
    const front = new MemoryStore({ clock, maxKeys: 2 });
    const durable = new MemoryStore({ clock });
    const store = new MultiStore({ clock, stores: [front, durable] });
    try {
      await store.set('quiet', 1, { ttl: 10 });
      clock.advance(20);
      expect(await store.getOne('quiet')).to.equal(undefined); // nobody listens: nothing forwarded
      const seen = record(store, ['expire', 'evict']);
      expect(front.listenerCount('expire'), 'the tiers are listened to only now').to.equal(1);
      await store.set({ id: 1 }, 1, { ttl: 10 });
      clock.advance(20);
      expect(await store.getOne({ id: 1 })).to.equal(undefined);
      await store.set('a', 1);
      await store.set('b', 2);
      await store.set('c', 3); // the front tier holds 2: 'a' goes from it (the durable tier keeps it)
      expect(seen).to.deep.include.members([
        ['expire', { key: { id: 1 }, tier: 0, tierName: 'MemoryStore' }],
        ['evict', { key: 'a', tier: 0, tierName: 'MemoryStore' }],
      ]);
      expect(seen.filter(([, e]) => (e as { tier: number }).tier === 1).map(([name]) => name)).to.deep.equal(['expire']);
      store.removeAllListeners('expire');
      store.removeAllListeners('evict');
      expect(front.listenerCount('expire') + front.listenerCount('evict') + durable.listenerCount('expire')).to.equal(0);
    } finally {
      await store.close();
      await Promise.all([front.close(), durable.close()]);
    }
  });
});
