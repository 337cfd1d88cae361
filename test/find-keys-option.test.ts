/**
 * FindOptions.keys (lib/backend.ts): the core tells `find` that the caller wants no keys — `get`
 * without `includeKey` — and only there: `get` with `includeKey`, `entries`, `createReadStream`,
 * `keys` and `page` read keys, and a core that sorts what `find` yields sorts by them. The
 * backend under test is the memory backend, its `find` options recorded on the way through.
 */
import { expect } from 'chai';
import type { Backend, Capabilities, FindOptions } from '../lib/backend';
import { BackendStore } from '../lib/backend-store';
import { createBackend, MemorySettings } from '../lib/backends/memory';

/** How the recorded backend offers its reads. */
interface Offer {
  /** Declared capabilities over the memory backend's. */
  supports?: Partial<Capabilities>;
  /** Offer findSync (the core's synchronous path); without it the core takes `find`. */
  sync: boolean;
}

describe('FindOptions.keys: get asks for values only', () => {
  const opened: Array<BackendStore<MemorySettings>> = [];
  afterEach(async () => {
    while (opened.length) await opened.pop()!.close();
  });

  /** A memory store whose backend records every `find`/`findSync` options object; no valuesSync (the core then always calls find). */
  function open(offer: Offer): { store: BackendStore<MemorySettings>; seen: FindOptions[] } {
    const seen: FindOptions[] = [];
    const store = new BackendStore<MemorySettings>({}, (settings, context) => {
      const inner = createBackend(settings, context);
      const supports = { ...inner.supports, ...offer.supports };
      return new Proxy(inner, {
        get(target, prop) {
          if (prop === 'supports') return supports;
          if (prop === 'valuesSync') return undefined;
          if (prop === 'findSync') return offer.sync ? (selector: never, options: FindOptions) => (seen.push(options), target.findSync!(selector, options)) : undefined;
          if (prop === 'find') return (selector: never, options: FindOptions) => (seen.push(options), target.find(selector, options));
          const member = Reflect.get(target, prop, target) as unknown;
          return typeof member === 'function' ? (member as (...a: unknown[]) => unknown).bind(target) : member;
        },
      }) as Backend;
    });
    opened.push(store);
    return { store, seen };
  }

  async function fill(store: BackendStore<MemorySettings>): Promise<void> {
    for (let i = 0; i < 6; i++) await store.set({ kind: 'p', age: i % 3, i }, { n: i });
  }

  async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
    const out: T[] = [];
    for await (const x of it) out.push(x);
    return out;
  }

  const offers: Array<[string, Offer]> = [
    ['native sort, findSync', { sync: true }],
    ['native sort, find', { sync: false }],
    ['no native sort, find', { sync: false, supports: { nativeSort: false, nativePage: false } }],
  ];
  for (const [name, offer] of offers) {
    describe(name, () => {
      it('get without includeKey passes keys: false, and the values come back as before', async () => {
        const { store, seen } = open(offer);
        await fill(store);
        seen.length = 0;
        expect(await store.get({ kind: 'p' }, { skip: 1, limit: 3 })).to.deep.equal([{ n: 1 }, { n: 2 }, { n: 3 }]);
        expect(seen.map((o) => o.keys)).to.deep.equal([false]);
        // A callback-style call takes the same path.
        const viaCallback = await new Promise<unknown>((resolve, reject) => {
          void store.get({ kind: 'p' }, { skip: 4 }, (err: Error | null, values?: unknown) => (err ? reject(err) : resolve(values)));
        });
        expect(viaCallback).to.deep.equal([{ n: 4 }, { n: 5 }]);
        expect(seen.map((o) => o.keys)).to.deep.equal([false, false]);
      });

      it('a sorted get passes keys: false only when the backend sorts', async () => {
        const { store, seen } = open(offer);
        await fill(store);
        seen.length = 0;
        expect(await store.get({ kind: 'p' }, { sort: { age: -1 }, limit: 3 })).to.deep.equal([{ n: 2 }, { n: 5 }, { n: 1 }]);
        expect(seen).to.have.length(1);
        // Without native sort the core sorts what find yields by the keys: it must ask for them.
        expect(seen[0].keys).to.equal(offer.supports?.nativeSort === false ? undefined : false);
      });

      it('get with includeKey, entries, createReadStream, keys and page do not pass keys: false', async () => {
        const { store, seen } = open(offer);
        await fill(store);
        seen.length = 0;
        const withKeys = await store.get({ kind: 'p' }, { sort: { age: 1 }, limit: 2, includeKey: true });
        expect((withKeys ?? []).map((e) => (e.key as { i: number }).i)).to.deep.equal([0, 3]);
        expect((await drain(store.entries({ kind: 'p' }, { sort: { age: 1 }, limit: 2 }))).map((e) => (e.key as { i: number }).i)).to.deep.equal([0, 3]);
        expect((await drain(store.createReadStream({ kind: 'p' }, { skip: 4 }) as AsyncIterable<{ key: { i: number } }>)).map((e) => e.key.i)).to.deep.equal([4, 5]);
        expect((await store.keys({ kind: 'p' }, { sort: { age: -1 }, limit: 1 })).map((k) => (k as { i: number }).i)).to.deep.equal([2]);
        const page = await store.page({ kind: 'p' }, { sort: { age: 1 }, limit: 2 });
        expect(page.items).to.deep.equal([{ n: 0 }, { n: 3 }]);
        expect(page.cursor).to.be.a('string');
        expect(seen.length).to.be.greaterThan(4);
        expect(seen.filter((o) => o.keys === false)).to.deep.equal([]);
      });
    });
  }
});
