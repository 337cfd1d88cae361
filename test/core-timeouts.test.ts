/** The core's timeouts: Deadlines (one timer for many operations sharing one timeout) and withinMs (a bounded wait). */
import { expect } from 'chai';
import { Deadlines } from '../lib/core/deadlines';
import { withinMs } from '../lib/core/promises';

/** Timers that hold the process now (unref'd ones are not listed). */
const heldTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** heldTimers() once the test runner's own timer for the running test is in place (it arms it after the test's first step). */
async function heldTimersAtStart(): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve));
  return heldTimers();
}

/** A promise and the functions that settle it. */
function pending<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

class TimedOut extends Error {}

describe('core: Deadlines', () => {
  it('passes on what the operation settles with, value or error, when it settles in time', async () => {
    const deadlines = new Deadlines(10_000, () => new TimedOut());
    expect(await deadlines.watch(Promise.resolve(7))).to.equal(7);
    const boom = new Error('failed');
    expect(await deadlines.watch(Promise.reject(boom)).catch((e: unknown) => e)).to.equal(boom);
  });

  it('rejects with its own error an operation that has not settled within the timeout; one that settles later changes nothing', async () => {
    const deadlines = new Deadlines(5, () => new TimedOut());
    const op = pending<number>();
    const err = await deadlines.watch(op.promise).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TimedOut);
    op.resolve(1);
    expect(await deadlines.watch(Promise.resolve(2))).to.equal(2);
  });

  it('serves many pending operations with one timer, which stops holding the process once every one is answered', async () => {
    const before = await heldTimersAtStart();
    const deadlines = new Deadlines(60_000, () => new TimedOut());
    const ops = Array.from({ length: 100 }, () => pending<number>());
    const watched = ops.map((op) => deadlines.watch(op.promise));
    expect(heldTimers()).to.equal(before + 1);
    ops.forEach((op, i) => op.resolve(i));
    expect(await Promise.all(watched)).to.have.length(100);
    expect(heldTimers()).to.equal(before); // armed for a minute, but no longer holding the process

    // The next operation holds the process again until it is answered.
    const next = pending<number>();
    const watchedNext = deadlines.watch(next.promise);
    expect(heldTimers()).to.equal(before + 1);
    next.resolve(1);
    await watchedNext;
    expect(heldTimers()).to.equal(before);
  });
});

describe('core: withinMs', () => {
  it('resolves when the promise resolves, whatever its value', async () => {
    await withinMs(Promise.resolve([1, 2]), 60_000);
  });

  it('rejects when the promise rejects first', async () => {
    const boom = new Error('failed');
    expect(await withinMs(Promise.reject(boom), 60_000).catch((e: unknown) => e)).to.equal(boom);
  });

  it('resolves after ms when the promise is still pending, on a timer that never holds the process', async () => {
    const before = await heldTimersAtStart();
    const waiting = withinMs(new Promise(() => undefined), 5);
    expect(heldTimers()).to.equal(before);
    await waiting;
  });
});
