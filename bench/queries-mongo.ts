/**
 * bench/queries-mongo (issue #12 item 4, MongoDB part): queries, a sort + limit and a page walk
 * on the MongoDB store against the raw driver's `find` with the same filter, sort, limit and
 * indexes, on 100,000 object keys `{ id, kind, age, city }` (bench/common.ts makeKeys, as
 * bench/memory.ts and bench/queries-memory.ts), against one server this script starts on a
 * free port (test/support/mongo-server.ts) and stops at the end.
 *
 *   node -r ts-node/register/transpile-only bench/queries-mongo.ts
 *
 * Fairness:
 * - Same keys and values (1 KB JSON, bench/common makeValues, 1,000 distinct ones reused), each
 *   contender in its own database on the same server; both return the full values.
 * - Raw driver documents `{ _id: JSON key, key, value }` (as bench/mongo.ts), the value a BSON
 *   sub-document; indexes `key.age`, `key.city` and `{ key.kind: 1, key.age: -1 }` — the same
 *   as the store's `indexes: ['age', 'city', { kind: 1, age: -1 }]` (which also carry the
 *   namespace first and the creation position last).
 * - The sort query: raw `find({ 'key.kind': 'person' }).sort({ 'key.age': -1 }).limit(20)`
 *   (its ties come in index order; the store's in creation order, as SPEC §14 requires).
 * - The page walk: the first 10 pages of 100 of `{ kind: 'person' }` by age ascending; the store
 *   with page() and its cursors (native keyset paging, lib/backends/mongo/paged.ts), the raw
 *   driver with keyset paging: `$or: [{ age > last }, { age = last, _id > last }]`, sort
 *   `{ key.age: 1, _id: 1 }`, limit 100 per page.
 * - Results are checked before timing: the same counts, and the same ages in the same order
 *   for the sorted ones. Contenders are interleaved (measureInterleaved), medians of ROUNDS.
 * - Not the same work, said openly: the raw `find`s of the three plain queries are unsorted
 *   (index order), while the store answers in creation order (SPEC §14), which costs it a sort
 *   of the matches on the server (lib/backends/mongo/creation-order.ts); the raw driver's value
 *   is a BSON sub-document, the store's a JSON string it parses. The raw contender is left as a
 *   user of the driver would write it, so the ratio includes the price of the ordering contract.
 * - CPU per call: on 2 shared cores the wall ratio of a few rounds swings (the sort + limit
 *   query read 0.58-0.90x over runs), so each case also prints the client's CPU
 *   (process.cpuUsage) and the server's (every thread of the mongod process, from /proc's
 *   schedstat) per call, medians of CPU_ROUNDS interleaved blocks: what each contender costs
 *   whatever else runs on the machine (Linux only; elsewhere that pass is skipped).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Collection, Document, MongoClient } from 'mongodb';
import { MongoStore } from '../lib/backends/mongo';
import { startMongo } from '../test/support/mongo-server';
import { CITIES, Result, Target, byName, fill, makeKeys, makeValues, markdownTable, measureInterleaved, printEnvironment, printTable, printTargets, ratio, reexecWithGc } from './common';

const N = 100_000;
const ROUNDS = 3;
const SUBJECT = 'memstorage-next';
const RAW = 'raw mongodb driver';
const PAGE_SIZE = 100;
const PAGES = 10;
/** Interleaved blocks of the CPU-per-call pass (each contender `ops` calls a block). */
const CPU_ROUNDS = 5;

interface RawDoc {
  _id: string;
  key: Record<string, unknown>;
  value: unknown;
}

interface Case {
  label: string;
  /** Each contender's run, returning the ages it found in order (for the check) and the count. */
  subject: () => Promise<unknown[]>;
  raw: () => Promise<unknown[]>;
  /** The ages each found, in order: equal for both (checked before timing). */
  subjectAges: () => Promise<number[]>;
  rawAges: () => Promise<number[]>;
  ops: number;
  sorted: boolean;
}

/** A filter over the raw documents: every path under `key.`. */
function rawFilter(query: Record<string, unknown>): Document {
  const out: Document = {};
  for (const [path, cond] of Object.entries(query)) out['key.' + path] = cond;
  return out;
}

function cases(store: MongoStore, col: Collection<RawDoc>): Case[] {
  const [c1, c2] = CITIES;
  const plain = (label: string, q: Record<string, unknown>, ops: number): Case => ({
    label: `get(${label})`,
    subject: () => store.get(q) as Promise<unknown[]>,
    raw: () => col.find(rawFilter(q)).toArray(),
    subjectAges: async () => ((await store.keys(q)) as Array<{ age: number }>).map((k) => k.age).sort((a, b) => a - b),
    rawAges: async () => (await col.find(rawFilter(q)).toArray()).map((d) => d.key.age as number).sort((a, b) => a - b),
    ops,
    sorted: false,
  });
  const person = { kind: 'person' };
  const walkStore = async (keysOnly: boolean) => {
    const out: unknown[] = [];
    let cursor: string | undefined;
    for (let p = 0; p < PAGES; p++) {
      const options = { sort: { age: 1 as const }, limit: PAGE_SIZE, includeKey: keysOnly, ...(cursor === undefined ? {} : { cursor }) };
      const page = await store.page(person, options);
      out.push(...page.items);
      if (page.cursor === null) break;
      cursor = page.cursor;
    }
    return out;
  };
  // Raw keyset paging, as a user of the driver writes it: after the last document's (age, _id).
  const walkRaw = async () => {
    const out: RawDoc[] = [];
    let last: RawDoc | undefined;
    for (let p = 0; p < PAGES; p++) {
      const after = last === undefined ? {} : { $or: [{ 'key.age': { $gt: last.key.age } }, { 'key.age': last.key.age, _id: { $gt: last._id } }] };
      const find = (hint?: Document) => col.find({ 'key.kind': 'person', ...after }, hint ? { hint } : {}).sort({ 'key.age': 1, _id: 1 }).limit(PAGE_SIZE).toArray();
      // The test engine (mongod 9.0.0-alpha0) refuses this plan over the key.kind/key.age index
      // (code 224, "the slot-based execution engine is not part of this build"): a natural scan then, as the store falls back.
      const docs = await find().catch((err: { code?: unknown }) => (err.code === 224 ? find({ $natural: 1 }) : Promise.reject(err)));
      out.push(...docs);
      if (docs.length < PAGE_SIZE) break;
      last = docs[docs.length - 1];
    }
    return out;
  };
  return [
    plain("{ age: { $gte: 20, $lt: 25 }, kind: 'person' }", { age: { $gte: 20, $lt: 25 }, kind: 'person' }, 20),
    plain('{ age: { $gt: 80 } }', { age: { $gt: 80 } }, 4),
    plain(`{ city: { $in: ['${c1}', '${c2}'] }, age: { $lte: 10 } }`, { city: { $in: [c1, c2] }, age: { $lte: 10 } }, 20),
    {
      label: "get({ kind: 'person' }, { sort: { age: -1 }, limit: 20 })",
      subject: () => store.get(person, { sort: { age: -1 }, limit: 20 }) as Promise<unknown[]>,
      raw: () => col.find({ 'key.kind': 'person' }).sort({ 'key.age': -1 }).limit(20).toArray(),
      subjectAges: async () => ((await store.keys(person, { sort: { age: -1 }, limit: 20 })) as Array<{ age: number }>).map((k) => k.age),
      rawAges: async () => (await col.find({ 'key.kind': 'person' }).sort({ 'key.age': -1 }).limit(20).toArray()).map((d) => d.key.age as number),
      // 1,000 calls a pass for both, not 200: each pass follows a forced GC, and what a pass
      // costs once (the first calls after it) weighed on the store's 200-call passes more than
      // on the raw driver's — by client CPU (BENCH_CLOCK=cpu), raw/store read 0.79-0.94x at 200
      // calls a pass and 0.93-1.02x at 1,000, with or without --no-flush-bytecode (load 8-14).
      ops: 1_000,
      sorted: true,
    },
    {
      label: `page() walk: ${PAGES} pages of ${PAGE_SIZE}, { kind: 'person' } by age`,
      subject: () => walkStore(false),
      raw: walkRaw,
      subjectAges: async () => ((await walkStore(true)) as Array<{ key: { age: number } }>).map((e) => e.key.age),
      rawAges: async () => (await walkRaw()).map((d) => d.key.age as number),
      ops: 3,
      sorted: true,
    },
  ];
}

/** CPU time (ms) the process `pid` has run so far, all its threads, or undefined where /proc is missing. */
function processCpuMs(pid: number): number | undefined {
  const dir = `/proc/${pid}/task`;
  if (!fs.existsSync(dir)) return undefined;
  let ns = 0;
  for (const task of fs.readdirSync(dir)) {
    try {
      ns += Number(fs.readFileSync(`${dir}/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return ns / 1e6;
}

/** Client and server CPU per call of each contender (see the file comment), printed as a table. */
async function cpuPerCall(kase: Case, serverPid: number | undefined): Promise<void> {
  if (serverPid === undefined || processCpuMs(serverPid) === undefined) return;
  const contenders: Array<[string, () => Promise<unknown>]> = [
    [SUBJECT, kase.subject],
    [RAW, kase.raw],
  ];
  const samples = new Map<string, Array<{ client: number; server: number }>>();
  for (let round = 0; round < CPU_ROUNDS; round++) {
    for (const [name, op] of contenders) {
      const client0 = process.cpuUsage();
      const server0 = processCpuMs(serverPid)!;
      for (let i = 0; i < kase.ops; i++) await op();
      const client = process.cpuUsage(client0);
      const list = samples.get(name) ?? [];
      list.push({ client: (client.user + client.system) / 1000 / kase.ops, server: (processCpuMs(serverPid)! - server0) / kase.ops });
      samples.set(name, list);
    }
  }
  const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rows = contenders.map(([name]) => {
    const list = samples.get(name)!;
    return { name, client: median(list.map((x) => x.client)), server: median(list.map((x) => x.server)), both: median(list.map((x) => x.client + x.server)) };
  });
  const [store, raw] = rows;
  console.log(`CPU per call, medians of ${CPU_ROUNDS} interleaved blocks of ${kase.ops} (load ${os.loadavg()[0].toFixed(1)}):\n`);
  console.log(markdownTable(
    ['contender', 'client CPU ms', 'server CPU ms', 'client + server ms', 'raw ÷ this'],
    rows.map((r) => [r.name, r.client.toFixed(3), r.server.toFixed(3), r.both.toFixed(3), (raw.both / r.both).toFixed(2) + '×']),
  ));
  const signed = (ms: number) => (ms >= 0 ? '+' : '') + ms.toFixed(3);
  console.log(`\n${SUBJECT} against ${RAW}, a call: ${signed(store.client - raw.client)} ms of client CPU, ${signed(store.server - raw.server)} ms of server CPU\n`);
}

async function main(): Promise<void> {
  reexecWithGc(__filename);
  printEnvironment('bench/queries-mongo');
  const server = await startMongo();
  const keys = makeKeys(N);
  const values = makeValues(1_000);
  const store = new MongoStore({ url: server.url, db: 'bench_queries_store', indexes: ['age', 'city', { kind: 1, age: -1 }] });
  const client = new MongoClient(server.url);
  const targets: Target[] = [];
  try {
    await client.connect();
    const raw = client.db('bench_queries_raw').collection<RawDoc>('kv');
    await store.clear();
    await raw.deleteMany({});
    await raw.createIndexes([{ key: { 'key.age': 1 } }, { key: { 'key.city': 1 } }, { key: { 'key.kind': 1, 'key.age': -1 } }]);
    await fill(N, 200, (i) => store.set(keys[i], values[i % 1_000]));
    for (let i = 0; i < N; i += 1_000) {
      await raw.insertMany(keys.slice(i, i + 1_000).map((key, j) => ({ _id: JSON.stringify(key), key, value: values[(i + j) % 1_000] })));
    }
    console.log(`MongoDB on ${server.url}; ${N.toLocaleString('en-US')} object keys in each database\n`);
    for (const kase of cases(store, raw)) {
      const [a, b] = [await kase.subjectAges(), await kase.rawAges()];
      if (a.join() !== b.join()) throw new Error(`${kase.label}: the store and the raw driver disagree`);
      const [x, y] = [await kase.subject(), await kase.raw()];
      if (x.length !== y.length || x.length !== a.length) throw new Error(`${kase.label}: ${x.length} vs ${y.length} results`);
      const options = { ops: kase.ops, warmup: Math.ceil(kase.ops / 10), latencyOps: kase.ops };
      const results: Result[] = await measureInterleaved(
        [
          { name: SUBJECT, op: kase.subject },
          { name: RAW, op: kase.raw },
        ],
        options,
        ROUNDS,
      );
      printTable(`${kase.label} (${x.length} results, full values)`, results, SUBJECT);
      await cpuPerCall(kase, server.pid());
      targets.push({ label: `${kase.label}: vs ${RAW}`, actual: ratio(byName(results, SUBJECT), byName(results, RAW)), min: 0.9 });
    }
  } finally {
    await store.close();
    await client.close();
    await server.dispose();
  }
  const failed = printTargets(targets);
  console.log(failed === 0 ? 'bench/queries-mongo: every target met' : `bench/queries-mongo: ${failed} target(s) missed`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
