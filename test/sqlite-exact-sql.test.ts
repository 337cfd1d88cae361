/**
 * Queries the SQLite store decides in SQL alone (lib/backends/sqlite/query.ts isTranslatedWhole,
 * narrowingSql): only equalities to strings, booleans and numbers SQLite compares exactly are. An
 * equality to an array or object (no constraint), or to an integer past 2^53 (a constraint that
 * adds no SQL condition), goes to the matcher. Found by the differential harness
 * at FUZZ_RUNS=100: `{ c: 'a', a: { $eq: [] } }` matched a key without `a`.
 */
import { expect } from 'chai';
import { createStore } from '../lib/factory';

describe('sqlite store: what SQL decides alone', () => {
  it('an equality to [], {} or a list of them does not match a key missing the field', async () => {
    const store = createStore({ type: 'sqlite', settings: { path: ':memory:' } });
    await store.set({ c: 'a' }, 1);
    await store.set({ c: 'a', a: [] }, 2);
    await store.set({ c: 'a', a: {} }, 3);
    expect(await store.get({ c: 'a', a: { $eq: [] } })).to.deep.equal([2]);
    expect(await store.get({ c: 'a', a: { $eq: {} } })).to.deep.equal([3]);
    expect(await store.get({ c: 'a', a: { $in: [[], {}] } })).to.deep.equal([2, 3]);
    expect(await store.count({ a: { $eq: [] } })).to.equal(1);
    await store.close();
  });

  it('a bare {} beside another condition is an equality to an empty object, not an empty operator list', async () => {
    // Found by the differential harness (FUZZ_SEED=20261203): `{ a: 'b', c: {} }` matched `{ a: 'b' }`.
    const store = createStore({ type: 'sqlite', settings: { path: ':memory:' } });
    await store.set({ a: 'b' }, 1);
    await store.set({ a: 'b', c: {} }, 2);
    await store.set({ a: 'b', c: { d: 1 } }, 3);
    expect(await store.get({ a: 'b', c: {} })).to.deep.equal([2]);
    expect(await store.keys({ a: 'b', c: {} })).to.deep.equal([{ a: 'b', c: {} }]);
    expect(await store.count({ a: 'b', c: {} })).to.equal(1);
    expect(await store.get({ a: 'b', c: {} }, { sort: { a: 1 }, limit: 5 })).to.deep.equal([2]);
    expect(await store.del({ a: 'b', c: {} })).to.equal(1);
    expect(await store.get({ a: 'b' })).to.deep.equal([1, 3]);
    await store.close();
  });

  it('an equality to an integer past 2^53 finds its key', async () => {
    const store = createStore({ type: 'sqlite', settings: { path: ':memory:', indexes: ['n'] } });
    await store.set({ n: 2 ** 60 + 256 }, 'big');
    await store.set({ n: 5 }, 'five');
    expect(await store.get({ n: 2 ** 60 + 256 })).to.deep.equal(['big']);
    expect(await store.get({ n: { $in: [2 ** 60 + 256, 5] } })).to.deep.equal(['big', 'five']);
    // Such an equality adds no SQL condition (narrowingSql): next to one that does, the plan is not exact.
    await store.set({ c: 'x', n: 7 }, 'seven');
    expect(await store.get({ c: 'x', n: 2 ** 60 + 256 })).to.deep.equal([]);
    expect(await store.get({ c: 'x', n: { $in: [2 ** 60 + 256] } })).to.deep.equal([]);
    await store.close();
  });
});
