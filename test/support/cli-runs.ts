/**
 * Running the `memstorage-next` command in tests: as a child process from the sources (what a
 * user runs) or its main() in this process (faster, and its streams can pose as a terminal).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../lib/cli/main';
import type { CliIo } from '../../lib/cli/output';

/** The repository's root: the child's working directory. */
export const ROOT = path.resolve(__dirname, '..', '..');
/** The command's entry point, run through ts-node. */
export const MAIN = path.join(ROOT, 'lib', 'cli', 'main.ts');

/** How a run ended: its exit code and what it wrote. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `memstorage-next args` from the sources, `input` on its stdin; its exit code and output. */
export function cli(args: string[], input = ''): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', MAIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Streams for the command's functions in process (stderr a terminal when asked); `out()` and `err()` read what they wrote. */
export function captured(input = '', stderrIsTty = false): { io: CliIo; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), stderrIsTty ? { isTTY: true, columns: 100 } : {});
  let out = '';
  let err = '';
  stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  return { io: { stdout, stderr, stdin: Readable.from([Buffer.from(input)]) }, out: () => out, err: () => err };
}

/** The command's main() in this process, `input` on its stdin; its exit code and output. */
export async function cliInProcess(args: string[], input = '', stderrIsTty = false): Promise<CliRun> {
  const { io, out, err } = captured(input, stderrIsTty);
  const status = await main(args, io);
  return { status, stdout: out(), stderr: err() };
}

/** `run`'s exit code must be `code`; the output is shown when it is not. */
export function expectExit(run: CliRun, code: number): void {
  expect(run.status, `stdout: ${run.stdout}\nstderr: ${run.stderr}`).to.equal(code);
}
