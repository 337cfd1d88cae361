/**
 * `npm run bench`: runs bench/memory.ts, then bench/redis.ts, bench/redis-shards.ts, bench/mongo.ts, bench/sqlite.ts, bench/multi.ts and
 * the query benches (bench/queries-*.ts, issue #12)
 * when present, each in its own node process (with --expose-gc, so no bench inherits another's
 * heap), printing their markdown tables in turn. Arguments are passed to every bench file.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const BENCHES = ['memory', 'redis', 'redis-shards', 'mongo', 'sqlite', 'multi', 'queries-memory', 'queries-redis', 'queries-mongo', 'queries-sqlite', 'compress', 'cli'];

function main(): number {
  let failures = 0;
  for (const name of BENCHES) {
    const file = path.join(__dirname, `${name}.ts`);
    if (!fs.existsSync(file)) continue;
    const started = Date.now();
    const res = spawnSync(
      process.execPath,
      ['--expose-gc', '-r', 'ts-node/register/transpile-only', file, ...process.argv.slice(2)],
      { stdio: 'inherit', cwd: path.resolve(__dirname, '..') },
    );
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (res.status !== 0) {
      failures++;
      console.error(`bench/${name}.ts failed (${res.status ?? res.signal}) after ${seconds} s`);
    } else {
      console.log(`(bench/${name}.ts took ${seconds} s)\n`);
    }
  }
  return failures === 0 ? 0 : 1;
}

process.exitCode = main();
