/**
 * Fault tests of the multi store (SPEC §9, issue 5 §5) against real servers started here:
 *
 * 1. A mixed load of 24,000 operations on [memory, redis, mongo]; redis-server is SIGKILLed
 *    part-way and restarted later. No read of a key held in MongoDB may fail, no
 *    acknowledged write may be lost, reads during the outage are bounded by the tier timeout,
 *    and stats() must show Redis in use again after it returns.
 * 2. MongoDB is stopped during a load: writes fail with typed errors (none reports a false
 *    success), and reads of keys held in the upper tiers are still served.
 *
 * Every key is written by one worker only, so each worker knows the value every read of its
 * keys must return. The figures are printed for the README.
 */
import { expect } from 'chai';
import { MultiStore, MultiStats } from '../lib/multi/multi-store';
import { MongoStore } from '../lib/backends/mongo';
import { MongoHandle, sharedMongo, startMongo } from './support/mongo-server';
import { RedisServer, sharedRedis, startRedis } from './support/redis-server';

/** The Redis tier's timeout: a dead Redis may cost a read at most this much. */
const TIMEOUT = 250;
/** MongoDB's: the test engine is slower under load than a production mongod. */
const MONGO_TIMEOUT = 3000;

function tierStats(stats: MultiStats, index: number) {
  const t = stats.tiers[index];
  return { state: t.state, hits: t.hits, misses: t.misses, errors: t.errors, timeouts: t.timeouts, promotions: t.promotions, skips: t.skips, recoveries: t.recoveries };
}

describe('multi store: fault tests against real servers', function () {
  this.timeout(300_000);

  describe('fault test 1: redis-server SIGKILLed and restarted during a mixed load on [memory, redis, mongo]', () => {
    let redis: RedisServer;
    let store: MultiStore;

    before(async () => {
      redis = await startRedis();
    });
    after(async () => {
      await store?.close();
      await redis?.stop();
    });

    it('serves every read of a key in MongoDB, loses no acknowledged write, stays within the tier timeout, uses Redis again', async () => {
      const { url: mongo } = await sharedMongo();
      store = new MultiStore({
        namespace: `fault1x${process.pid}`,
        timeout: TIMEOUT,
        backoff: 100,
        maxBackoff: 500,
        stores: [
          { type: 'memory', settings: { maxKeys: 500 }, ttl: 2000 },
          { type: 'redis', settings: { url: redis.url, commandTimeout: TIMEOUT } },
          { type: 'mongo', settings: { url: mongo, db: 'multi_faults' }, timeout: MONGO_TIMEOUT },
        ],
      });
      const cacheErrors: string[] = [];
      store.on('error', (err: { code: string; message: string }) => {
        if (cacheErrors.length < 5 || process.env.DEBUG_MULTI) console.log('      error event:', err.code, err.message);
        cacheErrors.push(err.code);
      });
      if (process.env.DEBUG_MULTI) {
        store.on('tierDown', (e: { index: number; error: Error }) => console.log('      tierDown', e.index, Date.now() % 100000, e.error?.message));
        store.on('tierUp', (e: { index: number }) => console.log('      tierUp', e.index, Date.now() % 100000));
      }
      await store.connect();
      await store.clear();

      const workers = 16;
      const keysPerWorker = 50;
      const totalOps = 24_000;
      const model = new Map<string, unknown>();
      for (let w = 0; w < workers; w++) {
        for (let k = 0; k < keysPerWorker; k++) {
          const key = `w${w}:k${k}`;
          const value = { w, k, v: 0 };
          await store.set(key, value);
          model.set(key, value);
        }
      }

      let ops = 0;
      let phase: 'before' | 'outage' | 'after' = 'before';
      const results = { reads: 0, readFailures: 0, staleReads: 0, writes: 0, writeFailures: 0, deletes: 0, worstOutageRead: 0, worstRead: 0 };
      let seed = 42;
      const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);

      // The load goes on past totalOps until Redis has been used again for 2,000 ops after it
      // came back (its reconnection and the tier's backoff take a moment), or 20 s at most, after
      // which the assertions below fail.
      const redisTier = store.tiers[1];
      let restartedTime = Infinity;
      let upSinceOp: number | undefined;
      const finished = () => {
        if (ops < totalOps || phase !== 'after') return false;
        if (!redisTier.isDown && redisTier.counters.recoveries > 0) {
          upSinceOp ??= ops;
          return ops - upSinceOp >= 2000;
        }
        return Date.now() - restartedTime > 20_000;
      };
      const worker = async (w: number) => {
        let v = 0;
        while (!finished()) {
          // Requests arrive through I/O in a server: yield so that timers and sockets run.
          await new Promise((r) => setImmediate(r));
          ops++;
          const key = `w${w}:k${Math.floor(random() * keysPerWorker)}`;
          const r = random();
          if (r < 0.7) {
            const t0 = performance.now();
            try {
              const value = await store.getOne(key);
              const expected = model.get(key);
              if (expected !== 'unknown' && JSON.stringify(value) !== JSON.stringify(expected)) results.staleReads++;
            } catch (err) {
              if (results.readFailures++ < 3) console.log('      read failure:', (err as Error).message);
            }
            const took = performance.now() - t0;
            results.reads++;
            results.worstRead = Math.max(results.worstRead, took);
            if (phase === 'outage') results.worstOutageRead = Math.max(results.worstOutageRead, took);
          } else if (r < 0.95) {
            const value = { w, v: ++v, at: ops };
            try {
              await store.set(key, value);
              model.set(key, value); // acknowledged
              results.writes++;
            } catch {
              results.writeFailures++;
              model.set(key, 'unknown');
            }
          } else {
            try {
              await store.del(key);
              model.set(key, undefined);
              results.deletes++;
            } catch {
              results.writeFailures++;
              model.set(key, 'unknown');
            }
          }
        }
      };

      const controller = async () => {
        while (ops < 4000) await new Promise((r) => setTimeout(r, 5));
        await redis.kill();
        phase = 'outage';
        const killedAt = ops;
        const killedTime = Date.now();
        while (ops < killedAt + 8000 || Date.now() - killedTime < 2000) await new Promise((r) => setTimeout(r, 5));
        const atRestart = await store.stats();
        await redis.restart();
        restartedTime = Date.now();
        phase = 'after';
        return { killedAt, restartedAt: ops, outageMs: Date.now() - killedTime, atRestart };
      };

      const [control] = await Promise.all([controller(), ...Array.from({ length: workers }, (_, w) => worker(w))]);
      await store.idle();
      const final = await store.stats();

      // Acknowledged writes: every key's last acknowledged value is in MongoDB.
      const direct = new MongoStore({ url: mongo, db: 'multi_faults', namespace: `fault1x${process.pid}` });
      let lost = 0;
      for (const [key, expected] of model) {
        if (expected === 'unknown') continue;
        const actual = await direct.getOne(key);
        if (JSON.stringify(actual) !== JSON.stringify(expected)) lost++;
      }
      await direct.close();

      const redisBefore = tierStats(control.atRestart, 1);
      const redisAfter = tierStats(final, 1);
      console.log('      fault test 1:', JSON.stringify({ ops, ...results, lostAcknowledgedWrites: lost, killedAtOp: control.killedAt, restartedAtOp: control.restartedAt, outageMs: control.outageMs, cacheErrorEvents: cacheErrors.length }));
      console.log('      redis tier at restart:', JSON.stringify(redisBefore));
      console.log('      redis tier at the end:', JSON.stringify(redisAfter));
      console.log('      mongo tier at the end:', JSON.stringify(tierStats(final, 2)));

      expect(ops).to.be.at.least(totalOps);
      expect(results.readFailures, 'reads that failed on keys held in MongoDB').to.equal(0);
      expect(results.staleReads, 'reads that returned something other than the last acknowledged value').to.equal(0);
      expect(lost, 'acknowledged writes lost').to.equal(0);
      expect(results.writeFailures, 'writes failed although MongoDB was up').to.equal(0);
      expect(results.worstOutageRead, 'worst read latency during the outage (ms)').to.be.lessThan(TIMEOUT + MONGO_TIMEOUT);
      expect(redisBefore.errors).to.be.greaterThan(0);
      expect(redisAfter.state).to.equal('up');
      expect(redisAfter.recoveries).to.be.at.least(1);
      expect(redisAfter.hits + redisAfter.misses).to.be.greaterThan(redisBefore.hits + redisBefore.misses);
      expect(redisAfter.promotions + redisAfter.hits).to.be.greaterThan(redisBefore.promotions + redisBefore.hits);
    });
  });

  describe('fault test 2: MongoDB stopped during a load', () => {
    let mongo: MongoHandle;
    let store: MultiStore;

    before(async function () {
      this.timeout(30_000);
      mongo = await startMongo();
    });
    after(async function () {
      this.timeout(60_000);
      const t0 = Date.now();
      await store?.close();
      const t1 = Date.now();
      await mongo?.dispose();
      if (process.env.DEBUG_MULTI) console.log(`      close ${t1 - t0} ms, dispose ${Date.now() - t1} ms`);
    });

    it('fails writes with typed errors (no false success) and keeps serving reads held in the upper tiers', async () => {
      const { url: redis } = await sharedRedis();
      store = new MultiStore({
        namespace: `fault2x${process.pid}`,
        timeout: TIMEOUT,
        backoff: 100,
        maxBackoff: 500,
        stores: [{ type: 'memory' }, { type: 'redis', settings: { url: redis } }, {
            type: 'mongo',
            // Operations the multi store gave up on during the outage settle quickly in the driver too.
            settings: { url: mongo.url, db: 'multi_faults2', serverSelectionTimeoutMS: 2000, socketTimeoutMS: 3000 },
          },
        ],
      });
      store.on('error', () => undefined);
      await store.connect();
      const held = Array.from({ length: 300 }, (_, i) => `held:${i}`);
      for (const key of held) await store.set(key, { key });

      const acknowledged = new Map<string, unknown>();
      const outcome = { writesOk: 0, writesFailed: 0, untypedFailures: 0, codes: new Set<string>(), reads: 0, readFailures: 0, worstRead: 0 };
      let running = true;
      let n = 0;
      const writer = async () => {
        while (running) {
          const key = `written:${n++ % 200}`;
          const value = { n };
          try {
            await store.set(key, value);
            acknowledged.set(key, value);
            outcome.writesOk++;
          } catch (err) {
            const code = (err as { code?: string }).code;
            if (!code) outcome.untypedFailures++;
            else outcome.codes.add(code);
            outcome.writesFailed++;
            acknowledged.delete(key); // its state is unknown: not checked below
          }
          await new Promise((r) => setImmediate(r));
        }
      };
      const reader = async () => {
        let i = 0;
        while (running) {
          const t0 = performance.now();
          try {
            const v = await store.getOne(held[i++ % held.length]);
            if (v === undefined) outcome.readFailures++;
          } catch {
            outcome.readFailures++;
          }
          outcome.reads++;
          outcome.worstRead = Math.max(outcome.worstRead, performance.now() - t0);
          await new Promise((r) => setImmediate(r));
        }
      };
      const load = Promise.all([writer(), writer(), reader(), reader()]);
      await new Promise((r) => setTimeout(r, 300));
      const okBefore = outcome.writesOk;
      await mongo.stop();
      const stoppedAt = { writesOk: outcome.writesOk, writesFailed: outcome.writesFailed };
      await new Promise((r) => setTimeout(r, 1500));
      const duringOutage = { writesOk: outcome.writesOk - stoppedAt.writesOk, writesFailed: outcome.writesFailed - stoppedAt.writesFailed };
      running = false;
      await load;
      await mongo.restart();
      // After MongoDB returns, writes succeed again and every acknowledged write is durable.
      let recovered = false;
      for (let attempt = 0; attempt < 100 && !recovered; attempt++) {
        try {
          await store.set('after', 'restart');
          recovered = true;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const direct = new MongoStore({ url: mongo.url, db: 'multi_faults2', namespace: `fault2x${process.pid}` });
      let lost = 0;
      for (const [key, value] of acknowledged) if (JSON.stringify(await direct.getOne(key)) !== JSON.stringify(value)) lost++;
      await direct.close();
      console.log(
        '      fault test 2:',
        JSON.stringify({ okBefore, duringOutage, ...outcome, codes: [...outcome.codes], lostAcknowledgedWrites: lost, recovered }),
      );
      expect(okBefore).to.be.greaterThan(0);
      expect(duringOutage.writesFailed).to.be.greaterThan(0);
      expect(outcome.untypedFailures).to.equal(0);
      expect([...outcome.codes].every((c) => c === 'ERR_STORAGE_CONNECTION' || c === 'ERR_STORAGE_OPERATION')).to.equal(true);
      expect(lost, 'writes reported successful that MongoDB does not hold').to.equal(0);
      expect(outcome.readFailures, 'reads of keys held in the upper tiers that failed').to.equal(0);
      expect(recovered).to.equal(true);
    });
  });
});
