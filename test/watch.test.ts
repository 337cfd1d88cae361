/**
 * watch(query?, listener) -> unwatch() (SPEC §15, lib/core/watch.ts): local set and delete
 * events whose key matches, on memory and on a multi store [memory, redis]; remote ones from
 * another multi store through a real Redis invalidation bus; unwatch and close end a watch.
 */
import { expect } from 'chai';
import { MemoryStore } from '../lib/backends/memory';
import { keyId } from '../lib/keys';
import { MultiStore } from '../lib/multi/multi-store';
import type { BaseStore } from '../lib/store';
import type { WatchEvent } from '../lib/core/watch';
import { FaultyStore } from './support/multi-faulty';
import { sharedRedis } from './support/redis-server';
import { describeEachStore, memoryAndMultiRedis } from './support/store-setups';

/** Starts a watch that records what it is told. */
function watched(store: BaseStore, query?: string | object): { events: WatchEvent[]; unwatch: () => void } {
  const events: WatchEvent[] = [];
  const listener = (event: WatchEvent) => events.push(event);
  const unwatch = query === undefined ? store.watch(listener) : store.watch(query, listener);
  return { events, unwatch };
}

const SETUPS = memoryAndMultiRedis('watch');

describeEachStore(SETUPS, (s) => `watch on ${s.name}`, (setup, current) => {
  let store: BaseStore;
  beforeEach(() => {
    store = current();
  });


  it('without a query: every set and delete of this store, with the key, source local', async () => {
    const { events } = watched(store);
    await store.set('a', 1);
    await store.set({ user: 1 }, 2);
    await store.setMany([{ key: 'b', value: 3 }]);
    await store.del('a');
    await store.del('a'); // nothing removed: nothing to tell
    await store.delMany(['b', { user: 1 }]);
    expect(events).to.deep.equal([
      { op: 'set', key: 'a', source: 'local' },
      { op: 'set', key: { user: 1 }, source: 'local' },
      { op: 'set', key: 'b', source: 'local' },
      { op: 'delete', key: 'a', source: 'local' },
      { op: 'delete', key: 'b', source: 'local' },
      { op: 'delete', key: { user: 1 }, source: 'local' },
    ]);
  });

  it('a query matches object keys; a string is a glob over string keys, as in keys()', async () => {
    const adults = watched(store, { age: { $gte: 18 } });
    const users = watched(store, 'user:*');
    await store.set({ age: 20, name: 'x' }, 1);
    await store.set({ age: 10, name: 'y' }, 2);
    await store.set('user:1', 3);
    await store.set('order:1', 4);
    await store.del({ age: 20, name: 'x' }); // an object is a query: a delete by query
    await store.del('user:1');
    expect(adults.events).to.deep.equal([
      { op: 'set', key: { age: 20, name: 'x' }, source: 'local' },
      { op: 'delete', query: { age: 20, name: 'x' }, source: 'local' },
    ]);
    expect(users.events).to.deep.equal([
      { op: 'set', key: 'user:1', source: 'local' },
      { op: 'delete', query: { age: 20, name: 'x' }, source: 'local' },
      { op: 'delete', key: 'user:1', source: 'local' },
    ]);
  });

  it('deletes by query or glob that removed something, and clear(), reach every watcher', async () => {
    await store.set('p:1', 1);
    await store.set({ t: 1 }, 2);
    const { events } = watched(store, 'unrelated');
    await store.delKeys('p:*');
    await store.delKeys('p:*'); // removed nothing
    await store.del({ t: 1 });
    await store.clear();
    expect(events).to.deep.equal([
      { op: 'delete', query: 'p:*', source: 'local' },
      { op: 'delete', query: { t: 1 }, source: 'local' },
      { op: 'clear', source: 'local' },
    ]);
  });

  it('unwatch() ends the watch, is idempotent, and leaves other watches running', async () => {
    const first = watched(store);
    const second = watched(store);
    await store.set('a', 1);
    first.unwatch();
    first.unwatch();
    await store.set('b', 2);
    expect(first.events.map((e) => e.key)).to.deep.equal(['a']);
    expect(second.events.map((e) => e.key)).to.deep.equal(['a', 'b']);
    second.unwatch();
    const inner = store as unknown as { storage: unknown; plainStorage: unknown };
    expect(inner.storage === inner.plainStorage, 'no watch left: the backend is unwrapped again').to.equal(true);
  });

  it('close() ends every watch; watch on a closed store is ERR_STORE_CLOSED', async () => {
    const { events } = watched(store);
    await store.set('a', 1);
    await store.close();
    const inner = store as unknown as { storage: unknown; plainStorage: unknown };
    expect(inner.storage === inner.plainStorage).to.equal(true);
    expect(events).to.have.length(1);
    expect(() => store.watch(() => undefined)).to.throw().with.property('code', 'ERR_STORE_CLOSED');
    store = await setup.open(); // afterEach clears and closes a live one
  });

  it('bad arguments are refused with typed errors', () => {
    expect(() => store.watch({ age: 1 }, 'nope' as never)).to.throw().with.property('code', 'ERR_INVALID_ARGUMENT');
    expect(() => (store.watch as (q?: unknown) => unknown)()).to.throw().with.property('code', 'ERR_INVALID_ARGUMENT');
    expect(() => store.watch({ $where: 'x' }, () => undefined)).to.throw().with.property('code', 'ERR_INVALID_QUERY');
    expect(() => store.watch(42 as never, () => undefined)).to.throw().with.property('code', 'ERR_INVALID_QUERY');
  });

  it('a listener that throws does not fail the write: its error is reported as error', async () => {
    const boom = new Error('watcher bug');
    store.watch(() => {
      throw boom;
    });
    const errors: unknown[] = [];
    store.on('error', (err) => errors.push(err));
    await store.set('a', 1);
    expect(await store.getOne('a')).to.equal(1);
    expect(errors).to.deep.equal([boom]);
  });
});

describe('watch: remote changes through the invalidation bus (two multi stores, real Redis)', function () {
  this.timeout(60_000);
  let a: MultiStore;
  let b: MultiStore;
  let shared: MemoryStore;

  /** The next event the watch records, or a failure after 5 s. */
  function next(events: WatchEvent[], count: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const poll = () => {
        if (events.length >= count) resolve();
        else if (Date.now() - started > 5000) reject(new Error(`only ${events.length} of ${count} watch events within 5 s`));
        else setTimeout(poll, 5);
      };
      poll();
    });
  }

  beforeEach(async () => {
    const { url } = await sharedRedis();
    const channel = `test-watch-${process.pid}-${Date.now()}`;
    shared = new MemoryStore();
    const durable = () => new FaultyStore(shared); // the same data, presented as a shared store
    a = new MultiStore({ stores: [{ type: 'memory' }, durable()], invalidation: { redis: url, channel } });
    b = new MultiStore({ stores: [{ type: 'memory' }, durable()], invalidation: { redis: url, channel } });
    await Promise.all([a.connect(), b.connect()]);
  });

  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
    await shared.close();
  });

  it('another process’s set, key delete, query delete, delete by tags and clear arrive as remote events (a touch does not); its own writes stay local', async () => {
    const { events, unwatch } = watched(a, { team: 'red' });
    await b.set({ team: 'red', n: 1 }, 1);
    await b.set({ team: 'blue', n: 2 }, 2); // does not match: not told
    await b.set({ team: 'red', n: 3 }, 3, { tags: ['t'] });
    await next(events, 2);
    await b.touch({ team: 'red', n: 3 }, 60_000); // neither value nor presence changes
    await b.delMany([{ team: 'red', n: 1 }]); // an exact key (del() of an object is a query)
    await next(events, 3);
    await b.del({ team: 'red' });
    await next(events, 4);
    await b.delByTags(['t']);
    await next(events, 5);
    await b.clear();
    await next(events, 6);
    await a.set({ team: 'red', n: 4 }, 4);
    expect(events).to.deep.equal([
      { op: 'set', key: { team: 'red', n: 1 }, source: 'remote' },
      { op: 'set', key: { team: 'red', n: 3 }, source: 'remote' },
      { op: 'delete', key: { team: 'red', n: 1 }, source: 'remote' },
      { op: 'delete', query: { team: 'red' }, source: 'remote' },
      { op: 'delete', tags: ['t'], source: 'remote' },
      { op: 'clear', source: 'remote' },
      { op: 'set', key: { team: 'red', n: 4 }, source: 'local' },
    ]);
    unwatch();
    await b.set({ team: 'red', n: 5 }, 5);
    const markers = watched(a, 'marker');
    await b.set('marker', 2);
    await next(markers.events, 1);
    expect(events, 'nothing after unwatch()').to.have.length(7);
  });

  it('a remote key event says delete when the bus event carries the write kind, and names the query of a query delete', () => {
    const { events } = watched(a);
    a.emit('invalidation', { op: 'k', id: keyId({ x: 1 }), write: 'delete' });
    a.emit('invalidation', { op: 'k', id: 'plain', write: 'set' });
    a.emit('invalidation', { op: 'q', q: { x: 1 } });
    expect(events).to.deep.equal([
      { op: 'delete', key: { x: 1 }, source: 'remote' },
      { op: 'set', key: 'plain', source: 'remote' },
      { op: 'delete', query: { x: 1 }, source: 'remote' },
    ]);
  });

  it('close() stops remote events too', async () => {
    const { events } = watched(a);
    await a.close();
    await b.set('k', 1);
    expect(a.listenerCount('invalidation')).to.equal(0);
    expect(events).to.deep.equal([]);
  });
});
