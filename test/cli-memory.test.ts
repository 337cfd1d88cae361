/**
 * The command's memory settings (lib/cli/heap-tuning.ts): the V8 flags it sets at run time do
 * take effect in this Node version (a young generation that stays small, an old generation held
 * near its live size), and they cap nothing — a 64 MB value still goes through export and import
 * of the command run as a process (a heap limit such as --max-old-space-size=96 ends that export
 * in an out-of-memory crash).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { createStore } from '../lib/factory';
import type { BaseStore } from '../lib/store';
import { ExitCodes } from '../lib/cli/exit-codes';
import { sharedRedis } from './support/redis-server';
import { freshNamespace } from './support/store-configs';
import { ROOT, cli, expectExit } from './support/cli-runs';

/**
 * Runs a plain Node process (ts-node's compiler would grow the heap first) that tunes its heap
 * as the command does (unless `tuning` is '0', which leaves V8's defaults) and then
 * churns through ~400 MB of short-lived records while holding ~2 MB of them at a time, as a
 * window of an export does; resolves the largest young-generation and total heap sizes seen (MB).
 */
function churn(tuning: string): { newSpaceMb: number; heapTotalMb: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-memory-'));
  const tuningJs = path.join(dir, 'heap-tuning.js');
  const source = fs.readFileSync(path.join(ROOT, 'lib', 'cli', 'heap-tuning.ts'), 'utf8');
  fs.writeFileSync(tuningJs, ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText);
  const script = `
    const v8 = require('node:v8');
    require(${JSON.stringify(tuningJs)}).tuneHeapForStreaming();
    let newSpace = 0, heapTotal = 0, held = [], sink = 0;
    for (let i = 0; i < 400000; i++) {
      const record = { key: 'user:' + i, value: { id: i, name: 'name-' + i, email: 'user' + i + '@example.com', flags: [i % 2 === 0] } };
      sink += JSON.stringify(record).length;
      held.push(record);
      if (held.length >= 5000) held = [];
      if (i % 1000 === 0) {
        newSpace = Math.max(newSpace, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
        heapTotal = Math.max(heapTotal, process.memoryUsage().heapTotal);
      }
    }
    console.log(JSON.stringify({ newSpaceMb: newSpace / 2 ** 20, heapTotalMb: heapTotal / 2 ** 20, sink }));
  `;
  const run = spawnSync(process.execPath, ['-e', script], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', MEMSTORAGE_NEXT_V8_TUNING: tuning },
    encoding: 'utf8',
  });
  fs.rmSync(dir, { recursive: true, force: true });
  expect(run.status, run.stderr).to.equal(0);
  return JSON.parse(run.stdout) as { newSpaceMb: number; heapTotalMb: number };
}

describe('memstorage-next command: memory', function () {
  this.timeout(120_000);

  it('the V8 flags set at run time take effect: the young generation keeps its size (1 MB a semi-space at startup) and the heap near its live size (V8 defaults: 16 MB, and more)', function () {
    const tuned = churn('1');
    const defaults = churn('0');
    expect(tuned.newSpaceMb, JSON.stringify({ tuned, defaults })).to.be.at.most(4.5);
    expect(defaults.newSpaceMb, JSON.stringify({ tuned, defaults })).to.be.above(8);
    expect(tuned.heapTotalMb, JSON.stringify({ tuned, defaults })).to.be.below(defaults.heapTotalMb);
  });

  it('no heap cap: a 64 MB value goes through export and import of the command run as a process', async function () {
    const redisBase = (await sharedRedis()).url;
    const [from, to] = [freshNamespace('cli-big'), freshNamespace('cli-big-back')];
    // A long command timeout for this test's own writes and reads of the large value on a loaded machine.
    const open = (namespace: string) => createStore({ type: 'redis', settings: { url: redisBase, namespace, commandTimeout: 60_000 } }) as BaseStore;
    const source = open(from);
    const back = open(to);
    const big = 'x'.repeat(64 * 2 ** 20 - 7) + 'the end';
    try {
      await source.set('big', { text: big, n: 1 }, { ttl: 600_000 });
      await source.set('small', 2);
      const exported = await cli(['export', `${redisBase}?namespace=${from}`]);
      expectExit(exported, ExitCodes.OK);
      expect(exported.stderr).to.equal('exported 2 entries\n');
      const imported = await cli(['import', `${redisBase}?namespace=${to}`], exported.stdout);
      expectExit(imported, ExitCodes.OK);
      expect(imported.stderr).to.equal('imported 2 entries; 0 expired before their write, skipped\n');
      const value = (await back.getOne('big')) as { text: string; n: number };
      expect(value.n).to.equal(1);
      expect(value.text.length).to.equal(big.length);
      expect(value.text === big).to.equal(true);
      expect(await back.ttl('big')).to.be.within(500_000, 600_000);
      expect(await back.getOne('small')).to.equal(2);
    } finally {
      await Promise.all([source.clear(), back.clear()]);
      await Promise.all([source.close(), back.close()]);
    }
  });
});
