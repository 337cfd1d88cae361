/**
 * The store core's own rules (SPEC §12), checked on the memory store where the clock is fully
 * injectable: TTL arithmetic at its edges, counting refused calls, and scopes of closed stores.
 * Behaviour every backend shares is in the conformance suite; program order in program-order.test.ts.
 */
import { expect } from 'chai';
import { ManualClock } from '../lib/clock';
import { MemoryStore } from '../lib/backends/memory';
import Store = require('../index');
import type { Backend } from '../lib/backend';
import { createMapBackend } from './fixtures/map-backend';

/** Connects and closes of every backend of the 'scope-count-test' type (root and scopes). */
const lifecycle = { connects: 0, closes: 0 };
function counted(backend: Backend): Backend {
  return {
    ...backend,
    connect: () => (lifecycle.connects++, backend.connect()),
    close: () => (lifecycle.closes++, backend.close()),
    scope: (namespace, context) => counted(backend.scope(namespace, context)),
  };
}
Store.registerStore('scope-count-test', () => ({ createBackend: (_settings, context) => counted(createMapBackend(context)) }));

describe('store core', () => {
  it('a TTL too small to move the clock (1e-320 ms) stores an entry that lives one millisecond, not an expired one', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryStore({ clock });
    await store.set('tiny', 1, { ttl: 1e-320 });
    expect(await store.getOne('tiny')).to.equal(1);
    expect(await store.ttl('tiny')).to.be.greaterThan(0);
    clock.advance(1);
    expect(await store.getOne('tiny')).to.equal(undefined);
    await store.close();
  });

  it('stats().errors counts calls refused for a bad argument, not only backend failures', async () => {
    const store = new MemoryStore();
    await store.getOne({ $bad: 1 }).catch(() => undefined);
    await store.set('k', () => 1).catch(() => undefined);
    await store.get({ a: { $where: 'x' } }).catch(() => undefined);
    await store.set('k', 1, { ttl: -1 }).catch(() => undefined);
    await store.setex('k', 1, 0).catch(() => undefined);
    expect((await store.stats()).errors).to.equal(5);
    await store.close();
  });

  describe('scopes: one per namespace while open', () => {
    it('scope(ns) made per request returns the one open scope: 1,000 requests over 10 namespaces connect 10 scopes, not 1,000', async () => {
      lifecycle.connects = lifecycle.closes = 0;
      const root = Store.createStore({ type: 'scope-count-test' });
      await root.set('k', 'root');
      for (let i = 0; i < 1000; i++) {
        const scope = root.scope(`tenant-${i % 10}`);
        if (i < 10) await scope.set('k', i);
        expect(await scope.getOne('k')).to.equal(i % 10);
      }
      expect(lifecycle.connects).to.equal(1 + 10);
      expect(root.scope('tenant-3')).to.equal(root.scope('tenant-3'));
      expect(root.scope('tenant-3')).to.not.equal(root.scope('tenant-4'));
      // A scope of a scope is keyed by its full namespace in its own parent.
      expect(root.scope('tenant-3').scope('x')).to.equal(root.scope('tenant-3').scope('x'));
      await root.close();
      expect(lifecycle.closes).to.equal(lifecycle.connects);
    });

    it('a scope handed out twice ends when both holders closed it: one request closing its scope does not end another\'s', async () => {
      const root = new MemoryStore();
      const mine = root.scope('user-1');
      const theirs = root.scope('user-1');
      expect(theirs).to.equal(mine);
      await mine.set('k', 1);
      await mine.close();
      expect(await theirs.getOne('k')).to.equal(1);
      await theirs.close();
      await theirs.getOne('k').then(
        () => expect.fail('a scope every holder closed answered'),
        (err) => expect(err.code).to.equal('ERR_STORE_CLOSED'),
      );
      // Its parent's close ends a scope whatever its holders.
      const held = root.scope('user-2');
      root.scope('user-2');
      await root.close();
      await held.getOne('k').then(
        () => expect.fail('a scope of a closed store answered'),
        (err) => expect(err.code).to.equal('ERR_STORE_CLOSED'),
      );
    });

    it('a closed scope is not handed out again: scope(ns) then makes a new one, which works', async () => {
      const root = new MemoryStore();
      const first = root.scope('a');
      await first.set('k', 1);
      await first.close();
      const second = root.scope('a');
      expect(second).to.not.equal(first);
      expect(await second.getOne('k')).to.equal(1);
      await first.getOne('k').then(
        () => expect.fail('a closed scope answered'),
        (err) => expect(err.code).to.equal('ERR_STORE_CLOSED'),
      );
      await root.close();
    });
  });
});
