/**
 * Retention harness: on every store configuration, the API used the way a long-running server
 * uses it — a scope per request, the same keys written and read again, queries, pages, streams,
 * errors refused — must not keep memory that grows with the number of calls. A store that holds
 * something per call (a scope kept by its parent, a listener per request, a cursor per page)
 * fails here long before it fails in production. The scope-per-request leak (165 MB per 50,000
 * requests) is the bug this harness was written after.
 *
 * Method: a warm-up round, a forced GC, the heap measured; then two windows of the same calls,
 * each followed by a GC and a measure. Retention per call grows the heap in both windows; a GC
 * that freed late shows in one only, so the smaller window is compared with the bound
 * (RETAINED_BYTES_PER_CALL), far below any real leak and far above GC noise.
 */
import { expect } from 'chai';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { ManualClock } from '../../lib/clock';
import type { BaseStore } from '../../lib/store';
import { freshNamespace, prepare, selectedConfigs } from '../support/store-configs';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const configs = selectedConfigs();
/** Requests per round; each makes about ten calls. */
const REQUESTS = Number(process.env.RETENTION_REQUESTS ?? 400);
/** Measured rounds after the warm-up: two windows of half each. */
const ROUNDS = 4;
/** A leak of a scope per request held ~3 KB; a page cursor or listener a few hundred bytes. */
const RETAINED_BYTES_PER_CALL = 64;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** One request of a server: its tenant's scope, a write, reads, a query, a page, reads left early, getOrSet, a refused call. */
async function request(root: BaseStore, i: number): Promise<void> {
  const scope = root.scope(`tenant-${i % 8}`);
  const key = { user: i % 50, kind: 'session' };
  await scope.set(key, { n: i, tags: ['a', 'b'] }, { ttl: 60_000 });
  await scope.getOne(key);
  await root.set(`k${i % 100}`, i);
  await root.getOne(`k${i % 100}`);
  await scope.get({ kind: 'session', user: { $gte: 10 } }, { sort: { user: -1 }, limit: 5 });
  await scope.count({ kind: 'session' });
  await scope.page({ kind: 'session' }, { sort: { user: 1 }, limit: 7 });
  await scope.keys('k*').catch(() => undefined);
  await scope.getOne({ $bad: 1 }).catch(() => undefined);
  await scope.del({ user: (i + 25) % 50, kind: 'session' });
  // Reads left early: an iterator broken off and a stream destroyed must release their cursor.
  for await (const entry of scope.entries({ kind: 'session' })) if (entry) break;
  await new Promise<void>((resolve) => {
    const stream = scope.createReadStream({ kind: 'session' });
    stream.once('data', () => stream.destroy());
    stream.once('close', resolve);
  });
  await root.getOrSet(`computed-${i % 20}`, async () => i, { ttl: 60_000 });
  await scope.ttl(key);
}
const CALLS_PER_REQUEST = 14;

describe('retention harness: memory does not grow with the number of calls', function () {
  this.timeout(600_000);
  before(async () => prepare(configs));

  for (const config of configs) {
    it(`${config.name}: ${ROUNDS} rounds of ${REQUESTS} requests keep the heap flat`, async () => {
      const root = config.open({ clock: new ManualClock(1_700_000_000_000), namespace: freshNamespace('retention') });
      try {
        const round = async () => {
          for (let i = 0; i < REQUESTS; i++) await request(root, i);
        };
        await round();
        // Two windows of the same rounds: a leak grows the heap in both, a late GC in one.
        const grown: number[] = [];
        let last = heapAfterGc();
        for (let w = 0; w < 2; w++) {
          for (let r = 0; r < ROUNDS / 2; r++) await round();
          const now = heapAfterGc();
          grown.push(now - last);
          last = now;
        }
        const callsPerWindow = (ROUNDS / 2) * REQUESTS * CALLS_PER_REQUEST;
        const perCall = Math.min(...grown) / callsPerWindow;
        console.log(`      ${config.name}: 2 × ${callsPerWindow} calls, heap +${grown.map((g) => (g / 1e6).toFixed(2)).join(' / +')} MB (${perCall.toFixed(1)} B/call)`);
        expect(perCall, `bytes retained per call on ${config.name}`).to.be.below(RETAINED_BYTES_PER_CALL);
      } finally {
        await root.clear().catch(() => undefined);
        await root.close();
      }
    });
  }
});
