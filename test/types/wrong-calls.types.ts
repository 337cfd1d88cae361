/**
 * Type tests: calls the store refuses at run time do not compile (SPEC §13). Each
 * `@ts-expect-error` line fails the type check if the call below it were accepted.
 */
import Store = require('../../index');

interface User {
  name: string;
}

export async function wrongCalls(): Promise<void> {
  const store = Store.createStore<User>();
  // @ts-expect-error -- unknown option (a typo of ttl)
  await store.set('ada', { name: 'Ada' }, { ttll: 5 });
  // @ts-expect-error -- unknown get option
  await store.get('ada', { limt: 1 });
  // @ts-expect-error -- unknown get option next to a known one
  await store.get('ada', { includeKey: true, limt: 1 });
  // @ts-expect-error -- ttl is a number of ms
  await store.set('ada', { name: 'Ada' }, { ttl: '5s' });
  // @ts-expect-error -- includeKey is a boolean
  await store.get('ada', { includeKey: 'yes' });
  // @ts-expect-error -- a number is not a key
  await store.getOne(42);
  // @ts-expect-error -- a number is not a query
  await store.get(42);
  // @ts-expect-error -- a number is not a key
  await store.set(42, { name: 'Ada' });
  // @ts-expect-error -- set without a value
  await store.set('ada');
  // @ts-expect-error -- a value of another type than the store's
  await store.set('ada', { name: 42 });
  // @ts-expect-error -- setex takes seconds as a number
  await store.setex('ada', { name: 'Ada' }, '5');
  // @ts-expect-error -- the callback position holds a function
  await store.getOne('ada', 42);
  // @ts-expect-error -- getOrSet computes a value of the store's type
  await store.getOrSet('ada', () => 42);
  // @ts-expect-error -- getOrSet's options are set's
  await store.getOrSet('ada', () => ({ name: 'Ada' }), { ttll: 5 });
  // @ts-expect-error -- a namespace is a string
  store.scope(7);
  // @ts-expect-error -- copy's target is a store
  await store.copy({});
  // @ts-expect-error -- the factory's options: no such field
  Store.createStore({ typ: 'memory' });
  // @ts-expect-error -- the factory's settings: includeKey is a boolean
  Store.createStore({ settings: { includeKey: 'yes' } });
  // @ts-expect-error -- the factory's settings: no such convention
  Store({ settings: { callbacks: 'promise' } });
}

/** Backend plumbing is not on the public types (SPEC §13): no sync-read sentinel, batch entry points or tier helpers. */
export function noPlumbing(): void {
  const store = Store.createStore<User>();
  const redis = new Store.RedisStore();
  // @ts-expect-error -- the multi store's synchronous front-tier read is internal
  store.getOneSync('ada');
  // @ts-expect-error -- tier promotion reads are internal
  void store.getEntry('ada');
  // @ts-expect-error -- a layered store's batched reads are internal
  void store.getEntries(['ada']);
  // @ts-expect-error -- the Redis connection's batch entry point is on the backend, not the store
  redis.sendBatch('get', []);
  // @ts-expect-error -- the sync-read sentinel is not exported
  void Store.NOT_SYNC;
}
