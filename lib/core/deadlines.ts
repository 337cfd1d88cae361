/** Deadlines for operations that share one timeout (a multi tier's calls, a connection's commands), kept with one timer. */
const noop = (): void => undefined;

/** One operation waiting for its deadline. */
interface Pending {
  deadline: number;
  done: boolean;
  reject: (err: Error) => void;
}

/**
 * Timeouts without a timer per operation: every operation watched by one Deadlines (a tier's,
 * a connection's) has the same timeout, so deadlines arrive in start order and one timer, armed for the oldest pending
 * deadline, serves them all. An operation costs a queue slot instead of a setTimeout and a
 * clearTimeout, which matters on the miss path at thousands of operations in flight. The
 * timer holds the process only while an operation is pending: once every one is answered it
 * is unref'd (and ref'd again by the next), so it never delays the exit of a process that is
 * done.
 */
export class Deadlines {
  private queue: Pending[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ms: number,
    private readonly error: () => Error,
  ) {}

  /** `p`, or a rejection with `error()` when it has not settled within `ms`. */
  watch<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: Date.now() + this.ms, done: false, reject };
      const timer = this.timer;
      if (timer && this.head === this.queue.length) timer.ref(); // armed for an answered operation, unref'd by settle
      this.queue.push(entry);
      if (!timer) this.arm();
      p.then(
        (v) => {
          this.settle(entry);
          resolve(v);
        },
        (e) => {
          this.settle(entry);
          reject(e);
        },
      );
    });
  }

  /** Marks an operation answered and frees the queue's head, so answered entries are not kept until the timer fires. */
  private settle(entry: Pending): void {
    entry.done = true;
    entry.reject = noop;
    const q = this.queue;
    if (q[this.head] !== entry) return;
    while (this.head < q.length && q[this.head].done) this.head++;
    if (this.head === q.length) {
      this.queue = [];
      this.head = 0;
      this.timer?.unref(); // nothing pending: the timer fires for nothing and must not hold the process until then
    } else if (this.head >= 1024 && this.head * 2 >= q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
  }

  private arm(): void {
    const q = this.queue;
    while (this.head < q.length && q[this.head].done) this.head++;
    if (this.head >= q.length) {
      this.queue = [];
      this.head = 0;
      return;
    }
    if (this.head > 1024 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
    const wait = Math.max(0, this.queue[this.head].deadline - Date.now());
    this.timer = setTimeout(this.fire, wait);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = Date.now();
    const q = this.queue;
    while (this.head < q.length && (q[this.head].done || q[this.head].deadline <= now)) {
      const entry = q[this.head++];
      if (!entry.done) {
        entry.done = true;
        entry.reject(this.error());
      }
    }
    this.arm();
  };
}
