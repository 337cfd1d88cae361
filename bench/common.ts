/**
 * Shared benchmark helpers for bench/*.ts: timing (sequential and N concurrent in flight),
 * warm-up, ratios, a markdown table printer, GC/RSS helpers, child-process measurements and
 * a deterministic data generator, so every bench file measures the same way on the same data.
 *
 * Method: each measurement first warms the operation up, then runs a throughput pass with no
 * per-op clock reads, then a latency pass that reads `process.hrtime.bigint()` around every op
 * (p50/p99). Splitting the passes keeps the ~50 ns cost of a clock read out of ops/s, which
 * matters when an op itself costs ~100 ns.
 *
 * ops/s (BENCH_CLOCK, default `wall`): `wall` is ops / elapsed wall time of the whole pass,
 * GC pauses included, since a user pays for them too; contenders are interleaved round-robin
 * (measureInterleaved) and each keeps its median round. Run it on an idle machine.
 * `window` runs the pass in windows of ~2 ms worth of ops and keeps the best window (the
 * "minimum time" rule: on a busy shared machine the fastest window is the undisturbed one, but
 * it also leaves GC pauses out, so it is a diagnostic, not the headline number).
 * `cpu` is ops / this process's CPU time (process.cpuUsage; it also counts GC helper threads
 * and, in a VM, steal time). printEnvironment names the mode and warns when the load average
 * says the machine is busy.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

/** How ops/s is computed: 'wall' (default), 'window' or 'cpu' (see the file comment). */
export const RATE_MODE: 'window' | 'wall' | 'cpu' =
  process.env.BENCH_CLOCK === 'cpu' ? 'cpu' : process.env.BENCH_CLOCK === 'window' ? 'window' : 'wall';
/** True unless ops/s counts CPU time (BENCH_CLOCK=cpu). */
export const USE_WALL_CLOCK = RATE_MODE !== 'cpu';
/** Target length of a throughput window, ns. */
const WINDOW_NS = 2e6;

/** An operation under test; it receives the op index and may return a promise (which is awaited). */
export type Op = (i: number) => unknown;

/** What one measurement reports. */
export interface Result {
  /** Contender name, as printed in the table. */
  name: string;
  /** Operations per second from the throughput pass, per RATE_MODE (see the file comment). */
  opsPerSec: number;
  /** Operations per wall-clock second from the throughput pass. */
  wallOpsPerSec: number;
  /** Median latency per op, µs. */
  p50: number;
  /** 99th percentile latency per op, µs. */
  p99: number;
  /** Ops in the throughput pass. */
  ops: number;
  /** Ops in flight (1 = awaited one at a time). */
  concurrency: number;
}

/** Options of `measure`. */
export interface MeasureOptions {
  /** Ops in the throughput pass. Default 100,000. */
  ops?: number;
  /** Ops in flight at once; 1 awaits each op before starting the next. Default 1. */
  concurrency?: number;
  /** Warm-up ops before measuring (JIT, caches). Default min(ops, 20,000). */
  warmup?: number;
  /** Ops in the latency pass. Default min(ops, 50,000). */
  latencyOps?: number;
}

/** Runs `ops` ops with `concurrency` workers, each awaiting its op before taking the next index. */
async function drive(op: Op, ops: number, concurrency: number, offset: number, latencies?: Float64Array): Promise<void> {
  if (concurrency <= 1) {
    if (latencies) {
      for (let i = 0; i < ops; i++) {
        const t0 = process.hrtime.bigint();
        await op(offset + i);
        latencies[i] = Number(process.hrtime.bigint() - t0);
      }
    } else {
      for (let i = 0; i < ops; i++) await op(offset + i);
    }
    return;
  }
  let next = 0;
  const worker = async () => {
    while (next < ops) {
      const i = next++;
      if (latencies) {
        const t0 = process.hrtime.bigint();
        await op(offset + i);
        latencies[i] = Number(process.hrtime.bigint() - t0);
      } else {
        await op(offset + i);
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = 0; w < Math.min(concurrency, ops); w++) workers.push(worker());
  await Promise.all(workers);
}

/**
 * The throughput pass in windows of `windowOps` ops (the last one may be shorter and is not
 * ranked): total elapsed ns and the fastest full window's ns.
 */
async function throughput(op: Op, ops: number, concurrency: number, windowOps: number): Promise<{ totalNs: number; bestWindowNs: number }> {
  let bestWindowNs = Infinity;
  const t0 = process.hrtime.bigint();
  for (let start = 0; start < ops; start += windowOps) {
    const n = Math.min(windowOps, ops - start);
    const w0 = process.hrtime.bigint();
    if (concurrency <= 1) {
      for (let i = 0; i < n; i++) await op(start + i);
    } else {
      let next = 0;
      const worker = async () => {
        while (next < n) await op(start + next++);
      };
      const workers: Promise<void>[] = [];
      for (let w = 0; w < Math.min(concurrency, n); w++) workers.push(worker());
      await Promise.all(workers);
    }
    const dt = Number(process.hrtime.bigint() - w0);
    if (n === windowOps && dt < bestWindowNs) bestWindowNs = dt;
  }
  const totalNs = Number(process.hrtime.bigint() - t0);
  return { totalNs, bestWindowNs: Number.isFinite(bestWindowNs) ? bestWindowNs : totalNs };
}

/** The q-quantile (0..1) of sorted nanosecond samples, in µs. */
function quantileUs(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx] / 1000;
}

/**
 * Measures `op`: warm-up, throughput pass, latency pass (see the file comment). Op indexes run
 * 0..warmup-1, then 0..ops-1, then 0..latencyOps-1, so an op can index its data with `i % n`.
 */
export async function measure(name: string, op: Op, options: MeasureOptions = {}): Promise<Result> {
  const ops = options.ops ?? 100_000;
  const concurrency = options.concurrency ?? 1;
  const warmup = options.warmup ?? Math.min(ops, 20_000);
  const latencyOps = options.latencyOps ?? Math.min(ops, 50_000);
  let perOpNs = 0;
  if (warmup > 0) {
    const w0 = process.hrtime.bigint();
    await drive(op, warmup, concurrency, 0);
    perOpNs = Number(process.hrtime.bigint() - w0) / warmup;
  }
  // ~2 ms of ops per window, at least 2 rounds of the workers (or 3 ops), at most a fifth of the pass.
  const minWindow = concurrency > 1 ? 2 * concurrency : 3;
  let windowOps = perOpNs > 0 ? Math.ceil(WINDOW_NS / perOpNs) : minWindow;
  windowOps = Math.min(Math.max(windowOps, minWindow), Math.floor(ops / 5));
  if (windowOps < minWindow || RATE_MODE !== 'window') windowOps = ops;
  const cpu0 = process.cpuUsage();
  const { totalNs: elapsedNs, bestWindowNs } = await throughput(op, ops, concurrency, windowOps);
  const cpu = process.cpuUsage(cpu0);
  const latencies = new Float64Array(latencyOps);
  await drive(op, latencyOps, concurrency, 0, latencies);
  latencies.sort();
  const wallOpsPerSec = ops / (elapsedNs / 1e9);
  return {
    name,
    opsPerSec:
      RATE_MODE === 'cpu' ? ops / ((cpu.user + cpu.system) / 1e6) : RATE_MODE === 'window' ? windowOps / (bestWindowNs / 1e9) : wallOpsPerSec,
    wallOpsPerSec,
    p50: quantileUs(latencies, 0.5),
    p99: quantileUs(latencies, 0.99),
    ops,
    concurrency,
  };
}

/** Sequential shorthand: each op awaited before the next. */
export function timeSequential(name: string, op: Op, options: Omit<MeasureOptions, 'concurrency'> = {}): Promise<Result> {
  return measure(name, op, { ...options, concurrency: 1 });
}

/** Concurrent shorthand: `concurrency` ops in flight. */
export function timeConcurrent(name: string, op: Op, concurrency: number, options: Omit<MeasureOptions, 'concurrency'> = {}): Promise<Result> {
  return measure(name, op, { ...options, concurrency });
}

/** A contender for `measureInterleaved`. */
export interface Contender {
  name: string;
  op: Op;
  /** Per-contender overrides (e.g. fewer ops for a slow full scan). */
  options?: MeasureOptions;
}

/**
 * Measures every contender `rounds` times, round-robin (A B C, A B C, ...), with a GC before
 * each run, and keeps each contender's best run by ops/s (RATE_MODE 'window': the best
 * undisturbed window) or its median run ('wall', 'cpu'). Interleaving spreads changes in
 * machine load over all contenders instead of penalizing whoever ran during a busy moment.
 */
export async function measureInterleaved(contenders: Contender[], common: MeasureOptions = {}, rounds = 3): Promise<Result[]> {
  const runs: Result[][] = contenders.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let c = 0; c < contenders.length; c++) {
      const options = { ...common, ...contenders[c].options };
      if (round > 0) options.warmup = Math.min(options.warmup ?? Infinity, Math.ceil((options.ops ?? 100_000) / 20));
      forceGc();
      runs[c].push(await measure(contenders[c].name, contenders[c].op, options));
    }
  }
  return runs.map((rs) => {
    const sorted = [...rs].sort((a, b) => a.opsPerSec - b.opsPerSec);
    return RATE_MODE === 'window' ? sorted[sorted.length - 1] : sorted[Math.floor(sorted.length / 2)];
  });
}

/** A key-value contender of the backend benches: its read and its write of entry i. */
export interface KvContender {
  name: string;
  get: Op;
  set: Op;
}

/**
 * The getOne and set tables of a backend bench for one mode ('one at a time', '1000 in
 * flight'): every contender's reads, then every contender's writes, interleaved, printed.
 */
export async function measureGetSet(
  mode: string,
  contenders: KvContender[],
  options: MeasureOptions,
  rounds: number,
  subject: string,
): Promise<{ get: Result[]; set: Result[] }> {
  const get = await measureInterleaved(contenders.map((c) => ({ name: c.name, op: c.get })), options, rounds);
  printTable(`getOne, 1 KB JSON values, ${mode}`, get, subject);
  const set = await measureInterleaved(contenders.map((c) => ({ name: c.name, op: c.set })), options, rounds);
  printTable(`set (overwrite), 1 KB JSON values, ${mode}`, set, subject);
  return { get, set };
}

/**
 * One pass only, for operations that cannot be repeated on the same state (inserts into an
 * empty store): each op timed with hrtime, ops/s from the whole pass (clock reads included).
 */
export async function measureOnce(name: string, op: Op, ops: number): Promise<Result> {
  const latencies = new Float64Array(ops);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await drive(op, ops, 1, 0, latencies);
  const elapsedNs = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  latencies.sort();
  const wallOpsPerSec = ops / (elapsedNs / 1e9);
  const opsPerSec = RATE_MODE === 'cpu' ? ops / ((cpu.user + cpu.system) / 1e6) : wallOpsPerSec;
  return { name, opsPerSec, wallOpsPerSec, p50: quantileUs(latencies, 0.5), p99: quantileUs(latencies, 0.99), ops, concurrency: 1 };
}

/** How many times faster `a` is than `b` (ops/s over ops/s). */
/** Runs `op(0..n-1)` with `concurrency` calls in flight (loads test data fast). */
export async function fill(n: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await op(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** The result of the contender called `name` (throws when it did not run). */
export function byName(results: Result[], name: string): Result {
  const r = results.find((x) => x.name === name);
  if (!r) throw new Error(`no result for ${name}`);
  return r;
}

export function ratio(a: Result | number, b: Result | number): number {
  const x = typeof a === 'number' ? a : a.opsPerSec;
  const y = typeof b === 'number' ? b : b.opsPerSec;
  return x / y;
}

/** 1234567.8 -> "1,234,568"; small numbers keep 2–3 significant digits. */
export function fmtNum(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** A ratio as "3.4×". */
export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return String(r);
  return (r >= 100 ? Math.round(r).toLocaleString('en-US') : r >= 10 ? r.toFixed(1) : r.toFixed(2)) + '×';
}

/** A plain markdown table. */
export function markdownTable(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/**
 * A results table: contender, ops/s, p50 µs, p99 µs, and the ratio of `subject` (our store's
 * row name) to each row — "memstorage-next is N× this contender". Without a subject, the
 * ratio column is relative to the first row.
 */
export function resultsTable(title: string, results: Result[], subject?: string): string {
  const base = results.find((r) => r.name === subject) ?? results[0];
  const ratioHeader = `${base.name} ÷ this`;
  const opsHeader = USE_WALL_CLOCK ? 'ops/s' : 'ops/CPU-s';
  const rows = results.map((r) => [r.name, fmtNum(r.opsPerSec), fmtNum(r.p50), fmtNum(r.p99), fmtRatio(ratio(base, r))]);
  return `### ${title}\n\n` + markdownTable(['contender', opsHeader, 'p50 µs', 'p99 µs', ratioHeader], rows) + '\n';
}

/** Prints a results table (see resultsTable). */
export function printTable(title: string, results: Result[], subject?: string): void {
  console.log(resultsTable(title, results, subject));
}

/** A target: `subject` must be at least `min`× `peer` on the named measurement. */
export interface Target {
  label: string;
  actual: number;
  min?: number;
  /** For "at most" targets (RSS). */
  max?: number;
}

/** True when the target is met. */
export function targetMet(t: Target): boolean {
  return (t.min === undefined || t.actual >= t.min) && (t.max === undefined || t.actual <= t.max);
}

/** Prints targets as a markdown table with PASS/FAIL; returns how many failed. */
export function printTargets(targets: Target[]): number {
  const rows = targets.map((t) => [
    t.label,
    t.min !== undefined ? `≥ ${t.min}×` : t.max !== undefined ? `≤ ${t.max}×` : '—',
    fmtRatio(t.actual),
    t.min === undefined && t.max === undefined ? 'info' : targetMet(t) ? 'PASS' : '**FAIL**',
  ]);
  console.log('### Targets\n\n' + markdownTable(['target', 'required', 'actual', 'result'], rows) + '\n');
  return targets.filter((t) => !targetMet(t)).length;
}

/** Runs a full GC when node was started with --expose-gc (twice, so weak/finalized objects go too); a no-op otherwise. */
export function forceGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

/** True when `forceGc` can actually collect. */
export function canGc(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === 'function';
}

/**
 * When node was started without --expose-gc, runs this script again with it (same flags and
 * arguments, output inherited) and exits with its status; returns normally when GC is exposed.
 */
export function reexecWithGc(script: string): void {
  if (canGc()) return;
  const res = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, script, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(res.status ?? 1);
}

/** Current resident set size, MB. */
export function rssMB(): number {
  return process.memoryUsage.rss() / (1024 * 1024);
}

/** Peak resident set size of this process so far, MB (getrusage maxrss). */
export function peakRssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Heap used, MB. */
export function heapMB(): number {
  return process.memoryUsage().heapUsed / (1024 * 1024);
}

/**
 * Runs a TypeScript bench script in its own node process (ts-node transpile-only, --expose-gc)
 * and returns the JSON object it printed as its last stdout line. Used for RSS measurements, so
 * each contender starts from a fresh heap.
 */
export function runChild<T = unknown>(script: string, args: string[] = [], nodeFlags: string[] = []): T {
  const file = path.resolve(script);
  const res = spawnSync(process.execPath, ['--expose-gc', ...nodeFlags, '-r', 'ts-node/register/transpile-only', file, ...args], {
    cwd: path.resolve(__dirname, '..'),
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
  });
  if (res.status !== 0) {
    throw new Error(`child ${script} ${args.join(' ')} failed (${res.status ?? res.signal}):\n${res.stderr}`);
  }
  const lines = res.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

// ---- deterministic data -----------------------------------------------------------------

/** A small fast PRNG (mulberry32): the same seed gives the same data on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Kinds used in object keys. */
export const KINDS = ['person', 'robot', 'alien'] as const;
/** Cities used in object keys. */
export const CITIES = ['Oslo', 'Lima', 'Pune', 'Kyiv', 'Accra', 'Quito', 'Hanoi', 'Perth'] as const;

/** An object key of the benchmarks. */
export interface BenchKey {
  id: number;
  kind: string;
  age: number;
  city: string;
  [field: string]: string | number;
}

/** `n` object keys `{ id, kind, age, city }`: ids 0..n-1, ages 0–99, kinds and cities from short lists. */
export function makeKeys(n: number, seed = 1): BenchKey[] {
  const rand = prng(seed);
  const keys: BenchKey[] = new Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = {
      id: i,
      kind: KINDS[Math.floor(rand() * KINDS.length)],
      age: Math.floor(rand() * 100),
      city: CITIES[Math.floor(rand() * CITIES.length)],
    };
  }
  return keys;
}

/** `n` string keys `user:<i>`. */
export function makeStringKeys(n: number, prefix = 'user:'): string[] {
  const keys: string[] = new Array(n);
  for (let i = 0; i < n; i++) keys[i] = prefix + i;
  return keys;
}

const WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'.split(' ');

/** One JSON value whose `JSON.stringify` is `bytes` long (default 1 KB), deterministic in `i`. */
export function makeValue(i: number, bytes = 1024): Record<string, unknown> {
  const rand = prng(i + 1);
  const value: Record<string, unknown> = {
    id: i,
    name: `user ${i}`,
    email: `user${i}@example.com`,
    active: rand() < 0.5,
    score: Math.round(rand() * 10000) / 100,
    tags: [WORDS[i % WORDS.length], WORDS[(i * 7) % WORDS.length], WORDS[(i * 13) % WORDS.length]],
    bio: '',
  };
  const base = JSON.stringify(value).length;
  let bio = '';
  while (bio.length < bytes - base) bio += WORDS[Math.floor(rand() * WORDS.length)] + ' ';
  value.bio = bio.slice(0, Math.max(0, bytes - base));
  return value;
}

/** `n` values of `bytes` each (see makeValue). */
export function makeValues(n: number, bytes = 1024): Record<string, unknown>[] {
  const values = new Array<Record<string, unknown>>(n);
  for (let i = 0; i < n; i++) values[i] = makeValue(i, bytes);
  return values;
}

/** Prints a heading line with the machine and node version, for the README table. */
export function printEnvironment(title: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const os = require('node:os') as typeof import('node:os');
  const cores = os.cpus().length;
  const load = os.loadavg()[0];
  const clock =
    RATE_MODE === 'window'
      ? 'best ~2 ms window (BENCH_CLOCK=window; GC pauses left out — diagnostic only)'
      : RATE_MODE === 'wall'
        ? 'wall clock over the whole pass'
        : 'CPU time over the whole pass (BENCH_CLOCK=cpu)';
  console.log(`## ${title}\n\nnode ${process.version}, ${cores}× ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, load ${load.toFixed(1)}, ops/s by ${clock}, ${new Date().toISOString()}\n`);
  if (load > cores * 0.75) {
    console.log(`> **The machine is busy** (1-minute load ${load.toFixed(1)} on ${cores} cores): expect noisy ratios; rerun on an idle machine for the README.\n`);
  }
}
