/**
 * Differential paging tests (issue #12, SPEC §14 `page()`): every store configuration
 * (test/support/store-configs.ts) walks every page of a random query with a random sort and
 * page size, twice per data set:
 *
 * - without writes: the pages put together must be MongoDB's
 *   `find(filter).sort({ ...sort, _id: 1 })`, where `_id` is the key's canonical id (the page
 *   order is the sort fields, then the key id: lib/core/page-cursor.ts);
 * - with random writes and deletes between pages (new keys, overwrites, deletes by query,
 *   mirrored in the oracle): no entry comes back twice, every entry returned matches the query
 *   at the time of its page (MongoDB says which do) with its value at that time, every entry
 *   that matched for the whole walk comes back, and the items of all pages together are in
 *   strictly increasing page order (lib/query-sort.ts sortKeysOf and page-cursor.ts
 *   comparePositions are the reference for the order only; which entries match is MongoDB's).
 *
 * Fixed seed in CI. FUZZ_RUNS=n data sets (default 25), FUZZ_SEED=s, FUZZ_NO_SHRINK=1,
 * FUZZ_TIME_LIMIT_MS as in differential-queries.test.ts. A failure prints the shrunk data set,
 * query, sort, page size and writes, and the first disagreement.
 */
import fc from 'fast-check';
import { MongoClient } from 'mongodb';
import { ManualClock } from '../../lib/clock';
import { comparePositions, type PagePosition } from '../../lib/core/page-cursor';
import { keyId, type KeyObject } from '../../lib/keys';
import { compileSort, sortKeysOf } from '../../lib/query-sort';
import type { BaseStore } from '../../lib/store';
import { sharedMongo } from '../support/mongo-server';
import { freshNamespace, prepare, selectedConfigs, type StoreConfig } from '../support/store-configs';
import { WITHOUT, keyArb, queryArb, sortArb } from './differential-arbitraries';
import { DATA_REFUSED_SORT, knownDifference } from './differential-known';
import { Oracle } from './differential-oracle';

const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const SHRINK_BUDGET_MS = Number(process.env.FUZZ_TIME_LIMIT_MS ?? 5 * 60_000);

/** A string key beside the object keys: no object query may page it. */
const STRING_KEY = 's:page';

/** Queries that match most keys, so that walks have many pages; and the full grammar. */
const WIDE_QUERIES: Array<Record<string, unknown>> = [
  { $or: [{ a: { $exists: true } }, { a: { $exists: false } }] },
  { $nor: [{ nothere: 1 }] },
  { a: { $exists: true } },
  { b: { $ne: 'zz' } },
  { $or: [{ a: { $gte: 0 } }, { b: { $type: 'string' } }, { tags: { $exists: true } }] },
];
const pageQueryArb = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...WIDE_QUERIES) }, { weight: 2, arbitrary: queryArb });

/** A write between two pages: a key set (new, or an overwrite), or a delete by a short query. */
type Write = { kind: 'set'; key: KeyObject } | { kind: 'del'; query: Record<string, unknown> };
const hot = fc.constantFrom<unknown>(0, 1, 'a', 'b', true, null);
const writeArb: fc.Arbitrary<Write> = fc.oneof(
  { weight: 3, arbitrary: keyArb.map((key): Write => ({ kind: 'set', key })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('a', 'b', 'tags', 'c'), hot).map(([path, v]): Write => ({ kind: 'del', query: { [path]: v } })) },
);

/** One walk: its query, sort and page size, and the writes to make after each page (cycled). */
interface Walk {
  query: Record<string, unknown>;
  sort: Record<string, 1 | -1>;
  size: number;
  writes: Write[][];
}
const walkArb: fc.Arbitrary<Walk> = fc.record({
  query: pageQueryArb,
  sort: sortArb,
  size: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 4, max: 12 }) }),
  writes: fc.array(fc.array(writeArb, { maxLength: 3 }), { minLength: 1, maxLength: 4 }),
});

const datasetArb = fc.uniqueArray(keyArb, { minLength: 5, maxLength: 30, selector: (key) => keyId(key) });

const show = (value: unknown) => fc.stringify(value);

class Disagreement extends Error {}

/** A returned key's canonical id, or a description of it when it is not a valid key. */
function idOf(key: unknown): string {
  try {
    return keyId(key);
  } catch {
    return `not a valid key: ${show(key)}`;
  }
}

interface Tally {
  runs: number;
  walks: number;
  pages: number;
  items: number;
  writes: number;
  rejected: number;
  parallel: number;
}

/** The state a run shares between the store and the oracle. */
interface World {
  store: BaseStore;
  oracle: Oracle;
  /** Live object keys: id → value. */
  values: Map<string, number>;
  nextSeq: number;
  nextValue: number;
}

type PageItem = { key: unknown; val: unknown };

async function nextPage(world: World, walk: Walk, cursor: string | undefined): Promise<{ items: PageItem[]; cursor: string | null }> {
  const options = { sort: walk.sort, limit: walk.size, includeKey: true as const, ...(cursor === undefined ? {} : { cursor }) };
  try {
    return (await world.store.page(walk.query, options)) as { items: PageItem[]; cursor: string | null };
  } catch (err) {
    throw new Disagreement(`page(${show(walk.query)}, ${show(options)}) failed: ${String((err as { code?: unknown }).code ?? '')} ${String(err)}`);
  }
}

/** Walks every page without writes and compares with MongoDB's order (sort, then _id). */
async function walkStill(world: World, walk: Walk, tally: Tally): Promise<void> {
  const expected = await world.oracle.findWindow(walk.query, { sort: walk.sort }, '_id');
  let refused = false;
  if ('rejected' in expected) {
    if (!DATA_REFUSED_SORT.explains(expected.rejected)) throw new Disagreement(`MongoDB rejects ${show(walk.query)} sorted ${show(walk.sort)}: ${expected.rejected}`);
    refused = true;
  }
  // Where MongoDB has no order, the store still walks every match once, in an order of its own.
  const matches = refused ? await world.oracle.find(walk.query) : expected;
  if ('rejected' in matches) throw new Disagreement(`MongoDB rejects ${show(walk.query)} unsorted: ${matches.rejected}`);
  const got: Array<[string, unknown]> = [];
  let cursor: string | undefined;
  for (let pages = 0; ; pages++) {
    if (pages > matches.ids.length + 1) throw new Disagreement(`page(${show(walk.query)}, size ${walk.size}, sort ${show(walk.sort)}) still gives a cursor after ${pages} pages`);
    const page = await nextPage(world, walk, cursor);
    if (page.items.length > walk.size) throw new Disagreement(`a page of ${page.items.length} items with limit ${walk.size}`);
    for (const item of page.items) got.push([idOf(item.key), item.val]);
    tally.pages++;
    if (page.cursor === null) break;
    cursor = page.cursor;
  }
  const want = matches.ids.map((id) => [id, world.values.get(id)]);
  if (refused) {
    tally.parallel++;
    const byId = (a: unknown[], b: unknown[]) => (String(a[0]) < String(b[0]) ? -1 : String(a[0]) > String(b[0]) ? 1 : 0);
    if (show([...got].sort(byId)) !== show([...want].sort(byId))) {
      throw new Disagreement(`pages of ${show(walk.query)}, sort ${show(walk.sort)} (MongoDB refuses this sort on the data), as sets:\n  MongoDB: ${show(want)}\n  store:   ${show(got)}`);
    }
  } else if (show(got) !== show(want)) {
    throw new Disagreement(`pages of ${show(walk.query)}, sort ${show(walk.sort)}, size ${walk.size}, put together:\n  MongoDB: ${show(want)}\n  store:   ${show(got)}`);
  }
  tally.items += got.length;
}

/** Applies one write to the store and the oracle; the ids it deleted. */
async function write(world: World, w: Write, deleted: Set<string>): Promise<void> {
  if (w.kind === 'set') {
    const id = keyId(w.key);
    const value = world.nextValue++;
    if (!world.values.has(id)) await world.oracle.insert(w.key, world.nextSeq++);
    world.values.set(id, value);
    await world.store.set(w.key, value);
    return;
  }
  const matched = await world.oracle.find(w.query);
  if ('rejected' in matched) throw new Error(`harness: the delete query ${show(w.query)} must be valid`);
  const count = await world.store.del(w.query);
  await world.oracle.del(w.query);
  if (count !== matched.ids.length) throw new Disagreement(`between pages, del(${show(w.query)}) deleted ${count}; MongoDB: ${matched.ids.length}`);
  for (const id of matched.ids) {
    world.values.delete(id);
    deleted.add(id);
  }
}

/** Walks every page with writes between pages and checks what keyset paging promises. */
async function walkWhileWriting(world: World, walk: Walk, tally: Tally): Promise<void> {
  const start = await world.oracle.find(walk.query);
  if ('rejected' in start) return; // walkStill has checked the store refuses it
  const spec = compileSort(walk.sort, 'harness');
  const deleted = new Set<string>();
  const seen = new Set<string>();
  let last: PagePosition | undefined;
  let cursor: string | undefined;
  const what = `page(${show(walk.query)}, { sort: ${show(walk.sort)}, limit: ${walk.size} })`;
  for (let pages = 0; ; pages++) {
    if (pages > 200) throw new Disagreement(`${what} still gives a cursor after ${pages} pages`);
    const now = await world.oracle.find(walk.query);
    const matching = new Set('ids' in now ? now.ids : []);
    const page = await nextPage(world, walk, cursor);
    if (page.items.length > walk.size) throw new Disagreement(`${what}: a page of ${page.items.length} items`);
    for (const item of page.items) {
      const id = idOf(item.key);
      const where = `${what}, page ${pages + 1}, item ${show(item)}`;
      if (seen.has(id)) throw new Disagreement(`${where}: returned twice`);
      seen.add(id);
      if (!matching.has(id)) throw new Disagreement(`${where}: MongoDB says no live key matches it now (matching: ${show([...matching])})`);
      if (item.val !== world.values.get(id)) throw new Disagreement(`${where}: its value now is ${world.values.get(id)}`);
      const position = { keys: sortKeysOf(item.key as KeyObject, spec), id };
      if (last !== undefined && comparePositions(last, position, spec) >= 0) throw new Disagreement(`${where}: not after the item before it, ${last.id}, in page order`);
      last = position;
    }
    tally.pages++;
    tally.items += page.items.length;
    if (page.cursor === null) break;
    cursor = page.cursor;
    for (const w of walk.writes[pages % walk.writes.length]) {
      await write(world, w, deleted);
      tally.writes++;
    }
  }
  const missing = start.ids.filter((id) => !deleted.has(id) && !seen.has(id));
  if (missing.length > 0) throw new Disagreement(`${what}: entries that matched for the whole walk never came back: ${show(missing)}`);
}

describe('differential paging: page() walks as MongoDB orders, and keyset paging holds under writes', function () {
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
    it(`${config.name}: random walks give MongoDB's sort-then-id order, and neither repeat nor miss an entry while others are written`, async () => {
      await runConfig(config, client!);
    });
  }
});

async function runConfig(config: StoreConfig, client: MongoClient): Promise<void> {
  const store = config.open({ clock: new ManualClock(1_700_000_000_000), namespace: freshNamespace('dp') });
  const collection = client.db('differential').collection(freshNamespace('pages'));
  const oracle = new Oracle(collection);
  const tally: Tally = { runs: 0, walks: 0, pages: 0, items: 0, writes: 0, rejected: 0, parallel: 0 };
  const started = Date.now();
  try {
    await fc.assert(
      fc.asyncProperty(datasetArb, walkArb, async (keys, walk) => {
        await store.clear();
        const world: World = { store, oracle, values: new Map(), nextSeq: keys.length, nextValue: keys.length };
        await store.set(STRING_KEY, 'string');
        for (let i = 0; i < keys.length; i++) {
          await store.set(keys[i], i);
          world.values.set(keyId(keys[i]), i);
        }
        await oracle.load(keys);
        tally.runs++;
        // A query only the engine takes (differential-known.ts): nothing to page; the query harness counts those.
        if (knownDifference(walk.query, 'store-rejects')) return;
        const valid = await oracle.find(walk.query);
        if ('rejected' in valid) {
          // A query the engine rejects: the store must refuse it too (the query harness checks which ones in detail).
          const code = await store.page(walk.query, { limit: walk.size }).then(
            () => 'accepted',
            (err: { code?: string }) => err.code,
          );
          if (code !== 'ERR_INVALID_QUERY') throw new Disagreement(`MongoDB rejects ${show(walk.query)} (${valid.rejected}); the store's page(): ${code}`);
          tally.rejected++;
          return;
        }
        await walkStill(world, walk, tally);
        await walkWhileWriting(world, walk, tally);
        tally.walks += 2;
      }),
      {
        seed: SEED,
        numRuns: RUNS,
        // Ids that differ at a character beyond the BMP against one just below it: UTF-16 order and code point order (MongoDB's)
        // disagree there. FUZZ_WITHOUT=astral-id-order leaves this example out of a triage run.
        examples: WITHOUT.has('astral-id-order') ? [] : [[[{ b: '\uffff' }, { b: '\u{1F600}' }, { b: 'a' }, { b: '\u{1F600}x' }, { b: '\ufffe' }], { query: WIDE_QUERIES[3], sort: {}, size: 2, writes: [[]] }]],
        endOnFailure: process.env.FUZZ_NO_SHRINK === '1',
        interruptAfterTimeLimit: SHRINK_BUDGET_MS,
        markInterruptAsFailure: true,
      },
    );
  } finally {
    if (WITHOUT.size > 0) console.log(`      FUZZ_WITHOUT=${[...WITHOUT].join(',')}: a triage run, not full coverage`);
    console.log(
      `      ${config.name}: ${tally.runs} data sets, ${tally.walks} walks, ${tally.pages} pages, ${tally.items} items, ${tally.writes} writes between pages, ` +
        `${tally.rejected} queries rejected by both, ${tally.parallel} sorts MongoDB refuses on the data (order not compared), ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    await store.close();
    await collection.drop().catch(() => undefined);
  }
}
