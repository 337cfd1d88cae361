/**
 * The registry and the backend contract (SPEC §13): a type added with `registerStore` is built
 * by `Store()`/`createStore()` like a built-in one, and a backend implementing only the nine
 * required primitives passes the whole conformance suite — the core supplies the rest.
 */
import { expect } from 'chai';
import Store = require('../index');
import { runConformance } from '../lib/conformance';
import { createMapBackend } from './fixtures/map-backend';

let loads = 0;
Store.registerStore('Map-Test', () => {
  loads++;
  return { createBackend: (_settings, context) => createMapBackend(context) };
});

describe('registry', () => {
  it('a registered type is listed, case-insensitively, and loaded on first use only', async () => {
    expect(Store.storeTypes()).to.include.members(['memory', 'redis', 'mongo', 'multi', 'map-test']);
    const loadsBefore = loads;
    const store = Store.createStore({ type: 'MAP-TEST' });
    Store.createStore({ type: 'map-test' });
    expect(loads - loadsBefore).to.be.at.most(1);
    await store.set({ a: 1 }, 'x');
    expect(await store.get({ a: { $gte: 1 } })).to.deep.equal(['x']);
    expect(store.callbackStyle).to.equal('node');
    expect(Store({ type: 'map-test' }).callbackStyle).to.equal('result-first');
    await store.close();
  });

  it('a name that is not letters, digits, - or _ is a StoreConfigError', () => {
    for (const name of ['', '1abc', 'a b', 'a.b', 42 as unknown as string]) {
      expect(() => Store.registerStore(name, () => ({ createBackend: (_s, c) => createMapBackend(c) })), String(name))
        .to.throw(Store.StoreConfigError)
        .with.property('code', 'ERR_STORE_CONFIG');
    }
    expect(() => Store.registerStore('fine', 'not a function' as never)).to.throw(Store.StoreConfigError);
    expect(Store.storeTypes()).to.not.include('fine');
  });
});

runConformance('map backend through registerStore (required primitives only)', (settings) =>
  Store.createStore({ type: 'map-test', settings }),
);
