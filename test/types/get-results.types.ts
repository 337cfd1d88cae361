/**
 * Type tests (run by test/types.test.ts through `tsc -p test/types`): what `get` resolves on a
 * store made by the factories, from the store's settings and the call's options (SPEC §13).
 */
import { expectTypeOf } from 'expect-type';
import Store = require('../../index');
import type { Key } from '../../lib/keys';

interface User {
  name: string;
  age: number;
}
type Keyed<V> = { key: Key; val: V };

export async function getResults(): Promise<void> {
  // No settings: values; the value type comes from createStore<V>() / Store<V>().
  const users = Store.createStore<User>();
  expectTypeOf(await users.get({ age: 20 })).toEqualTypeOf<User[]>();
  expectTypeOf(await users.getOne('ada')).toEqualTypeOf<User | undefined>();
  expectTypeOf(await Store<User>().get('ada')).toEqualTypeOf<User[]>();
  expectTypeOf(await Store.createStore().get('k')).toEqualTypeOf<unknown[]>();

  // The call's includeKey decides; without it the store's setting does.
  expectTypeOf(await users.get('ada', { includeKey: true })).toEqualTypeOf<Keyed<User>[]>();
  expectTypeOf(await users.get('ada', { includeKey: false, limit: 1 })).toEqualTypeOf<User[]>();
  expectTypeOf(await users.get('ada', { limit: 1 })).toEqualTypeOf<User[]>();

  // Settings as literals, value type inferred (unknown) or given.
  const keyed = Store.createStore({ settings: { includeKey: true } });
  expectTypeOf(await keyed.get('k')).toEqualTypeOf<Keyed<unknown>[]>();
  expectTypeOf(await keyed.get('k', { includeKey: false })).toEqualTypeOf<unknown[]>();
  const keyedUsers = Store.createStore<User>({ type: 'memory', settings: { includeKey: true, maxKeys: 10 } });
  expectTypeOf(await keyedUsers.get('k')).toEqualTypeOf<Keyed<User>[]>();
  expectTypeOf(await keyedUsers.get('k', { includeKey: false })).toEqualTypeOf<User[]>();

  const nullable = Store<User>({ settings: { nullOnMiss: true } });
  expectTypeOf(await nullable.get('k')).toEqualTypeOf<User[] | null>();
  expectTypeOf(await nullable.get('k', { includeKey: true })).toEqualTypeOf<Keyed<User>[] | null>();
  const both = Store.createStore<User>({ settings: { includeKey: true, nullOnMiss: true } });
  expectTypeOf(await both.get('k')).toEqualTypeOf<Keyed<User>[] | null>();
  expectTypeOf(await both.get('k', { includeKey: false })).toEqualTypeOf<User[] | null>();
  const explicitDefaults = Store.createStore<User>({ settings: { includeKey: false, nullOnMiss: false } });
  expectTypeOf(await explicitDefaults.get('k')).toEqualTypeOf<User[]>();

  // Settings the types cannot read: every shape get may resolve.
  const flag = Math.random() > 0.5;
  const unknownSettings = Store.createStore({ settings: { includeKey: flag } });
  expectTypeOf(await unknownSettings.get('k')).toEqualTypeOf<unknown[] | Keyed<unknown>[]>();
  const options: Store.StoreOptions = { type: 'memory' };
  expectTypeOf(await Store.createStore<User>(options).get('k')).toEqualTypeOf<User[] | Keyed<User>[] | null>();
  // A call's includeKey the types cannot read.
  expectTypeOf(await users.get('k', { includeKey: flag })).toEqualTypeOf<User[] | Keyed<User>[]>();

  // Per-call value type, as before.
  expectTypeOf(await Store.createStore().get<User>('k')).toEqualTypeOf<User[]>();
  expectTypeOf(await Store.createStore().getOne<User>('k')).toEqualTypeOf<User | undefined>();
  expectTypeOf(await keyed.get<User>('k')).toEqualTypeOf<Keyed<User>[]>();
}
