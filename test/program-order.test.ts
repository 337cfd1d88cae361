/**
 * Program order (SPEC §12), on every store configuration: a call sees the effects of every
 * call issued before it, awaited or not. These are the cases the hostile review of issue #10
 * found broken on Redis, MongoDB and the multi store; the model-based harness covers the
 * general case with random batches.
 */
import { expect } from 'chai';
import { ManualClock } from '../lib/clock';
import type { BaseStore } from '../lib/store';
import { MemoryStore } from '../lib/backends/memory';
import { freshNamespace, prepare, selectedConfigs } from './support/store-configs';

const configs = selectedConfigs();

describe('program order (SPEC §12) on every store configuration', function () {
  before(async function () {
    this.timeout(180_000);
    await prepare(configs);
  });

  for (const config of configs) {
    describe(config.name, () => {
      let store: BaseStore;
      beforeEach(() => {
        store = config.open({ clock: new ManualClock(Date.now()), namespace: freshNamespace('order') });
      });
      afterEach(async () => {
        await store.clear().catch(() => undefined);
        await store.close();
      });

      it('clear() then an awaited set: the set survives', async () => {
        await store.set('old', 1);
        void store.clear();
        await store.set('new', 2);
        expect(await store.getOne('new')).to.equal(2);
        expect(await store.getOne('old')).to.equal(undefined);
      });

      it('del(query) then an awaited set of a matching key: the new entry survives', async () => {
        await store.set({ g: 1, u: 1 }, 'a');
        void store.del({ g: 1 });
        await store.set({ g: 1, u: 2 }, 'b');
        expect(await store.get({ g: 1 })).to.deep.equal(['b']);
      });

      it('set then clear(), not awaited: the entry is gone', async () => {
        const writes = [store.set('x', 1), store.clear()];
        await Promise.all(writes);
        expect(await store.getOne('x')).to.equal(undefined);
        expect(await store.count({ any: { $exists: true } })).to.equal(0);
      });

      it('set then del(query), not awaited: the query deletes the new entry', async () => {
        void store.set({ k: 1 }, 'v');
        expect(await store.del({ k: 1 })).to.equal(1);
        expect(await store.getOne({ k: 1 })).to.equal(undefined);
      });

      it('a read issued after an un-awaited write sees the write', async () => {
        await store.set('r', 'old');
        void store.set('r', 'new');
        expect(await store.getOne('r')).to.equal('new');
        void store.set({ q: 1 }, 'fresh');
        expect(await store.get({ q: 1 })).to.deep.equal(['fresh']);
      });

      it('del of an exact key then a read: the read misses', async () => {
        await store.set('k2', 'value');
        void store.del('k2');
        expect(await store.getOne('k2')).to.equal(undefined);
        expect(await store.has('k2')).to.equal(false);
      });

      it('a query issued before a write does not see it', async () => {
        await store.set({ w: 1, n: 1 }, 'first');
        const before = store.get({ w: 1 });
        void store.set({ w: 1, n: 2 }, 'second');
        expect(await before).to.deep.equal(['first']);
        expect(await store.get({ w: 1 })).to.deep.equal(['first', 'second']);
      });

      it('a store and its scopes share one program order', async () => {
        const scoped = store.scope('child');
        await scoped.set('s', 1);
        void scoped.clear();
        await store.set('root', 1);
        expect(await scoped.getOne('s')).to.equal(undefined);
        await scoped.set('s2', 2);
        expect(await scoped.getOne('s2')).to.equal(2);
        await scoped.clear();
        await scoped.close();
      });

      it('copy() into a scope of the same store finishes (no deadlock) and copies everything', async () => {
        await store.set('a', 1);
        await store.set({ b: 1 }, 2);
        const scoped = store.scope('copyTarget');
        expect(await store.copy(scoped)).to.equal(2);
        expect(await scoped.getOne({ b: 1 })).to.equal(2);
        await scoped.clear();
        await scoped.close();
      });

      it('writes inside an entries() loop do not deadlock', async () => {
        for (let i = 0; i < 5; i++) await store.set({ loop: i }, i);
        let seen = 0;
        for await (const { key } of store.entries({ loop: { $gte: 0 } })) {
          seen++;
          await store.del(key);
        }
        expect(seen).to.equal(5);
        expect(await store.count({ loop: { $gte: 0 } })).to.equal(0);
      });
    });
  }
});

describe('calls issued before a store is open start in issue order', () => {
  it('a scope that has not connected yet keeps the order of its writes across a scan on its parent', async () => {
    // Found by the model-based harness: the second set started before the first, which was
    // still waiting for the scope to open, so the first write won.
    const store = new MemoryStore();
    const scoped = store.scope('s1');
    await Promise.all([store.keys(), scoped.set('k', 1), store.keys(), scoped.set('k', 2)]);
    expect(await scoped.getOne('k')).to.equal(2);
    await Promise.all([store.keys(), scoped.set('a', 1), store.keys(), scoped.set('b', 2)]);
    expect(await scoped.keys()).to.deep.equal(['k', 'a', 'b']);
    await store.close();
  });
});

describe('closing a store ends its scopes', () => {
  it('scope() on a closed store throws ERR_STORE_CLOSED, and a scope fails once its parent closed', async () => {
    const store = new MemoryStore();
    const scoped = store.scope('a');
    await scoped.set('k', 1);
    await store.close();
    let code: string | undefined;
    try {
      store.scope('b');
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    expect(code).to.equal('ERR_STORE_CLOSED');
    const failure = await scoped.getOne('k').then(
      () => undefined,
      (err: { code?: string }) => err.code,
    );
    expect(failure).to.equal('ERR_STORE_CLOSED');
    expect(await scoped.set('k', 2).then(() => 'stored', (err: { code?: string }) => err.code)).to.equal('ERR_STORE_CLOSED');
    await scoped.close();
  });

  it('closing a store closes the scopes that connected, releasing their share of the backend', async () => {
    const store = new MemoryStore();
    const used = store.scope('used');
    await used.set('k', 1);
    const nested = used.scope('nested');
    await nested.set('n', 1);
    await store.close();
    // A closed memory store gives back its share of the sweep timer: after the root's close
    // nothing holds it, which a scope left open would.
    expect((used as unknown as { backend: { attached: boolean } }).backend.attached).to.equal(false);
    expect((nested as unknown as { backend: { attached: boolean } }).backend.attached).to.equal(false);
  });
});
