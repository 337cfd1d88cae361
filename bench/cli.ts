/**
 * bench/cli (issue #14 item 1): the `memstorage-next` command's export and import of 1,000,000
 * entries, Redis → MongoDB, MongoDB → Redis and Redis → Redis, each step run as a child process
 * of the command itself (compiled once into a temporary directory, so ts-node's compiler is
 * neither timed nor counted in the memory), under /usr/bin/time -v for the peak RSS (or, where
 * it is missing, /proc/<pid>/status VmHWM sampled until the child ends). Every entry is then
 * checked equal after the round trip: key, value, expiry within 2 s, tags.
 *
 *   node -r ts-node/register/transpile-only bench/cli.ts [entries]     (default 1,000,000, or BENCH_CLI_ENTRIES)
 *   BENCH_CLI_PROF=/tmp/prof node ... bench/cli.ts 100000              (a CPU profile of each step)
 *   MEMSTORAGE_NEXT_V8_TUNING=0 node ... bench/cli.ts 300000           (the steps under V8's default heap sizing, to compare: lib/cli/heap-tuning.ts)
 *
 * The servers are this bench's own: a redis-server and a mongod started on free ports
 * (test/support), stopped at the end. The entries: string keys `user:<i>` and one object key in
 * ten; ~120-byte JSON values, one in ten holding a Date; a TTL of 1–2 h on one in three, one or
 * two tags on one in four.
 *
 * Targets (issue #14): RSS < 150 MB for every step; ≥ 50,000 entries/s on Redis. Besides the wall
 * rate, each step reports the CPU seconds of the command (/usr/bin/time) and of the servers
 * (/proc/<pid>/stat) it used: on a shared machine the wall rate says more about the neighbours
 * than about the command, while entries per CPU-second of the command and the servers' CPU
 * show where the time goes.
 */
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createStore } from '../lib/factory';
import type { BaseStore } from '../lib/store';
import type { Key } from '../lib/keys';
import { defaultSerializer } from '../lib/serializer';
import { parseStoreUrl } from '../lib/cli/store-url';
import { startRedis } from '../test/support/redis-server';
import { startMongo } from '../test/support/mongo-server';

const ROOT = path.resolve(__dirname, '..');
// bench/run.ts passes its arguments to every bench: only a number is an entry count here.
const N = /^\d+$/.test(process.argv[2] ?? '') ? Number(process.argv[2]) : Number(process.env.BENCH_CLI_ENTRIES ?? 1_000_000);
const RSS_TARGET_MB = 150;
const RATE_TARGET = 50_000;
const EXPIRY_TOLERANCE_MS = 2_000;
const TIME = '/usr/bin/time';

interface Step {
  name: string;
  /** CPU seconds (user + system) of the command, and of the servers while it ran. */
  cpu: number;
  serverCpu: number;
  /** Whether the step reads or writes Redis (the entries/s target is for those). */
  redis: boolean;
  entries: number;
  seconds: number;
  rssMb: number;
}

/** Entry i of the data set. */
function entry(i: number): { key: Key; value: unknown; ttl: number | null; tags?: string[] } {
  const key: Key = i % 10 === 0 ? { kind: 'order', n: i, region: `r${i % 7}` } : `user:${i}`;
  const value = {
    id: i,
    name: `name-${i}`,
    email: `user${i}@example.com`,
    score: (i * 7919) % 1000,
    flags: [i % 2 === 0, i % 3 === 0],
    ...(i % 10 === 3 && { at: new Date(1_700_000_000_000 + i) }),
  };
  const ttl = i % 3 === 0 ? 3_600_000 + (i % 3_600_000) : null;
  const tags = i % 4 === 0 ? (i % 8 === 0 ? ['even8', `g${i % 5}`] : [`g${i % 5}`]) : undefined;
  return { key, value, ttl, ...(tags && { tags }) };
}

async function fill(store: BaseStore): Promise<void> {
  const batch = 500;
  for (let start = 0; start < N; start += batch) {
    const items = [];
    for (let i = start; i < Math.min(N, start + batch); i++) items.push(entry(i));
    await store.setMany(items);
  }
}

/** Compiles the package into a temporary directory; the path of the command's main.js. */
function build(): string {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'memstorage-cli-bench-'));
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out, '--noEmitOnError', 'false', '--sourceMap', 'false'], { cwd: ROOT, stdio: 'pipe' });
  } catch {
    // Errors in files the command does not load (someone's work in progress) still emit JavaScript.
  }
  const main = path.join(out, 'lib', 'cli', 'main.js');
  if (!fs.existsSync(main)) throw new Error(`the build did not produce ${main}`);
  return main;
}

/** CPU seconds (user + system) a process has used so far, from /proc (0 where there is none). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return 0;
  }
}

/** Runs the command with `args`, stdin from / stdout to files; its wall time, CPU time and peak RSS. */
function run(main: string, args: string[], stdin: string | null, stdout: string | null): Promise<{ seconds: number; cpu: number; rssMb: number; stderr: string }> {
  const useTime = fs.existsSync(TIME);
  // BENCH_CLI_PROF=<dir>: a CPU profile of each step (node --cpu-prof) written there.
  const prof = process.env.BENCH_CLI_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CLI_PROF, '--cpu-prof-name', `${args[0]}-${Date.now()}.cpuprofile`] : [];
  // BENCH_CLI_NODE_FLAGS: node options for the command (e.g. --max-semi-space-size=2), to try their effect on RSS.
  const flags = (process.env.BENCH_CLI_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
  const argv = useTime ? ['-v', process.execPath, ...flags, ...prof, main, ...args] : [...flags, ...prof, main, ...args];
  const input = stdin === null ? 'ignore' : fs.openSync(stdin, 'r');
  const output = stdout === null ? 'ignore' : fs.openSync(stdout, 'w');
  const started = process.hrtime.bigint();
  const child = spawn(useTime ? TIME : process.execPath, argv, { cwd: ROOT, stdio: [input, output, 'pipe'], env: { ...process.env, NODE_OPTIONS: '', NODE_PATH: path.join(ROOT, 'node_modules') } });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  let hwm = 0;
  const sampler = useTime
    ? undefined
    : setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) hwm = Math.max(hwm, Number(m[1]));
        } catch {
          // ended
        }
      }, 50);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      if (sampler) clearInterval(sampler);
      if (typeof input === 'number') fs.closeSync(input);
      if (typeof output === 'number') fs.closeSync(output);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) return reject(new Error(`memstorage-next ${args.join(' ')} exited ${code}:\n${stderr}`));
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      const kb = m ? Number(m[1]) : hwm;
      const user = /User time \(seconds\): ([\d.]+)/.exec(stderr);
      const system = /System time \(seconds\): ([\d.]+)/.exec(stderr);
      const cpu = user && system ? Number(user[1]) + Number(system[1]) : NaN;
      resolve({ seconds, cpu, rssMb: kb / 1024, stderr: stderr.split('\n').filter((l) => !l.startsWith('\t')).join('\n').trim() });
    });
  });
}

/** Checks that `copy` holds every entry of the data set equal: value, expiry (within tolerance), tags. Resolves how many differ. */
async function verify(name: string, store: BaseStore, exportedAt: Map<string, number>): Promise<number> {
  const window = 1_000;
  let bad = 0;
  const seen = await store.count({ kind: 'order' }) + (await store.keys('user:*')).length;
  if (seen !== N) {
    console.log(`  ${name}: ${seen} entries, expected ${N}`);
    bad += Math.abs(seen - N);
  }
  for (let start = 0; start < N; start += window) {
    const want = [];
    for (let i = start; i < Math.min(N, start + window); i++) want.push(entry(i));
    const [values, metas] = await Promise.all([store.getMany(want.map((e) => e.key)), Promise.all(want.map((e) => store.getMeta(e.key)))]);
    for (let n = 0; n < want.length; n++) {
      const w = want[n];
      const meta = metas[n];
      const problems: string[] = [];
      if (values[n] === undefined || meta === undefined) problems.push('missing');
      else {
        if (defaultSerializer.serialize(values[n]) !== defaultSerializer.serialize(w.value)) problems.push('value');
        const expected = w.ttl === null ? null : exportedAt.get(JSON.stringify(w.key));
        if (expected === null ? meta.expiresAt !== null : meta.expiresAt === null || expected === undefined || Math.abs(meta.expiresAt - expected) > EXPIRY_TOLERANCE_MS) problems.push(`expiry ${meta.expiresAt} vs ${expected}`);
        if ([...meta.tags].sort().join(',') !== [...(w.tags ?? [])].sort().join(',')) problems.push(`tags [${meta.tags}] vs [${w.tags ?? []}]`);
      }
      if (problems.length > 0) {
        if (bad < 5) console.log(`  ${name}: ${JSON.stringify(w.key)}: ${problems.join(', ')}`);
        bad++;
      }
    }
  }
  return bad;
}

/** The expiries the source store holds (what the round trip must keep), read once through its exported records. */
function expiriesOf(file: string): Map<string, number> {
  const out = new Map<string, number>();
  const text = fs.readFileSync(file, 'utf8');
  let start = 0;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    const line = text.slice(start, end < 0 ? undefined : end);
    start = end < 0 ? text.length : end + 1;
    if (!/"expiresAt":\d/.test(line)) continue;
    const record = JSON.parse(line) as { key: Key; expiresAt: number | null };
    if (record.expiresAt !== null) out.set(JSON.stringify(record.key), record.expiresAt);
  }
  return out;
}

async function main(): Promise<void> {
  console.log(`bench/cli: ${N.toLocaleString('en')} entries; node ${process.version}; ${os.cpus().length} × ${os.cpus()[0]?.model}; peak RSS by ${fs.existsSync(TIME) ? '/usr/bin/time -v' : '/proc VmHWM'}`);
  const redis = await startRedis();
  const mongo = await startMongo();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'memstorage-cli-bench-data-'));
  const stores: BaseStore[] = [];
  let built: string | undefined;
  const open = (url: string) => {
    const store = createStore(parseStoreUrl(url)) as BaseStore;
    stores.push(store);
    return store;
  };
  try {
    const mongoUrl = (collection: string) => {
      const url = new URL(mongo.url);
      url.pathname = '/bench_cli';
      url.searchParams.set('collection', collection);
      return url.toString();
    };
    const urls = {
      redisSource: `${redis.url}?namespace=source`,
      mongo: mongoUrl('from_redis'),
      redisFromMongo: `${redis.url}?namespace=from_mongo`,
      redisFromRedis: `${redis.url}?namespace=from_redis`,
    };
    process.stdout.write('building the command... ');
    const cli = build();
    built = path.resolve(cli, '..', '..', '..');
    console.log('done');
    process.stdout.write('filling Redis in process (setMany of 500, one at a time: the backend\'s own write rate, for comparison)... ');
    let t = Date.now();
    await fill(open(urls.redisSource));
    console.log(`${((Date.now() - t) / 1000).toFixed(1)} s, ${fmt(N / ((Date.now() - t) / 1000))} entries/s`);

    const steps: Step[] = [];
    const servers = () => cpuSeconds(redis.pid) + cpuSeconds(mongo.pid());
    const step = async (name: string, args: string[], stdin: string | null, stdout: string | null) => {
      const serversBefore = servers();
      const r = await run(cli, args, stdin, stdout);
      const serverCpu = servers() - serversBefore;
      steps.push({ name, redis: args[1].startsWith('redis'), entries: N, seconds: r.seconds, cpu: r.cpu, serverCpu, rssMb: r.rssMb });
      console.log(`  ${name}: ${r.seconds.toFixed(1)} s, ${fmt(N / r.seconds)} entries/s, command CPU ${r.cpu.toFixed(1)} s, servers' CPU ${serverCpu.toFixed(1)} s, peak RSS ${r.rssMb.toFixed(0)} MB  (${r.stderr.split('\n').pop()})`);
    };
    const fromRedis = path.join(work, 'redis.ndjson');
    const fromMongo = path.join(work, 'mongo.ndjson');
    await step('export Redis', ['export', urls.redisSource], null, fromRedis);
    await step('import → MongoDB', ['import', urls.mongo], fromRedis, null);
    await step('export MongoDB', ['export', urls.mongo], null, fromMongo);
    await step('import → Redis (from MongoDB)', ['import', urls.redisFromMongo], fromMongo, null);
    await step('import → Redis (from Redis)', ['import', urls.redisFromRedis], fromRedis, null);

    console.log('checking every entry...');
    t = Date.now();
    const expiries = expiriesOf(fromRedis);
    let bad = 0;
    bad += await verify('MongoDB (Redis → MongoDB)', open(urls.mongo), expiries);
    bad += await verify('Redis (MongoDB → Redis)', open(urls.redisFromMongo), expiries);
    bad += await verify('Redis (Redis → Redis)', open(urls.redisFromRedis), expiries);
    console.log(`  ${bad === 0 ? 'every entry equal' : `${bad} entries differ`} (${((Date.now() - t) / 1000).toFixed(0)} s)`);

    // Per CPU-second: what the command and the server cost per entry, whatever else the machine runs.
    console.log(`\nload average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (${os.cpus().length} CPUs)`);
    console.log('\n| step | entries/s (wall) | wall | command CPU | entries per command CPU-s | servers\' CPU | peak RSS |\n|---|---:|---:|---:|---:|---:|---:|');
    for (const s of steps) {
      console.log(`| ${s.name} | ${fmt(s.entries / s.seconds)} | ${s.seconds.toFixed(1)} s | ${s.cpu.toFixed(1)} s | ${fmt(s.entries / s.cpu)} | ${s.serverCpu.toFixed(1)} s | ${s.rssMb.toFixed(0)} MB |`);
    }
    const redisSteps = steps.filter((s) => s.redis);
    const maxRss = Math.max(...steps.map((s) => s.rssMb));
    const minRedisRate = Math.min(...redisSteps.map((s) => s.entries / s.seconds));
    console.log(`\ntargets: peak RSS ${maxRss.toFixed(0)} MB < ${RSS_TARGET_MB} MB: ${maxRss < RSS_TARGET_MB ? 'met' : 'NOT met'}; ` +
      `slowest Redis step ${fmt(minRedisRate)} entries/s ≥ ${fmt(RATE_TARGET)}: ${minRedisRate >= RATE_TARGET ? 'met' : 'NOT met'}; round trip: ${bad === 0 ? 'every entry equal' : `${bad} differ`}`);
    if (bad > 0) process.exitCode = 1;
  } finally {
    for (const store of stores) await store.close().catch(() => undefined);
    await redis.stop();
    await mongo.dispose();
    fs.rmSync(work, { recursive: true, force: true });
    if (built !== undefined) fs.rmSync(built, { recursive: true, force: true });
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
