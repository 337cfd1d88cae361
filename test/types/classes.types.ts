/**
 * Type tests: memory, Redis, MongoDB and multi stores built by the factories and by the classes.
 * A class instance is a store whose settings the types do not see (any `get` shape, any
 * callback); cast it to `Store<V, Flags<...>>` to state them. Typed stores are still stores:
 * they go wherever a `BaseStore` is expected (copy targets, multi tiers).
 */
import { expectTypeOf } from 'expect-type';
import Store = require('../../index');
import { MultiStore, MultiStats } from '../../lib/multi/multi-store';

interface User {
  name: string;
}
type Keyed<V> = Store.KeyedValue<V>;

export async function byFactory(): Promise<void> {
  const redis = Store.createStore<User>({ type: 'redis', settings: { url: 'redis://localhost:6379', includeKey: true } });
  expectTypeOf(await redis.get('k')).toEqualTypeOf<Keyed<User>[]>();
  const mongo = Store<User>({ type: 'mongo', settings: { url: 'mongodb://localhost:27017/db', nullOnMiss: true } });
  expectTypeOf(await mongo.get('k')).toEqualTypeOf<User[] | null>();
  const multi = Store.createStore<User>({ type: 'multi', settings: { stores: [{ type: 'memory' }, { type: 'redis' }] } });
  expectTypeOf(await multi.getOne('k')).toEqualTypeOf<User | undefined>();
  expectTypeOf(multi).toEqualTypeOf<Store.Store<User, Store.Flags<false, false, 'node'>>>();
  // Scopes keep the store's types.
  expectTypeOf(redis.scope('tenant')).toEqualTypeOf(redis);
  // Iteration, streams of entries, stats and the other results.
  for await (const entry of multi.entries({ age: 20 })) expectTypeOf(entry).toEqualTypeOf<Store.Entry<User>>();
  expectTypeOf(await multi.getOrSet('k', async () => ({ name: 'Ada' }))).toEqualTypeOf<User>();
  expectTypeOf(await multi.stats()).toEqualTypeOf<Store.StoreStats>();
  expectTypeOf(await multi.ttl('k')).toEqualTypeOf<number | null | undefined>();
  expectTypeOf(await multi.count({ age: 20 })).toEqualTypeOf<number>();
  expectTypeOf(await multi.del({ age: 20 })).toEqualTypeOf<number>();
  expectTypeOf(await multi.has('k')).toEqualTypeOf<boolean>();
  expectTypeOf(await multi.set('k', { name: 'Ada' }, { ttl: 5 })).toEqualTypeOf<void>();
  // A typed store is a store: a copy target, a tier, a BaseStore.
  expectTypeOf(await multi.copy(redis)).toEqualTypeOf<number>();
  const anyStore: Store.BaseStore = mongo;
  // The public type by name: the default export is also the type `Store<V, F>` (and Store.Store).
  const named: Store<User> = mongo;
  const exact: Store.Store<User, Store.Flags<true, false, 'node'>> = redis;
  expectTypeOf(await named.get('k')).toEqualTypeOf<User[] | Keyed<User>[] | null>();
  expectTypeOf(await exact.get('k')).toEqualTypeOf<Keyed<User>[]>();
  new MultiStore({ stores: [redis, { store: mongo }] });
  void anyStore;
}

export async function byClass(): Promise<void> {
  const memory = new Store.MemoryStore({ maxKeys: 10 });
  const redis = new Store.RedisStore({ url: 'redis://localhost:6379' });
  const mongo = new Store.MongoStore({ url: 'mongodb://localhost:27017/db' });
  const multi = new Store.MultiStore({ stores: [memory, redis] });
  for (const store of [memory, redis, mongo, multi]) {
    expectTypeOf(await store.getOne('k')).toEqualTypeOf<unknown>();
    expectTypeOf(await store.getOne<User>('k')).toEqualTypeOf<User | undefined>();
    // The settings are not in the class's type: every shape get may resolve.
    expectTypeOf(await store.get<User>('k')).toEqualTypeOf<User[] | Keyed<User>[] | null>();
    expectTypeOf(await store.get<User>('k', { includeKey: true })).toEqualTypeOf<Keyed<User>[] | null>();
    for await (const entry of store.entries<User>()) expectTypeOf(entry.value).toEqualTypeOf<User>();
    // @ts-expect-error -- unknown option, on a class instance too
    await store.set('k', 1, { ttll: 5 });
    // @ts-expect-error -- a number is not a key
    await store.getOne(1);
  }
  expectTypeOf(await multi.stats()).toEqualTypeOf<MultiStats>();
  // Stating what the types cannot see: a cast to the public type.
  const users = new Store.MemoryStore({ includeKey: true }) as Store.Store<User, Store.Flags<true, false, 'node'>>;
  expectTypeOf(await users.get('k')).toEqualTypeOf<Keyed<User>[]>();
  users.getOne('k', (err, user) => {
    expectTypeOf(err).toEqualTypeOf<Store.StoreError | null>();
    expectTypeOf(user).toEqualTypeOf<User | undefined>();
  });
}
