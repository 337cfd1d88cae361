/**
 * The package as users get it, shared by the tests of the built output (package-entry,
 * package-install): `npm run build` runs once per test process, and `npm pack` reuses that
 * build instead of compiling again through "prepare".
 */
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as path from 'node:path';

/** The repository root. */
export const ROOT = path.resolve(__dirname, '..', '..');

/** The npm command of this platform. */
export const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Runs a command to completion (4 minutes at most) and returns its output as text. */
export function run(command: string, args: string[], cwd = ROOT, timeout = 240_000): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, NODE_OPTIONS: '' } });
}

let build: SpawnSyncReturns<string> | undefined;

/** `npm run build` (the script "prepare" runs), once per test process; its result. */
export function buildPackage(): SpawnSyncReturns<string> {
  // npm runs the same script for `prepare`, so a failing build also fails `npm ci`.
  build ??= run(NPM, ['run', '--silent', 'build']);
  return build;
}

/** The first lines of a command's output, for a failure message. */
export function outputHead(res: SpawnSyncReturns<string>, lines = 12): string {
  const output = `${res.stdout}\n${res.stderr}`.trim().split('\n');
  return output.slice(0, lines).join('\n') + (output.length > lines ? `\n... (${output.length - lines} more lines)` : '');
}

/** Builds (once) and packs the package into `destination`; the tarball's path. */
export function packPackage(destination: string): string {
  const built = buildPackage();
  if (built.status !== 0) throw new Error(`npm run build failed:\n${outputHead(built)}`);
  // --ignore-scripts: "prepare" would only run the build just done again.
  const res = run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', destination]);
  if (res.status !== 0) throw new Error(`npm pack failed:\n${outputHead(res)}`);
  const [packed] = JSON.parse(res.stdout) as { filename: string }[];
  return path.join(destination, packed.filename);
}
