/**
 * bench/multi (issue 5, item 9): the multi store [memory, redis] against the memory store's
 * own `getOne` and against cache-manager with a memory store in front of @keyv/redis, in one
 * process, against one redis-server this script starts on a free port of 127.0.0.1.
 *
 *   node -r ts-node/register/transpile-only bench/multi.ts        (or `npm run bench`)
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
 * - Contenders are run round-robin (measureInterleaved); the median of ROUNDS runs is reported.
 */
import Keyv from 'keyv';
import KeyvRedis from '@keyv/redis';
import { createCache } from 'cache-manager';
import { MultiStore } from '../lib/multi/multi-store';
import { MemoryStore } from '../lib/backends/memory';
import { RedisStore } from '../lib/backends/redis';
import { startRedis } from '../test/support/redis-server';
import {
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
  const targets: Target[] = [];
  try {
    await Promise.all([multi.clear(), missMulti.clear()]);
    await fill(N, 100, (i) => memory.set(keys[i], values[i]));
    await fill(N, 100, (i) => multi.set(keys[i], values[i]));
    await fill(N, 100, (i) => cache.set(keys[i], values[i]));
    await fill(N, 100, (i) => redisOnly.set(keys[i], values[i]));
    await fill(N, 100, (i) => cmRedis.set(`miss:${keys[i]}`, values[i]));
    const hitSource = await multi.getWithSource(keys[7]);
    if (hitSource?.tier !== 0 || JSON.stringify(await cache.get(keys[7])) !== JSON.stringify(values[7])) throw new Error('bad setup');

    // 1. A memory-tier hit.
    if (want('hit')) {
    const hit = await measureInterleaved(
      [
        { name: SUBJECT, op: (i) => multi.getOne(keys[i % N]) },
        { name: MEMORY, op: (i) => memory.getOne(keys[i % N]) },
        { name: CACHE_MANAGER, op: (i) => cache.get(keys[i % N]), options: { ops: 100_000 } },
      ],
      { ops: 500_000, concurrency: 1, warmup: 50_000, latencyOps: 50_000 },
      ROUNDS,
    );
    printTable('getOne, a hit in the memory tier, one at a time', hit, SUBJECT);
    targets.push(
      { label: `hit: vs ${MEMORY}`, actual: ratio(byName(hit, SUBJECT), byName(hit, MEMORY)), min: 0.5 },
      { label: `hit: vs ${CACHE_MANAGER}`, actual: ratio(byName(hit, SUBJECT), byName(hit, CACHE_MANAGER)), min: 20 },
    );
    }

    // 2. A miss falling to Redis, 1,000 in flight.
    if (want('miss')) {
    const miss = await measureInterleaved(
      [
        { name: SUBJECT, op: (i) => missMulti.getOne(keys[i % N]) },
        { name: CACHE_MANAGER, op: (i) => cmRedisOnlyGet(i) },
      ],
      { ops: 100_000, concurrency: CONCURRENCY, warmup: 10_000, latencyOps: 20_000 },
      ROUNDS,
    );
    printTable(`getOne, a miss in memory falling to Redis, ${CONCURRENCY} distinct keys in flight`, miss, SUBJECT);
    targets.push({ label: `miss to Redis, ${CONCURRENCY} distinct keys in flight: vs ${CACHE_MANAGER}`, actual: ratio(byName(miss, SUBJECT), byName(miss, CACHE_MANAGER)), min: 1.5 });
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
      ],
      { ops: 100, concurrency: 1, warmup: 10, latencyOps: 20 },
      ROUNDS,
    );
    const perRead = herd.map((r) => ({ ...r, opsPerSec: r.opsPerSec * CONCURRENCY, wallOpsPerSec: r.wallOpsPerSec * CONCURRENCY }));
    printTable(`getOne, ${CONCURRENCY} concurrent reads of one key cold in memory (reads/s; p50/p99 per batch of ${CONCURRENCY})`, perRead, SUBJECT);
    targets.push({ label: `herd: ${CONCURRENCY} concurrent reads of one cold key: vs ${CACHE_MANAGER}`, actual: ratio(byName(perRead, SUBJECT), byName(perRead, CACHE_MANAGER)), min: 1.5 });
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
  } finally {
    await multi.clear().catch(() => undefined);
    await missMulti.clear().catch(() => undefined);
    await Promise.all([multi.close(), missMulti.close(), redisOnly.close(), memory.close()]);
    await cache.disconnect();
    await server.stop();
  }
  const failed = printTargets(targets);
  console.log(failed === 0 ? 'bench/multi: every target met' : `bench/multi: ${failed} target(s) missed`);

  /** cache-manager reading a key that only its Redis level holds (filled below the memory level). */
  function cmRedisOnlyGet(i: number): Promise<unknown> {
    return cache.get(`miss:${keys[i % N]}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
