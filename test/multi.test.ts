/**
 * The multi store's own behaviours (SPEC §9) over in-process tiers: memory stores, and
 * memory stores wrapped to fail or stall on demand (test/support/multi-faulty.ts). The same
 * behaviours over Redis and MongoDB, across processes and under server faults, are in
 * multi-servers.test.ts and multi-faults.test.ts.
 */
import { expect } from 'chai';
import StoreFactory = require('../index');
import { ManualClock } from '../lib/clock';
import { MultiStore } from '../lib/multi/multi-store';
import { BaseStore } from '../lib/store';
import { MemoryStore } from '../lib/backends/memory';
import { FaultControl, FaultyStore, faultControl } from './support/multi-faulty';

interface Stack {
  multi: MultiStore;
  clock: ManualClock;
  tiers: MemoryStore[];
  faults: FaultControl[];
}

const open: BaseStore[] = [];
const controls: FaultControl[] = [];

/** [memory, faulty(memory), faulty(memory)]: a front cache and two remote-like tiers. */
function stack(options: { ttl?: Array<number | null>; timeout?: number; backoff?: number; front?: Record<string, unknown> } = {}): Stack {
  const clock = new ManualClock();
  const tiers = [new MemoryStore({ clock, ...(options.front ?? {}) }), new MemoryStore({ clock }), new MemoryStore({ clock })];
  const faults = [faultControl(), faultControl()];
  controls.push(...faults);
  const multi = new MultiStore({
    clock,
    timeout: options.timeout ?? 200,
    backoff: options.backoff ?? 50,
    maxBackoff: 200,
    stores: [
      { store: tiers[0], ttl: options.ttl?.[0] ?? null },
      { store: new FaultyStore(tiers[1], faults[0], { clock }), ttl: options.ttl?.[1] ?? null, name: 'middle' },
      { store: new FaultyStore(tiers[2], faults[1], { clock }), name: 'durable' },
    ],
  });
  open.push(multi, ...tiers);
  return { multi, clock, tiers, faults };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('multi store', () => {
  afterEach(async () => {
    for (const control of controls.splice(0)) control.mode = 'ok'; // release stalled calls
    for (const store of open.splice(0)) await store.close();
  });

  describe('construction', () => {
    it('accepts stores, memstorage’s store spelling, instances and a memory tier as a real tier', async () => {
      const a = new MultiStore({ stores: [{ type: 'memory' }, { type: 'memory' }] });
      const b = new MultiStore({ store: [new MemoryStore(), { type: 'memory', ttl: 1000 }] });
      open.push(a, b);
      expect(a.tiers).to.have.length(2);
      expect(b.tiers).to.have.length(2);
      expect(b.tiers[1].ttl).to.equal(1000);
      await a.set('k', 1);
      expect(await a.tiers[0].store.getOne('k')).to.equal(1);
      expect(await a.tiers[1].store.getOne('k')).to.equal(1);
    });

    it('rejects bad settings when created, naming the setting', () => {
      const code = (fn: () => unknown) => {
        try {
          fn();
        } catch (err) {
          return [(err as { code: string }).code, (err as Error).message];
        }
        return ['none', ''];
      };
      expect(code(() => new MultiStore({}))).to.deep.include('ERR_STORE_CONFIG');
      expect(code(() => new MultiStore({ stores: [] }))[1]).to.contain('stores');
      expect(code(() => new MultiStore({ stores: [{ type: 'memory', ttl: -1 }] }))[1]).to.contain('stores[0].ttl');
      expect(code(() => new MultiStore({ stores: [{ type: 'nope' }] }))[1]).to.contain('nope');
      expect(code(() => new MultiStore({ stores: [{ type: 'memory' }], queryTier: 3 }))[1]).to.contain('queryTier');
      expect(code(() => new MultiStore({ stores: [{ type: 'memory' }], store: [{ type: 'memory' }] }))[0]).to.equal('ERR_STORE_CONFIG');
      // A bounded (evicting) tier cannot be the one that answers queries.
      expect(code(() => new MultiStore({ stores: [{ type: 'memory', settings: { maxKeys: 10 } }] }))[1]).to.contain('evict');
    });

    it('is built by the factory as type multi', async () => {
      const store = StoreFactory.createStore({ type: 'multi', settings: { stores: [{ type: 'memory' }, { type: 'memory' }] } });
      open.push(store);
      expect(store).to.be.instanceOf(MultiStore);
      await store.set('a', 1);
      expect(await store.getOne('a')).to.equal(1);
    });
  });

  describe('reads', () => {
    it('falls through the tiers and promotes a hit into every tier above; getWithSource says which tier served', async () => {
      const { multi, tiers } = stack();
      await tiers[2].set('k', { v: 1 });
      expect(await multi.getWithSource('k')).to.deep.equal({ value: { v: 1 }, tier: 2, name: 'durable' });
      await multi.idle();
      expect(await tiers[0].getOne('k')).to.deep.equal({ v: 1 });
      expect(await tiers[1].getOne('k')).to.deep.equal({ v: 1 });
      expect(await multi.getWithSource('k')).to.deep.include({ tier: 0 });
      const stats = await multi.stats();
      expect(stats.tiers.map((t) => t.promotions)).to.deep.equal([1, 1, 0]);
      expect(stats.tiers.map((t) => t.hits)).to.deep.equal([1, 0, 1]);
      expect(stats.tiers[2].role).to.equal('complete');
      expect(stats.tiers[0].role).to.equal('cache');
    });

    it('promotes with TTL = min(remaining at the source, the upper tier’s ttl)', async () => {
      const { multi, tiers } = stack({ ttl: [1000, 60_000] });
      await tiers[2].set('long', 1, { ttl: 5000 });
      await tiers[2].set('short', 2, { ttl: 300 });
      await tiers[2].set('forever', 3);
      for (const k of ['long', 'short', 'forever']) await multi.getOne(k);
      await multi.idle();
      expect(await tiers[0].ttl('long')).to.equal(1000);
      expect(await tiers[1].ttl('long')).to.equal(5000);
      expect(await tiers[0].ttl('short')).to.equal(300);
      expect(await tiers[1].ttl('short')).to.equal(300);
      expect(await tiers[0].ttl('forever')).to.equal(1000);
      expect(await tiers[1].ttl('forever')).to.equal(60_000);
    });

    it('writes respect each tier’s ttl and the entry’s own ttl', async () => {
      const { multi, tiers, clock } = stack({ ttl: [1000, null] });
      await multi.set('a', 1);
      await multi.set('b', 2, { ttl: 500 });
      expect(await tiers[0].ttl('a')).to.equal(1000);
      expect(await tiers[2].ttl('a')).to.equal(null);
      expect(await tiers[0].ttl('b')).to.equal(500);
      clock.advance(1001);
      expect(await tiers[0].getOne('a')).to.equal(undefined);
      expect(await multi.getWithSource('a')).to.deep.include({ value: 1, tier: 1 });
      expect(await multi.getOne('b')).to.equal(undefined);
      expect(await multi.ttl('a')).to.equal(null);
    });

    it('concurrent misses on one key make one lower-tier read', async () => {
      const { multi, tiers, faults } = stack();
      await tiers[2].set('hot', 'value');
      faults[0].delay = 20;
      faults[1].delay = 20;
      const results = await Promise.all(Array.from({ length: 500 }, () => multi.getOne('hot')));
      expect(new Set(results)).to.deep.equal(new Set(['value']));
      expect(faults[0].calls.getEntry).to.equal(1);
      expect(faults[1].calls.getEntry).to.equal(1);
      const missing = await Promise.all(Array.from({ length: 100 }, () => multi.getOne('absent')));
      expect(missing.every((v) => v === undefined)).to.equal(true);
      expect(faults[1].calls.getEntry).to.equal(2);
    });

    it('misses in one tick go down together; a key that fails to read fails alone, without marking the tier down', async () => {
      const { multi, tiers, faults } = stack();
      for (let i = 0; i < 50; i++) await tiers[2].set(`k${i}`, i);
      faults[1].badIds = new Set(['k7']);
      const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => multi.getOne(`k${i}`)));
      const values = results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as { code: string }).code));
      expect(values).to.deep.equal(Array.from({ length: 50 }, (_, i) => (i === 7 ? 'ERR_STORAGE_OPERATION' : i)));
      // One getEntry per key below the front tier (misses in the middle, then the durable tier).
      expect(faults[0].calls.getEntry).to.equal(50);
      expect(faults[1].calls.getEntry).to.equal(50);
      const stats = await multi.stats();
      expect(stats.tiers[2]).to.include({ hits: 49, errors: 1, state: 'up' });
      await multi.idle();
      expect(await tiers[0].getOne('k3')).to.equal(3); // promoted
      faults[1].badIds = undefined;
      expect(await multi.getOne('k7')).to.equal(7);
    });

    it('a read in flight during a write is not promoted over the newer value', async () => {
      const { multi, tiers, faults } = stack();
      await tiers[2].set('k', 'old');
      faults[1].delay = 30;
      const reading = multi.getOne('k');
      await sleep(5);
      faults[1].delay = 0;
      await multi.set('k', 'new');
      expect(await reading).to.be.oneOf(['old', 'new']);
      await multi.idle();
      expect(await tiers[0].getOne('k')).to.equal('new');
      expect(await tiers[1].getOne('k')).to.equal('new');
      expect(await multi.getOne('k')).to.equal('new');
    });

    it('answers queries from the complete tier, never from a cache tier that evicted entries', async () => {
      const { multi, tiers } = stack({ front: { maxKeys: 5 } });
      for (let i = 0; i < 20; i++) await multi.set({ kind: 'user', i }, i);
      expect(tiers[0].internals.size).to.equal(5);
      expect(await multi.get({ kind: 'user' })).to.have.length(20);
      expect(await multi.count({ kind: 'user', i: { $gte: 10 } })).to.equal(10);
      expect(await multi.keys({ kind: 'user' })).to.have.length(20);
      let n = 0;
      for await (const entry of multi.entries({ kind: 'user' })) if (entry) n++;
      expect(n).to.equal(20);
    });

    it('queryTier picks the first complete tier', async () => {
      const clock = new ManualClock();
      const complete = new MemoryStore({ clock });
      const durable = new MemoryStore({ clock });
      const multi = new MultiStore({ clock, queryTier: 0, stores: [complete, durable] });
      open.push(multi, complete, durable);
      await durable.set({ a: 1 }, 'only in the durable tier');
      await complete.set({ a: 2 }, 'only in the query tier');
      expect(await multi.get({ a: { $gte: 1 } })).to.deep.equal(['only in the query tier']);
    });
  });

  describe('writes and deletes', () => {
    it('set, del and del(query) reach every tier; clear() clears every tier', async () => {
      const { multi, tiers } = stack();
      await multi.set({ age: 20, name: 'a' }, 1);
      await multi.set({ age: 20, name: 'b' }, 2);
      await multi.set({ age: 30, name: 'c' }, 3);
      await multi.set('s', 4);
      for (const t of tiers) expect(await t.count({ age: 20 })).to.equal(2);
      expect(await multi.del({ age: 20 })).to.equal(2);
      for (const t of tiers) expect(await t.count({ age: 20 })).to.equal(0);
      expect(await multi.del('s')).to.equal(1);
      for (const t of tiers) expect(await t.has('s')).to.equal(false);
      await multi.clear();
      for (const t of tiers) expect(await t.keys()).to.deep.equal([]);
    });

    it('a durable-tier failure fails the write with a typed error and no upper tier keeps a value', async () => {
      const { multi, tiers, faults } = stack();
      await multi.set('k', 'old');
      faults[1].mode = 'fail';
      const err = await multi.set('k', 'new').then(
        () => undefined,
        (e: { code: string }) => e,
      );
      expect(err?.code).to.equal('ERR_STORAGE_CONNECTION');
      expect(await tiers[0].getOne('k')).to.equal(undefined);
      expect(await tiers[1].getOne('k')).to.equal(undefined);
      const delErr = await multi.del('k').catch((e: { code: string }) => e);
      expect((delErr as { code: string }).code).to.equal('ERR_STORAGE_CONNECTION');
      // Reads of keys the upper tiers do not hold fail too: an error is never a miss.
      const readErr = await multi.getOne('k').catch((e: { code: string }) => e);
      expect((readErr as { code: string }).code).to.equal('ERR_STORAGE_CONNECTION');
    });

    it('a cache-tier failure emits error, the write succeeds, and the stale copy is never served', async () => {
      const { multi, tiers, faults } = stack({ backoff: 20 });
      const errors: Error[] = [];
      multi.on('error', (e) => errors.push(e));
      await multi.set('k', 'old');
      faults[0].mode = 'fail';
      await multi.set('k', 'new');
      await multi.del('gone');
      expect(errors.length).to.be.greaterThan(0);
      expect(await tiers[2].getOne('k')).to.equal('new');
      expect(await tiers[1].getOne('k')).to.equal('old'); // the failed tier still holds it...
      faults[0].mode = 'ok';
      await sleep(250);
      await tiers[0].clear(); // make the next read go below the front tier
      expect(await multi.getOne('k')).to.equal('new'); // ...but it is never read there, and is dropped on recovery
      await multi.idle();
      expect(await tiers[1].getOne('k')).to.be.oneOf([undefined, 'new']);
      expect((await multi.stats()).tiers[1].recoveries).to.be.greaterThan(0);
    });
  });

  describe('a dead or slow tier', () => {
    it('a hanging middle tier is skipped after its timeout, retried with backoff, and used again', async () => {
      const { multi, tiers, faults } = stack({ timeout: 100, backoff: 100 });
      await multi.connect();
      for (let i = 0; i < 10; i++) await tiers[2].set(`k${i}`, i);
      faults[0].mode = 'hang';
      const t0 = Date.now();
      expect(await multi.getOne('k0')).to.equal(0);
      const first = Date.now() - t0;
      expect(first).to.be.lessThan(400);
      const t1 = Date.now();
      for (let i = 1; i < 10; i++) expect(await multi.getOne(`k${i}`)).to.equal(i);
      expect(Date.now() - t1).to.be.lessThan(100); // skipped while down: no waiting
      let stats = await multi.stats();
      expect(stats.tiers[1]).to.include({ state: 'down', timeouts: 1 });
      expect(stats.tiers[1].skips).to.be.greaterThan(0);
      faults[0].mode = 'ok';
      await sleep(150);
      await tiers[0].clear();
      await multi.getOne('k0'); // past the backoff: starts a background probe (this read still skips the tier)
      await multi.idle();
      const before = (await multi.stats()).tiers[1].hits + (await multi.stats()).tiers[1].misses;
      await multi.getOne('k5');
      stats = await multi.stats();
      expect(stats.tiers[1].state).to.equal('up');
      expect(stats.tiers[1].hits + stats.tiers[1].misses).to.be.greaterThan(before);
    });

    it('a cache tier that hangs at startup delays connect() by at most its timeout, and comes up later', async () => {
      const { multi, tiers, faults } = stack({ timeout: 100, backoff: 50 });
      await tiers[2].set('k', 'v');
      faults[0].mode = 'hang';
      const t0 = Date.now();
      await multi.connect();
      expect(Date.now() - t0).to.be.lessThan(400);
      expect(await multi.getOne('k')).to.equal('v');
      expect((await multi.stats()).tiers[1].state).to.equal('down');
      faults[0].mode = 'ok';
      await sleep(120);
      await tiers[0].clear();
      await multi.getOne('k'); // starts the probe, which connects the tier
      await multi.idle();
      expect((await multi.stats()).tiers[1]).to.include({ state: 'up', recoveries: 1 });
    });

    it('queries, counts and query deletes run under bulkTimeout, not the per-operation timeout', async () => {
      const clock = new ManualClock();
      const control = faultControl();
      controls.push(control);
      const inner = new MemoryStore({ clock });
      const multi = new MultiStore({ clock, timeout: 50, bulkTimeout: 2000, stores: [{ type: 'memory' }, new FaultyStore(inner, control, { clock })] });
      open.push(multi, inner);
      for (let i = 0; i < 5; i++) await multi.set({ n: i }, i);
      control.delay = 120; // slower than `timeout`, well within `bulkTimeout`
      expect(await multi.get({ n: { $gte: 0 } })).to.have.length(5);
      expect(await multi.count({ n: { $lt: 3 } })).to.equal(3);
      expect(await multi.del({ n: 4 })).to.equal(1);
      const err = await multi.set({ n: 9 }, 9).catch((e: { code: string }) => e);
      expect((err as { code: string }).code, 'an exact write still times out').to.equal('ERR_STORAGE_CONNECTION');
    });

    it('a hanging durable tier fails writes within the timeout instead of hanging', async () => {
      const { multi, faults } = stack({ timeout: 100 });
      await multi.connect();
      faults[1].mode = 'hang';
      const t0 = Date.now();
      const err = await multi.set('x', 1).catch((e: { code: string }) => e);
      expect((err as { code: string }).code).to.equal('ERR_STORAGE_CONNECTION');
      expect(Date.now() - t0).to.be.lessThan(400);
      const err2 = await multi.set('y', 1).catch((e: { code: string }) => e);
      expect((err2 as { code: string }).code).to.equal('ERR_STORAGE_CONNECTION');
    });
  });

  describe('getOrSet', () => {
    it('computes a missing value once with 1,000 concurrent callers, and stores it in every tier', async () => {
      const { multi, tiers, faults } = stack();
      faults[1].delay = 5;
      let computed = 0;
      const results = await Promise.all(
        Array.from({ length: 1000 }, () =>
          multi.getOrSet('lazy', async () => {
            computed++;
            await sleep(10);
            return { n: 42 };
          }),
        ),
      );
      expect(computed).to.equal(1);
      expect(results.every((r) => r.n === 42)).to.equal(true);
      for (const t of tiers) expect(await t.getOne('lazy')).to.deep.equal({ n: 42 });
    });
  });

  describe("memstorage's multi behaviours through the default export", () => {
    it('set and del go to every store; get fetches from the first store that has the key', (done) => {
      const first = new MemoryStore();
      const second = new MemoryStore();
      open.push(first, second);
      const store = StoreFactory({ type: 'multi', settings: { stores: [{ store: first }, { store: second }] } });
      open.push(store);
      store.connect((ok: boolean) => {
        expect(ok).to.equal(true);
        store.set('x', 21, () => {
          Promise.all([first.get('x'), second.get('x')]).then(([a, b]) => {
            expect(a).to.deep.equal([21]);
            expect(b).to.deep.equal([21]);
            first.set('y', 21).then(() => second.set('y', 24)).then(() => {
              store.get('y', (v: unknown) => {
                expect(v).to.deep.equal([21]);
                store.del('x', () => {
                  Promise.all([first.get('x'), second.get('x')]).then(([c, d]) => {
                    expect(c).to.deep.equal([]);
                    expect(d).to.deep.equal([]);
                    done();
                  }, done);
                });
              });
            }, done);
          }, done);
        });
      });
    });

    it('with cache: true, values are served from the cache warmed at connect', async () => {
      const durable = new MemoryStore();
      open.push(durable);
      await durable.set('warm', 'from the durable store');
      await durable.set({ id: 1 }, 'object key');
      const store = StoreFactory({ type: 'multi', settings: { cache: true, stores: [{ store: durable }] } }) as MultiStore;
      open.push(store);
      await new Promise<void>((resolve) => store.connect(() => resolve()));
      expect(await store.getWithSource('warm')).to.deep.equal({ value: 'from the durable store', tier: 0, name: 'cache' });
      expect(await store.getWithSource({ id: 1 })).to.deep.include({ tier: 0 });
      const values = await new Promise((resolve) => store.get('warm', resolve));
      expect(values).to.deep.equal(['from the durable store']);
    });
  });
});
