/**
 * Type tests: the import form of SPEC §2 (`import Store, { createStore } from 'memstorage-next'`)
 * gives the typed factories and the public type `Store<V>` under the same name as the factory.
 */
import { expectTypeOf } from 'expect-type';
import Store, { createStore, MemoryStore } from '../../index';

interface Point {
  x: number;
}

export async function defaultImport(): Promise<void> {
  const points: Store<Point> = createStore<Point>();
  expectTypeOf(await createStore<Point>().get('p')).toEqualTypeOf<Point[]>();
  expectTypeOf(await Store<Point>({ settings: { includeKey: true } }).get('p')).toEqualTypeOf<Store.KeyedValue<Point>[]>();
  expectTypeOf(points.getOne('p')).toEqualTypeOf<Promise<Point | undefined>>();
  const legacy: MemoryStore = Store({ type: 'memory' }) as MemoryStore;
  void legacy;
}
