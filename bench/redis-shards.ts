/**
 * bench/redis-shards (issue 12, item 3): the Redis store on one local 3-master Redis Cluster
 * with `shards: 1` (a namespace in one slot, on one master) against `shards: 3` and `shards: 6`
 * (the namespace spread over every master). The cluster is started here through the test
 * helpers (test/support/redis-server.ts: cluster-enabled redis-server processes on free ports
 * of 127.0.0.1, no persistence) and stopped by their PIDs at the end.
 *
 *   node -r ts-node/register/transpile-only bench/redis-shards.ts [kv] [query]     (or `npm run bench`)
 *
 * Fairness:
 * - Same cluster, same client options, same data: 10,000 string keys with 1 KB JSON values for
 *   getOne/set (one at a time, and 1,000 in flight); 20,000 object keys `{ id, kind, age, city }`
 *   (bench/common makeKeys) with 256-byte values for the queries. Each configuration has its
 *   own namespace, filled before it is measured; `set` overwrites.
 * - Contenders run round-robin (measureInterleaved); the median of ROUNDS runs is reported.
 * - What this measures is one client process: with every server on the same machine as the
 *   client, spreading a namespace over masters only pays where the server, not the client, is
 *   the bottleneck; the table shows what it costs or gains here, not on a real cluster.
 */
import { RedisStore } from '../lib/backends/redis';
import { startRedisCluster } from '../test/support/redis-server';
import { Result, byName, fill, makeKeys, makeStringKeys, makeValues, measureInterleaved, printEnvironment, printTable, reexecWithGc } from './common';

const N_KV = 10_000;
const N_QUERY = 20_000;
const ROUNDS = 3;
const CONCURRENCY = 1_000;
const SHARDS = [1, 3, 6];
const name = (shards: number) => `shards: ${shards}`;
const SUBJECT = name(1);

type Nodes = Array<{ host: string; port: number }>;

/** One store per shard count, each in its own namespace, cleared first. */
async function openStores(nodes: Nodes, what: string): Promise<RedisStore[]> {
  const stores = SHARDS.map((shards) => new RedisStore({ cluster: nodes, namespace: `bench-${what}-${shards}`, shards }));
  for (const store of stores) await store.clear();
  return stores;
}

async function closeStores(stores: RedisStore[]): Promise<void> {
  for (const store of stores) {
    await store.clear();
    await store.close();
  }
}

/** Each configuration's ops/s over shards: 1's, as a column of the summary. */
function summary(label: string, results: Result[]): string[] {
  return [label, ...SHARDS.map((shards) => `${Math.round(byName(results, name(shards)).opsPerSec).toLocaleString('en-US')} (${(byName(results, name(shards)).opsPerSec / byName(results, SUBJECT).opsPerSec).toFixed(2)}×)`)];
}

async function runKv(nodes: Nodes): Promise<string[][]> {
  const keys = makeStringKeys(N_KV);
  const values = makeValues(N_KV);
  const stores = await openStores(nodes, 'kv');
  const rows: string[][] = [];
  try {
    for (const store of stores) await fill(N_KV, 100, (i) => store.set(keys[i], values[i]));
    for (const store of stores) if (JSON.stringify(await store.getOne(keys[7])) !== JSON.stringify(values[7])) throw new Error('a store returned a wrong value');
    for (const [mode, concurrency, ops] of [
      ['one at a time', 1, 5_000],
      [`${CONCURRENCY} in flight`, CONCURRENCY, 50_000],
    ] as const) {
      const options = { ops, concurrency, warmup: Math.min(ops, 5_000), latencyOps: Math.min(ops, 10_000) };
      const get = await measureInterleaved(
        stores.map((store, s) => ({ name: name(SHARDS[s]), op: (i: number) => store.getOne(keys[i % N_KV]) })),
        options,
        ROUNDS,
      );
      printTable(`getOne, 1 KB JSON values, ${mode}, 3-master cluster`, get, SUBJECT);
      const set = await measureInterleaved(
        stores.map((store, s) => ({ name: name(SHARDS[s]), op: (i: number) => store.set(keys[i % N_KV], values[i % N_KV]) })),
        options,
        ROUNDS,
      );
      printTable(`set (overwrite), 1 KB JSON values, ${mode}, 3-master cluster`, set, SUBJECT);
      rows.push(summary(`getOne, ${mode}`, get), summary(`set, ${mode}`, set));
    }
  } finally {
    await closeStores(stores);
  }
  return rows;
}

async function runQuery(nodes: Nodes): Promise<string[][]> {
  const keys = makeKeys(N_QUERY);
  const values = makeValues(1_000, 256);
  const stores = await openStores(nodes, 'query');
  const rows: string[][] = [];
  try {
    for (const store of stores) await fill(N_QUERY, 500, (i) => store.set(keys[i], values[i % 1_000]));
    const expected = keys.filter((k) => k.age === 20).length;
    for (const store of stores) {
      const got = (await store.get({ age: 20 })) as unknown[];
      if (got.length !== expected) throw new Error(`query returned ${got.length}, expected ${expected}`);
    }
    const queries: Array<[string, (store: RedisStore) => Promise<unknown>, number]> = [
      [`get({ age: 20 }) (${expected} matches)`, (store) => store.get({ age: 20 }), 200],
      ['get({ age: { $gte: 20, $lt: 22 } })', (store) => store.get({ age: { $gte: 20, $lt: 22 } }), 200],
      ["get({ kind: 'person' }, { sort: { age: -1 }, limit: 20 })", (store) => store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 20 }), 50],
    ];
    for (const [label, query, ops] of queries) {
      const results = await measureInterleaved(
        stores.map((store, s) => ({ name: name(SHARDS[s]), op: () => query(store) })),
        { ops, warmup: Math.ceil(ops / 10), latencyOps: Math.ceil(ops / 2), concurrency: 1 },
        ROUNDS,
      );
      printTable(`${label} over ${N_QUERY.toLocaleString('en-US')} object keys, full values, 3-master cluster`, results, SUBJECT);
      rows.push(summary(label, results));
    }
  } finally {
    await closeStores(stores);
  }
  return rows;
}

async function main(): Promise<void> {
  reexecWithGc(__filename);
  const only = process.argv.slice(2);
  const want = (part: string) => only.length === 0 || only.includes(part);
  printEnvironment('bench/redis-shards');
  const cluster = await startRedisCluster(3);
  const rows: string[][] = [];
  try {
    console.log(`Redis Cluster of 3 masters on ${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(', ')} (no persistence), one client per store\n`);
    if (want('kv')) rows.push(...(await runKv(cluster.nodes)));
    if (want('query')) rows.push(...(await runQuery(cluster.nodes)));
  } finally {
    await cluster.stop();
  }
  console.log('### Summary: ops/s (÷ shards: 1)\n');
  console.log(`| operation | ${SHARDS.map(name).join(' | ')} |`);
  console.log(`|---|${SHARDS.map(() => '---:').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
