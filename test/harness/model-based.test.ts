/**
 * Model-based tests (issue #10): on every store configuration, random sequences of 100+
 * operations compared step by step with a reference model (model.ts), awaited one by one and
 * issued in un-awaited batches (SPEC §12 program order). See model-run.ts for FUZZ_RUNS,
 * FUZZ_SEED and replaying a failure; a long run is e.g.
 *
 *     FUZZ_RUNS=2000 STORE_CONFIGS=redis npx mocha test/harness/model-based.test.ts
 */
import { prepare, selectedConfigs } from '../support/store-configs';
import { WITHOUT } from './model-arbitraries';
import { Coverage, emptyCoverage, runModelProperty } from './model-run';

const configs = selectedConfigs();

function summary(name: string, c: Coverage): string {
  const seconds = (c.ms / 1000).toFixed(1);
  const without = WITHOUT.size > 0 ? ` (FUZZ_WITHOUT=${[...WITHOUT].join(',')}: a triage run, not full coverage)` : '';
  return `model-based [${name}]: ${c.sequences} sequences (${c.longSequences} of ≥100 operations), ${c.operations} operations, ${c.calls} store calls with the checks, ${seconds} s${without}`;
}

describe('model-based tests (fast-check, every store configuration)', function () {
  before(async function () {
    this.timeout(300_000); // servers start once per process
    await prepare(configs);
  });

  for (const config of configs) {
    describe(config.name, function () {
      this.timeout(30 * 60 * 1000); // a long FUZZ_RUNS run; CI's default runs take ~a minute
      const coverage = emptyCoverage();
      after(() => {
        console.log(`      ${summary(config.name, coverage)}`);
      });

      it('sequential: awaited operations, clock moves, scopes, copy and streams agree with the model', async () => {
        await runModelProperty(config, 'sequential', coverage);
      });

      it('batched: un-awaited batches answer as the model applied in issue order (SPEC §12)', async () => {
        await runModelProperty(config, 'batched', coverage);
      });
    });
  }
});
