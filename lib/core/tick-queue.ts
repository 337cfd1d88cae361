/**
 * Per-tick batching of calls (like ioredis' auto-pipelining): calls made in one tick are queued
 * and sent together once it ends (TickFlush, on `process.nextTick`), in batches of at most
 * `max`, each batch sent on its own so the first answers are used while later batches are on
 * their way. A lone call costs one tick of latency; a thousand concurrent calls become a few
 * round trips. Each caller gets its own result or its own error.
 */
import { TickFlush } from './tick-flush';

/** How a queued call is answered: the settle functions of its caller's promise. */
export interface Settle<R> {
  resolve(value: R): void;
  reject(error: unknown): void;
}

/** How a TickQueue sends its calls. */
export interface TickQueueOptions<C> {
  /** Most calls in one batch. */
  max: number;
  /**
   * Sends one batch (one or more calls, at most `max`) and answers every call in it, each with
   * its own outcome, as soon as it is known (a batch of one may take a cheaper way). If it throws
   * or its promise rejects, every call it left unanswered is rejected with that error
   * (answering a call twice is a no-op).
   */
  send(batch: C[]): Promise<unknown> | void;
}

/**
 * A queue of calls sent once per tick in batches. A call is the caller's own object (what it
 * sends plus `resolve`/`reject`), so queueing one allocates nothing beyond it:
 *
 *   get(id) { return new Promise((resolve, reject) => reads.add({ id, resolve, reject })); }
 */
export class TickQueue<C extends Settle<never>> {
  private queue: C[] = [];
  private readonly tick = new TickFlush(() => this.sendQueued());
  /** Batches sent whose `send` has not settled yet. */
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly max: number;
  private readonly send: (batch: C[]) => Promise<unknown> | void;

  constructor(options: TickQueueOptions<C>) {
    this.max = options.max;
    this.send = options.send;
  }

  /** Queues a call; it is sent with the others of this tick when the tick ends. */
  add(call: C): void {
    this.queue.push(call);
    this.tick.request();
  }

  /** Resolves once nothing is queued or being sent (a close() waits for the calls already made). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private sendQueued(): void {
    const queued = this.queue;
    this.queue = [];
    if (queued.length <= this.max) this.dispatch(queued);
    else for (let start = 0; start < queued.length; start += this.max) this.dispatch(queued.slice(start, start + this.max));
    if (this.inflight === 0) this.wakeIfIdle(); // every batch was answered synchronously
  }

  private dispatch(batch: C[]): void {
    let sent: Promise<unknown> | void;
    try {
      sent = this.send(batch);
    } catch (err) {
      return rejectAll(batch, err);
    }
    if (!sent) return;
    this.inflight++;
    sent.then(this.sendSettled, (err: unknown) => {
      rejectAll(batch, err);
      this.sendSettled();
    });
  }

  private readonly sendSettled = (): void => {
    this.inflight--;
    this.wakeIfIdle();
  };

  private wakeIfIdle(): void {
    if (this.inflight > 0 || this.queue.length > 0 || this.idleWaiters.length === 0) return;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }
}

function rejectAll(batch: Array<Settle<never>>, err: unknown): void {
  for (const call of batch) call.reject(err);
}
