/**
 * bench/hit-path (issue #13 item 6): is the getOne hit path unchanged by the per-operation
 * events, watch and diagnostics_channel tracing when nobody listens or subscribes? An
 * in-process, interleaved A/B of getOne hits against the code of an earlier commit, on the
 * memory store and on a multi store [memory, redis] (one redis-server this script starts),
 * plus what one 'hit' listener, one watch and one tracing subscriber cost.
 *
 * The earlier tree is a git worktree with this one's node_modules linked in:
 *   git worktree add /tmp/old <rev> && ln -s "$PWD/node_modules" /tmp/old/node_modules
 *   node -r ts-node/register/transpile-only bench/hit-path.ts /tmp/old
 * (BENCH_OLD_TREE instead of the argument; without either, only this tree is measured.)
 * BENCH_AB_ONLY=1 measures only the old tree against this one (more rounds in the same time),
 * and adds the memory store's set (overwrites) old against new;
 * BENCH_OPS and BENCH_ROUNDS set the ops per run (300,000) and the rounds (7).
 * Both trees' stores run in this process, round-robin (bench/common.ts measureInterleaved), each
 * keeping its median round. 1,000 string keys, values of ~100 bytes, every read a hit.
 */
import * as dc from 'node:diagnostics_channel';
import * as path from 'node:path';
import { Contender, fmtNum, measureInterleaved, printEnvironment, printTable, ratio, reexecWithGc, Result } from './common';
import { startRedis } from '../test/support/redis-server';

reexecWithGc(__filename);

const N = 1_000;
const OPS = Number(process.env.BENCH_OPS ?? 300_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
/** The contender measured with a tracing subscriber attached. */
const TRACED_NAME = 'this tree, one tracing subscriber';

/** The two store classes of one tree. */
interface Tree {
  label: string;
  MemoryStore: new (settings?: object) => BenchStore;
  MultiStore: new (settings: object) => BenchStore;
}

interface BenchStore {
  set(key: string, value: unknown): Promise<void>;
  getOne(key: string): Promise<unknown>;
  connect(): Promise<void>;
  close(): Promise<void>;
  clear(): Promise<void>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  watch?(query: unknown, listener: (event: unknown) => void): () => void;
}

function loadTree(root: string, label: string): Tree {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const memory = require(path.join(root, 'lib/backends/memory')) as { MemoryStore: Tree['MemoryStore'] };
  const multi = require(path.join(root, 'lib/multi/multi-store')) as { MultiStore: Tree['MultiStore'] };
  /* eslint-enable @typescript-eslint/no-require-imports */
  return { label, MemoryStore: memory.MemoryStore, MultiStore: multi.MultiStore };
}

async function filled(store: BenchStore, keys: string[]): Promise<BenchStore> {
  await store.connect();
  for (let i = 0; i < keys.length; i++) await store.set(keys[i], { i, name: `value ${i}`, padding: 'x'.repeat(64) });
  for (const key of keys) if ((await store.getOne(key)) === undefined) throw new Error(`not a hit: ${key}`);
  return store;
}

async function main(): Promise<void> {
  printEnvironment('bench/hit-path: getOne hits, events/tracing off vs the earlier tree');
  const oldRoot = process.argv[2] ?? process.env.BENCH_OLD_TREE;
  const trees = [loadTree(path.join(__dirname, '..'), 'this tree')];
  if (oldRoot) trees.unshift(loadTree(path.resolve(oldRoot), `old (${path.basename(path.resolve(oldRoot))})`));
  const current = trees[trees.length - 1];
  const keys = Array.from({ length: N }, (_, i) => `user:${i}`);
  const server = await startRedis();
  const stores: BenchStore[] = [];
  const open = async (store: BenchStore) => {
    stores.push(store);
    return filled(store, keys);
  };
  try {
    let ns = 0;
    const multiOf = (tree: Tree) =>
      new tree.MultiStore({ namespace: `bench-hit-path-${process.pid}-${ns++}`, stores: [{ type: 'memory' }, { type: 'redis', settings: { url: server.url } }] });
    const hitOp = (store: BenchStore) => (i: number) => store.getOne(keys[i % N]);

    for (const kind of ['memory', 'multi [memory, redis]'] as const) {
      const make = (tree: Tree) => (kind === 'memory' ? new tree.MemoryStore() : multiOf(tree));
      const contenders: Contender[] = [];
      for (const tree of trees) contenders.push({ name: `${tree.label}`, op: hitOp(await open(make(tree))) });
      if (process.env.BENCH_AB_ONLY) {
        printTable(`getOne hit, ${kind}, awaited one at a time (old vs this tree only)`, await measureTracedSeparately(contenders, undefined, undefined), trees[0].label);
        if (kind === 'memory') {
          // The memory store's synchronous set path carries the same checks: overwrites of the same keys.
          const value = { name: 'overwrite', padding: 'y'.repeat(64) };
          const sets: Contender[] = [];
          for (const tree of trees) {
            const store = await open(make(tree));
            sets.push({ name: tree.label, op: (i: number) => store.set(keys[i % N], value) });
          }
          printTable('set (overwrite), memory, awaited one at a time (old vs this tree only)', await measureTracedSeparately(sets, undefined, undefined), trees[0].label);
        }
        continue;
      }
      // The costs of observing, on this tree's code: one 'hit' listener; one watch (no effect on
      // reads, but the store's backend is wrapped); one tracing subscriber on getOne.
      let hits = 0;
      const listened = await open(make(current));
      listened.on('hit', () => hits++);
      contenders.push({ name: "this tree, one 'hit' listener", op: hitOp(listened) });
      const watchedStore = await open(make(current));
      watchedStore.watch?.(undefined, () => undefined);
      contenders.push({ name: 'this tree, one watch', op: hitOp(watchedStore) });
      const traced = await open(make(current));
      const tracingChannel = dc.tracingChannel('memstorage-next:getOne');
      const subscriber = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
      // Subscribed only while the traced contender runs: a subscription is process-wide.
      contenders.push({ name: TRACED_NAME, op: hitOp(traced) });
      const results = await measureTracedSeparately(contenders, tracingChannel, subscriber);
      printTable(`getOne hit, ${kind}, awaited one at a time`, results, trees[0].label);
      if (oldRoot) {
        const base = results[0];
        for (const r of results.slice(1)) console.log(`  ${r.name}: ${fmtNum(r.opsPerSec)} ops/s = ${ratio(r, base).toFixed(3)}x old`);
      }
      if (hits === 0) throw new Error('the hit listener never ran');
      console.log('');
    }
  } finally {
    for (const store of stores) {
      await store.clear().catch(() => undefined);
      await store.close();
    }
    await server.stop();
  }
}

/**
 * measureInterleaved, with the tracing subscriber attached only around the traced contender's
 * runs (a subscription is process-wide: it would make every store on this tree trace).
 */
async function measureTracedSeparately(
  contenders: Contender[],
  channel: ReturnType<typeof dc.tracingChannel> | undefined,
  subscriber: Parameters<ReturnType<typeof dc.tracingChannel>['subscribe']>[0] | undefined,
): Promise<Result[]> {
  const runs: Result[][] = contenders.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let c = 0; c < contenders.length; c++) {
      const isTraced = contenders[c].name === TRACED_NAME;
      if (isTraced && channel && subscriber) channel.subscribe(subscriber);
      try {
        const [result] = await measureInterleaved([contenders[c]], { ops: OPS, warmup: round === 0 ? 50_000 : 10_000 }, 1);
        runs[c].push(result);
      } finally {
        if (isTraced && channel && subscriber) channel.unsubscribe(subscriber);
      }
    }
  }
  return runs.map((rs) => [...rs].sort((a, b) => a.opsPerSec - b.opsPerSec)[Math.floor(rs.length / 2)]);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
