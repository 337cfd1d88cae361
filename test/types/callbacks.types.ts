/**
 * Type tests: each store's callbacks follow its convention (SPEC §5) — node-style
 * `(err, result)` from createStore(), result-first `(result)` from Store(), either one when
 * `settings.callbacks` names it — and a callback of the other shape does not compile.
 */
import { expectTypeOf } from 'expect-type';
import Store = require('../../index');
import type { Key } from '../../lib/keys';

interface User {
  name: string;
}

export function nodeStyle(): void {
  const store = Store.createStore<User>();
  store.getOne('ada', (err, user) => {
    expectTypeOf(err).toEqualTypeOf<Store.StoreError | null>();
    expectTypeOf(user).toEqualTypeOf<User | undefined>();
  });
  store.get({ age: 20 }, (err, users) => {
    expectTypeOf(err).toEqualTypeOf<Store.StoreError | null>();
    expectTypeOf(users).toEqualTypeOf<User[]>();
  });
  store.get('ada', { includeKey: true }, (_err, found) => expectTypeOf(found).toEqualTypeOf<Store.KeyedValue<User>[]>());
  store.set('ada', { name: 'Ada' }, (err) => expectTypeOf(err).toEqualTypeOf<Store.StoreError | null>());
  store.set('ada', { name: 'Ada' }, { ttl: 5 }, (err) => expectTypeOf(err).toEqualTypeOf<Store.StoreError | null>());
  store.setex('ada', { name: 'Ada' }, 5, (err) => expectTypeOf(err).toEqualTypeOf<Store.StoreError | null>());
  store.has('ada', (_err, has) => expectTypeOf(has).toEqualTypeOf<boolean>());
  store.del({ age: 20 }, (_err, removed) => expectTypeOf(removed).toEqualTypeOf<number>());
  store.count({ age: 20 }, (_err, n) => expectTypeOf(n).toEqualTypeOf<number>());
  store.keys((_err, keys) => expectTypeOf(keys).toEqualTypeOf<Key[]>());
  store.keys('user:*', (_err, keys) => expectTypeOf(keys).toEqualTypeOf<Key[]>());
  store.ttl('ada', (_err, ms) => expectTypeOf(ms).toEqualTypeOf<number | null | undefined>());
  store.stats((_err, stats) => expectTypeOf(stats).toEqualTypeOf<Store.StoreStats>());
  store.copy(Store.createStore(), (_err, copied) => expectTypeOf(copied).toEqualTypeOf<number>());
  store.getMany(['ada', { id: 1 }], (_err, users) => expectTypeOf(users).toEqualTypeOf<Array<User | undefined>>());
  store.setMany([{ key: 'ada', value: { name: 'Ada' }, ttl: 5 }], (err) => expectTypeOf(err).toEqualTypeOf<Store.StoreError | null>());
  store.delMany(['ada'], (_err, removed) => expectTypeOf(removed).toEqualTypeOf<number>());
  store.delKeys('user:*', (_err, removed) => expectTypeOf(removed).toEqualTypeOf<number>());
  store.resetStats((err) => expectTypeOf(err).toEqualTypeOf<Store.StoreError | null>());
  expectTypeOf(store.getMany(['ada'])).toEqualTypeOf<Promise<Array<User | undefined>>>();
  // @ts-expect-error -- setMany's items must hold values of the store's type
  store.setMany([{ key: 'ada', value: 42 }]);
  store.connect((err) => expectTypeOf(err).toEqualTypeOf<Store.StoreError | null>());
  store.clear((err) => expectTypeOf(err).toEqualTypeOf<Store.StoreError | null>());
  store.close((err) => expectTypeOf(err).toEqualTypeOf<Store.StoreError | null>());
  // A callback declaring a wider error type is fine; one of the result-first shape is not.
  store.getOne('ada', (err: Error | null, user?: User) => void [err, user]);
  // @ts-expect-error -- result-first shape on a node-style store: the first argument is the error
  store.getOne('ada', (user: User | undefined) => void user);
  // @ts-expect-error -- the node error is never a plain string
  store.get('k', (err: string) => void err);
  // @ts-expect-error -- has resolves a boolean, not a number
  store.has('ada', (_err: Error | null, n: number) => void n);
}

export function resultFirst(): void {
  const store = Store<User>();
  store.connect((ok) => expectTypeOf(ok).toEqualTypeOf<boolean>());
  store.getOne('ada', (user) => expectTypeOf(user).toEqualTypeOf<User | undefined>());
  store.get({ age: 20 }, (users) => expectTypeOf(users).toEqualTypeOf<User[]>());
  store.set('ada', { name: 'Ada' }, (failed) => expectTypeOf(failed).toEqualTypeOf<false | undefined>());
  store.has('ada', (has) => expectTypeOf(has).toEqualTypeOf<boolean>());
  store.del('ada', (removed) => expectTypeOf(removed).toEqualTypeOf<number>());
  store.keys((keys) => expectTypeOf(keys).toEqualTypeOf<Key[]>());
  store.stats((stats) => expectTypeOf(stats).toEqualTypeOf<Store.StoreStats | false>());
  store.getMany(['ada'], (users) => expectTypeOf(users).toEqualTypeOf<Array<User | undefined>>());
  store.delMany(['ada'], (removed) => expectTypeOf(removed).toEqualTypeOf<number>());
  store.close(() => undefined);
  // With nullOnMiss, get's callback receives null on a miss.
  Store<User>({ settings: { nullOnMiss: true } }).get('k', (users) => expectTypeOf(users).toEqualTypeOf<User[] | null>());
  // @ts-expect-error -- node shape on a result-first store: the first argument is the result
  store.getOne('ada', (err: Error | null, user: User | undefined) => void [err, user]);
  // @ts-expect-error -- connect's callback receives a boolean
  store.connect((err: Error | null) => void err);
}

export function styleFromSettings(): void {
  // settings.callbacks, when literal, overrides the factory's default.
  Store({ settings: { callbacks: 'node' } }).getOne('k', (err, value) => {
    expectTypeOf(err).toEqualTypeOf<Store.StoreError | null>();
    expectTypeOf(value).toEqualTypeOf<unknown>();
  });
  Store<User>({ settings: { callbacks: 'node', includeKey: true } }).get('k', (_err, found) =>
    expectTypeOf(found).toEqualTypeOf<Store.KeyedValue<User>[]>(),
  );
  Store.createStore<User>({ settings: { callbacks: 'result-first' } }).getOne('k', (user) =>
    expectTypeOf(user).toEqualTypeOf<User | undefined>(),
  );
  Store.createStore({ type: 'redis', settings: { callbacks: 'result-first', nullOnMiss: true } }).get('k', (values) =>
    expectTypeOf(values).toEqualTypeOf<unknown[] | null>(),
  );
  // A convention the types cannot read: any callback is accepted.
  const style: 'node' | 'result-first' = Math.random() > 0.5 ? 'node' : 'result-first';
  const either = Store.createStore({ settings: { callbacks: style } });
  either.getOne('k', (first: unknown) => void first);
  either.getOne('k', (err: Error | null, value: unknown) => void [err, value]);
}
