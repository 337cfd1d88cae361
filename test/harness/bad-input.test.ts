/**
 * Bad-input fuzzing (issue #10): on every store configuration, random malformed keys, queries,
 * values, options, callbacks, copy targets, stream sources and namespaces (bad-input-cases.ts)
 * through every public method (bad-input-calls.ts). Every call must be refused with a
 * StoreError carrying the documented code for that argument (as a rejection, a callback error,
 * a stream error, or a synchronous throw from the methods that return no promise), must settle,
 * and must leave the store exactly as it was (every key, value and TTL), a copy target empty,
 * and `Object.prototype` / `Array.prototype` without new properties. Valid-but-odd keys and
 * values (inherited-looking field names, unicode, emoji, empty strings) must be accepted and
 * round-trip.
 *
 * Fixed seeds in CI; `FUZZ_RUNS=n` raises the runs of every property, `FUZZ_SEED=n` replays a
 * seed (fast-check prints the seed, path and shrunk counterexample of a failure), e.g.
 *
 *     FUZZ_RUNS=2000 STORE_CONFIGS=redis npx mocha test/harness/bad-input.test.ts
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ManualClock } from '../../lib/clock';
import { keyFromId, keyId } from '../../lib/keys';
import type { BaseStore } from '../../lib/store';
import { freshNamespace, prepare, selectedConfigs, StoreConfig } from '../support/store-configs';
import { BAD_CALLS, BadCall, HELD_KEY, checkRefusal } from './bad-input-calls';
import { validObjectKey, validStringKey, validValue } from './bad-input-cases';

const configs = selectedConfigs();

/** Runs per property in CI: each run makes 1–4 bad calls, then compares the whole store. */
const DEFAULT_RUNS = 50;
const ROUND_TRIP_RUNS = 30;

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return n;
}

/** A stable 31-bit seed from a string: the same inputs on every CI run. */
function seedOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 1;
}

function fcOptions(name: string, runs: number): fc.Parameters<unknown> {
  return { numRuns: envInt('FUZZ_RUNS') ?? runs, seed: envInt('FUZZ_SEED') ?? seedOf(name), endOnFailure: false };
}

/** The entries a store must still hold after refused calls: odd but valid keys and values. */
const BASELINE: Array<{ key: unknown; value: unknown; ttl?: number }> = [
  { key: HELD_KEY, value: 'held value' },
  { key: { held: true }, value: { nested: ['x', 1] }, ttl: 3_600_000 },
  { key: { toString: 'x', length: 2 }, value: { hasOwnProperty: 'y', constructor: 'z' } },
  { key: { '😀': 'é', list: [1, 'a', null] }, value: '' },
  { key: 'ünïcödé 😀', value: Buffer.from([0, 1, 2]) },
  { key: { n: { deep: true } }, value: new Date(86_400_000) },
  { key: { fresh: 0 }, value: 0 },
];

interface Snapshot {
  entries: Array<{ key: unknown; value: unknown; ttl: unknown; meta: unknown }>;
}

/** Every entry with its TTL and metadata (SPEC §16): a refused write must not even move an entry's updatedAt or tags. */
async function snapshot(store: BaseStore): Promise<Snapshot> {
  const entries: Snapshot['entries'] = [];
  for await (const entry of store.entries()) {
    entries.push({ key: entry.key, value: entry.value, ttl: await store.ttl(entry.key as never), meta: await store.getMeta(entry.key as never) });
  }
  return { entries };
}

function deepEqual(a: unknown, b: unknown): boolean {
  try {
    expect(a).to.deep.equal(b);
    return true;
  } catch {
    return false;
  }
}

function ownNames(o: object): string[] {
  return Reflect.ownKeys(o).map(String).sort();
}

const coverage = new Map<string, { runs: number; calls: number }>();

describe('bad-input fuzzing (fast-check, every store configuration)', function () {
  before(async function () {
    this.timeout(300_000); // servers start once per process
    await prepare(configs);
  });

  for (const config of configs) {
    describe(config.name, function () {
      this.timeout(30 * 60 * 1000); // a long FUZZ_RUNS run; CI's default runs take seconds
      const clock = new ManualClock(); // now: Redis expires by its own clock too
      let store: BaseStore;
      let target: BaseStore;
      let baseline: Snapshot;
      const objectNames = ownNames(Object.prototype);
      const arrayNames = ownNames(Array.prototype);
      const counts = { runs: 0, calls: 0 };
      coverage.set(config.name, counts);

      before(async function () {
        this.timeout(60_000);
        store = open(config, clock);
        target = open(config, clock);
        await store.connect();
        await target.connect();
        await seed();
        baseline = await snapshot(store);
        expect(baseline.entries).to.have.length(BASELINE.length);
      });

      /** Puts the baseline back after a failed run. */
      async function restore(): Promise<void> {
        await store.clear();
        await target.clear();
        await seed();
      }

      async function seed(): Promise<void> {
        for (const { key, value, ttl } of BASELINE) await store.set(key as never, value, ttl === undefined ? undefined : { ttl });
      }

      after(async () => {
        console.log(`      bad-input [${config.name}]: ${counts.runs} runs, ${counts.calls} malformed calls`);
        await store?.clear().catch(() => undefined);
        await store?.close().catch(() => undefined);
        await target?.close().catch(() => undefined);
      });

      for (const [area, calls] of Object.entries(BAD_CALLS)) {
        it(`malformed ${area}: a typed refusal, nothing changed`, async () => {
          await fc.assert(
            fc.asyncProperty(fc.array(calls, { minLength: 1, maxLength: 4 }), async (batch: BadCall[]) => {
              counts.runs++;
              for (const call of batch) {
                counts.calls++;
                const problem = await checkRefusal(call, store, target);
                if (problem !== undefined) throw new Error(problem);
              }
              const after = await snapshot(store);
              const targetKeys = await target.keys();
              if (!deepEqual(after, baseline) || targetKeys.length > 0) {
                await restore(); // so the next run (and the shrinking) starts from the baseline again
                expect(after, 'the store changed').to.deep.equal(baseline);
                expect(targetKeys, 'the copy target changed').to.deep.equal([]);
              }
              expect(ownNames(Object.prototype), 'Object.prototype changed').to.deep.equal(objectNames);
              expect(ownNames(Array.prototype), 'Array.prototype changed').to.deep.equal(arrayNames);
            }),
            fcOptions(`${config.name}/${area}`, DEFAULT_RUNS),
          );
        });
      }

      it('lone surrogates round-trip in values (JSON escapes them, so no backend folds them into U+FFFD)', async () => {
        const scope = store.scope('surrogates');
        try {
          const values: unknown[] = ['\ud800', 'a\udc00b', '\udbff\ud800', { '\ud800': '\udfff', list: ['\udc00'] }];
          for (let i = 0; i < values.length; i++) await scope.set(`s${i}`, values[i]);
          for (let i = 0; i < values.length; i++) expect(await scope.getOne(`s${i}`), `value ${i}`).to.deep.equal(values[i]);
          const streamed: unknown[] = [];
          for await (const entry of scope.entries()) streamed.push(entry.value);
          expect(streamed).to.deep.equal(values);
        } finally {
          await scope.clear();
          await scope.close();
        }
      });

      it('valid but odd keys and values are accepted and round-trip', async () => {
        let n = 0;
        await fc.assert(
          fc.asyncProperty(fc.oneof(validObjectKey, validStringKey), validValue, async (key: unknown, value: unknown) => {
            counts.runs++;
            const scope = store.scope(`odd${++n}`);
            try {
              await scope.set(key as never, value);
              expect(await scope.getOne(key as never)).to.deep.equal(value);
              expect(await scope.has(key as never)).to.equal(true);
              expect(await scope.ttl(key as never)).to.equal(null);
              const meta = await scope.getMeta(key as never);
              expect(meta).to.deep.include({ expiresAt: null, tags: [] });
              expect(Number.isInteger(meta!.size) && meta!.size >= 0, `size ${meta!.size}`).to.equal(true);
              // The key comes back canonical: -0 in a key is the same key as 0 (one id, as in
              // MongoDB's equality), and every backend answers it as 0 (found by a FUZZ_RUNS=200 run).
              expect(await scope.keys()).to.deep.equal([keyFromId(keyId(key))]);
              expect(await scope.count(key as never)).to.equal(1);
              expect(await scope.get(key as never)).to.deep.equal([value]);
            } finally {
              await scope.clear();
              // A scope holds its own claim on a shared connection (MongoDB): release it, or the
              // process cannot exit after the servers stop.
              await scope.close();
            }
          }),
          fcOptions(`${config.name}/round-trip`, ROUND_TRIP_RUNS),
        );
        expect(await snapshot(store)).to.deep.equal(baseline);
      });
    });
  }
});

function open(config: StoreConfig, clock: ManualClock): BaseStore {
  return config.open({ clock, namespace: freshNamespace('badinput') });
}
