/** TickFlush and TickQueue (lib/core/tick-flush.ts, tick-queue.ts): per-tick batching every batching backend shares. */
import { expect } from 'chai';
import { TickFlush } from '../lib/core/tick-flush';
import { Settle, TickQueue } from '../lib/core/tick-queue';

interface Call extends Settle<string> {
  n: number;
}

/** A queue that records its batches and answers each call with `answer` (an error object rejects it). */
function recordingQueue(max: number, answer: (n: number) => string | Error = (n) => `v${n}`) {
  const batches: number[][] = [];
  const queue = new TickQueue<Call>({
    max,
    send: async (batch) => {
      batches.push(batch.map((c) => c.n));
      await Promise.resolve();
      for (const call of batch) {
        const out = answer(call.n);
        if (out instanceof Error) call.reject(out);
        else call.resolve(out);
      }
    },
  });
  const call = (n: number) => new Promise<string>((resolve, reject) => queue.add({ n, resolve, reject }));
  return { queue, batches, call };
}

const outcome = (p: Promise<string>) => p.then((v) => v, (e: Error) => `error:${e.message}`);

describe('core: TickFlush', () => {
  it('flushes once per tick however many requests, and again in the next tick', async () => {
    let flushes = 0;
    const tick = new TickFlush(() => flushes++);
    tick.request();
    tick.request();
    expect(tick.requested).to.equal(true);
    expect(flushes).to.equal(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushes).to.equal(1);
    expect(tick.requested).to.equal(false);
    tick.request();
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushes).to.equal(2);
  });

  it('from a promise continuation: on nextTick, requests of later continuations join the flush; on a microtask, they do not', async () => {
    const seen: string[] = [];
    const late = new TickFlush(() => seen.push('nextTick flush'));
    const early = new TickFlush(() => seen.push('microtask flush'), queueMicrotask);
    await Promise.resolve(); // from here on, this test runs in promise continuations
    late.request();
    early.request();
    await Promise.resolve();
    await Promise.resolve();
    seen.push('continuation');
    late.request(); // still the same flush
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).to.deep.equal(['microtask flush', 'continuation', 'nextTick flush']);
  });
});

describe('core: TickQueue', () => {
  it('sends the calls of one tick as one batch, and each caller gets its own outcome', async () => {
    const { batches, call } = recordingQueue(10, (n) => (n === 2 ? new Error(`bad ${n}`) : `v${n}`));
    const results = await Promise.all([1, 2, 3].map((n) => outcome(call(n))));
    expect(batches).to.deep.equal([[1, 2, 3]]);
    expect(results).to.deep.equal(['v1', 'error:bad 2', 'v3']);
  });

  it('splits a tick\'s calls into batches of at most max, in order', async () => {
    const { batches, call } = recordingQueue(2);
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => call(n)));
    expect(batches).to.deep.equal([[1, 2], [3, 4], [5]]);
    expect(results).to.deep.equal(['v1', 'v2', 'v3', 'v4', 'v5']);
  });

  it('calls of the next tick go in a batch of their own', async () => {
    const { batches, call } = recordingQueue(10);
    await call(1);
    await Promise.all([call(2), call(3)]);
    expect(batches).to.deep.equal([[1], [2, 3]]);
  });

  it('a send that rejects fails the calls it left unanswered with its error, and only those', async () => {
    const boom = new Error('round trip failed');
    const queue = new TickQueue<Call>({
      max: 10,
      send: async (batch) => {
        batch[0].resolve('first answered');
        throw boom;
      },
    });
    const call = (n: number) => new Promise<string>((resolve, reject) => queue.add({ n, resolve, reject }));
    const results = await Promise.all([call(1), call(2), call(3)].map((p) => p.then((v) => v, (e: unknown) => e)));
    expect(results[0]).to.equal('first answered');
    expect(results[1]).to.equal(boom);
    expect(results[2]).to.equal(boom);
  });

  it('a send that throws synchronously fails its batch; the other batches go on', async () => {
    const boom = new Error('cannot send');
    let sends = 0;
    const queue = new TickQueue<Call>({
      max: 1,
      send: (batch) => {
        if (sends++ === 0) throw boom;
        batch[0].resolve(`v${batch[0].n}`);
      },
    });
    const call = (n: number) => new Promise<string>((resolve, reject) => queue.add({ n, resolve, reject }));
    const results = await Promise.all([call(1), call(2)].map((p) => p.then((v) => v, (e: unknown) => e)));
    expect(results).to.deep.equal([boom, 'v2']);
  });

  it('idle() resolves once queued and in-flight calls are answered', async () => {
    let finish: () => void = () => undefined;
    const queue = new TickQueue<Call>({
      max: 10,
      send: (batch) =>
        new Promise<void>((resolve) => {
          finish = () => {
            for (const c of batch) c.resolve('done');
            resolve();
          };
        }),
    });
    await queue.idle(); // nothing queued
    const answered: string[] = [];
    void new Promise<string>((resolve, reject) => queue.add({ n: 1, resolve, reject })).then((v) => answered.push(v));
    let idle = false;
    const waiting = queue.idle().then(() => void (idle = true));
    await new Promise((resolve) => setImmediate(resolve)); // the batch is sent, not answered
    expect(idle).to.equal(false);
    finish();
    await waiting;
    expect(answered).to.deep.equal(['done']);
  });

  it('idle() also resolves when every batch was answered synchronously', async () => {
    const queue = new TickQueue<Call>({ max: 10, send: (batch) => batch.forEach((c) => c.resolve('sync')) });
    const answer = new Promise<string>((resolve, reject) => queue.add({ n: 1, resolve, reject }));
    await queue.idle();
    expect(await answer).to.equal('sync');
  });
});
