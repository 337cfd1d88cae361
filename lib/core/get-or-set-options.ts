/**
 * getOrSet's options (SPEC §15), read and checked in one walk before compute can run: a bad
 * one is ERR_INVALID_ARGUMENT naming it. lib/core/get-or-set.ts says what each one means.
 */
import { InvalidArgumentError } from '../errors';
import { isPlainObject } from '../keys';
import { MAX_TTL_MS } from '../limits';
import { optionField, readSetOptions } from './arguments';

/** Options of `getOrSet(key, compute, options)`; every duration is in milliseconds. */
export interface GetOrSetOptions {
  /** TTL of the stored value (`null`: none; left out: the store's `defaultTtl`). */
  ttl?: number | null;
  /** Tags of the stored value (stores with `supports.tags` only). */
  tags?: readonly string[];
  /** How long past its TTL the value may stand in for a compute that fails or times out. Needs `ttl`. */
  grace?: number;
  /** `soft`: past it, a value in grace is returned while compute goes on; `hard`: past it, the call fails (ERR_COMPUTE_TIMEOUT) or yields the value in grace. */
  timeout?: { soft?: number; hard?: number };
  /** In (0, 1): a hit in the last `refreshAhead` part of `ttl` recomputes the value in the background. Needs `ttl`. */
  refreshAhead?: number;
  /** `'local'` (default): one compute per key per process; `'cluster'`: one per key across processes sharing a Redis. */
  lock?: 'local' | 'cluster';
  /** `lock: 'cluster'` only: the lock's lease, and how long a process waits for another's compute. Default 10 s. */
  lockTimeout?: number;
}

/** The default lease of a cluster lock (and a waiter's bound). */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

/** GetOrSetOptions checked; undefined fields were not given. */
export interface ComputeOptions {
  ttl: number | null | undefined;
  tags: string[] | undefined;
  grace: number | undefined;
  soft: number | undefined;
  hard: number | undefined;
  refreshAhead: number | undefined;
  cluster: boolean;
  lockTimeout: number;
}

const METHOD = 'getOrSet';
const EXTRA = ['grace', 'timeout', 'refreshAhead', 'lock', 'lockTimeout'] as const;

/** The options of a call without any: shared, never written. */
const NO_OPTIONS: ComputeOptions = Object.freeze({
  ttl: undefined,
  tags: undefined,
  grace: undefined,
  soft: undefined,
  hard: undefined,
  refreshAhead: undefined,
  cluster: false,
  lockTimeout: DEFAULT_LOCK_TIMEOUT_MS,
});

/** The longest timer Node keeps (a longer setTimeout fires at once): the bound of timeout.soft/hard. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function duration(value: unknown, name: string, min: 'zero' | 'positive', max = MAX_TTL_MS): number | undefined {
  if (value === undefined) return undefined;
  const ok = typeof value === 'number' && (min === 'zero' ? value >= 0 : value > 0) && value <= max;
  if (!ok) throw new InvalidArgumentError(`${METHOD}: ${name} must be a number of milliseconds ${min === 'zero' ? 'from 0' : 'above 0'} up to ${max}`);
  return value as number;
}

/** `options` read once and checked (see GetOrSetOptions); throws InvalidArgumentError naming the bad option. */
export function readComputeOptions(options: unknown): ComputeOptions {
  if (options === undefined || options === null) return NO_OPTIONS;
  const { ttl, tags } = readSetOptions(options, METHOD, EXTRA);
  const o = options as Record<string, unknown>;
  const grace = duration(optionField(o, 'grace', METHOD), 'grace', 'zero');
  let soft: number | undefined;
  let hard: number | undefined;
  const timeout = optionField(o, 'timeout', METHOD);
  if (timeout !== undefined) {
    if (!isPlainObject(timeout)) throw new InvalidArgumentError(`${METHOD}: timeout must be an object like { soft, hard }`);
    for (const name of Object.keys(timeout)) {
      if (name !== 'soft' && name !== 'hard') throw new InvalidArgumentError(`${METHOD}: unknown option timeout.${name} (timeout takes soft, hard)`);
    }
    soft = duration(optionField(timeout, 'soft', METHOD), 'timeout.soft', 'positive', MAX_TIMER_MS);
    hard = duration(optionField(timeout, 'hard', METHOD), 'timeout.hard', 'positive', MAX_TIMER_MS);
    if (soft !== undefined && hard !== undefined && !(soft < hard)) throw new InvalidArgumentError(`${METHOD}: timeout.soft must be below timeout.hard`);
  }
  const refreshAhead = optionField(o, 'refreshAhead', METHOD);
  if (refreshAhead !== undefined && !(typeof refreshAhead === 'number' && refreshAhead > 0 && refreshAhead < 1)) {
    throw new InvalidArgumentError(`${METHOD}: refreshAhead must be a number between 0 and 1 (the last part of the TTL that refreshes)`);
  }
  // grace and refreshAhead are fractions of, or additions to, a TTL this call knows.
  const hasTtl = typeof ttl === 'number' && ttl > 0;
  if (grace !== undefined && !hasTtl) throw new InvalidArgumentError(`${METHOD}: grace needs a ttl above 0 in the same call`);
  if (refreshAhead !== undefined && !hasTtl) throw new InvalidArgumentError(`${METHOD}: refreshAhead needs a ttl above 0 in the same call`);
  if (grace !== undefined && (ttl as number) + grace > MAX_TTL_MS) throw new InvalidArgumentError(`${METHOD}: ttl + grace must be at most ${MAX_TTL_MS} (100 years)`);
  const lock = optionField(o, 'lock', METHOD);
  if (lock !== undefined && lock !== 'local' && lock !== 'cluster') throw new InvalidArgumentError(`${METHOD}: lock must be 'local' or 'cluster'`);
  const lockTimeout = duration(optionField(o, 'lockTimeout', METHOD), 'lockTimeout', 'positive');
  return {
    ttl,
    tags,
    grace: grace === 0 ? undefined : grace,
    soft,
    hard,
    refreshAhead: refreshAhead as number | undefined,
    cluster: lock === 'cluster',
    lockTimeout: lockTimeout ?? DEFAULT_LOCK_TIMEOUT_MS,
  };
}
