/**
 * bench/redis (issue 3, item 8): the Redis store against raw ioredis, Keyv + @keyv/redis and
 * cache-manager over @keyv/redis, in one process, against one redis-server this script starts
 * on a free port of 127.0.0.1 (no persistence) and stops at the end.
 *
 *   node -r ts-node/register/transpile-only bench/redis.ts [kv] [query]     (or `npm run bench`)
 *
 * Fairness:
 * - Same data for everyone: 1 KB JSON values (bench/common makeValues), string keys `user:<i>`,
 *   every contender filled with every key before it is measured; `set` overwrites.
 * - Raw ioredis: its own client with `enableAutoPipelining: true`, `GET` + `JSON.parse` and
 *   `JSON.stringify` + `SET`, as a user storing JSON would write it.
 * - Keyv + @keyv/redis and cache-manager (`createCache({ stores: [keyv] })`) as their READMEs
 *   show them; both run on node-redis, which @keyv/redis ships with.
 * - The query: 100,000 object keys `{ id, kind, age, city }` (ages 0–99, so ~1,000 matches)
 *   with 1 KB values. The store answers `get({ age: 20 })` from its index; the peer is what a
 *   user of raw Redis without an index would do: the same keys as JSON in the key names, one
 *   `SCAN MATCH ... COUNT 1000` pass over them, sift on every parsed key, `MGET` of the matches.
 *   Both return the full values.
 * - Contenders are run round-robin (measureInterleaved), the median of ROUNDS runs is reported.
 */
import Keyv from 'keyv';
import KeyvRedis from '@keyv/redis';
import { createCache } from 'cache-manager';
import { Redis } from 'ioredis';
import sift from 'sift';
import { RedisStore } from '../lib/backends/redis';
import { startRedis } from '../test/support/redis-server';
import {
  Target,
  makeKeys,
  makeStringKeys,
  makeValues,
  measureGetSet,
  measureInterleaved,
  printEnvironment,
  printTable,
  printTargets,
  ratio,
  byName,
  fill,
  reexecWithGc,
} from './common';

const N_KV = 10_000;
const N_QUERY = 100_000;
const ROUNDS = 3;
const CONCURRENCY = 1_000;
const SUBJECT = 'memstorage-next';
const RAW = 'raw ioredis (auto-pipelining)';
const KEYV = 'Keyv + @keyv/redis';
const CACHE_MANAGER = 'cache-manager + @keyv/redis';
const SCAN = 'SCAN + sift (raw ioredis)';



async function runKv(url: string): Promise<Target[]> {
  const keys = makeStringKeys(N_KV);
  const values = makeValues(N_KV);
  const store = new RedisStore({ url, namespace: 'bench' });
  const raw = new Redis(url, { enableAutoPipelining: true, keyPrefix: 'raw:' });
  const keyv = new Keyv({ store: new KeyvRedis(url), namespace: 'keyv' });
  const cache = createCache({ stores: [new Keyv({ store: new KeyvRedis(url), namespace: 'cm' })] });
  keyv.on('error', (err) => {
    throw err;
  });
  try {
    await store.clear();
    await fill(N_KV, 100, (i) => store.set(keys[i], values[i]));
    await fill(N_KV, 100, (i) => raw.set(keys[i], JSON.stringify(values[i])));
    await fill(N_KV, 100, (i) => keyv.set(keys[i], values[i]));
    await fill(N_KV, 100, (i) => cache.set(keys[i], values[i]));
    for (const [name, get] of [
      [SUBJECT, () => store.getOne(keys[7])],
      [RAW, async () => JSON.parse((await raw.get(keys[7]))!)],
      [KEYV, () => keyv.get(keys[7])],
      [CACHE_MANAGER, () => cache.get(keys[7])],
    ] as const) {
      if (JSON.stringify(await get()) !== JSON.stringify(values[7])) throw new Error(`${name} returned a wrong value`);
    }

    const targets: Target[] = [];
    for (const [mode, concurrency, ops] of [
      ['one at a time', 1, 10_000],
      [`${CONCURRENCY} in flight`, CONCURRENCY, 100_000],
    ] as const) {
      const options = { ops, concurrency, warmup: Math.min(ops, 10_000), latencyOps: Math.min(ops, 20_000) };
      const { get, set } = await measureGetSet(
        mode,
        [
          { name: SUBJECT, get: (i) => store.getOne(keys[i % N_KV]), set: (i) => store.set(keys[i % N_KV], values[i % N_KV]) },
          {
            name: RAW,
            get: (i) => raw.get(keys[i % N_KV]).then((text) => JSON.parse(text!)),
            set: (i) => raw.set(keys[i % N_KV], JSON.stringify(values[i % N_KV])),
          },
          { name: KEYV, get: (i) => keyv.get(keys[i % N_KV]), set: (i) => keyv.set(keys[i % N_KV], values[i % N_KV]) },
          { name: CACHE_MANAGER, get: (i) => cache.get(keys[i % N_KV]), set: (i) => cache.set(keys[i % N_KV], values[i % N_KV]) },
        ],
        options,
        ROUNDS,
        SUBJECT,
      );
      const required = concurrency > 1;
      targets.push(
        { label: `getOne, ${mode}: vs ${RAW}`, actual: ratio(byName(get, SUBJECT), byName(get, RAW)), min: required ? 0.8 : undefined },
        { label: `getOne, ${mode}: vs ${KEYV}`, actual: ratio(byName(get, SUBJECT), byName(get, KEYV)), min: required ? 1.5 : undefined },
        { label: `getOne, ${mode}: vs ${CACHE_MANAGER}`, actual: ratio(byName(get, SUBJECT), byName(get, CACHE_MANAGER)) },
        { label: `set, ${mode}: vs ${RAW}`, actual: ratio(byName(set, SUBJECT), byName(set, RAW)), min: required ? 0.5 : undefined },
        { label: `set, ${mode}: vs ${KEYV}`, actual: ratio(byName(set, SUBJECT), byName(set, KEYV)), min: required ? 1.5 : undefined },
        { label: `set, ${mode}: vs ${CACHE_MANAGER}`, actual: ratio(byName(set, SUBJECT), byName(set, CACHE_MANAGER)) },
      );
    }
    return targets;
  } finally {
    await store.clear();
    await store.close();
    await raw.quit();
    await keyv.disconnect();
    await cache.disconnect();
  }
}

/** What a user of raw Redis without an index does: SCAN every key, sift the parsed keys, MGET the matches. */
async function scanAndSift(raw: Redis, query: Record<string, unknown>): Promise<unknown[]> {
  const test = sift(query);
  const out: unknown[] = [];
  let cursor = '0';
  do {
    const [next, names] = await raw.scan(cursor, 'MATCH', 'q:*', 'COUNT', '1000');
    cursor = next;
    const matches = names.filter((name) => test(JSON.parse(name.slice(2))));
    if (matches.length > 0) for (const text of await raw.mget(matches)) if (text !== null) out.push(JSON.parse(text));
  } while (cursor !== '0');
  return out;
}

async function runQuery(url: string): Promise<Target[]> {
  const keys = makeKeys(N_QUERY);
  const values = makeValues(1_000);
  const store = new RedisStore({ url, namespace: 'bench-query' });
  const raw = new Redis(url, { enableAutoPipelining: true });
  try {
    await store.clear();
    await fill(N_QUERY, 500, (i) => store.set(keys[i], values[i % 1_000]));
    await fill(N_QUERY, 500, (i) => raw.set('q:' + JSON.stringify(keys[i]), JSON.stringify(values[i % 1_000])));
    const expected = keys.filter((k) => k.age === 20).length;
    const got = (await store.get({ age: 20 })) as unknown[];
    const rawGot = await scanAndSift(raw, { age: 20 });
    if (got.length !== expected || rawGot.length !== expected) throw new Error(`query returned ${got.length}/${rawGot.length}, expected ${expected}`);

    const results = await measureInterleaved(
      [
        { name: SUBJECT, op: () => store.get({ age: 20 }), options: { ops: 200, warmup: 20, latencyOps: 100 } },
        { name: SCAN, op: () => scanAndSift(raw, { age: 20 }), options: { ops: 5, warmup: 1, latencyOps: 5 } },
      ],
      { concurrency: 1 },
      ROUNDS,
    );
    printTable(`get({ age: 20 }) over ${N_QUERY.toLocaleString('en-US')} object-key entries (${expected} matches, full values)`, results, SUBJECT);
    return [{ label: `{ age: 20 }: vs ${SCAN}`, actual: ratio(byName(results, SUBJECT), byName(results, SCAN)), min: 50 }];
  } finally {
    await store.clear();
    await store.close();
    let cursor = '0';
    do {
      const [next, names] = await raw.scan(cursor, 'MATCH', 'q:*', 'COUNT', '1000');
      cursor = next;
      if (names.length > 0) await raw.unlink(...names);
    } while (cursor !== '0');
    await raw.quit();
  }
}

async function main(): Promise<void> {
  reexecWithGc(__filename);
  const only = process.argv.slice(2);
  const want = (part: string) => only.length === 0 || only.includes(part);
  printEnvironment('bench/redis');
  const server = await startRedis();
  const targets: Target[] = [];
  try {
    const probe = new Redis(server.url);
    const version = /redis_version:(\S+)/.exec(await probe.info('server'))?.[1];
    await probe.quit();
    console.log(`redis-server ${version ?? '?'} on ${server.url} (no persistence), one client per contender\n`);
    if (want('kv')) targets.push(...(await runKv(server.url)));
    if (want('query')) targets.push(...(await runQuery(server.url)));
  } finally {
    await server.stop();
  }
  const failed = printTargets(targets);
  console.log(failed === 0 ? 'bench/redis: every target met' : `bench/redis: ${failed} target(s) missed`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
