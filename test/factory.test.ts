import { expect } from 'chai';
import Store = require('../index');

describe('factory', () => {
  it('Store() with no argument is a memory store with result-first callbacks', async () => {
    const store = Store();
    expect(store).to.be.instanceOf(Store.MemoryStore);
    expect(store.callbackStyle).to.equal('result-first');
    await store.close();
  });

  it('createStore() uses node-style callbacks', async () => {
    const store = Store.createStore({ type: 'memory' });
    expect(store.callbackStyle).to.equal('node');
    await store.close();
  });

  it('an unknown type is a StoreConfigError naming the type and the valid ones', () => {
    let caught: unknown;
    try {
      Store({ type: 'nosuch' });
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(Store.StoreConfigError);
    expect((caught as Store.StoreError).code).to.equal('ERR_STORE_CONFIG');
    expect((caught as Error).message).to.contain('nosuch').and.contain('memory');
  });
});
