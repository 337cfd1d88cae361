/**
 * Drives a child process running test/fixtures/multi-process.ts: one multi store per child,
 * requests and replies over IPC, invalidation events forwarded. The child is stopped by PID.
 */
import { ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as path from 'node:path';

/** A reply with the child's own timestamps (epoch ms, sub-millisecond). */
export interface Reply<T = unknown> {
  result: T;
  started: number;
  finished: number;
}

/** A running child. */
export interface MultiChild {
  pid: number;
  events: EventEmitter;
  request<T = unknown>(op: string, ...args: unknown[]): Promise<Reply<T>>;
  stop(): Promise<void>;
}

const FIXTURE = path.resolve(__dirname, '..', 'fixtures', 'multi-process.ts');

/** Starts a child and resolves once its store is connected. */
export function startMultiChild(config: { redis: string; mongo: string; db: string; namespace: string }): Promise<MultiChild> {
  const child: ChildProcess = fork(FIXTURE, [JSON.stringify(config)], {
    execArgv: ['-r', 'ts-node/register/transpile-only'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const events = new EventEmitter();
  const waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let seq = 0;
  child.on('message', (message: { seq?: number; event?: string; error?: { code: string; message: string } } & Reply) => {
    if (message.event) {
      events.emit(message.event, message);
      return;
    }
    const w = waiting.get(message.seq!);
    if (!w) return;
    waiting.delete(message.seq!);
    if (message.error) w.reject(Object.assign(new Error(message.error.message), { code: message.error.code }));
    else w.resolve(message);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle: MultiChild = {
    pid: child.pid!,
    events,
    request<T>(op: string, ...args: unknown[]) {
      return new Promise<Reply<T>>((resolve, reject) => {
        const id = ++seq;
        waiting.set(id, { resolve: resolve as (r: Reply) => void, reject });
        child.send({ seq: id, op, args });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        await Promise.race([handle.request('close'), new Promise((r) => setTimeout(r, 5000))]);
      } catch {
        // killed below
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    },
  };
  return new Promise((resolve, reject) => {
    events.once('ready', () => resolve(handle));
    events.once('failed', (m: { message: string }) => reject(new Error(m.message)));
    child.once('exit', (code) => reject(new Error(`multi child exited with ${code} before it was ready`)));
  });
}

/** The p-th percentile (0..100) of a list of numbers. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
