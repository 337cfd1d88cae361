/**
 * The type tests (SPEC §13): test/types/*.ts assert what the public API's types resolve
 * (`expect-type`) and which calls do not compile (`@ts-expect-error`). They are never run; this
 * test type-checks them with the project's compiler, so `npm test` fails with tsc's own output
 * when a type regresses.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

describe('type tests (tsc -p test/types)', function () {
  this.timeout(180_000);

  it('compile: every expected type holds and every @ts-expect-error call is refused', function () {
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const res = spawnSync(process.execPath, [tsc, '--noEmit', '-p', path.join(__dirname, 'types', 'tsconfig.json')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(res.error, 'could not start tsc').to.equal(undefined);
    expect(res.status, `tsc failed:\n${res.stdout}\n${res.stderr}`).to.equal(0);
  });
});
