/**
 * bench/mongo (issue 4, item 8): the MongoDB store against the raw mongodb driver and Keyv +
 * @keyv/mongo, in one process, against one server this script starts on a free port (through
 * test/support/mongo-server.ts: MONGOMS_SYSTEM_BINARY, .mongod-binary or ../shared/mongod-kit)
 * and stops at the end.
 *
 *   node -r ts-node/register/transpile-only bench/mongo.ts [kv] [query]     (or `npm run bench`)
 *
 * Fairness:
 * - Same data for everyone: 1 KB JSON values (bench/common makeValues), string keys `user:<i>`;
 *   sets write each key another value than it holds (an unchanged rewrite is a no-op the server skips).
 * - Raw driver: `findOne({ _id })` and `replaceOne({ _id }, { value }, { upsert: true })` —
 *   the least a key-value layer on MongoDB can do; the value is stored as a BSON sub-document.
 * - Keyv + @keyv/mongo: used as its README shows (`new Keyv({ store: new KeyvMongo(url) })`).
 * - Every contender has its own database and client on the same server and is filled with
 *   every key before it is measured; `set` then overwrites existing keys. Contenders are run
 *   round-robin (measureInterleaved), the median of ROUNDS runs is reported.
 * - The query: 100,000 object keys `{ id, kind, age, city }` (ages 0–99, so ~1,000 matches),
 *   `get({ age: 20 })` on a store with `indexes: ['age']` against the raw driver's
 *   `find({ 'key.age': 20 }).toArray()` over `{ _id, key, value }` documents with an index on
 *   `key.age`. Both return the full values.
 * - ops/s is wall-clock throughput (bench/common; BENCH_CLOCK=cpu counts this process's CPU
 *   instead, which leaves out the server's share of every op — the larger share here).
 */
import Keyv from 'keyv';
import KeyvMongo from '@keyv/mongo';
import { MongoClient } from 'mongodb';
import { MongoStore } from '../lib/backends/mongo';
import { mongodBinary, startMongo } from '../test/support/mongo-server';
import {
  Target,
  makeKeys,
  makeStringKeys,
  makeValues,
  measureGetSet,
  measureInterleaved,
  printEnvironment,
  printTable,
  printTargets,
  ratio,
  byName,
  fill,
  reexecWithGc,
} from './common';

const N_KV = 10_000;
const N_QUERY = 100_000;
/** Interleaved rounds per measurement, the median reported: round trips here vary a lot with machine load. */
const ROUNDS = 5;
const CONCURRENCY = 1_000;
const SUBJECT = 'memstorage-next';
const RAW = 'raw mongodb driver';
const KEYV = 'Keyv + @keyv/mongo';

/** The raw driver's documents: the key as `_id` (and as `key` for the query), the value as a sub-document. */
interface KvDoc {
  _id: string;
  key?: unknown;
  value: unknown;
}



async function runKv(url: string): Promise<Target[]> {
  const keys = makeStringKeys(N_KV);
  const values = makeValues(N_KV);

  const store = new MongoStore({ url, db: 'bench_store' });
  const rawClient = new MongoClient(url);
  await rawClient.connect();
  const raw = rawClient.db('bench_raw').collection<KvDoc>('kv');
  await raw.deleteMany({});
  const keyvMongo = new KeyvMongo(url, { db: 'bench_keyv', collection: 'kv' });
  const keyv = new Keyv({ store: keyvMongo });
  keyv.on('error', (err) => {
    throw err;
  });

  try {
    await store.clear();
    await keyv.clear();
    await fill(N_KV, 100, (i) => store.set(keys[i], values[i]));
    await fill(N_KV, 100, (i) => raw.replaceOne({ _id: keys[i] }, { value: values[i] }, { upsert: true }));
    await fill(N_KV, 100, (i) => keyv.set(keys[i], values[i]));

    const check = await store.getOne(keys[7]);
    if (JSON.stringify(check) !== JSON.stringify(values[7])) throw new Error('the store returned a wrong value');

    const targets: Target[] = [];
    for (const [mode, concurrency, ops] of [
      ['one at a time', 1, 3_000],
      [`${CONCURRENCY} in flight`, CONCURRENCY, 20_000],
    ] as const) {
      const options = { ops, concurrency, warmup: Math.min(ops, 1_000), latencyOps: Math.min(ops, 3_000) };
      // Each pass over the keys writes other values than the last (a key rewritten with the value
      // it holds is a no-op the server skips, which is not what a cache's writes are).
      const next = (i: number) => values[(i + Math.floor(i / N_KV) + 1) % N_KV];
      const { get, set } = await measureGetSet(
        mode,
        [
          { name: SUBJECT, get: (i) => store.getOne(keys[i % N_KV]), set: (i) => store.set(keys[i % N_KV], next(i)) },
          {
            name: RAW,
            get: (i) => raw.findOne({ _id: keys[i % N_KV] }),
            set: (i) => raw.replaceOne({ _id: keys[i % N_KV] }, { value: next(i) }, { upsert: true }),
          },
          { name: KEYV, get: (i) => keyv.get(keys[i % N_KV]), set: (i) => keyv.set(keys[i % N_KV], next(i)) },
        ],
        options,
        ROUNDS,
        SUBJECT,
      );
      targets.push(
        { label: `getOne, ${mode}: vs ${RAW}`, actual: ratio(byName(get, SUBJECT), byName(get, RAW)), min: 0.8 },
        { label: `getOne, ${mode}: vs ${KEYV}`, actual: ratio(byName(get, SUBJECT), byName(get, KEYV)), min: 1.5 },
        { label: `set, ${mode}: vs ${RAW}`, actual: ratio(byName(set, SUBJECT), byName(set, RAW)), min: 0.8 },
        { label: `set, ${mode}: vs ${KEYV}`, actual: ratio(byName(set, SUBJECT), byName(set, KEYV)), min: 1.5 },
      );
    }
    return targets;
  } finally {
    await store.close();
    await rawClient.close();
    await keyv.disconnect();
  }
}

async function runQuery(url: string): Promise<Target[]> {
  const keys = makeKeys(N_QUERY);
  const values = makeValues(1_000);
  const store = new MongoStore({ url, db: 'bench_query_store', indexes: ['age'] });
  const rawClient = new MongoClient(url);
  await rawClient.connect();
  const raw = rawClient.db('bench_query_raw').collection<KvDoc>('kv');
  try {
    await store.clear();
    await raw.deleteMany({});
    await raw.createIndex({ 'key.age': 1 });
    await fill(N_QUERY, 200, (i) => store.set(keys[i], values[i % 1_000]));
    const BATCH = 1_000;
    for (let i = 0; i < N_QUERY; i += BATCH) {
      await raw.insertMany(keys.slice(i, i + BATCH).map((key, j) => ({ _id: JSON.stringify(key), key, value: values[(i + j) % 1_000] })));
    }
    const expected = keys.filter((k) => k.age === 20).length;
    const got = (await store.get({ age: 20 })) as unknown[];
    const rawGot = await raw.find({ 'key.age': 20 }).toArray();
    if (got.length !== expected || rawGot.length !== expected) throw new Error(`query returned ${got.length}/${rawGot.length}, expected ${expected}`);

    const options = { ops: 200, concurrency: 1, warmup: 20, latencyOps: 100 };
    const results = await measureInterleaved(
      [
        { name: SUBJECT, op: () => store.get({ age: 20 }) },
        { name: RAW, op: () => raw.find({ 'key.age': 20 }).toArray() },
      ],
      options,
      ROUNDS,
    );
    printTable(`get({ age: 20 }) over ${N_QUERY.toLocaleString('en-US')} entries, indexed path (${expected} matches, full values)`, results, SUBJECT);
    return [{ label: `{ age: 20 } indexed: vs ${RAW} find`, actual: ratio(byName(results, SUBJECT), byName(results, RAW)), min: 0.8 }];
  } finally {
    await store.close();
    await rawClient.close();
  }
}

async function main(): Promise<void> {
  reexecWithGc(__filename);
  const only = process.argv.slice(2);
  const want = (part: string) => only.length === 0 || only.includes(part);
  printEnvironment('bench/mongo');
  const server = await startMongo();
  const targets: Target[] = [];
  try {
    console.log(`MongoDB engine: ${mongodBinary()} on ${server.url}\n`);
    if (want('kv')) targets.push(...(await runKv(server.url)));
    if (want('query')) targets.push(...(await runQuery(server.url)));
  } finally {
    await server.dispose();
  }
  const failed = printTargets(targets);
  console.log(failed === 0 ? 'bench/mongo: every target met' : `bench/mongo: ${failed} target(s) missed`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
