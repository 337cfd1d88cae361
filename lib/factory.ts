/**
 * The factory (SPEC §2): `Store({ type, settings })` picks a registered type by name
 * (lib/registry.ts). Backends are loaded on first use, so a memory-only user never loads the
 * Redis, MongoDB or SQLite drivers.
 */
import type { BaseStore } from './store';
import type { CallbackStyle } from './callbacks';
import type { Flags, InferredOptions, LiteralOptions, StoreFlags, StoreOptions, UnknownFlags } from './store-types';
import { openStore, registerStore, storeTypes } from './registry';
import './builtin-stores';

// The multi store registers here, not with the other built-in types: it opens its tiers
// through the registry itself, so registering it there would make an import cycle.
// eslint-disable-next-line @typescript-eslint/no-require-imports
registerStore('multi', () => ({ open: (settings) => new (require('./multi/multi-store').MultiStore)(settings) }));

export type { StoreOptions };

/**
 * The public store type: a store of values V whose settings the types know as F (see
 * lib/store-types.ts). The factories infer F from literal settings; `Store<V>` alone is a store
 * of V with settings unknown to the types.
 */
export type Store<V = unknown, F extends StoreFlags = UnknownFlags> = BaseStore<V, F>;

/** The valid `type` names. */
export { storeTypes };

/**
 * memstorage's factory: result-first callbacks unless `settings.callbacks` says otherwise.
 * The flags come from literal settings (inferred, or matched by the overloads after the first
 * when the value type is given); settings the types cannot read give a store with unknown flags.
 */
export function Store<V = unknown, K extends boolean = false, N extends boolean = false, C extends CallbackStyle = 'result-first'>(options?: InferredOptions<K, N, C>): Store<V, Flags<K, N, C>>;
export function Store<V>(options: LiteralOptions<true, false, 'result-first', 'result-first'>): Store<V, Flags<true, false, 'result-first'>>;
export function Store<V>(options: LiteralOptions<false, true, 'result-first', 'result-first'>): Store<V, Flags<false, true, 'result-first'>>;
export function Store<V>(options: LiteralOptions<true, true, 'result-first', 'result-first'>): Store<V, Flags<true, true, 'result-first'>>;
export function Store<V>(options: LiteralOptions<false, false, 'node', 'result-first'>): Store<V, Flags<false, false, 'node'>>;
export function Store<V>(options: LiteralOptions<true, false, 'node', 'result-first'>): Store<V, Flags<true, false, 'node'>>;
export function Store<V>(options: LiteralOptions<false, true, 'node', 'result-first'>): Store<V, Flags<false, true, 'node'>>;
export function Store<V>(options: LiteralOptions<true, true, 'node', 'result-first'>): Store<V, Flags<true, true, 'node'>>;
export function Store<V = unknown>(options?: StoreOptions): Store<V>;
export function Store(options?: StoreOptions): BaseStore {
  return openStore(options, 'result-first');
}

/** The modern factory: node-style callbacks (`cb(err, result)`) unless told otherwise; typed like `Store()`. */
export function createStore<V = unknown, K extends boolean = false, N extends boolean = false, C extends CallbackStyle = 'node'>(options?: InferredOptions<K, N, C>): Store<V, Flags<K, N, C>>;
export function createStore<V>(options: LiteralOptions<true, false, 'node', 'node'>): Store<V, Flags<true, false, 'node'>>;
export function createStore<V>(options: LiteralOptions<false, true, 'node', 'node'>): Store<V, Flags<false, true, 'node'>>;
export function createStore<V>(options: LiteralOptions<true, true, 'node', 'node'>): Store<V, Flags<true, true, 'node'>>;
export function createStore<V>(options: LiteralOptions<false, false, 'result-first', 'node'>): Store<V, Flags<false, false, 'result-first'>>;
export function createStore<V>(options: LiteralOptions<true, false, 'result-first', 'node'>): Store<V, Flags<true, false, 'result-first'>>;
export function createStore<V>(options: LiteralOptions<false, true, 'result-first', 'node'>): Store<V, Flags<false, true, 'result-first'>>;
export function createStore<V>(options: LiteralOptions<true, true, 'result-first', 'node'>): Store<V, Flags<true, true, 'result-first'>>;
export function createStore<V = unknown>(options?: StoreOptions): Store<V>;
export function createStore(options?: StoreOptions): BaseStore {
  return openStore(options, 'node');
}
