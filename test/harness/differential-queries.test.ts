/**
 * Differential query tests (issue #10, SPEC §12 "query semantics are MongoDB's"): random object
 * keys and random queries over every allowed operator, answered by every store configuration
 * (test/support/store-configs.ts) and by the MongoDB engine through the raw driver.
 *
 * One property run writes one random data set (two string keys around it, some keys
 * overwritten, which keeps their place) and runs QUERIES_PER_RUN queries over it. For each
 * query, `keys`, `get` (also with a limit and keys), `entries` and `count` must give the same
 * keys and values, in the same (creation) order, as `find(filter).sort({ seq: 1 })`; about one
 * query in ten is then also a `del`, which must delete as many and leave the same keys (and
 * the string keys). About four queries in five also read with a generated `{ sort, skip, limit }`
 * (issue #12: sort paths through arrays, missing fields, mixed types) by get() and one of
 * keys/count/entries/createReadStream, against `find(filter).sort({ ...sort, seq: 1 })
 * .skip(skip).limit(limit)` (`limit: 0` is nothing here, "no limit" there), and some offer an
 * invalid sort that both sides must refuse. A query the engine rejects must be rejected with ERR_INVALID_QUERY, and a
 * query the store rejects must be one the engine rejects too, unless a named difference in
 * differential-known.ts explains it (counted and printed).
 *
 * Fixed seed in CI. FUZZ_RUNS=n runs n data sets (default 25, about 600 queries),
 * FUZZ_SEED=s another seed, FUZZ_NO_SHRINK=1 stops at the first failure, FUZZ_TIME_LIMIT_MS
 * bounds runs plus shrinking. A failure prints fast-check's shrunk counterexample (keys,
 * overwrites, queries) and the first disagreement: the query, MongoDB's answer and the store's.
 */
import fc from 'fast-check';
import { MongoClient } from 'mongodb';
import { ManualClock } from '../../lib/clock';
import { keyId, type KeyObject } from '../../lib/keys';
import type { BaseStore } from '../../lib/store';
import { sharedMongo } from '../support/mongo-server';
import { freshNamespace, prepare, selectedConfigs, type StoreConfig } from '../support/store-configs';
import { WITHOUT, keyArb, stepArb, type QueryStep, type WindowStep } from './differential-arbitraries';
import { DATA_REFUSED_SORT, knownDifference, knownSortDifference } from './differential-known';
import { Oracle } from './differential-oracle';

const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const QUERIES_PER_RUN = 24;
/** Time for one configuration's runs and shrinking together. */
const SHRINK_BUDGET_MS = Number(process.env.FUZZ_TIME_LIMIT_MS ?? 5 * 60_000);

/** A data set: distinct keys (by canonical id), in creation order. */
const datasetArb = fc.uniqueArray(keyArb, { minLength: 5, maxLength: 40, selector: (key) => keyId(key) });

/** What a store call gave: a result, or the code of the error it threw (a non-StoreError shows as RAW). */
type Outcome<T> = { value: T } | { code: string; message: string };

async function attempt<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { value: await fn() };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return { code: typeof code === 'string' && code.startsWith('ERR_') ? code : 'RAW', message: String(err) };
  }
}

const show = (value: unknown) => fc.stringify(value);

/** String keys written alongside the object keys: no object query may return or delete them. */
const STRING_KEYS = ['s:first', 's:second'];

/** A returned key's canonical id, or a description of it when it is not a valid key (corrupt read). */
function idOf(key: unknown): string {
  try {
    return keyId(key);
  } catch {
    return `not a valid key: ${show(key)}`;
  }
}

class Disagreement extends Error {}

/** Checks one query step against the oracle; throws a Disagreement naming what differs. */
async function checkStep(store: BaseStore, oracle: Oracle, keysById: Map<string, number>, step: QueryStep, tally: Tally): Promise<void> {
  const { query } = step;
  const expected = await oracle.find(query);
  const keys = await attempt(() => store.keys(query));
  const fail = (what: string, want: unknown, got: unknown): never => {
    throw new Disagreement(`${what} ${show(query)}:\n  MongoDB: ${show(want)}\n  store:   ${show(got)}`);
  };
  if ('code' in keys && keys.code !== 'ERR_INVALID_QUERY') fail('the store fails with the wrong code', 'ERR_INVALID_QUERY or a result', keys);
  if ('rejected' in expected) {
    if ('code' in keys) {
      tally.rejected++;
      return;
    }
    if (tolerate(query, 'mongo-rejects', tally)) return;
    fail('MongoDB rejects, the store accepts', expected.rejected, keys.value);
  }
  if ('code' in keys) {
    if (tolerate(query, 'store-rejects', tally)) return;
    fail('the store rejects, MongoDB accepts', (expected as { ids: string[] }).ids, keys);
  }
  if (!('ids' in expected)) return;
  const gotIds = (keys as { value: Array<string | KeyObject> }).value.map(idOf);
  if (show(gotIds) !== show(expected.ids)) fail('keys()', expected.ids, gotIds);
  const values = await attempt(() => store.get(query) as Promise<unknown[]>);
  const wantValues = expected.ids.map((id) => keysById.get(id));
  if (!('value' in values) || show(values.value) !== show(wantValues)) fail('get()', wantValues, 'value' in values ? values.value : values);
  // get with a limit (the first ones in creation order) and with keys (the same pairs).
  const limit = 1 + (expected.ids.length >> 1);
  const limited = await attempt(() => store.get(query, { limit, includeKey: true }) as Promise<Array<{ key: unknown; val: unknown }>>);
  const wantLimited = expected.ids.slice(0, limit).map((id) => [id, keysById.get(id)]);
  const gotLimited = 'value' in limited ? limited.value.map((pair) => [idOf(pair.key), pair.val]) : limited;
  if (show(gotLimited) !== show(wantLimited)) fail(`get({ limit: ${limit}, includeKey: true })`, wantLimited, gotLimited);
  // entries(): the same keys and values, streamed in creation order.
  const streamed = await attempt(async () => {
    const out: Array<[string, unknown]> = [];
    for await (const entry of store.entries(query)) out.push([idOf(entry.key), entry.value]);
    return out;
  });
  const wantStreamed = expected.ids.map((id) => [id, keysById.get(id)]);
  if (!('value' in streamed) || show(streamed.value) !== show(wantStreamed)) fail('entries()', wantStreamed, 'value' in streamed ? streamed.value : streamed);
  const count = await attempt(() => store.count(query));
  if (!('value' in count) || count.value !== expected.ids.length) fail('count()', expected.ids.length, 'value' in count ? count.value : count);
  if (expected.ids.length > 0) tally.matching++;
  tally.queries++;
  if (step.window) await checkWindow(store, oracle, keysById, query, step.window, fail, tally);
  if (!step.del) return;
  const deleted = await attempt(() => store.del(query));
  const wantDeleted = await oracle.del(query);
  if (!('value' in deleted) || deleted.value !== wantDeleted) fail('del() count', wantDeleted, 'value' in deleted ? deleted.value : deleted);
  const left = await attempt(() => store.keys());
  const wantLeft = await oracle.all();
  // String keys are never matched by an object query: they are all still there, after the object keys' order is checked.
  const gotLeft = 'value' in left ? left.value.filter((key) => typeof key !== 'string').map(idOf) : left;
  if (show(gotLeft) !== show(wantLeft)) fail('keys left after del()', wantLeft, gotLeft);
  const strings = 'value' in left ? left.value.filter((key) => typeof key === 'string') : [];
  if (show(strings) !== show(STRING_KEYS)) fail('string keys left after del()', STRING_KEYS, strings);
  tally.deletes++;
}

/**
 * Checks a read with `{ sort, skip, limit }` (issue #12) against
 * `find(filter).sort({ ...sort, seq: 1 }).skip(skip).limit(limit)`: get() with keys and values,
 * and one of keys(), count(), entries() and createReadStream(); then, when the step carries
 * one, an invalid sort, which the store must refuse with ERR_INVALID_ARGUMENT and the engine
 * must refuse too (unless a named difference explains it). Called only for a query both accept.
 */
async function checkWindow(
  store: BaseStore,
  oracle: Oracle,
  keysById: Map<string, number>,
  query: Record<string, unknown>,
  step: WindowStep,
  fail: (what: string, want: unknown, got: unknown) => never,
  tally: Tally,
): Promise<void> {
  const { window, method } = step;
  const expected = await oracle.findWindow(query, window);
  const got = await attempt(() => store.get(query, { ...window, includeKey: true } as never) as Promise<Array<{ key: unknown; val: unknown }>>);
  if ('rejected' in expected) {
    if (!DATA_REFUSED_SORT.explains(expected.rejected)) fail(`MongoDB rejects the window ${show(window)}, which the store must take, on`, expected.rejected, got);
    // No order to compare with: the store must still answer with matches, as many as the window allows.
    const all = await oracle.find(query);
    const matches = new Set('ids' in all ? all.ids : []);
    const room = window.limit === undefined ? Infinity : window.limit;
    const size = Math.min(room, Math.max(0, matches.size - (window.skip ?? 0)));
    const gotIds = 'value' in got ? got.value.map((pair) => idOf(pair.key)) : [];
    if (!('value' in got) || gotIds.length !== size || !gotIds.every((id) => matches.has(id)) || new Set(gotIds).size !== size) {
      fail(`get(query, ${show({ ...window, includeKey: true })}) (MongoDB refuses this sort on the data) must give ${size} distinct matches; on`, [...matches], got);
    }
    tally.known.set(DATA_REFUSED_SORT.name, (tally.known.get(DATA_REFUSED_SORT.name) ?? 0) + 1);
    return;
  }
  const { ids } = expected as { ids: string[] };
  const want = ids.map((id) => [id, keysById.get(id)]);
  const gotPairs = 'value' in got ? got.value.map((pair) => [idOf(pair.key), pair.val]) : got;
  if (show(gotPairs) !== show(want)) fail(`get(query, ${show({ ...window, includeKey: true })}) on`, want, gotPairs);
  const call = `${method === 'stream' ? 'createReadStream' : method}(query, ${show(window)}) on`;
  if (method === 'count') {
    const count = await attempt(() => store.count(query, window as never));
    if (!('value' in count) || count.value !== ids.length) fail(call, ids.length, 'value' in count ? count.value : count);
  } else if (method === 'keys') {
    const keys = await attempt(() => store.keys(query, window as never));
    const gotIds = 'value' in keys ? keys.value.map(idOf) : keys;
    if (show(gotIds) !== show(ids)) fail(call, ids, gotIds);
  } else {
    const streamed = await attempt(async () => {
      const out: Array<[string, unknown]> = [];
      const source = method === 'entries' ? store.entries(query, window as never) : store.createReadStream(query, window as never);
      for await (const entry of source as AsyncIterable<{ key: unknown; value: unknown }>) out.push([idOf(entry.key), entry.value]);
      return out;
    });
    if (!('value' in streamed) || show(streamed.value) !== show(want)) fail(call, want, 'value' in streamed ? streamed.value : streamed);
  }
  tally.windows++;
  if (step.invalid === undefined) return;
  const sort = step.invalid;
  const refused = await attempt(() => store.get(query, { sort } as never));
  if (!('code' in refused) || refused.code !== 'ERR_INVALID_ARGUMENT') fail(`get(query, { sort: ${show(sort)} }) must be refused with ERR_INVALID_ARGUMENT; on`, 'ERR_INVALID_ARGUMENT', refused);
  const engine = await oracle.findWindow(query, { sort });
  if ('rejected' in engine) {
    tally.invalidSorts++;
    return;
  }
  const known = knownSortDifference(sort);
  if (!known) fail(`MongoDB accepts the sort ${show(sort)} the store refuses; on`, engine.ids, refused);
  tally.known.set(known!.name, (tally.known.get(known!.name) ?? 0) + 1);
}

/** Counts a one-sided rejection that a known difference explains (differential-known.ts). */
function tolerate(query: unknown, side: 'store-rejects' | 'mongo-rejects', tally: Tally): boolean {
  const known = knownDifference(query, side);
  if (!known) return false;
  tally.known.set(known.name, (tally.known.get(known.name) ?? 0) + 1);
  return true;
}

interface Tally {
  known: Map<string, number>;
  runs: number;
  keys: number;
  queries: number;
  matching: number;
  rejected: number;
  deletes: number;
  /** Reads with sort/skip/limit checked, and invalid sorts both sides refused. */
  windows: number;
  invalidSorts: number;
}

describe('differential queries: every store answers as the MongoDB engine', function () {
  this.timeout(30 * 60_000);
  const configs = selectedConfigs();
  let client: MongoClient | undefined;

  before(async function () {
    this.timeout(180_000);
    await prepare(configs);
    client = await MongoClient.connect((await sharedMongo()).url);
  });

  after(async () => {
    await client?.close();
  });

  for (const config of configs) {
    it(`${config.name}: random keys and queries give MongoDB's keys, in creation or sort order, for keys/get/count/entries/del and sort/skip/limit`, async () => {
      await runConfig(config, client!);
    });
  }
});

async function runConfig(config: StoreConfig, client: MongoClient): Promise<void> {
  const store = config.open({ clock: new ManualClock(1_700_000_000_000), namespace: freshNamespace('dq') });
  const collection = client.db('differential').collection(freshNamespace('oracle'));
  const oracle = new Oracle(collection);
  const tally: Tally = { known: new Map(), runs: 0, keys: 0, queries: 0, matching: 0, rejected: 0, deletes: 0, windows: 0, invalidSorts: 0 };
  const started = Date.now();
  try {
    await fc.assert(
      fc.asyncProperty(datasetArb, fc.array(fc.nat(), { maxLength: 5 }), fc.array(stepArb, { minLength: QUERIES_PER_RUN, maxLength: QUERIES_PER_RUN }), async (keys, overwrites, steps) => {
        await store.clear();
        const keysById = new Map<string, number>();
        await store.set(STRING_KEYS[0], 'string');
        for (let i = 0; i < keys.length; i++) {
          await store.set(keys[i], i);
          keysById.set(keyId(keys[i]), i);
        }
        await store.set(STRING_KEYS[1], 'string');
        // Overwriting keeps an entry's place in creation order (SPEC §3); the value changes.
        for (const n of overwrites) {
          const i = n % keys.length;
          await store.set(keys[i], 1000 + i);
          keysById.set(keyId(keys[i]), 1000 + i);
        }
        await oracle.load(keys);
        tally.runs++;
        tally.keys += keys.length;
        for (const step of steps) await checkStep(store, oracle, keysById, step, tally);
      }),
      {
        seed: SEED,
        numRuns: RUNS,
        endOnFailure: process.env.FUZZ_NO_SHRINK === '1',
        // Shrinking over a slow backend can take long: report the smallest counterexample found in time.
        interruptAfterTimeLimit: SHRINK_BUDGET_MS,
        markInterruptAsFailure: true,
      },
    );
  } finally {
    if (WITHOUT.size > 0) console.log(`      FUZZ_WITHOUT=${[...WITHOUT].join(',')}: a triage run, not full coverage`);
    console.log(
      `      ${config.name}: ${tally.runs} data sets, ${tally.keys} keys, ${tally.queries} queries answered ` +
        `(${tally.matching} matching some keys), ${tally.rejected} rejected by both, ${tally.deletes} deletes, ` +
        `${tally.windows} sort/skip/limit reads, ${tally.invalidSorts} invalid sorts refused by both, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    for (const [name, n] of tally.known) console.log(`        known difference, ${n}x: ${name}`);
    await store.close();
    await collection.drop().catch(() => undefined);
  }
}
