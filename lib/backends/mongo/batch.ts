/**
 * Coalescing of concurrent exact-key operations into one round trip (like ioredis'
 * auto-pipelining). Calls made in the same tick are queued and flushed together on the next
 * `process.nextTick`: a lone call costs one tick of latency and is sent as it would have been;
 * a thousand concurrent `getOne`s become one `find({ _id: { $in } })`, a thousand `set`s one
 * ordered `update` command. Each caller still gets its own result or its own error.
 */

/** The outcome of one queued call. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface Pending<T, R> {
  item: T;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/** Queues items and hands them to `flush` in batches of at most `max`, once per tick. */
export class Coalescer<T, R> {
  private queue: Array<Pending<T, R>> = [];
  private scheduled = false;
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly flush: (items: T[]) => Promise<Array<Outcome<R>>>,
    private readonly max: number,
    /** Serves a batch of one directly (the sequential case: no arrays, no outcome objects). */
    private readonly flushOne?: (item: T) => Promise<R>,
  ) {}

  /** Queues `item`; resolves or rejects with its own outcome. */
  push(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(this.run);
      }
    });
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    if (queue.length === 1 && this.flushOne) {
      void this.dispatchOne(queue[0], this.flushOne);
      return;
    }
    for (let start = 0; start < queue.length; start += this.max) void this.dispatch(queue.slice(start, start + this.max));
  };

  private async dispatchOne(pending: Pending<T, R>, flushOne: (item: T) => Promise<R>): Promise<void> {
    this.inflight++;
    try {
      pending.resolve(await flushOne(pending.item));
    } catch (error) {
      pending.reject(error);
    }
    this.settled();
  }

  private settled(): void {
    this.inflight--;
    if (this.inflight === 0 && this.queue.length === 0 && this.idleWaiters.length > 0) {
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /** Resolves once nothing is queued or in flight (close() waits for calls already made). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async dispatch(batch: Array<Pending<T, R>>): Promise<void> {
    this.inflight++;
    let outcomes: Array<Outcome<R>> | undefined;
    let failure: unknown;
    try {
      outcomes = await this.flush(batch.map((p) => p.item));
    } catch (error) {
      failure = error;
    }
    for (let i = 0; i < batch.length; i++) {
      const outcome = outcomes?.[i];
      if (!outcome) batch[i].reject(failure);
      else if (outcome.ok) batch[i].resolve(outcome.value);
      else batch[i].reject(outcome.error);
    }
    this.settled();
  }
}
