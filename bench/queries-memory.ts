/**
 * bench/queries-memory (issue #12 item 4, memory part): queries on the memory store's ordered
 * indexes and planner, against NeDB with an index on `age` and a plain sift scan, on 100,000
 * object keys `{ id, kind, age, city }` (bench/common.ts makeKeys, as bench/memory.ts).
 *
 *   node -r ts-node/register/transpile-only bench/queries-memory.ts [queries] [scaling] [rss] [label words...]
 *
 * (any other word picks the query cases whose label holds it, e.g. `queries page` or `queries city`).
 *
 * Fairness:
 * - Every contender returns the same entries (checked before timing: counts, and the sort
 *   query's ages); values are the same objects, copied by nobody but NeDB (which always does).
 * - sift scans a Map of { key, value } in insertion order and sorts its matches itself for the
 *   sort query (Array.prototype.sort, stable); NeDB uses its own cursor sort/skip/limit.
 * - The page walk reads the first 10 pages of 100 of `{ kind: 'person' }` by `age` ascending:
 *   memstorage-next with page() and its cursors, NeDB and sift with skip/limit per page.
 * - Scaling: p50 of a query returning 100 entries (an id range), and of a sort + limit 100,
 *   with the store at 10k, 100k and 1M entries (values: the entry's number).
 * - RSS: 1,000,000 object keys → small numbers, one child process each (peak RSS above the
 *   process's baseline after GC): all paths indexed, `indexes: ['age']`, and a Map from
 *   JSON.stringify(key). The table also gives V8's old space grown by the fill, committed and
 *   used: committed beyond used is space freed inside pages the collector keeps (fragmentation
 *   from objects promoted and freed later), which RSS counts as much as live objects.
 */
import { getHeapSpaceStatistics } from 'node:v8';
import Datastore from '@seald-io/nedb';
import sift from 'sift';
import { createStore } from '../index';
import type { BaseStore } from '../lib/store';
import {
  BenchKey,
  CITIES,
  Result,
  Target,
  byName,
  fmtNum,
  forceGc,
  makeKeys,
  makeValues,
  markdownTable,
  measure,
  measureInterleaved,
  peakRssMB,
  printEnvironment,
  printTable,
  printTargets,
  ratio,
  reexecWithGc,
  rssMB,
  runChild,
} from './common';

const N = 100_000;
const ROUNDS = 3;
const RSS_ENTRIES = 1_000_000;
const SCALES = [10_000, 100_000, 1_000_000];
const SUBJECT = 'memstorage-next';
const SIFT = 'sift full scan';
const NEDB = 'NeDB (index on age)';

type Query = Record<string, unknown>;

interface Case {
  label: string;
  /** Runs the case on one contender; returns what it found (for the equality check). */
  run: Record<string, () => Promise<unknown[]>>;
  /** Ops per measurement, per contender. */
  ops: Record<string, number>;
  /** Compares results by this projection (default: the count). */
  check?: (found: unknown[]) => string;
}

interface Row {
  id: number;
  kind: string;
  age: number;
  city: string;
  val: unknown;
}

async function contenders(keys: BenchKey[], values: unknown[]) {
  const store = createStore() as BaseStore;
  for (let i = 0; i < keys.length; i++) await store.set(keys[i], values[i]);
  const all = new Map<string, { key: BenchKey; value: unknown }>();
  for (let i = 0; i < keys.length; i++) all.set(JSON.stringify(keys[i]), { key: keys[i], value: values[i] });
  const db = new Datastore<Row>();
  await db.ensureIndexAsync({ fieldName: 'age' });
  await db.insertAsync(keys.map((k, i) => ({ ...k, val: values[i] })));
  const siftFind = (q: Query): Array<{ key: BenchKey; value: unknown }> => {
    const test = sift(q);
    const out: Array<{ key: BenchKey; value: unknown }> = [];
    for (const entry of all.values()) if (test(entry.key)) out.push(entry);
    return out;
  };
  return { store, db, siftFind };
}

function plainCase(label: string, q: Query, c: Awaited<ReturnType<typeof contenders>>): Case {
  return {
    label: `get(${label})`,
    run: {
      [SUBJECT]: () => c.store.get(q) as Promise<unknown[]>,
      [SIFT]: async () => c.siftFind(q).map((e) => e.value),
      [NEDB]: async () => (await c.db.findAsync(q)).map((doc) => doc.val),
    },
    ops: { [SUBJECT]: 1_000, [SIFT]: 20, [NEDB]: 50 },
  };
}

function cases(c: Awaited<ReturnType<typeof contenders>>, keys: BenchKey[]): Case[] {
  const [c1, c2] = CITIES;
  // A value's id is its entry's number (NeDB hands out copies): compare sorted output by the keys' ages.
  const ages = (found: unknown[]) => found.map((v) => keys[(v as { id: number }).id].age).join(',');
  const sortQuery = { kind: 'person' };
  const pageSize = 100;
  const pages = 10;
  return [
    plainCase("{ age: { $gte: 20, $lt: 25 }, kind: 'person' }", { age: { $gte: 20, $lt: 25 }, kind: 'person' }, c),
    plainCase('{ age: { $gt: 80 } }', { age: { $gt: 80 } }, c),
    plainCase(`{ city: { $in: ['${c1}', '${c2}'] }, age: { $lte: 10 } }`, { city: { $in: [c1, c2] }, age: { $lte: 10 } }, c),
    {
      label: "get({ kind: 'person' }, { sort: { age: -1 }, limit: 20 })",
      run: {
        [SUBJECT]: () => c.store.get(sortQuery, { sort: { age: -1 }, limit: 20 }) as Promise<unknown[]>,
        [SIFT]: async () =>
          c
            .siftFind(sortQuery)
            .sort((a, b) => b.key.age - a.key.age)
            .slice(0, 20)
            .map((e) => e.value),
        [NEDB]: async () => (await c.db.findAsync(sortQuery).sort({ age: -1 }).limit(20)).map((doc) => doc.val),
      },
      ops: { [SUBJECT]: 2_000, [SIFT]: 20, [NEDB]: 20 },
      check: ages,
    },
    {
      label: `page() walk: ${pages} pages of ${pageSize}, { kind: 'person' } by age`,
      run: {
        [SUBJECT]: async () => {
          const out: unknown[] = [];
          let cursor: string | undefined;
          for (let p = 0; p < pages; p++) {
            const page = await c.store.page(sortQuery, cursor === undefined ? { sort: { age: 1 }, limit: pageSize } : { sort: { age: 1 }, limit: pageSize, cursor });
            out.push(...page.items);
            if (page.cursor === null) break;
            cursor = page.cursor;
          }
          return out;
        },
        [SIFT]: async () => {
          const out: unknown[] = [];
          for (let p = 0; p < pages; p++) {
            const sorted = c.siftFind(sortQuery).sort((a, b) => a.key.age - b.key.age);
            out.push(...sorted.slice(p * pageSize, (p + 1) * pageSize).map((e) => e.value));
          }
          return out;
        },
        [NEDB]: async () => {
          const out: unknown[] = [];
          for (let p = 0; p < pages; p++) {
            const docs = await c.db
              .findAsync(sortQuery)
              .sort({ age: 1 })
              .skip(p * pageSize)
              .limit(pageSize);
            out.push(...docs.map((doc) => doc.val));
          }
          return out;
        },
      },
      ops: { [SUBJECT]: 100, [SIFT]: 3, [NEDB]: 3 },
      check: ages,
    },
  ];
}

async function runCases(keys: BenchKey[], values: unknown[], words: string[]): Promise<Array<{ label: string; results: Result[] }>> {
  const c = await contenders(keys, values);
  const out: Array<{ label: string; results: Result[] }> = [];
  for (const kase of cases(c, keys)) {
    if (words.length > 0 && !words.some((word) => kase.label.includes(word))) continue;
    const check = kase.check ?? ((found: unknown[]) => String(found.length));
    let expected: string | undefined;
    let count = 0;
    for (const [name, run] of Object.entries(kase.run)) {
      const found = await run();
      const seen = check(found);
      if (expected === undefined) {
        expected = seen;
        count = found.length;
      } else if (seen !== expected) throw new Error(`${kase.label}: ${name} disagrees with ${SUBJECT}`);
    }
    const results = await measureInterleaved(
      Object.entries(kase.run).map(([name, run]) => ({
        name,
        op: run,
        options: { ops: kase.ops[name], warmup: Math.ceil(kase.ops[name] / 10), latencyOps: kase.ops[name] },
      })),
      {},
      ROUNDS,
    );
    printTable(`${kase.label} over ${N.toLocaleString('en-US')} object keys (${count} results)`, results, SUBJECT);
    out.push({ label: kase.label, results });
  }
  await c.store.close();
  return out;
}

// ---- scaling ------------------------------------------------------------------------------

async function runScaling(): Promise<Target[]> {
  const rows: string[][] = [];
  const p50s: Record<string, number[]> = { range: [], sort: [] };
  for (const n of SCALES) {
    const keys = makeKeys(n);
    const store = createStore() as BaseStore;
    for (let i = 0; i < n; i++) await store.set(keys[i], i);
    const from = Math.floor(n / 2);
    const rangeQ = { id: { $gte: from, $lt: from + 100 } };
    const found = (await store.get(rangeQ)) as unknown[];
    if (found.length !== 100) throw new Error(`scaling: the range found ${found.length}`);
    forceGc();
    const range = await measure('range', () => store.get(rangeQ), { ops: 5_000, warmup: 500, latencyOps: 5_000 });
    const sort = await measure('sort', () => store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 100 }), {
      ops: 2_000,
      warmup: 200,
      latencyOps: 2_000,
    });
    p50s.range.push(range.p50);
    p50s.sort.push(sort.p50);
    rows.push([n.toLocaleString('en-US'), fmtNum(range.p50), fmtNum(sort.p50)]);
    await store.close();
    forceGc();
  }
  console.log(
    '### Scaling: p50 µs of a query returning 100 entries\n\n' +
      markdownTable(['entries', '{ id: { $gte: n/2, $lt: n/2 + 100 } }', "{ kind: 'person' }, sort { age: -1 }, limit 100"], rows) +
      '\n',
  );
  const last = SCALES.length - 1;
  return [
    { label: 'scaling, id range (100 results): p50 at 1M ÷ p50 at 10k', actual: p50s.range[last] / p50s.range[0], max: 2 },
    { label: 'scaling, sort + limit 100: p50 at 1M ÷ p50 at 10k', actual: p50s.sort[last] / p50s.sort[0], max: 2 },
  ];
}

// ---- RSS ----------------------------------------------------------------------------------

interface RssReport {
  name: string;
  baseMB: number;
  peakMB: number;
  afterGcMB: number;
  /** V8's old space after the fill and GC, MB: committed, and used by live objects (the rest is free space the collector keeps). */
  oldSpaceMB: number;
  oldUsedMB: number;
}

/** V8's old space now, MB: [committed, used]. */
function oldSpace(): [number, number] {
  const old = getHeapSpaceStatistics().find((space) => space.space_name === 'old_space');
  return old === undefined ? [0, 0] : [old.space_size / (1024 * 1024), old.space_used_size / (1024 * 1024)];
}

const RSS_CONTENDERS: Record<string, { name: string; fill: (keys: BenchKey[]) => Promise<unknown> }> = {
  map: {
    name: 'Map from JSON.stringify(key)',
    fill: async (keys) => {
      const map = new Map<string, number>();
      for (let i = 0; i < keys.length; i++) map.set(JSON.stringify(keys[i]), i);
      return map;
    },
  },
  all: {
    name: `${SUBJECT}, every path indexed`,
    fill: async (keys) => {
      const store = createStore() as BaseStore;
      for (let i = 0; i < keys.length; i++) await store.set(keys[i], i);
      return store;
    },
  },
  age: {
    name: `${SUBJECT}, indexes: ['age']`,
    fill: async (keys) => {
      const store = createStore({ type: 'memory', settings: { indexes: ['age'] } }) as BaseStore;
      for (let i = 0; i < keys.length; i++) await store.set(keys[i], i);
      return store;
    },
  },
};

async function rssChild(which: string): Promise<void> {
  const contender = RSS_CONTENDERS[which];
  if (!contender) throw new Error(`unknown RSS contender ${which}`);
  const keys = makeKeys(RSS_ENTRIES);
  forceGc();
  const baseMB = rssMB();
  const [baseOld, baseOldUsed] = oldSpace();
  const held = await contender.fill(keys);
  forceGc();
  const afterGcMB = rssMB();
  const peakMB = peakRssMB();
  const [old, oldUsed] = oldSpace();
  if (!held) throw new Error('nothing held');
  console.log(JSON.stringify({ name: contender.name, baseMB, peakMB, afterGcMB, oldSpaceMB: old - baseOld, oldUsedMB: oldUsed - baseOldUsed } satisfies RssReport));
}

function runRss(): Target[] {
  const reports = Object.keys(RSS_CONTENDERS).map((which) => runChild<RssReport>(__filename, ['--rss-child', which]));
  const [map, all, age] = reports;
  const grow = (r: RssReport) => r.afterGcMB - r.baseMB;
  const rows = reports.map((r) => [
    r.name,
    fmtNum(r.peakMB - r.baseMB),
    fmtNum(grow(r)),
    (grow(r) / grow(map)).toFixed(2) + '×',
    `${fmtNum(r.oldSpaceMB)} / ${fmtNum(r.oldUsedMB)}`,
  ]);
  console.log(
    `### RSS, ${RSS_ENTRIES.toLocaleString('en-US')} object keys → small numbers (keys built before the baseline), one child process each\n\n` +
      markdownTable(['contender', 'peak − baseline MB', 'retained after GC MB', 'retained ÷ Map', 'old space grown: committed / used MB'], rows) +
      '\n',
  );
  return [
    { label: 'RSS retained, 1M object keys, every path indexed: vs Map', actual: grow(all) / grow(map), max: 2.0 },
    { label: "RSS retained, 1M object keys, indexes: ['age']: vs Map", actual: grow(age) / grow(map), max: 1.4 },
  ];
}

// ---- main ---------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.argv[2] === '--rss-child') return rssChild(process.argv[3]);
  reexecWithGc(__filename);
  const parts = ['queries', 'scaling', 'rss'];
  const only = process.argv.slice(2).filter((arg) => parts.includes(arg));
  const words = process.argv.slice(2).filter((arg) => !parts.includes(arg));
  const want = (part: string) => only.length === 0 || only.includes(part);
  printEnvironment('bench/queries-memory');
  const targets: Target[] = [];
  if (want('queries')) {
    const tables = await runCases(makeKeys(N), makeValues(N), words);
    for (const { label, results } of tables) {
      const next = byName(results, SUBJECT);
      targets.push(
        { label: `${label}: vs ${NEDB}`, actual: ratio(next, byName(results, NEDB)), min: 10 },
        { label: `${label}: vs ${SIFT}`, actual: ratio(next, byName(results, SIFT)), min: 1 },
      );
    }
  }
  if (want('scaling')) targets.push(...(await runScaling()));
  if (want('rss')) targets.push(...runRss());
  const failed = printTargets(targets);
  console.log(failed === 0 ? 'bench/queries-memory: every target met' : `bench/queries-memory: ${failed} target(s) missed`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
