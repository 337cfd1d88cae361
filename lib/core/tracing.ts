/**
 * `diagnostics_channel` tracing (SPEC §15): one TracingChannel per operation, named
 * `memstorage-next:<method>` (its channels are `tracing:memstorage-next:<method>:start`, `:end`,
 * `:asyncStart`, `:asyncEnd`, `:error`). A call is traced only while its channel has
 * subscribers: otherwise the cost is the check of five `hasSubscribers` flags. The context
 * object a subscriber sees (TraceContext) names the method, the store and the key, keys or
 * query; Node adds `result` or `error` when the call settles. examples/otel-tracing.ts turns
 * these into OpenTelemetry spans.
 */
import * as diagnostics from 'node:diagnostics_channel';
import type { Key } from '../keys';

/** The operations traced, one channel each. */
export const TRACED_METHODS = [
  'get',
  'getOne',
  'getMany',
  'has',
  'set',
  'setMany',
  'del',
  'delMany',
  'delKeys',
  'delByTags',
  'touch',
  'getMeta',
  'ttl',
  'count',
  'keys',
  'page',
  'clear',
  'copy',
  'setStream',
  'getOrSet',
] as const;

/** One of TRACED_METHODS. */
export type TracedMethod = (typeof TRACED_METHODS)[number];

/**
 * How many leading arguments of each traced method are never its callback: a function given
 * there (a value, a key) is the method's to refuse, not a callback to call.
 */
export const LEADING_ARGS: Readonly<Record<TracedMethod, number>> = Object.freeze({
  get: 1,
  getOne: 1,
  getMany: 1,
  has: 1,
  set: 2,
  setMany: 1,
  del: 1,
  delMany: 1,
  delKeys: 1,
  delByTags: 1,
  touch: 2,
  getMeta: 1,
  ttl: 1,
  count: 1,
  keys: 0,
  page: 2,
  clear: 0,
  copy: 1,
  setStream: 2,
  // getOrSet takes no callback: its compute is a function in the second place.
  getOrSet: 3,
});

/** The prefix of every channel name: `memstorage-next:getOne` and so on. */
export const CHANNEL_PREFIX = 'memstorage-next:';

/** What subscribers of a call's channels receive (the same object on each of its events). */
export interface TraceContext {
  /** The method called. */
  method: TracedMethod;
  /** The store's class name (MemoryStore, RedisStore, MultiStore, ...). */
  store: string;
  /** The store's namespace ('' for the root). */
  namespace: string;
  /** The key of a call on one key, as the caller gave it. */
  key?: Key;
  /** The keys of getMany / delMany, as given. */
  keys?: readonly unknown[];
  /** The query (or glob) of get, del, count, keys, delKeys, page, as given. */
  query?: unknown;
  /** The items of setMany, as given. */
  items?: readonly unknown[];
  /** The tags of delByTags, as given. */
  tags?: readonly unknown[];
  /** Set by Node when the call resolves. */
  result?: unknown;
  /** Set by Node when the call fails (a StoreError). */
  error?: unknown;
}

/** What a call's TraceContext names beside the method and store. */
export type TraceSubject = Pick<TraceContext, 'key' | 'keys' | 'query' | 'items' | 'tags'>;

/** The part of a TracingChannel the store uses (Node ≥ 18.19 has tracingChannel). */
interface Channels {
  start: { hasSubscribers: boolean };
  end: { hasSubscribers: boolean };
  asyncStart: { hasSubscribers: boolean };
  asyncEnd: { hasSubscribers: boolean };
  error: { hasSubscribers: boolean };
  tracePromise<T>(fn: () => Promise<T>, context: TraceContext): Promise<T>;
}

/** Never subscribed: the channels of a Node without tracingChannel. */
const SILENT: Channels = {
  start: { hasSubscribers: false },
  end: { hasSubscribers: false },
  asyncStart: { hasSubscribers: false },
  asyncEnd: { hasSubscribers: false },
  error: { hasSubscribers: false },
  tracePromise: (fn) => fn(),
};

const makeChannel = (diagnostics as { tracingChannel?: (name: string) => unknown }).tracingChannel;

/** The channels of each traced method, made once. */
export const TRACING: Readonly<Record<TracedMethod, Channels>> = Object.freeze(
  Object.fromEntries(TRACED_METHODS.map((method) => [method, makeChannel ? (makeChannel(CHANNEL_PREFIX + method) as Channels) : SILENT])) as Record<
    TracedMethod,
    Channels
  >,
);

/**
 * True while any of the method's channels has a subscriber (what Node's own
 * `TracingChannel.hasSubscribers` checks, which Node 18 lacks).
 */
export function isTraced(channels: Channels): boolean {
  return (
    channels.start.hasSubscribers ||
    channels.end.hasSubscribers ||
    channels.asyncStart.hasSubscribers ||
    channels.asyncEnd.hasSubscribers ||
    channels.error.hasSubscribers
  );
}
