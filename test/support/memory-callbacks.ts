/**
 * Helpers for callback tests: observe that a callback is called exactly once and never
 * synchronously, and collect the warnings a store reports through process.emitWarning.
 */
import { expect } from 'chai';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCallback = (...args: any[]) => void;

/** Lets every pending tick, microtask and immediate run, plus a short timer turn. */
export function settleTurns(ms = 10): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setTimeout(resolve, ms)));
}

/**
 * Calls `invoke(cb)` and resolves the arguments `cb` received, after checking that `cb` was
 * not called before `invoke` returned and was not called a second time afterwards.
 */
export async function oneAsyncCall(invoke: (cb: AnyCallback) => unknown, label = 'callback'): Promise<unknown[]> {
  const calls: unknown[][] = [];
  let returned = false;
  let calledSynchronously = false;
  let first!: () => void;
  const firstCall = new Promise<void>((resolve) => (first = resolve));
  invoke((...args: unknown[]) => {
    if (!returned) calledSynchronously = true;
    calls.push(args);
    first();
  });
  returned = true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label} was never called`)), 5000);
  });
  try {
    await Promise.race([firstCall, timeout]);
  } finally {
    clearTimeout(timer);
  }
  await settleTurns();
  expect(calledSynchronously, `${label} must be called asynchronously`).to.equal(false);
  expect(calls.length, `${label} must be called exactly once`).to.equal(1);
  return calls[0];
}

/** Collects process warnings of type StoreWarning until `stop()` is called. */
export function captureStoreWarnings(): { warnings: Array<Error & { code?: string }>; stop: () => void } {
  const warnings: Array<Error & { code?: string }> = [];
  const listener = (w: Error & { code?: string }) => {
    if (w.name === 'StoreWarning') warnings.push(w);
  };
  process.on('warning', listener);
  return { warnings, stop: () => process.removeListener('warning', listener) };
}
