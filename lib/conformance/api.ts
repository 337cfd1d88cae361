/** Conformance: clear, copy, scopes, stats, getOrSet, callbacks, close (SPEC §4, §5). */
import { expect } from 'chai';
import { SuiteContext, rejection } from './context';

export function api(ctx: SuiteContext): void {
  describe('store interface', () => {
    it('clear() removes everything in the store', async () => {
      const { store } = await ctx.open();
      await store.set('a', 1);
      await store.set({ b: 1 }, 2);
      await store.clear();
      expect(await store.keys()).to.deep.equal([]);
      expect(await store.count({ b: 1 })).to.equal(0);
      await store.set('a', 3);
      expect(await store.getOne('a')).to.equal(3);
    });

    it('copy() copies every live entry and keeps TTLs', async () => {
      const { store, clock } = await ctx.open();
      await store.set('a', 1);
      await store.set({ b: 1 }, { two: 2 }, { ttl: 10_000 });
      const { store: target } = await ctx.open({ clock });
      expect(await store.copy(target)).to.equal(2);
      expect(await target.getOne('a')).to.equal(1);
      expect(await target.getOne({ b: 1 })).to.deep.equal({ two: 2 });
      expect(await target.ttl({ b: 1 })).to.be.within(9000, 10_000);
      expect(await target.ttl('a')).to.equal(null);
      await target.close();
    });

    it('copy() into a store of the same kind', async () => {
      const { store } = await ctx.open();
      const { store: other } = await ctx.open();
      await store.set({ id: 1 }, 'x');
      await store.set('s', new Date(5));
      expect(await store.copy(other)).to.equal(2);
      expect(await other.get({ id: 1 })).to.deep.equal(['x']);
      expect(await other.getOne('s')).to.deep.equal(new Date(5));
    });

    it('scope() gives an isolated namespace with the same API; its clear() clears only it', async () => {
      const { store } = await ctx.open();
      const a = store.scope('a');
      const b = store.scope('b');
      await store.set('k', 'root');
      await a.set('k', 'in a');
      await a.set({ id: 1 }, 'obj in a');
      await b.set('k', 'in b');
      expect(await store.getOne('k')).to.equal('root');
      expect(await a.getOne('k')).to.equal('in a');
      expect(await b.get('k')).to.deep.equal(['in b']);
      expect(await store.count({ id: 1 })).to.equal(0);
      expect(await a.count({ id: 1 })).to.equal(1);
      await a.clear();
      expect(await a.keys()).to.deep.equal([]);
      expect(await b.getOne('k')).to.equal('in b');
      expect(await store.getOne('k')).to.equal('root');
      const nested = a.scope('inner');
      await nested.set('k', 'nested');
      expect(await a.getOne('k')).to.equal(undefined);
      expect(await nested.getOne('k')).to.equal('nested');
      await nested.clear();
      await b.clear();
      await a.close();
      await b.close();
      await nested.close();
    });

    it('stats() counts hits, misses, sets, deletes and items', async () => {
      const { store } = await ctx.open();
      await store.set('a', 1);
      await store.set('b', 2);
      await store.getOne('a');
      await store.getOne('zz');
      await store.get('b');
      await store.del('b');
      const stats = await store.stats();
      expect(stats).to.include({ hits: 2, misses: 1, sets: 2, deletes: 1, items: 1 });
      for (const field of ['expirations', 'evictions', 'errors']) expect(stats).to.have.property(field).that.is.a('number');
    });

    it('getOrSet computes a missing value once, even under concurrent callers', async () => {
      const { store } = await ctx.open();
      let calls = 0;
      const compute = async () => {
        calls++;
        await new Promise((resolve) => setImmediate(resolve));
        return { computed: true };
      };
      const results = await Promise.all(Array.from({ length: 200 }, () => store.getOrSet({ id: 'x' }, compute)));
      expect(calls).to.equal(1);
      expect(results.every((r) => (r as { computed: boolean }).computed)).to.equal(true);
      expect(await store.getOne({ id: 'x' })).to.deep.equal({ computed: true });
      expect(await store.getOrSet({ id: 'x' }, compute)).to.deep.equal({ computed: true });
      expect(calls).to.equal(1);
    });

    it('node-style callbacks: cb(err, result), called once, asynchronously', async () => {
      const { store } = await ctx.open({ callbacks: 'node' });
      let sync = true;
      const result = await new Promise<unknown>((resolve, reject) => {
        store.set('k', 7, (err: Error | null) => {
          if (err) return reject(err);
          store.get('k', (err2: Error | null, values: unknown) => (err2 ? reject(err2) : resolve(values)));
        });
        expect(sync).to.equal(true);
        sync = false;
      });
      expect(result).to.deep.equal([7]);
      const err = await new Promise<Error & { code?: string }>((resolve) => store.get({ $where: 'x' } as never, (e: Error) => resolve(e)));
      expect(err.code).to.equal('ERR_INVALID_QUERY');
    });

    it('result-first callbacks (memstorage): connect(cb(true)), get(cb(values)), failures give the failure value and an error event', async () => {
      const { store } = await ctx.open({ callbacks: 'result-first' });
      expect(await new Promise((resolve) => store.connect(resolve))).to.equal(true);
      await new Promise<void>((resolve) => store.set('k', 1, () => resolve()));
      expect(await new Promise((resolve) => store.get('k', resolve))).to.deep.equal([1]);
      expect(await new Promise((resolve) => store.get('missing', resolve))).to.deep.equal([]);
      const events: Array<Error & { code?: string }> = [];
      store.on('error', (e) => events.push(e));
      expect(await new Promise((resolve) => store.get({ $where: '1' } as never, resolve))).to.deep.equal([]);
      expect(events.map((e) => e.code)).to.deep.equal(['ERR_INVALID_QUERY']);
    });

    it('a non-function in the callback position is rejected with ERR_INVALID_ARGUMENT', async () => {
      const { store } = await ctx.open();
      const err = await rejection(store.set('k', 1, {}, 'not a function' as never));
      expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
      const err2 = await rejection(store.getOne('k', 42 as never));
      expect(err2.code).to.equal('ERR_INVALID_ARGUMENT');
      const err3 = await rejection(store.set('k', 1, 'options?' as never));
      expect(err3.code).to.equal('ERR_INVALID_ARGUMENT');
      expect(await store.has('k')).to.equal(false);
    });

    it('after close(), operations fail with ERR_STORE_CLOSED', async () => {
      const { store } = await ctx.open();
      await store.set('k', 1);
      await store.close();
      await store.close(); // idempotent
      expect((await rejection(store.getOne('k'))).code).to.equal('ERR_STORE_CLOSED');
      expect((await rejection(store.set('k', 2))).code).to.equal('ERR_STORE_CLOSED');
    });

    it('bad common settings are rejected when the store is created, naming the setting', async () => {
      for (const [settings, name] of [
        [{ defaultTtl: -5 }, 'defaultTtl'],
        [{ nullOnMiss: 'yes' }, 'nullOnMiss'],
        [{ callbacks: 'sometimes' }, 'callbacks'],
        [{ serializer: { serialize: 1 } }, 'serializer'],
      ] as const) {
        const err = await rejection(Promise.resolve().then(() => ctx.open(settings as never)));
        expect(err.code, name).to.equal('ERR_STORE_CONFIG');
        expect(err.message).to.contain(name);
      }
    });
  });
}
