/**
 * The registry and the backend contract (SPEC §13): a type added with `registerStore` is built
 * by `Store()`/`createStore()` like a built-in one, and a backend implementing only the nine
 * required primitives passes the whole conformance suite — the core supplies the rest.
 */
import { expect } from 'chai';
import Store = require('../index');
import { runConformance } from '../lib/conformance';
import type { Backend, BackendContext } from '../lib/backend';
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

  it('a backend reports background failures and events through its context: the store that owns it, or the scope', async () => {
    const contexts: BackendContext[] = [];
    const wrap = (backend: Backend): Backend => ({
      ...backend,
      scope: (namespace, scopeContext) => {
        contexts.push(scopeContext);
        return wrap(backend.scope(namespace, scopeContext));
      },
    });
    Store.registerStore('events-test', () => ({
      createBackend: (_settings, context) => {
        contexts.push(context);
        return wrap(createMapBackend(context));
      },
    }));
    const root = Store.createStore({ type: 'events-test' });
    const scope = root.scope('s');
    const rootErrors: string[] = [];
    const scopeErrors: string[] = [];
    const scopeEvents: unknown[] = [];
    root.on('error', (err: Error) => rootErrors.push(err.message));
    scope.on('error', (err: Error) => scopeErrors.push(err.message));
    scope.on('custom', (payload: unknown) => scopeEvents.push(payload));
    expect(contexts.map((c) => c.namespace)).to.deep.equal(['', 's']);
    contexts[0].events.reportError(new Store.StorageOperationError('root sweep failed'));
    contexts[1].events.reportError(new Store.StorageOperationError('scope sweep failed'));
    contexts[1].events.emit('custom', { n: 1 });
    expect(rootErrors).to.deep.equal(['root sweep failed']);
    expect(scopeErrors).to.deep.equal(['scope sweep failed']);
    expect(scopeEvents).to.deep.equal([{ n: 1 }]);
    await root.close();
  });
});

// The map backend leaves getMeta to the core's default, which records no times (null).
runConformance('map backend through registerStore (required primitives only)', (settings) => Store.createStore({ type: 'map-test', settings }), {
  entryTimes: false,
});
