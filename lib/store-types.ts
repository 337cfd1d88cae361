/**
 * The public store's call and result types (SPEC §4, §5, §13). A store is typed by the value
 * type `V` it holds and by `StoreFlags`: what the type checker knows of its `includeKey`,
 * `nullOnMiss` and `callbacks` settings. `get`'s result and every callback's shape are computed
 * from them, so a call needs no narrowing and a wrong call does not compile. Types only:
 * nothing in this file exists at run time.
 */
import type { CallbackStyle, Callback } from './callbacks';
import type { StoreError } from './errors';
import type { Key } from './keys';
import type { AsyncCapableSerializer } from './serializer';
import type { Clock } from './clock';

/** A key as callers pass it: a non-empty string or a plain object (validated at run time). */
export type KeyInput = string | object;
/** A query as callers pass it: an exact string key or a MongoDB-style object over object keys. */
export type Query = string | object;

/** Options for `set`. */
export interface SetOptions {
  /** Time to live in ms; 0 or null means no expiry even with `defaultTtl`. */
  ttl?: number | null;
  /** Labels for `delByTags` (SPEC §15): at most 64 distinct non-empty strings; a set without them leaves the entry untagged. */
  tags?: readonly string[];
  /** Multi store only: cache tiers (by index or name) that do not get the value; they forget the key instead. */
  skipTiers?: ReadonlyArray<number | string>;
}

/** Options for `get`. */
/** A sort: key paths to 1 (ascending) or -1 (descending), in priority order; ties keep creation order (SPEC §14). */
export type SortOrder = Record<string, 1 | -1>;

/** Options of reads of many entries (`keys`, `count`, `entries`, `createReadStream`; `get` adds includeKey). */
export interface QueryOptions {
  /** MongoDB's order over these key paths (across types as MongoDB orders them); default creation order. */
  sort?: SortOrder;
  /** Leave out this many matches first (in sort order). */
  skip?: number;
  /** At most this many results (0: none, unlike MongoDB's "no limit"). */
  limit?: number;
}

export interface GetOptions extends QueryOptions {
  /** Resolve `{ key, val }` objects (overrides the setting). */
  includeKey?: boolean;
  /** Multi store only, an exact key's read: tiers (by index or name) neither read nor promoted into. */
  skipTiers?: ReadonlyArray<number | string>;
}

/** Options of `page()`. */
export interface PageOptions {
  /** The order of the pages (then key id order, for a total order). */
  sort?: SortOrder;
  /** Items per page. */
  limit: number;
  /** The cursor the previous page returned; none for the first page. */
  cursor?: string;
  /** Items as `{ key, val }` (overrides the setting). */
  includeKey?: boolean;
}

/** One page: its items and the cursor of the next page (null after the last). */
export interface Page<T> {
  items: T[];
  cursor: string | null;
}

/** A `get` result with `includeKey`. */
export interface KeyedValue<V = unknown> {
  key: Key;
  val: V;
}

/** An entry as `entries()` and `createReadStream()` yield it. */
export interface Entry<V = unknown> {
  key: Key;
  value: V;
}

/** `stats()` result. */
/** One item of `setMany`. */
export interface SetManyItem<V = unknown> {
  key: KeyInput;
  value: V;
  /** ms; null for no expiry; absent: the store's defaultTtl. */
  ttl?: number | null;
  /** As `set`'s `tags`. */
  tags?: readonly string[];
}

export interface StoreStats {
  hits: number;
  misses: number;
  /** hits ÷ (hits + misses) of exact reads; 0 before any. */
  hitRate: number;
  sets: number;
  deletes: number;
  expirations: number;
  evictions: number;
  errors: number;
  items: number;
}

/**
 * What the types know of a store's settings: `true`/`false` or one style when known (a
 * factory given literal settings), `boolean`/`CallbackStyle` when not.
 */
export interface StoreFlags {
  /** The `includeKey` setting: `get` resolves `{ key, val }` objects. */
  includeKey: boolean;
  /** The `nullOnMiss` setting: `get` resolves `null` when nothing matches. */
  nullOnMiss: boolean;
  /** The `callbacks` setting: the convention every callback follows. */
  callbacks: CallbackStyle;
}

/** The flags of settings as written: each is the literal given, or its default when absent. */
export interface Flags<K extends boolean, N extends boolean, C extends CallbackStyle> extends StoreFlags {
  includeKey: K;
  nullOnMiss: N;
  callbacks: C;
}

/**
 * The flags of a store whose settings the types cannot see (a `BaseStore` annotation, a class
 * instance): `get` may resolve any of its shapes and a callback may follow either convention.
 */
export type UnknownFlags = Flags<boolean, boolean, CallbackStyle>;

/** What `get` resolves: values, or `{ key, val }` objects when K is true; `null` on a miss when N may be true. */
// (The flags are the checked types of these conditionals, never the `extends` side: TypeScript then
// relates BaseStore<V, Flags<...>> to a bare BaseStore, so a typed store is still a store.)
export type GetResult<V, K extends boolean, N extends boolean> = (K extends true ? KeyedValue<V>[] : V[]) | (N extends false ? never : null);

/** `get`'s result on a store with flags F when the call names no `includeKey` (the setting decides). */
export type StoreGetResult<V, F extends StoreFlags> = GetResult<V, F['includeKey'], F['nullOnMiss']>;

/** A node-style callback: `err` is a StoreError or null; `result` is what the promise would resolve. */
export type NodeCallback<R> = (err: StoreError | null, result: R) => void;

/**
 * A memstorage callback: one argument, the result — or, on failure, `failure` (memstorage's
 * `false`, `[]`, `null`, `0` or `undefined`, by method), the error going to the 'error' event.
 */
export type ResultFirstCallback<R, Failure> = (result: R | Failure) => void;

/**
 * The callback a method takes in convention C, resolving R. A result-first callback receives
 * `FirstR` (R unless the method differs: `connect` gives `true`) or, on failure, `Failure`.
 * When the convention is unknown, any function.
 */
export type CallbackFor<C extends CallbackStyle, R, Failure, FirstR = R> = [C] extends ['node']
  ? NodeCallback<R>
  : [C] extends ['result-first']
    ? ResultFirstCallback<FirstR, Failure>
    : Callback;

/** A method's callback on a store with flags F (see CallbackFor). */
export type StoreCallback<F extends StoreFlags, R, Failure, FirstR = R> = CallbackFor<F['callbacks'], R, Failure, FirstR>;

/** The settings every store accepts, as factories read them (SPEC §4). */
export interface CommonSettings {
  /** `get` resolves `null` instead of `[]` when nothing matches (memstorage). Default false. */
  nullOnMiss?: boolean;
  /** `get` resolves `{ key, val }` objects instead of bare values (memstorage). Default false. */
  includeKey?: boolean;
  /** TTL in ms applied when `set` gives none. Default: no expiry. */
  defaultTtl?: number;
  /** Isolated keyspace inside the backend. Default '' (the root keyspace). */
  namespace?: string;
  /** How values become bytes for backends that store bytes. Default: JSON with tags (README). */
  serializer?: AsyncCapableSerializer;
  /** Callback convention: 'node' (default for classes) or 'result-first' (default for `Store()`). */
  callbacks?: CallbackStyle;
  /** Time source for TTL arithmetic. Default: the wall clock. */
  clock?: Clock;
}

/** `Store()`/`createStore()` options. */
export interface StoreOptions {
  /** 'memory' (default), 'redis', 'mongo', 'multi', or a type added with `registerStore`. */
  type?: string;
  /** The backend's settings. */
  settings?: (CommonSettings & Record<string, unknown>) | CommonSettings;
}

/** The settings other than the three flags, for the factory signatures below. */
type OtherSettings = Omit<CommonSettings, 'includeKey' | 'nullOnMiss' | 'callbacks'> & Record<string, unknown>;

/**
 * Factory options whose flag settings are inferred (K, N, C) or, with the value type given
 * explicitly (`createStore<User>(...)`), must equal the defaults.
 */
export interface InferredOptions<K extends boolean, N extends boolean, C extends CallbackStyle> {
  /** 'memory' (default), 'redis', 'mongo', 'multi', or a type added with `registerStore`. */
  type?: string;
  /** The backend's settings. */
  settings?: OtherSettings & { includeKey?: K; nullOnMiss?: N; callbacks?: C };
}

/** A flag setting that must be given when it differs from the default (else it may be left out). */
type FlagSetting<Name extends string, X, Default> = [X] extends [Default] ? { [P in Name]?: X } : { [P in Name]: X };

/**
 * Factory options with literal flag settings, for a call that names the value type
 * (TypeScript cannot infer the flags then): D is the factory's default convention.
 */
export interface LiteralOptions<K extends boolean, N extends boolean, C extends CallbackStyle, D extends CallbackStyle> {
  /** 'memory' (default), 'redis', 'mongo', 'multi', or a type added with `registerStore`. */
  type?: string;
  /** The backend's settings. */
  settings: OtherSettings & FlagSetting<'includeKey', K, false> & FlagSetting<'nullOnMiss', N, false> & FlagSetting<'callbacks', C, D>;
}
