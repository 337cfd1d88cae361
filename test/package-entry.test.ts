/**
 * The package's entry points (SPEC §2, issue 2 item 1), checked on the BUILT package the way
 * users load it: `npm run build`, then small consumers run as separate node processes —
 * CommonJS (`require('memstorage-next')` is the factory), ESM (`import Store, { createStore,
 * MemoryStore }` from index.mjs, sharing the CJS build's classes) — and a TypeScript consumer
 * type-checked against the emitted declarations. Everything else tests the sources.
 */
import { expect } from 'chai';
import type { SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, buildPackage, outputHead, run } from './support/built-package';

const FIXTURES = path.join(__dirname, 'fixtures');
const DIST_ENTRY = path.join(ROOT, 'dist', 'index.js');

/** Runs a consumer with node and returns the JSON object it printed last. */
function consumer(file: string, args: string[]): Record<string, unknown> {
  const res = run(process.execPath, [path.join(FIXTURES, file), ...args], FIXTURES);
  expect(res.status, `${file} failed:\n${res.stderr}`).to.equal(0);
  const lines = res.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}

describe('package entry points (the built package)', function () {
  this.timeout(300_000);
  let build: SpawnSyncReturns<string>;

  before(function () {
    // Once per test process: package-install.test.ts packs this same build.
    build = buildPackage();
  });

  it('npm run build succeeds and emits dist/index.js with declarations', function () {
    expect(build.status, `npm run build failed:\n${outputHead(build)}\n`).to.equal(0);
    expect(fs.existsSync(DIST_ENTRY)).to.equal(true);
    expect(fs.existsSync(path.join(ROOT, 'dist', 'index.d.ts'))).to.equal(true);
  });

  it("CJS: require('memstorage-next') is the factory, with createStore and MemoryStore", function () {
    // By package name: Node resolves it through package.json "exports" (require condition).
    const seen = consumer('consumer-cjs.cjs', ['memstorage-next']);
    expect(seen).to.include({
      factoryIsFunction: true,
      createStore: 'function',
      MemoryStore: 'function',
      legacyIsMemoryStore: true,
      modernIsMemoryStore: true,
      defaultIsFactory: true,
      connected: true,
    });
    expect(seen.values).to.deep.equal(['one']);
    expect(seen.resolved).to.equal(DIST_ENTRY);
  });

  it('CJS: require(<package directory>) gives the same factory (package.json "main")', function () {
    const seen = consumer('consumer-cjs.cjs', [ROOT]);
    expect(seen).to.include({ factoryIsFunction: true, createStore: 'function', MemoryStore: 'function', legacyIsMemoryStore: true });
    expect(seen.resolved).to.equal(DIST_ENTRY);
  });

  it('ESM: import Store, { createStore, MemoryStore } from index.mjs; the classes are the CJS build\'s', function () {
    const seen = consumer('consumer-esm.mjs', [pathToFileURL(path.join(ROOT, 'index.mjs')).href, DIST_ENTRY]);
    expect(seen).to.deep.equal({
      defaultIsFunction: true,
      createStore: 'function',
      MemoryStore: 'function',
      sameFactory: true,
      sameCreateStore: true,
      sameMemoryStore: true,
      defaultMakesCjsMemoryStore: true,
      createStoreMakesCjsMemoryStore: true,
      namedMatchesDefault: true,
      value: 21,
      lazyClasses: { constructsCjsClass: true, instanceofStandIn: true, subclassWorks: true, staticsAreTheClass: true },
    });
  });

  it("ESM by package name: import from 'memstorage-next' (exports → index.mjs)", function () {
    const seen = consumer('consumer-esm.mjs', ['memstorage-next', 'memstorage-next']);
    expect(seen).to.include({ sameFactory: true, sameMemoryStore: true, createStoreMakesCjsMemoryStore: true });
  });

  it('TypeScript: a consumer importing the package type-checks against the emitted .d.ts', function () {
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const res = run(process.execPath, [
      tsc,
      '--noEmit',
      '--strict',
      '--esModuleInterop',
      '--module', 'commonjs',
      '--moduleResolution', 'node',
      '--target', 'es2022',
      '--types', 'node',
      '--skipLibCheck',
      '--listFiles',
      path.join(FIXTURES, 'consumer-ts.ts'),
    ]);
    expect(res.status, `tsc failed:\n${res.stdout}\n${res.stderr}`).to.equal(0);
    // It must have used the built declarations, not the TypeScript sources.
    expect(res.stdout).to.include(path.join(ROOT, 'dist', 'index.d.ts'));
    expect(res.stdout).not.to.include(path.join(ROOT, 'index.ts'));
  });
});
