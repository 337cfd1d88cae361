/**
 * get(query, options) through the core (lib/core/store-queries.ts): over an in-process backend's
 * synchronous find an admitted scan is read on the spot (StoreCore.scansNow / ranNow), over any
 * other backend the entries come straight from `find` (collectOrdered); the validated sort fields
 * and query paths are remembered (lib/query-sort.ts, lib/query.ts). None of it may change what a
 * call sees (SPEC §12), what it rejects (SPEC §14) or the errors that reach the caller.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Backend, FindOptions, StoredEntry } from '../lib/backend';
import { BackendStore } from '../lib/backend-store';
import { StoreError } from '../lib/errors';
import { createStore } from '../lib/factory';
import type { Selector } from '../lib/query';
import { compileSort } from '../lib/query-sort';
import type { BaseStore } from '../lib/store';

const person = (id: number, age: number) => ({ id, kind: 'person', age });

/** A backend that answers every find with `entries` (or throws `failure`), synchronously or not. */
function stubBackend(entries: StoredEntry[], sync: boolean, failure?: Error): Backend & { finds: FindOptions[] } {
  const finds: FindOptions[] = [];
  const answer = (options: FindOptions): StoredEntry[] => {
    finds.push(options);
    if (failure) throw failure;
    return entries.slice(0, options.limit ?? entries.length);
  };
  const backend: Backend & { finds: FindOptions[] } = {
    finds,
    supports: { nativeQueries: true, valueStreams: false, ttl: true, shared: false, evicts: false, persistent: false, nativeSort: true },
    ordersExactCalls: true,
    connect: async () => undefined,
    close: async () => undefined,
    set: async () => undefined,
    get: async () => undefined,
    delete: async () => false,
    expiresAt: async () => undefined,
    clear: async () => undefined,
    scope: () => backend,
    stats: async () => ({ items: entries.length }),
    async *find(_selector: Selector, options: FindOptions) {
      yield* answer(options);
    },
  };
  if (sync) backend.findSync = (_selector: Selector, options: FindOptions) => answer(options);
  return backend;
}

const entriesOf = (n: number): StoredEntry[] =>
  Array.from({ length: n }, (_, i) => {
    const key = person(i, 100 - i);
    return { id: '\u0000' + JSON.stringify(key), key, value: { n: i } };
  });

/** How many microtask turns pass before `p` settles (at most `max`). */
async function turnsUntilSettled(p: Promise<unknown>, max = 10): Promise<number> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let turns = 0; turns <= max; turns++) {
    if (settled) return turns;
    await Promise.resolve();
  }
  return max + 1;
}

describe('core: get(query, options)', () => {
  const stores: BaseStore[] = [];
  let dir: string | undefined;
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  const memory = () => {
    const store = createStore({ type: 'memory', settings: {} }) as BaseStore;
    stores.push(store);
    return store;
  };
  const sqlite = () => {
    dir ??= mkdtempSync(path.join(tmpdir(), 'core-query-get-'));
    const store = createStore({ type: 'sqlite', settings: { path: path.join(dir, `s${stores.length}.sqlite`), indexes: ['age'] } }) as BaseStore;
    stores.push(store);
    return store;
  };

  for (const [name, make] of [['memory', memory], ['sqlite', sqlite]] as const) {
    describe(name, () => {
      it('settles an admitted scan over the synchronous find in one step (no gate promises)', async () => {
        const store = make();
        await store.set(person(1, 30), 'a');
        const turns = await turnsUntilSettled(store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 20 }));
        expect(turns).to.be.at.most(1);
      });

      it('sees every write issued before it, and none issued after it (SPEC §12), awaited or not', async () => {
        const store = make();
        await store.set(person(1, 30), 'a');
        void store.set(person(2, 40), 'b');
        const seen = store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 20 });
        void store.set(person(3, 50), 'c');
        const cleared = store.clear();
        const afterClear = store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 20 });
        void store.set(person(4, 60), 'd');
        const last = store.get({ kind: 'person' }, { sort: { age: 1 }, limit: 20, includeKey: true });
        expect(await seen).to.deep.equal(['b', 'a']);
        await cleared;
        expect(await afterClear).to.deep.equal([]);
        expect(await last).to.deep.equal([{ key: person(4, 60), val: 'd' }]);
      });

      it('counts a hit and a miss in stats()', async () => {
        const store = make();
        await store.set(person(1, 30), 'a');
        await store.resetStats();
        expect(await store.get({ kind: 'person' }, { sort: { age: 1 }, limit: 1 })).to.deep.equal(['a']);
        expect(await store.get({ kind: 'robot' }, { sort: { age: 1 }, limit: 1 })).to.deep.equal([]);
        const stats = await store.stats();
        expect([stats.hits, stats.misses]).to.deep.equal([1, 1]);
      });

      it('refuses the same bad sort on every call, before and after good sorts on the same paths (SPEC §14)', async () => {
        const store = make();
        await store.set(person(1, 30), 'a');
        for (let round = 0; round < 3; round++) {
          for (const sort of [{ age: 2 }, { 'age..x': 1 }, JSON.parse('{"__proto__":1}') as unknown, { 'a.__proto__': -1 }, { $age: 1 }, { age: '1' }]) {
            const err = await store.get({ kind: 'person' }, { sort: sort as { age: 1 } }).then(
              () => undefined,
              (e: StoreError) => e,
            );
            expect(err, JSON.stringify(sort)).to.be.instanceOf(StoreError);
            expect(err!.code).to.equal('ERR_INVALID_ARGUMENT');
          }
          expect(await store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 5 })).to.deep.equal(['a']);
        }
      });
    });
  }

  it('hands a synchronous find that throws to the caller as a StoreError, counted in stats().errors', async () => {
    const store = new BackendStore({}, () => stubBackend([], true, new TypeError('boom'))) as BaseStore;
    stores.push(store);
    await store.connect();
    const err = await store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 20 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(StoreError);
    expect((err as StoreError).code).to.equal('ERR_STORAGE_OPERATION');
    // The same behind a clear still in flight: the scan waits in the gate, then its find throws.
    const cleared = store.clear();
    const waited = await store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 20 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await cleared;
    expect(waited).to.be.instanceOf(StoreError);
    expect((waited as StoreError).code).to.equal('ERR_STORAGE_OPERATION');
    expect((await store.stats()).errors).to.equal(2);
  });

  it('reads an asynchronous native find straight: its window, the limit passed down, keys not asked for without includeKey', async () => {
    const backend = stubBackend(entriesOf(30), false);
    const store = new BackendStore({}, () => backend) as BaseStore;
    stores.push(store);
    expect(await store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 3 })).to.deep.equal([{ n: 0 }, { n: 1 }, { n: 2 }]);
    expect(await store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 2, includeKey: true })).to.deep.equal([
      { key: person(0, 100), val: { n: 0 } },
      { key: person(1, 99), val: { n: 1 } },
    ]);
    expect(backend.finds.map((o) => [o.limit, o.keys])).to.deep.equal([
      [3, false],
      [2, undefined],
    ]);
  });

  it('remembers a sort field frozen, so no caller can change what later calls get', () => {
    const [first] = compileSort({ 'name.last': -1 }, 'get');
    const [again] = compileSort({ 'name.last': -1 }, 'get');
    expect(again).to.equal(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first.parts)).to.equal(true);
    expect(compileSort({ 'name.last': 1 }, 'get')[0].direction).to.equal(1);
  });
});
