/**
 * Drivers are optional (SPEC §13, issue 11 item 3): the package is packed with `npm pack`,
 * installed from the tarball into an empty project, and used there the way a memory-only user
 * would. Nothing of ioredis, mongodb or better-sqlite3 may be installed or compiled; a memory
 * store works from CommonJS and ESM; a driver-backed type is ERR_STORE_CONFIG naming the package
 * to install. lib/drivers.ts is also checked on the sources.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NPM, ROOT, outputHead, packPackage, run } from './support/built-package';
import { DRIVER_MAJORS, loadDriver } from '../lib/drivers';
import { ErrorCodes, StoreError } from '../lib/errors';
import ioredis = require('ioredis');

const FIXTURES = path.join(__dirname, 'fixtures');
const DRIVERS = ['ioredis', 'mongodb', 'better-sqlite3', 'bson', '@mongodb-js/saslprep'];
/**
 * Packages a memory-only install may hold besides memstorage-next: readable-stream and
 * sorted-btree with their dependencies (10), and the command's commander and cli-progress with
 * theirs (7) — all plain JavaScript.
 */
const MEMORY_ONLY_BUDGET = 19;

interface Refusal {
  threw: boolean;
  code?: string;
  message?: string;
  isStoreConfigError?: boolean;
}

/** What `fn` threw; fails the test when it returns. */
function thrownBy(fn: () => unknown): StoreError & { cause?: NodeJS.ErrnoException } {
  try {
    fn();
  } catch (err) {
    return err as StoreError & { cause?: NodeJS.ErrnoException };
  }
  throw new Error('expected a throw');
}

/** Asserts `seen` is the refusal of a type whose driver `driver` is missing. */
function expectMissingDriver(seen: Refusal, driver: string): void {
  expect(seen, JSON.stringify(seen)).to.include({ threw: true, code: ErrorCodes.CONFIG, isStoreConfigError: true });
  expect(seen.message).to.include(`npm install ${driver}@${DRIVER_MAJORS[driver]}`);
}

describe('driver loading (lib/drivers.ts)', function () {
  let dir: string;
  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memstorage-drivers-'));
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the drivers are optional peer dependencies of the majors the install message names, and dev dependencies here', function () {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    for (const [driver, major] of Object.entries(DRIVER_MAJORS)) {
      expect(manifest.dependencies, driver).not.to.have.property(driver);
      expect(manifest.peerDependencies[driver], driver).to.match(new RegExp(`^\\^${major}\\.`));
      expect(manifest.peerDependenciesMeta[driver], driver).to.deep.equal({ optional: true });
      expect(manifest.devDependencies[driver], driver).to.match(new RegExp(`^\\^${major}\\.`));
    }
    // sorted-btree: the memory store's ordered indexes (issue #12); commander and cli-progress:
    // the memstorage-next command (issue #14, docs/cli.md). Plain JavaScript, nothing to compile.
    expect(Object.keys(manifest.dependencies).sort()).to.deep.equal(['cli-progress', 'commander', 'readable-stream', 'sorted-btree']);
  });

  it('returns the installed driver, the very module require() gives', function () {
    expect(loadDriver('ioredis', 'redis')).to.equal(ioredis);
  });

  it('a driver that is not installed is ERR_STORE_CONFIG naming the package to install', function () {
    const err = thrownBy(() => loadDriver('memstorage-next-absent-driver', 'redis'));
    expect(err).to.be.instanceOf(StoreError);
    expect(err.code).to.equal(ErrorCodes.CONFIG);
    expect(err.message).to.include('npm install memstorage-next-absent-driver');
    expect(thrownBy(() => loadDriver('memstorage-next-absent-driver', 'redis', 'with invalidation.redis as a URL')).message).to.include(
      'redis store with invalidation.redis as a URL needs',
    );
    expect(err.cause?.code).to.equal('MODULE_NOT_FOUND');
  });

  it('a module missing inside an installed driver is ERR_STORE_CONFIG that does not tell to install the driver', function () {
    // A driver whose own dependency is gone: installing the driver is not the answer.
    const driver = path.join(dir, 'broken-driver');
    fs.mkdirSync(driver);
    fs.writeFileSync(path.join(driver, 'index.js'), "require('memstorage-next-absent-inner-module');\n");
    const err = thrownBy(() => loadDriver(driver, 'redis'));
    expect(err.code).to.equal(ErrorCodes.CONFIG);
    expect(err.message).not.to.include('npm install');
    expect(err.message).to.include('memstorage-next-absent-inner-module');
    expect(err.cause?.code).to.equal('MODULE_NOT_FOUND');
  });
});

describe('a memory-only install from the packed tarball (no driver)', function () {
  // Build (or reuse this process's build), pack, and install: a minute on a slow machine.
  this.timeout(300_000);
  let work: string;
  let project: string;
  let tarball: string;
  let install: ReturnType<typeof run>;

  /** Runs a fixture copied into the project with node; the JSON object it printed last. */
  function consumer(file: string, args: string[] = []): Record<string, unknown> {
    fs.copyFileSync(path.join(FIXTURES, file), path.join(project, file));
    const res = run(process.execPath, [file, ...args], project, 60_000);
    expect(res.status, `${file} failed:\n${res.stderr}`).to.equal(0);
    const lines = res.stdout.trim().split('\n');
    return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
  }

  /** The packages npm installed, as "name@version", from the project's lockfile. */
  function installedPackages(): string[] {
    const lock = JSON.parse(fs.readFileSync(path.join(project, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string }>;
    };
    return Object.entries(lock.packages)
      .filter(([where]) => where.startsWith('node_modules/'))
      .map(([where, pkg]) => `${where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${pkg.version}`);
  }

  before(function () {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'memstorage-install-'));
    project = path.join(work, 'project');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    tarball = packPackage(work);
    install = run(NPM, ['install', tarball, '--no-audit', '--no-fund'], project);
  });

  after(function () {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('npm install <tarball> succeeds', function () {
    expect(install.status, `npm install failed:\n${outputHead(install)}`).to.equal(0);
    expect(fs.existsSync(path.join(project, 'node_modules', 'memstorage-next', 'dist', 'index.js'))).to.equal(true);
  });

  it('installs no driver and compiles nothing: readable-stream, sorted-btree and the command\'s parser and progress bar only', function () {
    const packages = installedPackages();
    const names = packages.map((pkg) => pkg.slice(0, pkg.lastIndexOf('@')));
    for (const driver of DRIVERS) {
      expect(names, `${driver} installed`).not.to.include(driver);
      expect(fs.existsSync(path.join(project, 'node_modules', driver)), `node_modules/${driver}`).to.equal(false);
    }
    expect(names).to.include.members(['memstorage-next', 'readable-stream']);
    // Nothing native: no binding.gyp to compile, no .node addon anywhere.
    const native = installedFiles(path.join(project, 'node_modules')).filter((file) => file.endsWith('.node') || path.basename(file) === 'binding.gyp');
    expect(native).to.deep.equal([]);
    expect(packages.length, packages.join(', ')).to.be.at.most(MEMORY_ONLY_BUDGET + 1);
    const size = run('du', ['-sh', 'node_modules'], project).stdout.split('\t')[0];
    // The figure the note quotes (before: 31 packages, 12 MB, with ioredis and mongodb).
    console.log(`      memory-only install: ${packages.length} packages (${packages.join(', ')}), node_modules ${size}`);
  });

  it('CommonJS: a memory store sets and gets; redis, mongo and a multi store with a Redis bus are ERR_STORE_CONFIG naming their driver', function () {
    const seen = consumer('install-cjs.cjs') as Record<string, Refusal> & { values: unknown; resolved: string; driversLoaded: string[] };
    expect(seen.values).to.deep.equal([{ name: 'one' }]);
    expect(seen.resolved).to.equal(fs.realpathSync(path.join(project, 'node_modules', 'memstorage-next', 'dist', 'index.js')));
    expectMissingDriver(seen.redis, 'ioredis');
    expectMissingDriver(seen.mongo, 'mongodb');
    expectMissingDriver(seen.RedisStore, 'ioredis');
    expectMissingDriver(seen.MongoStore, 'mongodb');
    expectMissingDriver(seen.multiWithBus, 'ioredis');
    expect(seen.driversLoaded).to.deep.equal([]);
  });

  it('CommonJS: sqlite is ERR_STORE_CONFIG naming better-sqlite3', function () {
    const seen = consumer('install-cjs.cjs') as Record<string, Refusal>;
    expectMissingDriver(seen.sqlite, 'better-sqlite3');
  });

  it('ESM: import from memstorage-next, a memory store sets and gets; redis is ERR_STORE_CONFIG naming ioredis', function () {
    const seen = consumer('install-esm.mjs') as { value: unknown; isMemoryStore: boolean; redis: Refusal };
    expect(seen).to.include({ value: 21, isMemoryStore: true });
    expectMissingDriver(seen.redis, 'ioredis');
  });

  it('every module of the build loads, or fails with ERR_STORE_CONFIG: none with a bare MODULE_NOT_FOUND for a driver', function () {
    const dist = path.join(project, 'node_modules', 'memstorage-next', 'dist');
    // A local dist/ may hold files built from sources since moved or deleted; leave those out.
    const stale = installedFiles(dist)
      .map((file) => path.relative(dist, file).split(path.sep).join('/'))
      .filter((name) => name.endsWith('.js') && !fs.existsSync(path.join(ROOT, name.replace(/\.js$/, '.ts'))));
    const { outcomes } = consumer('install-modules.cjs', stale) as { outcomes: Record<string, { ok: boolean; code?: string; message?: string }> };
    expect(outcomes['index.js']).to.deep.equal({ ok: true });
    expect(outcomes['lib/backends/memory/index.js']).to.deep.equal({ ok: true });
    expect(outcomes['lib/backends/redis/index.js']).to.include({ ok: false, code: ErrorCodes.CONFIG });
    expect(outcomes['lib/backends/mongo/index.js']).to.include({ ok: false, code: ErrorCodes.CONFIG });
    const unexpected = Object.entries(outcomes).filter(([name, outcome]) => {
      if (outcome.ok || outcome.code === ErrorCodes.CONFIG) return false;
      // The conformance suite's own optional peers are test tools, not drivers.
      return !(name.startsWith('conformance') || name.startsWith('lib/conformance/')) || !/'(chai|mocha)'/.test(outcome.message ?? '');
    });
    expect(Object.fromEntries(unexpected)).to.deep.equal({});
  });
});

/** Every file under `dir`, recursively. */
function installedFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}
