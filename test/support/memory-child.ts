/**
 * Runs a short plain-JavaScript script in a fresh Node process that can `require` the
 * TypeScript sources (ts-node, transpile-only). Tests use it for what cannot be observed
 * safely inside mocha's own process: uncaught exceptions, whether the process exits by
 * itself, and peak RSS.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

/** The repository root; scripts `require(ROOT + '/index')`. */
export const ROOT = path.resolve(__dirname, '..', '..');

/** What the child did. */
export interface ChildResult {
  /** Exit code, or null when it was killed. */
  code: number | null;
  /** The signal that ended it (our timeout kill), or null. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the child was still running at the timeout and we killed it. */
  timedOut: boolean;
}

/** Runs `script` with `node [nodeArgs] -r ts-node/register/transpile-only -e script`, killing it after `timeoutMs`. */
export function runChild(script: string, options: { timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<ChildResult> {
  const timeoutMs = options.timeoutMs ?? 20000;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...(options.nodeArgs ?? []), '-r', 'ts-node/register/transpile-only', '-e', script],
      { cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** The last line of stdout that parses as JSON (scripts report their findings as one JSON line). */
export function lastJson<T = Record<string, unknown>>(result: ChildResult): T {
  const lines = result.stdout.trim().split('\n').reverse();
  for (const line of lines) {
    try {
      return JSON.parse(line) as T;
    } catch {
      // not the report line
    }
  }
  throw new Error(`the child printed no JSON report; code ${result.code}, stdout: ${result.stdout}\nstderr: ${result.stderr}`);
}
