/**
 * The mount store (SPEC §16): routing by longest prefix, by an object key's field and to the
 * default; the error when nothing takes a key; calls that span only the mounts a selector can
 * touch; a failing mount failing only the calls that need it; per-mount TTLs; scopes.
 */
import { expect } from 'chai';
import { createStore } from '../lib/factory';
import { ManualClock } from '../lib/clock';
import { MemoryStore } from '../lib/backends/memory';
import { MountStore } from '../lib/backends/mount';
import { rejection } from '../lib/conformance/context';
import type { BaseStore } from '../lib/store';
import { FaultyStore, faultControl } from './support/multi-faulty';

describe('mount store', () => {
  let opened: BaseStore[] = [];
  const track = <S extends BaseStore>(store: S): S => {
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of opened.reverse()) await store.close();
    opened = [];
  });

  /** Three given memory stores mounted under 'sessions:', 'sessions:admin:' and a default, object keys by `kind`. */
  function threeMounts(clock = new ManualClock(1_000_000)) {
    const sessions = track(new MemoryStore({ clock }));
    const admins = track(new MemoryStore({ clock }));
    const rest = track(new MemoryStore({ clock }));
    const store = track(new MountStore({ clock, field: 'kind', mounts: { 'sessions:': sessions, 'sessions:admin:': admins, session: sessions }, default: rest }));
    return { store, sessions, admins, rest, clock };
  }

  describe('routing', () => {
    it('a string key goes to the mount whose name is its longest prefix, kept whole; others to the default', async () => {
      const sessions = track(new MemoryStore());
      const admins = track(new MemoryStore());
      const rest = track(new MemoryStore());
      const store = track(new MountStore({ mounts: { 'sessions:': sessions, 'sessions:admin:': admins }, default: rest }));
      await store.set('sessions:1', 'a');
      await store.set('sessions:admin:2', 'b');
      await store.set('other', 'c');
      await store.set('session', 'd'); // shorter than every mount name
      expect(await sessions.keys()).to.deep.equal(['sessions:1']);
      expect(await admins.keys()).to.deep.equal(['sessions:admin:2']);
      expect(await rest.keys()).to.deep.equal(['other', 'session']);
      expect(await store.getOne('sessions:admin:2')).to.equal('b');
      expect(store.mountOf('sessions:admin:x')).to.equal('sessions:admin:');
      expect(store.mountOf('sessions:x')).to.equal('sessions:');
      expect(store.mountOf('x')).to.equal('default');
      // The prefix is kept, so keys() round-trips: every listed key reads back.
      const keys = (await store.keys()) as string[];
      expect(keys).to.deep.equal(['sessions:1', 'sessions:admin:2', 'other', 'session']);
      for (const key of keys) expect(await store.getOne(key)).to.not.equal(undefined);
    });

    it('an object key goes to the mount named by its field, else to the default; a query on the field finds both', async () => {
      const { store, sessions, rest } = threeMounts();
      await store.set({ kind: 'session', id: 1 }, 'in sessions');
      await store.set({ kind: 'cache', id: 2 }, 'no such mount');
      await store.set({ id: 3 }, 'no field');
      await store.set({ kind: ['session'], id: 4 }, 'field not a string');
      expect(await sessions.keys({ id: { $gte: 0 } })).to.deep.equal([{ kind: 'session', id: 1 }]);
      expect(await rest.count({ id: { $gte: 0 } })).to.equal(3);
      expect(await store.getOne({ id: 1, kind: 'session' })).to.equal('in sessions');
      expect(await store.get({ kind: 'session' })).to.have.members(['in sessions', 'field not a string']);
      expect(await store.count({ kind: { $in: ['session', 'cache'] } })).to.equal(3);
      expect(store.mountOf({ kind: 'session' })).to.equal('session');
      expect(store.mountOf({ kind: 1 })).to.equal('default');
    });

    it('without a default, a key no mount takes is ERR_INVALID_KEY on every exact call, and nothing is written', async () => {
      const sessions = track(new MemoryStore());
      const store = track(new MountStore({ field: 'kind', mounts: { 'sessions:': sessions } }));
      for (const key of ['other', { kind: 'x' }, { id: 1 }]) {
        expect((await rejection(store.set(key, 1))).code, JSON.stringify(key)).to.equal('ERR_INVALID_KEY');
        expect((await rejection(store.getOne(key))).code).to.equal('ERR_INVALID_KEY');
        expect((await rejection(store.touch(key, 10))).code).to.equal('ERR_INVALID_KEY');
        expect((await rejection(store.has(key))).code).to.equal('ERR_INVALID_KEY');
        expect((await rejection(store.ttl(key))).code).to.equal('ERR_INVALID_KEY');
      }
      // A string given to a query call is an exact key too.
      expect((await rejection(store.del('other'))).code).to.equal('ERR_INVALID_KEY');
      expect((await rejection(store.get('other'))).code).to.equal('ERR_INVALID_KEY');
      expect((await rejection(store.count('other'))).code).to.equal('ERR_INVALID_KEY');
      // Bulk calls are refused whole, before anything is written or deleted.
      await store.set('sessions:1', 'kept');
      expect((await rejection(store.setMany([{ key: 'sessions:2', value: 2 }, { key: 'other', value: 3 }]))).code).to.equal('ERR_INVALID_KEY');
      expect(await sessions.has('sessions:2')).to.equal(false);
      expect((await rejection(store.delMany(['sessions:1', { kind: 'x' }]))).code).to.equal('ERR_INVALID_KEY');
      expect(await sessions.getOne('sessions:1')).to.equal('kept');
      expect((await rejection(store.getMany(['sessions:1', 'other']))).code).to.equal('ERR_INVALID_KEY');
      await store.del('sessions:1');
      expect(store.mountOf('other')).to.equal(undefined);
      expect(await sessions.count({ kind: 'x' })).to.equal(0);
      // Scans simply find nothing there.
      expect(await store.keys('oth*')).to.deep.equal([]);
      expect(await store.count({ id: 1 })).to.equal(0);
    });

    it('results come mount after mount, each in its own creation order; sort, skip, limit and page span the mounts', async () => {
      const { store } = threeMounts();
      await store.set({ kind: 'x', n: 2 }, 'x2');
      await store.set({ kind: 'session', n: 3 }, 's3');
      await store.set({ kind: 'x', n: 0 }, 'x0');
      await store.set({ kind: 'session', n: 1 }, 's1');
      expect(await store.get({ n: { $gte: 0 } })).to.deep.equal(['s3', 's1', 'x2', 'x0']);
      expect(await store.get({ n: { $gte: 0 } }, { sort: { n: 1 } })).to.deep.equal(['x0', 's1', 'x2', 's3']);
      expect(await store.get({ n: { $gte: 0 } }, { sort: { n: -1 }, skip: 1, limit: 2 })).to.deep.equal(['x2', 's1']);
      expect(await store.get({ n: { $gte: 0 } }, { limit: 3 })).to.deep.equal(['s3', 's1', 'x2']);
      const seen: unknown[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.page({ n: { $gte: 0 } }, { sort: { n: 1 }, limit: 3, cursor });
        seen.push(...page.items);
        cursor = page.cursor ?? undefined;
      } while (cursor !== undefined);
      expect(seen).to.deep.equal(['x0', 's1', 'x2', 's3']);
    });

    it('the factory knows the type; bad settings are ERR_STORE_CONFIG', () => {
      const store = track(createStore({ type: 'mount', settings: { mounts: { 'a:': { type: 'memory' } }, default: { type: 'memory' } } }));
      expect(store).to.be.instanceOf(MountStore);
      const bad: unknown[] = [
        {},
        { mounts: { '': { type: 'memory' } } },
        { mounts: { 'a:': 42 } },
        { mounts: { 'a:': { type: 'memory' } }, field: 'a.b' },
        { mounts: { 'a:': { type: 'memory' } }, field: '' },
        { mounts: { 'a:': { type: 'nosuchtype' } } },
      ];
      for (const settings of bad) {
        let code: string | undefined;
        try {
          createStore({ type: 'mount', settings: settings as never });
        } catch (err) {
          code = (err as { code?: string }).code;
        }
        expect(code, JSON.stringify(settings)).to.equal('ERR_STORE_CONFIG');
      }
    });
  });

  describe('calls over every mount', () => {
    it('delByTags, stats().items, entries() and copy() span the mounts', async () => {
      const { store, sessions, rest } = threeMounts();
      await store.set('other', 1, { tags: ['t'] });
      await store.set('sessions:1', 2, { tags: ['t', 'u'] });
      await store.set('sessions:admin:1', 3, { tags: ['u'] });
      await store.set({ kind: 'session', id: 1 }, 4);
      expect((await store.stats()).items).to.equal(4);
      const listed: unknown[] = [];
      for await (const entry of store.entries()) listed.push(entry.value);
      expect(listed).to.deep.equal([2, 4, 3, 1]); // mount after mount: 'sessions:' (also 'session'), 'sessions:admin:', the default
      const target = track(new MemoryStore());
      expect(await store.copy(target)).to.equal(4);
      expect(await target.count({ kind: 'session' })).to.equal(1);
      expect(await store.delByTags(['t'])).to.equal(2);
      expect(await sessions.keys()).to.deep.equal([{ kind: 'session', id: 1 }]);
      expect(await rest.keys()).to.deep.equal([]);
      expect(await store.delByTags(['u'])).to.equal(1);
      expect((await store.stats()).items).to.equal(1);
    });

    it('supports is what every mount supports (evicts: what any does)', () => {
      const plain = track(new MountStore({ mounts: { 'a:': { type: 'memory' } }, default: { type: 'memory' } }));
      expect(plain.supports).to.include({ ttl: true, tags: true, shared: false, evicts: false, nativeSort: false, nativePage: false });
      const bounded = track(new MountStore({ mounts: { 'a:': { type: 'memory', settings: { maxKeys: 10 } } }, default: { type: 'memory' } }));
      expect(bounded.supports.evicts).to.equal(true);
      const noTags = track(new FaultyStore(track(new MemoryStore()), faultControl(), {}, { tags: false }));
      const untagged = track(new MountStore({ mounts: { 'a:': noTags }, default: { type: 'memory' } }));
      expect(untagged.supports.tags).to.equal(false);
    });

    it('a mount can be any store type, a multi store included', async () => {
      const store = track(new MountStore({ mounts: { 'tiered:': { type: 'multi', settings: { stores: [{ type: 'memory', settings: { maxKeys: 10 } }, { type: 'memory' }] } } }, default: { type: 'memory' } }));
      await store.set('tiered:1', 'x');
      expect(await store.getOne('tiered:1')).to.equal('x');
      expect(store.mountOf('tiered:1')).to.equal('tiered:');
      expect(store.supports.evicts).to.equal(false); // the multi store answers queries from its complete tier
    });

    it('connect() fails only when no mount can connect', async () => {
      const control = faultControl();
      control.mode = 'fail';
      const down = track(new FaultyStore(track(new MemoryStore()), control));
      const store = track(new MountStore({ default: down }));
      expect((await rejection(store.connect())).code).to.equal('ERR_STORAGE_CONNECTION');
      control.mode = 'ok';
      await store.connect();
      await store.set('k', 1);
      expect(await down.getOne('k')).to.equal(1);
    });
  });

  describe('failures and TTLs per mount', () => {
    function withFaultyCache() {
      const clock = new ManualClock(1_000_000);
      const control = faultControl();
      const sessions = track(new MemoryStore({ clock }));
      const cache = track(new FaultyStore(track(new MemoryStore({ clock })), control, { clock }));
      const store = track(new MountStore({ clock, field: 'kind', mounts: { 'sessions:': sessions, 'cache:': cache, cache } }));
      return { store, control, sessions, clock };
    }

    it('a failing mount fails only the calls that need it, and serves again once it is back', async () => {
      const { store, control } = withFaultyCache();
      await store.set('cache:1', 'c');
      await store.set('sessions:1', 's');
      await store.set({ kind: 'cache', id: 1 }, 'co');
      control.mode = 'fail';
      // Calls on the other mount go on.
      await store.set('sessions:2', 's2');
      expect(await store.getOne('sessions:1')).to.equal('s');
      expect(await store.keys('sessions:*')).to.deep.equal(['sessions:1', 'sessions:2']);
      expect(await store.count('sessions:?' as never)).to.equal(0); // a string is an exact key: no such key
      expect(await store.del('sessions:2')).to.equal(1);
      // Calls that need the failing mount fail with its error.
      expect((await rejection(store.getOne('cache:1'))).code).to.equal('ERR_STORAGE_CONNECTION');
      expect((await rejection(store.set('cache:2', 'x'))).code).to.equal('ERR_STORAGE_CONNECTION');
      expect((await rejection(store.keys('cache:*'))).code).to.equal('ERR_STORAGE_CONNECTION');
      expect((await rejection(store.keys())).code).to.equal('ERR_STORAGE_CONNECTION');
      expect((await rejection(store.count({ kind: 'cache' }))).code).to.equal('ERR_STORAGE_CONNECTION');
      expect((await rejection(store.keys())).code).to.equal('ERR_STORAGE_CONNECTION');
      control.mode = 'ok';
      expect(await store.getOne('cache:1')).to.equal('c');
      expect(await store.keys()).to.deep.equal(['sessions:1', 'cache:1', { kind: 'cache', id: 1 }]);
      // clear() needs every mount: with one down it fails, having cleared the others (it is not atomic across mounts).
      control.mode = 'fail';
      expect((await rejection(store.clear())).code).to.equal('ERR_STORAGE_CONNECTION');
      control.mode = 'ok';
      expect(await store.keys()).to.deep.equal(['cache:1', { kind: 'cache', id: 1 }]);
    });

    it('a glob with a literal prefix and a query on the field touch only the mounts they can match', async () => {
      const { store, control } = withFaultyCache();
      await store.set('sessions:1', 's');
      await store.set({ kind: 'sessions:', id: 1 }, 'so');
      control.mode = 'fail';
      control.calls = {};
      expect(await store.keys('sessions:*')).to.deep.equal(['sessions:1']);
      expect(await store.count({ kind: 'sessions:' })).to.equal(1);
      expect(await store.del({ kind: { $in: ['sessions:', 'nomount'] } })).to.equal(1);
      expect(control.calls).to.deep.equal({});
    });

    it('a store given as a mount that cannot connect does not stop the others from connecting', async () => {
      const clock = new ManualClock(1_000_000);
      const control = faultControl();
      control.mode = 'fail';
      const down = track(new FaultyStore(track(new MemoryStore({ clock })), control, { clock }));
      const store = track(new MountStore({ clock, mounts: { 'down:': down }, default: { type: 'memory' } }));
      await store.connect();
      await store.set('up', 1);
      expect(await store.getOne('up')).to.equal(1);
      expect((await rejection(store.getOne('down:1'))).code).to.equal('ERR_STORAGE_CONNECTION');
    });

    it('each mount keeps its own TTLs: an entry expires in its mount, the others live on', async () => {
      const { store, sessions, rest, clock } = threeMounts();
      await store.set('sessions:1', 's', { ttl: 1000 });
      await store.set('other', 'o', { ttl: 5000 });
      expect(await sessions.ttl('sessions:1')).to.equal(1000);
      expect(await store.ttl('other')).to.equal(5000);
      clock.advance(1000);
      expect(await store.getOne('sessions:1')).to.equal(undefined);
      expect(await sessions.has('sessions:1')).to.equal(false);
      expect(await rest.getOne('other')).to.equal('o');
      expect(await store.count({ kind: { $exists: false } } as never)).to.equal(0);
      expect(await store.keys()).to.deep.equal(['other']);
      expect(await store.touch('other', 10_000)).to.equal(true);
      expect(await rest.ttl('other')).to.equal(10_000);
    });
  });

  describe('program order', () => {
    it('calls issued without awaiting see the calls before them, on each mount and across mounts (a slow mount included)', async () => {
      const clock = new ManualClock(1_000_000);
      const control = faultControl();
      control.delay = 5; // every call on the 'slow:' mount takes a few ms of real time
      const slow = track(new FaultyStore(track(new MemoryStore({ clock })), control, { clock }));
      const store = track(new MountStore({ clock, field: 'kind', mounts: { 'slow:': slow, slow }, default: { type: 'memory' } }));
      const calls: Array<Promise<unknown>> = [
        store.set('slow:1', 'a'),
        store.getOne('slow:1'),
        store.set('fast', 'f'),
        store.clear(),
        store.set('slow:2', 'b'),
        store.set({ kind: 'slow', id: 1 }, 'o'),
        store.keys(),
        store.del({ kind: 'slow' }),
        store.set({ kind: 'slow', id: 2 }, 'p'),
        store.touch('slow:2', 50),
        store.ttl('slow:2'),
        store.delMany(['slow:2']),
        store.getOne('slow:2'),
        store.keys(),
      ];
      const results = await Promise.all(calls);
      expect(results[1]).to.equal('a');
      expect(results[6]).to.deep.equal(['slow:2', { kind: 'slow', id: 1 }]);
      expect(results[7]).to.equal(1);
      expect(results[9]).to.equal(true);
      expect(results[10]).to.equal(50);
      expect(results[11]).to.equal(1);
      expect(results[12]).to.equal(undefined);
      expect(results[13]).to.deep.equal([{ kind: 'slow', id: 2 }]);
    });
  });

  describe('events', () => {
    it("the mounts' 'expire' events are the mount store's while someone listens", async () => {
      const { store, clock } = threeMounts();
      const expired: unknown[] = [];
      const listener = (e: { key: unknown }) => expired.push(e.key);
      store.on('expire', listener);
      await store.set('sessions:1', 's', { ttl: 10 });
      await store.set({ kind: 'x', id: 2 }, 'o', { ttl: 10 });
      clock.advance(10);
      expect(await store.getOne('sessions:1')).to.equal(undefined);
      expect(await store.getOne({ kind: 'x', id: 2 })).to.equal(undefined);
      expect(expired).to.deep.equal(['sessions:1', { kind: 'x', id: 2 }]);
      store.off('expire', listener);
      await store.set('sessions:3', 's', { ttl: 10 });
      clock.advance(10);
      expect(await store.getOne('sessions:3')).to.equal(undefined);
      expect(expired).to.have.length(2);
    });
  });

  describe('scopes', () => {
    it('scope(ns) scopes every mount: writes land in each mount store\'s scope, and clear() clears only the scope', async () => {
      const { store, sessions, rest } = threeMounts();
      await store.set('sessions:1', 'root');
      const scoped = store.scope('tenant');
      expect(scoped).to.be.instanceOf(MountStore);
      await scoped.set('sessions:1', 'scoped');
      await scoped.set('other', 'scoped other');
      await scoped.set({ kind: 'session', id: 1 }, 'scoped object');
      expect(await store.getOne('sessions:1')).to.equal('root');
      expect(await scoped.getOne('sessions:1')).to.equal('scoped');
      expect(await sessions.scope('tenant').keys()).to.deep.equal(['sessions:1', { kind: 'session', id: 1 }]);
      expect(await rest.scope('tenant').getOne('other')).to.equal('scoped other');
      expect(await rest.getOne('other')).to.equal(undefined);
      await scoped.clear();
      expect(await scoped.keys()).to.deep.equal([]);
      expect(await store.keys()).to.deep.equal(['sessions:1']);
    });

    it('a mount store made with a namespace uses that namespace in each given store', async () => {
      const sessions = track(new MemoryStore());
      const store = track(new MountStore({ namespace: 'app', mounts: { 'sessions:': sessions }, default: { type: 'memory' } }));
      await store.set('sessions:1', 1);
      expect(await sessions.getOne('sessions:1')).to.equal(undefined);
      expect(await sessions.scope('app').getOne('sessions:1')).to.equal(1);
    });
  });
});
