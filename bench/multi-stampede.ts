/**
 * bench/multi's cross-process stampede (issue #13 item 11): 4 real child processes
 * (bench/multi-stampede-child.ts) each run 250 concurrent getOrSet calls of the same cold key
 * at the same moment; each compute counts itself in Redis and takes 50 ms. Per contender,
 * ROUNDS cold keys; reported: computes per key (the target for memstorage-next with
 * `lock: 'cluster'` is exactly 1), and the time until every caller of every process had its value.
 *
 * Run alone: node -r ts-node/register/transpile-only bench/multi-stampede.ts [rounds]
 */
import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import Redis from 'ioredis';
import { startRedis } from '../test/support/redis-server';
import { CALLERS, COMPUTE_MS, StampedeKind } from './multi-stampede-child';
import { markdownTable } from './common';

/** Processes per contender. */
export const PROCESSES = 4;

/** One contender's figures. */
export interface StampedeResult {
  kind: StampedeKind;
  rounds: number;
  /** Computes of each round's key. */
  computes: number[];
  /** Per round: ms from 'go' until every process's callers had their values (parent's clock). */
  roundMs: number[];
  errors: number;
  firstError?: string;
}

interface Child {
  process: ChildProcess;
  next(): Promise<{ done?: string; ms?: number; errors?: number; firstError?: string; ready?: boolean }>;
}

function startChild(kind: StampedeKind, url: string): Child {
  const child = fork(path.resolve(__dirname, 'multi-stampede-child.ts'), [kind, url], {
    execArgv: ['-r', 'ts-node/register/transpile-only'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
  });
  const queue: unknown[] = [];
  const waiters: Array<(m: unknown) => void> = [];
  child.on('message', (m) => {
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  child.once('exit', (code) => {
    for (const w of waiters.splice(0)) w({ exited: code });
  });
  return {
    process: child,
    next: () => new Promise((resolve) => (queue.length > 0 ? resolve(queue.shift() as never) : waiters.push(resolve as (m: unknown) => void))),
  };
}

async function stopChild(child: Child): Promise<void> {
  const p = child.process;
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  if (p.connected) p.send({ close: true });
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Runs the stampede for one kind of cache, `rounds` cold keys, against the Redis at `url`. */
export async function stampede(kind: StampedeKind, url: string, rounds: number): Promise<StampedeResult> {
  const counter = new Redis(url);
  const children = Array.from({ length: PROCESSES }, () => startChild(kind, url));
  const result: StampedeResult = { kind, rounds, computes: [], roundMs: [], errors: 0 };
  try {
    for (const c of children) {
      const m = await c.next();
      if (!m.ready) throw new Error(`stampede child (${kind}) did not start: ${JSON.stringify(m)}`);
    }
    for (let round = 0; round < rounds; round++) {
      const key = `cold:${kind}:${process.pid}:${round}`;
      const t0 = process.hrtime.bigint();
      for (const c of children) c.process.send({ go: key });
      const replies = await Promise.all(children.map((c) => c.next()));
      result.roundMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      for (const r of replies) {
        if (r.done !== key) throw new Error(`stampede child (${kind}) answered ${JSON.stringify(r)}`);
        result.errors += r.errors ?? 0;
        result.firstError ??= r.firstError ?? undefined;
      }
      result.computes.push(Number(await counter.get(`computes:${key}`)));
    }
  } finally {
    await Promise.all(children.map(stopChild));
    counter.disconnect();
  }
  return result;
}

/** The stampede table. */
export function stampedeTable(results: StampedeResult[]): string {
  const rows = results.map((r) => {
    const sorted = [...r.roundMs].sort((a, b) => a - b);
    const total = r.computes.reduce((a, b) => a + b, 0);
    return [
      r.kind,
      `${Math.min(...r.computes)}–${Math.max(...r.computes)} (mean ${(total / r.rounds).toFixed(2)})`,
      sorted[Math.floor(sorted.length / 2)].toFixed(0),
      sorted[sorted.length - 1].toFixed(0),
      String(r.errors),
    ];
  });
  return (
    `### getOrSet of one cold key, ${PROCESSES} processes × ${CALLERS} concurrent callers (compute ${COMPUTE_MS} ms), ${results[0]?.rounds ?? 0} keys each\n\n` +
    markdownTable(['contender', 'computes per key (min–max)', 'median ms until all had it', 'worst ms', 'failed calls'], rows) +
    '\n' +
    results
      .filter((r) => r.firstError)
      .map((r) => `\n(${r.kind}: the calls failed with ${r.firstError})\n`)
      .join('')
  );
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 10);
  const server = await startRedis();
  try {
    const results: StampedeResult[] = [];
    for (const kind of ['memstorage-cluster', 'memstorage-local', 'bentocache', 'cache-manager'] as const) {
      results.push(await stampede(kind, server.url, rounds));
    }
    console.log(stampedeTable(results));
  } finally {
    await server.stop();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
