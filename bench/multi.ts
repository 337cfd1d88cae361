/**
 * bench/multi (issue 5 item 9, issue 13 item 11): the multi store [memory, redis] against the
 * memory store's own `getOne`, against BentoCache 1.6 (memory L1 + Redis L2, bench/multi-peers.ts)
 * and against cache-manager with a memory store in front of @keyv/redis, in one process, against
 * one redis-server this script starts on a free port of 127.0.0.1; the cross-process stampede
 * runs 4 child processes per contender (bench/multi-stampede.ts).
 *
 *   node -r ts-node/register/transpile-only bench/multi.ts [hit] [miss] [promotion] [getorset] [getmany] [stampede]
 *   (or `npm run bench`; no argument runs every part)
 *
 * Fairness:
 * - Same data for everyone: 1 KB JSON values (bench/common makeValues), string keys `user:<i>`.
 * - cache-manager as its README shows a two-level cache: `createCache({ stores: [memory, redis] })`
 *   with `new Keyv()` (Keyv's in-memory Map store) in front of `new Keyv({ store: new KeyvRedis(url) })`.
 *   (cache-manager's README uses `cacheable`'s CacheableMemory for the memory level; it is not a
 *   dependency of this project, and Keyv's Map store is the lighter of the two.)
 * - Hit: every key is in both memory levels; one read at a time (awaited).
 * - Miss falling to Redis: the keys are only in Redis; the multi store's memory tier is
 *   bounded to 100 entries and the 10,000 keys are read in a cycle, so every read misses it
 *   (and pays for its promotion); cache-manager's memory level never holds them (its `get`
 *   does not promote). 1,000 reads in flight.
 * - Promotion: 2,000 keys only in Redis, read twice in turn; the second pass shows whether the
 *   first one promoted them into memory.
 * - BentoCache: the same values under the same keys (its own prefix) on the same Redis; for hits
 *   its L1 holds every key; for misses its L1 is bounded to 100 entries like the multi store's
 *   memory tier (a miss promotes into L1 in both). Two hit rows: its default L1 (serialized
 *   entries, a parse per hit) and `serialize: false` (values shared by reference, as this
 *   project's memory tier does unless `clone: true`). The targets compare with the faster one.
 * - getOrSet, one process: 1,000 concurrent calls of one cold key per batch; computes counted
 *   (cache-manager's equivalent is `wrap`).
 * - getMany of 100 keys: cache-manager's `mget`; BentoCache 1.6 has no bulk read, so its row is
 *   100 `get`s in parallel (what a caller would write). Hits (every key in memory) and misses
 *   falling to Redis (keys only in Redis, memory levels bounded as above).
 * - Contenders are run round-robin (measureInterleaved); the median of ROUNDS runs is reported.
 */
import Redis from 'ioredis';
import Keyv from 'keyv';
import KeyvRedis from '@keyv/redis';
import { createCache } from 'cache-manager';
import { MultiStore } from '../lib/multi/multi-store';
import { MemoryStore } from '../lib/backends/memory';
import { RedisStore } from '../lib/backends/redis';
import { startRedis } from '../test/support/redis-server';
import { makeBento } from './multi-peers';
import { stampede, stampedeTable } from './multi-stampede';
import {
  Result,
  Target,
  USE_WALL_CLOCK,
  fmtNum,
  makeStringKeys,
  makeValues,
  markdownTable,
  measureInterleaved,
  measureOnce,
  printEnvironment,
  printTable,
  printTargets,
  ratio,
  byName,
  fill,
  reexecWithGc,
} from './common';

const N = 10_000;
const ROUNDS = 3;
const CONCURRENCY = 1_000;
const PROMOTION_KEYS = 2_000;
const SUBJECT = 'memstorage-next multi [memory, redis]';
const MEMORY = 'memstorage-next memory getOne';
const CACHE_MANAGER = 'cache-manager [Keyv memory, @keyv/redis]';
const BENTO = 'BentoCache [memory L1, redis L2]';
const BENTO_REF = 'BentoCache, L1 serialize: false';
const MANY = 100;
/** Not a contender: what any store reading 100 values from Redis must at least spend (getMany's floor). */
const RAW_FLOOR = 'floor: ioredis MGET + JSON.parse (no tiers, no promotion)';
const STAMPEDE_ROUNDS = 10;



async function main(): Promise<void> {
  reexecWithGc(__filename);
  const only = process.argv.slice(2);
  const want = (part: string) => only.length === 0 || only.includes(part);
  printEnvironment('bench/multi');
  const server = await startRedis();
  console.log(`redis-server on ${server.url} (no persistence)\n`);
  const keys = makeStringKeys(N);
  const values = makeValues(N);
  const memory = new MemoryStore();
  // The hit bench: an unbounded memory tier in front of Redis.
  const multi = new MultiStore({ namespace: 'bench-hit', stores: [{ type: 'memory' }, { type: 'redis', settings: { url: server.url } }] });
  // The miss bench: a memory tier smaller than the working set, so reads in a cycle always miss it.
  const missMulti = new MultiStore({
    namespace: 'bench-miss',
    stores: [{ type: 'memory', settings: { maxKeys: 100 } }, { type: 'redis', settings: { url: server.url } }],
  });
  const redisOnly = new RedisStore({ url: server.url, namespace: 'bench-miss' });
  const cmMemory = new Keyv();
  const cmRedis = new Keyv({ store: new KeyvRedis(server.url), namespace: 'cm' });
  const cache = createCache({ stores: [cmMemory, cmRedis] });
  const redisAt = { host: '127.0.0.1', port: server.port };
  const bento = makeBento({ ...redisAt, prefix: 'bento-hit', maxItems: 2 * N });
  const bentoRef = makeBento({ ...redisAt, prefix: 'bento-ref', maxItems: 2 * N, serialize: false });
  const bentoMiss = makeBento({ ...redisAt, prefix: 'bento-miss', maxItems: 100 });
  const raw = new Redis(server.url);
  const targets: Target[] = [];
  try {
    await Promise.all([multi.clear(), missMulti.clear()]);
    await fill(N, 100, (i) => memory.set(keys[i], values[i]));
    await fill(N, 100, (i) => multi.set(keys[i], values[i]));
    await fill(N, 100, (i) => cache.set(keys[i], values[i]));
    await fill(N, 100, (i) => redisOnly.set(keys[i], values[i]));
    await fill(N, 100, (i) => cmRedis.set(`miss:${keys[i]}`, values[i]));
    await fill(N, 100, (i) => raw.set(`raw:${keys[i]}`, JSON.stringify(values[i])));
    await fill(N, 100, (i) => bento.set({ key: keys[i], value: values[i] }));
    await fill(N, 100, (i) => bentoRef.set({ key: keys[i], value: values[i] }));
    await fill(N, 100, (i) => bentoMiss.set({ key: keys[i], value: values[i] })); // L1 keeps only the last 100
    const hitSource = await multi.getWithSource(keys[7]);
    if (hitSource?.tier !== 0 || JSON.stringify(await cache.get(keys[7])) !== JSON.stringify(values[7])) throw new Error('bad setup');
    for (const b of [bento, bentoRef, bentoMiss]) {
      if (JSON.stringify(await b.get({ key: keys[7] })) !== JSON.stringify(values[7])) throw new Error('bad setup (BentoCache)');
    }

    // 1. A memory-tier hit.
    if (want('hit')) {
    const hit = await measureInterleaved(
      [
        { name: SUBJECT, op: (i) => multi.getOne(keys[i % N]) },
        { name: MEMORY, op: (i) => memory.getOne(keys[i % N]) },
        { name: CACHE_MANAGER, op: (i) => cache.get(keys[i % N]), options: { ops: 100_000 } },
        { name: BENTO, op: (i) => bento.get({ key: keys[i % N] }), options: { ops: 100_000 } },
        { name: BENTO_REF, op: (i) => bentoRef.get({ key: keys[i % N] }), options: { ops: 100_000 } },
      ],
      { ops: 500_000, concurrency: 1, warmup: 50_000, latencyOps: 50_000 },
      ROUNDS,
    );
    printTable('getOne, a hit in the memory tier, one at a time', hit, SUBJECT);
    targets.push(
      { label: `hit: vs ${MEMORY}`, actual: ratio(byName(hit, SUBJECT), byName(hit, MEMORY)), min: 0.5 },
      { label: `hit: vs ${CACHE_MANAGER}`, actual: ratio(byName(hit, SUBJECT), byName(hit, CACHE_MANAGER)), min: 20 },
      { label: `hit: vs ${BENTO}`, actual: ratio(byName(hit, SUBJECT), byName(hit, BENTO)) },
      { label: `hit: vs the faster BentoCache (${BENTO_REF})`, actual: ratio(byName(hit, SUBJECT), fastest(hit, [BENTO, BENTO_REF])), min: 10 },
    );
    }

    // 2. A miss falling to Redis, 1,000 in flight.
    if (want('miss')) {
    const miss = await measureInterleaved(
      [
        { name: SUBJECT, op: (i) => missMulti.getOne(keys[i % N]) },
        { name: CACHE_MANAGER, op: (i) => cmRedisOnlyGet(i) },
        { name: BENTO, op: (i) => bentoMiss.get({ key: keys[i % N] }) },
      ],
      { ops: 100_000, concurrency: CONCURRENCY, warmup: 10_000, latencyOps: 20_000 },
      ROUNDS,
    );
    printTable(`getOne, a miss in memory falling to Redis, ${CONCURRENCY} distinct keys in flight`, miss, SUBJECT);
    targets.push({ label: `miss to Redis, ${CONCURRENCY} distinct keys in flight: vs ${CACHE_MANAGER}`, actual: ratio(byName(miss, SUBJECT), byName(miss, CACHE_MANAGER)), min: 1.5 });
    targets.push({ label: `miss to Redis, ${CONCURRENCY} distinct keys in flight: vs ${BENTO}`, actual: ratio(byName(miss, SUBJECT), byName(miss, BENTO)), min: 2 });
    // 2b. The thundering herd: 1,000 concurrent reads of one key that is cold in memory.
    let cold = 0;
    const herdOf = (get: (key: string) => Promise<unknown>) => () => {
      const key = keys[cold++ % N];
      return Promise.all(Array.from({ length: CONCURRENCY }, () => get(key)));
    };
    const herd = await measureInterleaved(
      [
        { name: SUBJECT, op: herdOf((key) => missMulti.getOne(key)) },
        { name: CACHE_MANAGER, op: herdOf((key) => cache.get(`miss:${key}`)) },
        { name: BENTO, op: herdOf((key) => bentoMiss.get({ key })) },
      ],
      { ops: 100, concurrency: 1, warmup: 10, latencyOps: 20 },
      ROUNDS,
    );
    const perRead = herd.map((r) => ({ ...r, opsPerSec: r.opsPerSec * CONCURRENCY, wallOpsPerSec: r.wallOpsPerSec * CONCURRENCY }));
    printTable(`getOne, ${CONCURRENCY} concurrent reads of one key cold in memory (reads/s; p50/p99 per batch of ${CONCURRENCY})`, perRead, SUBJECT);
    targets.push({ label: `herd: ${CONCURRENCY} concurrent reads of one cold key: vs ${CACHE_MANAGER}`, actual: ratio(byName(perRead, SUBJECT), byName(perRead, CACHE_MANAGER)), min: 1.5 });
    targets.push({ label: `herd: ${CONCURRENCY} concurrent reads of one cold key: vs ${BENTO}`, actual: ratio(byName(perRead, SUBJECT), byName(perRead, BENTO)) });
    const missStats = await missMulti.stats();
    console.log(`(multi tiers during the miss benches: memory hits ${missStats.tiers[0].hits}, misses ${missStats.tiers[0].misses}; redis hits ${missStats.tiers[1].hits})\n`);
    }

    // 3. Promotion: the second read of keys found only in the lower tier.
    if (want('promotion')) {
    const promoKeys = keys.slice(0, PROMOTION_KEYS);
    const promoMulti = new MultiStore({ namespace: 'bench-miss', stores: [{ type: 'memory' }, { type: 'redis', settings: { url: server.url } }] });
    await promoMulti.connect();
    const cmFirst = await measureOnce(`${CACHE_MANAGER}, first read`, (i) => cmRedisOnlyGet(i), PROMOTION_KEYS);
    const cmSecond = await measureOnce(`${CACHE_MANAGER}, second read`, (i) => cmRedisOnlyGet(i), PROMOTION_KEYS);
    const first = await measureOnce(`${SUBJECT}, first read`, (i) => promoMulti.getOne(promoKeys[i]), PROMOTION_KEYS);
    await promoMulti.idle();
    const second = await measureOnce(`${SUBJECT}, second read`, (i) => promoMulti.getOne(promoKeys[i]), PROMOTION_KEYS);
    const promoStats = await promoMulti.stats();
    await promoMulti.close();
    const rows = [first, second, cmFirst, cmSecond].map((r) => [r.name, fmtNum(r.opsPerSec), fmtNum(r.p50), fmtNum(r.p99)]);
    console.log(
      `### Promotion: ${PROMOTION_KEYS.toLocaleString('en-US')} keys only in Redis, read twice, one at a time\n\n` +
        markdownTable(['read', USE_WALL_CLOCK ? 'ops/s' : 'ops/CPU-s', 'p50 µs', 'p99 µs'], rows) +
        `\n\n(multi: ${promoStats.tiers[0].promotions} promotions into memory; second pass served by memory ${promoStats.tiers[0].hits} times)\n`,
    );
    targets.push({ label: 'promotion: multi second read p50 vs first read p50 (speed-up)', actual: first.p50 / second.p50 });
    targets.push({ label: 'promotion: cache-manager second read p50 vs first read p50 (speed-up)', actual: cmFirst.p50 / cmSecond.p50 });
    }

    // 4. getOrSet of one cold key, 1,000 callers in this process: computes counted.
    if (want('getorset')) {
      const computes: Record<string, number> = {};
      let batches = 0;
      const herdOfCompute = (name: string, call: (key: string, compute: () => Promise<unknown>) => Promise<unknown>) => {
        computes[name] = 0;
        return (i: number) => {
          batches += name === SUBJECT ? 1 : 0;
          const key = `gos:${name.length}:${i}:${Math.random()}`; // cold: never asked before
          const compute = async () => {
            computes[name]++;
            return values[i % N];
          };
          return Promise.all(Array.from({ length: CONCURRENCY }, () => call(key, compute)));
        };
      };
      const gos = await measureInterleaved(
        [
          { name: SUBJECT, op: herdOfCompute(SUBJECT, (key, compute) => multi.getOrSet(key, compute)) },
          { name: CACHE_MANAGER, op: herdOfCompute(CACHE_MANAGER, (key, compute) => cache.wrap(key, compute)) },
          { name: BENTO, op: herdOfCompute(BENTO, (key, compute) => bento.getOrSet({ key, factory: compute })) },
        ],
        { ops: 100, concurrency: 1, warmup: 10, latencyOps: 20 },
        ROUNDS,
      );
      const perCall = gos.map((r) => ({ ...r, opsPerSec: r.opsPerSec * CONCURRENCY, wallOpsPerSec: r.wallOpsPerSec * CONCURRENCY }));
      printTable(`getOrSet of one cold key, ${CONCURRENCY} concurrent callers in one process (calls/s; p50/p99 per batch of ${CONCURRENCY})`, perCall, SUBJECT);
      const perBatch = (name: string) => computes[name] / (batches || 1);
      console.log(`(computes per cold key: ${[SUBJECT, CACHE_MANAGER, BENTO].map((n) => `${n} ${perBatch(n).toFixed(2)}`).join('; ')})\n`);
      targets.push({ label: `getOrSet, ${CONCURRENCY} callers of one cold key: computes per key (${SUBJECT})`, actual: perBatch(SUBJECT), min: 1, max: 1 });
      targets.push({ label: `getOrSet, ${CONCURRENCY} callers of one cold key: vs ${BENTO}`, actual: ratio(byName(perCall, SUBJECT), byName(perCall, BENTO)) });
      targets.push({ label: `getOrSet, ${CONCURRENCY} callers of one cold key: vs ${CACHE_MANAGER}`, actual: ratio(byName(perCall, SUBJECT), byName(perCall, CACHE_MANAGER)) });
    }

    // 5. getMany of 100 keys: every key in memory, then every key only in Redis.
    if (want('getmany')) {
      const slice = (i: number) => keys.slice((i * MANY) % N, ((i * MANY) % N) + MANY);
      const slices = Array.from({ length: N / MANY }, (_, i) => slice(i));
      const missSlices = slices.map((s) => s.map((k) => `miss:${k}`));
      const rawSlices = slices.map((s) => s.map((k) => `raw:${k}`));
      const checkMany = async () => {
        const want = JSON.stringify(values.slice(0, MANY));
        const got = [
          await multi.getMany(slices[0]), await cache.mget(slices[0]), await Promise.all(slices[0].map((key) => bento.get({ key }))),
          await missMulti.getMany(slices[0]), await cache.mget(missSlices[0]), await Promise.all(slices[0].map((key) => bentoMiss.get({ key }))),
        ];
        got.forEach((g, n) => {
          if (JSON.stringify(g) !== want) throw new Error(`getMany bench: contender ${n} read something else`);
        });
      };
      await checkMany();
      const manyHit = await measureInterleaved(
        [
          { name: SUBJECT, op: (i) => multi.getMany(slices[i % slices.length]) },
          { name: CACHE_MANAGER, op: (i) => cache.mget(slices[i % slices.length]) },
          { name: BENTO, op: (i) => Promise.all(slices[i % slices.length].map((key) => bento.get({ key }))) },
          { name: BENTO_REF, op: (i) => Promise.all(slices[i % slices.length].map((key) => bentoRef.get({ key }))) },
        ],
        { ops: 5_000, concurrency: 1, warmup: 500, latencyOps: 2_000 },
        ROUNDS,
      );
      printTable(`getMany of ${MANY} keys, every key in memory, one call at a time (calls/s)`, manyHit, SUBJECT);
      const manyMiss = await measureInterleaved(
        [
          { name: SUBJECT, op: (i) => missMulti.getMany(slices[i % slices.length]) },
          { name: CACHE_MANAGER, op: (i) => cache.mget(missSlices[i % missSlices.length]) },
          { name: BENTO, op: (i) => Promise.all(slices[i % slices.length].map((key) => bentoMiss.get({ key }))) },
          {
            name: RAW_FLOOR,
            op: (i) => raw.mget(rawSlices[i % rawSlices.length]).then((texts) => texts.map((t) => (t === null ? undefined : JSON.parse(t)))),
          },
        ],
        { ops: 2_000, concurrency: 1, warmup: 200, latencyOps: 1_000 },
        ROUNDS,
      );
      printTable(`getMany of ${MANY} keys, every key only in Redis (memory levels hold 100 other keys), one call at a time (calls/s)`, manyMiss, SUBJECT);
      const bestPeer = (results: typeof manyHit) => Math.max(...results.filter((r) => r.name !== SUBJECT && r.name !== RAW_FLOOR).map((r) => r.opsPerSec));
      targets.push({ label: `getMany(${MANY}), in memory: vs the best peer`, actual: ratio(byName(manyHit, SUBJECT), bestPeer(manyHit)), min: 2 });
      targets.push({ label: `getMany(${MANY}), from Redis: vs the best peer`, actual: ratio(byName(manyMiss, SUBJECT), bestPeer(manyMiss)), min: 2 });
      // What the target asks against what is possible at all: the raw client's own MGET + parse.
      console.log(`(getMany(${MANY}) from Redis: the floor, ${RAW_FLOOR}, is ${ratio(byName(manyMiss, RAW_FLOOR), bestPeer(manyMiss)).toFixed(2)}× the best peer; this store is ${ratio(byName(manyMiss, SUBJECT), byName(manyMiss, RAW_FLOOR)).toFixed(2)}× the floor)\n`);
    }

    // 6. The cross-process stampede: 4 processes × 250 callers of one cold key.
    if (want('stampede')) {
      const results = [];
      for (const kind of ['memstorage-cluster', 'memstorage-local', 'bentocache', 'cache-manager'] as const) {
        results.push(await stampede(kind, server.url, STAMPEDE_ROUNDS));
      }
      console.log(stampedeTable(results));
      const cluster = results[0];
      targets.push({
        label: `4 × 250 getOrSet of one cold key, lock: 'cluster': computes per key (worst of ${STAMPEDE_ROUNDS})`,
        actual: cluster.errors > 0 ? NaN : Math.max(...cluster.computes),
        min: 1,
        max: 1,
      });
    }
  } finally {
    await multi.clear().catch(() => undefined);
    await missMulti.clear().catch(() => undefined);
    await Promise.all([multi.close(), missMulti.close(), redisOnly.close(), memory.close()]);
    await cache.disconnect();
    raw.disconnect();
    await Promise.all([bento.disconnect(), bentoRef.disconnect(), bentoMiss.disconnect()]);
    await server.stop();
  }
  const failed = printTargets(targets);
  console.log(failed === 0 ? 'bench/multi: every target met' : `bench/multi: ${failed} target(s) missed`);

  /** The ops/s of the fastest of the named results. */
  function fastest(results: Result[], names: string[]): number {
    return Math.max(...names.map((n) => byName(results, n).opsPerSec));
  }

  /** cache-manager reading a key that only its Redis level holds (filled below the memory level). */
  function cmRedisOnlyGet(i: number): Promise<unknown> {
    return cache.get(`miss:${keys[i % N]}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
