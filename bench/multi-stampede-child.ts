/**
 * One process of bench/multi-stampede.ts: a cache of the kind named in argv[2]
 * ('memstorage-cluster', 'memstorage-local', 'bentocache', 'cache-manager') over the Redis in
 * argv[3]; on each { go: key } from the parent it runs CALLERS concurrent getOrSet calls of that
 * one cold key, whose compute counts itself in Redis (INCR computes:<key>) and takes COMPUTE_MS,
 * and answers { done: key, ms, errors }.
 */
import Redis from 'ioredis';
import Keyv from 'keyv';
import KeyvRedis from '@keyv/redis';
import { createCache } from 'cache-manager';
import { MultiStore } from '../lib/multi/multi-store';
import { makeBento } from './multi-peers';

/** Concurrent callers in this process. */
export const CALLERS = 250;
/** How long one compute takes (a slow query the cache is there to spare). */
export const COMPUTE_MS = 50;

/** The kinds of cache a child can run. */
export type StampedeKind = 'memstorage-cluster' | 'memstorage-local' | 'bentocache' | 'cache-manager';

type GetOrSet = (key: string, compute: () => Promise<unknown>) => Promise<unknown>;

async function open(kind: StampedeKind, url: string): Promise<{ getOrSet: GetOrSet; close: () => Promise<void> }> {
  if (kind === 'memstorage-cluster' || kind === 'memstorage-local') {
    const store = new MultiStore({ namespace: 'bench-stampede', stores: [{ type: 'memory' }, { type: 'redis', settings: { url } }], invalidation: { redis: url } });
    await store.connect();
    const lock = kind === 'memstorage-cluster' ? 'cluster' : 'local';
    return {
      getOrSet: (key, compute) => store.getOrSet(key, compute, { lock } as object),
      close: () => store.close(),
    };
  }
  if (kind === 'bentocache') {
    const { port, hostname } = new URL(url);
    const bento = makeBento({ host: hostname, port: Number(port), prefix: 'bench-stampede', maxItems: 10_000 });
    return {
      getOrSet: (key, compute) => bento.getOrSet({ key, factory: compute }),
      close: () => bento.disconnect(),
    };
  }
  const memory = new Keyv();
  const redis = new Keyv({ store: new KeyvRedis(url), namespace: 'bench-stampede' });
  const cache = createCache({ stores: [memory, redis] });
  return {
    getOrSet: (key, compute) => cache.wrap(key, compute),
    close: () => cache.disconnect().then(() => undefined),
  };
}

async function main(): Promise<void> {
  const kind = process.argv[2] as StampedeKind;
  const url = process.argv[3];
  const counter = new Redis(url);
  const cache = await open(kind, url);
  process.on('message', async (message: { go?: string; close?: boolean }) => {
    if (message.close) {
      await cache.close().catch(() => undefined);
      counter.disconnect();
      process.disconnect();
      return;
    }
    const key = message.go!;
    const compute = async () => {
      await counter.incr(`computes:${key}`);
      await new Promise((r) => setTimeout(r, COMPUTE_MS)); // the compute's own duration
      return { key, at: Date.now() };
    };
    const t0 = process.hrtime.bigint();
    const results = await Promise.allSettled(Array.from({ length: CALLERS }, () => cache.getOrSet(key, compute)));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const errors = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => `${r.reason?.code ?? ''} ${r.reason?.message ?? r.reason}`.trim());
    process.send!({ done: key, ms, errors: errors.length, firstError: errors[0] });
  });
  process.send!({ ready: true });
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
