/**
 * getOrSet's grace copies against a model (SPEC §15, lib/core/grace-copies.ts), on every store
 * configuration: random sequences of getOrSet calls whose compute works or fails, plain sets,
 * every kind of delete and clock moves; after each step the store must answer as the model does.
 *
 * The rule under test: after a miss, a failing compute yields the value of the last getOrSet
 * write when that entry *expired* at most `grace` ms ago — never when it was deleted (by any
 * delete: del of a key or a query, delMany, delKeys, delByTags, clear), whether the delete came
 * while it was live or only after its TTL ended. A plain `set` does not replace the copy.
 * (The older example tests missed the delete after the TTL: this harness finds it in a few runs.)
 *
 * Times: TTL 1,000 ms, grace 2,000 ms, and clock moves that are multiples of 7 ms, so no step
 * lands exactly on an expiry or on the end of a grace (1,000 and 3,000 are not multiples of 7):
 * the model never has to guess a boundary. FUZZ_RUNS=n sequences per configuration (default 25),
 * FUZZ_SEED=s.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ManualClock } from '../../lib/clock';
import type { BaseStore, KeyInput } from '../../lib/store';
import { freshNamespace, prepare, selectedConfigs } from '../support/store-configs';

const TTL = 1000;
const GRACE = 2000;
const OPTIONS = { ttl: TTL, grace: GRACE };
/** The ManualClock starts a day ahead of the wall clock: native expiry (Redis, MongoDB) never fires first. */
const CLOCK_LEAD_MS = 24 * 60 * 60 * 1000;
/** The slack grace-copies.ts allows between the two writes' clock readings. */
const CLOCK_SLACK_MS = 50;
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = process.env.FUZZ_SEED === undefined ? 4242 : Number(process.env.FUZZ_SEED);

/** The keys, each with the tag getOrSet gives it: two tags so that delByTags takes some and leaves others. */
const KEYS: Array<{ key: KeyInput; id: string; tag: string }> = [
  { key: 'a', id: 'a', tag: 'x' },
  { key: 'ab', id: 'ab', tag: 'y' },
  { key: 'b', id: 'b', tag: 'x' },
  { key: { n: 1 }, id: 'n1', tag: 'y' },
  { key: { n: 2 }, id: 'n2', tag: 'x' },
];

type Step =
  | { kind: 'getOrSet'; k: number; fails: boolean }
  | { kind: 'set'; k: number; ttl: number | null }
  | { kind: 'del' | 'delMany'; k: number }
  | { kind: 'delKeys a*' | 'del n>=2' | 'delKeys n<2' | 'clear' | 'delByTags x' }
  | { kind: 'advance'; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('getOrSet' as const), k: fc.nat(KEYS.length - 1), fails: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('set' as const), k: fc.nat(KEYS.length - 1), ttl: fc.constantFrom(TTL, 500, null) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('del' as const, 'delMany' as const), k: fc.nat(KEYS.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('delKeys a*' as const, 'del n>=2' as const, 'delKeys n<2' as const, 'clear' as const, 'delByTags x' as const) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(7, 350, 700, 1050, 2100) }) },
);

interface ModelEntry {
  value: string;
  expiresAt: number | null;
  tags: string[];
}
interface ModelCopy {
  value: string;
  /** When the entry the copy was written with was due to expire. */
  entryExpiresAt: number;
  tags: string[];
}

/** What the store should hold: its entries and getOrSet's copies, on the test's clock. */
class GraceModel {
  readonly entries = new Map<string, ModelEntry>();
  readonly copies = new Map<string, ModelCopy>();
  constructor(public now: number) {}

  live(id: string): ModelEntry | undefined {
    const entry = this.entries.get(id);
    return entry !== undefined && (entry.expiresAt === null || this.now < entry.expiresAt) ? entry : undefined;
  }

  /** getOrSet: the live value; else the computed one (stored with its copy); else the copy in grace; else the failure. */
  getOrSet(k: number, computed: string | undefined): string | 'FAILS' {
    const { id, tag } = KEYS[k];
    const entry = this.live(id);
    if (entry !== undefined) return entry.value;
    if (computed !== undefined) {
      const expiresAt = this.now + TTL;
      this.entries.set(id, { value: computed, expiresAt, tags: [tag] });
      this.copies.set(id, { value: computed, entryExpiresAt: expiresAt, tags: [tag] });
      return computed;
    }
    const copy = this.copies.get(id);
    if (copy === undefined || this.now >= copy.entryExpiresAt + GRACE) return 'FAILS';
    if (copy.entryExpiresAt - this.now > CLOCK_SLACK_MS) {
      this.copies.delete(id); // the entry would still be live: it was not an expiry, the copy goes
      return 'FAILS';
    }
    return copy.value;
  }

  /** Deletes the entries (live ones counted) and the copies of the ids `selects` picks. */
  delete(selects: (k: number) => boolean): number {
    let removed = 0;
    KEYS.forEach(({ id }, k) => {
      if (!selects(k)) return;
      if (this.live(id) !== undefined) removed++;
      this.entries.delete(id);
      this.copies.delete(id);
    });
    return removed;
  }

  deleteByTag(tag: string): number {
    let removed = 0;
    for (const { id } of KEYS) {
      const entry = this.live(id);
      if (entry?.tags.includes(tag)) {
        removed++;
        this.entries.delete(id);
      }
      if (this.copies.get(id)?.tags.includes(tag)) this.copies.delete(id);
    }
    return removed;
  }
}

function describeStep(step: Step): string {
  switch (step.kind) {
    case 'getOrSet':
      return `getOrSet(${JSON.stringify(KEYS[step.k].key)}, ${step.fails ? 'failing' : 'working'} compute)`;
    case 'set':
      return `set(${JSON.stringify(KEYS[step.k].key)}, ttl ${step.ttl})`;
    case 'del':
    case 'delMany':
      return `${step.kind}(${JSON.stringify(KEYS[step.k].key)})`;
    case 'advance':
      return `advance(${step.ms})`;
    default:
      return step.kind;
  }
}

/** Runs one step on the store and the model; throws when they disagree. */
async function runStep(store: BaseStore, model: GraceModel, clock: ManualClock, step: Step, counter: { n: number }): Promise<void> {
  const boom = new Error('compute failed');
  const tags = store.supports.tags;
  switch (step.kind) {
    case 'advance':
      clock.advance(step.ms);
      model.now += step.ms;
      return;
    case 'getOrSet': {
      const computed = step.fails ? undefined : `v${++counter.n}`;
      const options = tags ? { ...OPTIONS, tags: [KEYS[step.k].tag] } : OPTIONS;
      let got: unknown;
      try {
        got = await store.getOrSet(KEYS[step.k].key, () => (computed === undefined ? Promise.reject(boom) : computed), options);
      } catch (err) {
        if (err !== boom) throw err;
        got = 'FAILS';
      }
      const expected = model.getOrSet(step.k, computed);
      expect(got, describeStep(step)).to.equal(expected);
      return;
    }
    case 'set': {
      const value = `s${++counter.n}`;
      await store.set(KEYS[step.k].key, value, { ttl: step.ttl });
      model.entries.set(KEYS[step.k].id, { value, expiresAt: step.ttl === null ? null : model.now + step.ttl, tags: [] });
      return;
    }
    case 'del':
      expect(await store.del(KEYS[step.k].key as never), describeStep(step)).to.equal(model.delete((k) => selectedByQuery(KEYS[step.k].key, k)));
      return;
    case 'delMany':
      expect(await store.delMany([KEYS[step.k].key]), describeStep(step)).to.equal(model.delete((k) => k === step.k));
      return;
    case 'delKeys a*':
      expect(await store.delKeys('a*'), step.kind).to.equal(model.delete((k) => typeof KEYS[k].key === 'string' && (KEYS[k].key as string).startsWith('a')));
      return;
    case 'del n>=2':
      expect(await store.del({ n: { $gte: 2 } }), step.kind).to.equal(model.delete((k) => typeof KEYS[k].key === 'object' && (KEYS[k].key as { n: number }).n >= 2));
      return;
    case 'delKeys n<2':
      expect(await store.delKeys({ n: { $lt: 2 } }), step.kind).to.equal(model.delete((k) => typeof KEYS[k].key === 'object' && (KEYS[k].key as { n: number }).n < 2));
      return;
    case 'clear':
      await store.clear();
      model.delete(() => true);
      return;
    case 'delByTags x':
      if (!tags) return;
      expect(await store.delByTags(['x']), step.kind).to.equal(model.deleteByTag('x'));
      return;
  }
}

/** `del(key)` takes its key as a query: a string selects that key, an object every object key it matches. */
function selectedByQuery(query: KeyInput, k: number): boolean {
  const key = KEYS[k].key;
  if (typeof query === 'string') return key === query;
  return typeof key === 'object' && Object.entries(query as object).every(([field, value]) => (key as Record<string, unknown>)[field] === value);
}

const configs = selectedConfigs();

describe('grace copies against a model (fast-check, every store configuration)', function () {
  before(async function () {
    this.timeout(300_000);
    await prepare(configs);
  });

  for (const config of configs) {
    it(`${config.name}: a copy stands in only for an entry that expired, never for one deleted`, async function () {
      this.timeout(10 * 60 * 1000);
      let steps = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: 20, maxLength: 100 }), async (sequence) => {
          const clock = new ManualClock(Date.now() + CLOCK_LEAD_MS);
          const store = config.open({ clock, namespace: freshNamespace('grace') });
          const model = new GraceModel(clock.now());
          const counter = { n: 0 };
          const errors: unknown[] = [];
          store.on('error', (err: unknown) => errors.push(err));
          try {
            for (const step of sequence) {
              await runStep(store, model, clock, step, counter);
              steps++;
            }
            expect(errors, "the store's 'error' events").to.deep.equal([]);
          } finally {
            await store.clear().catch(() => undefined);
            await store.close();
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: process.env.FUZZ_NO_SHRINK === '1' },
      );
      console.log(`      grace model [${config.name}]: ${RUNS} sequences, ${steps} steps`);
    });
  }
});
