/** The deadlines of a tier's operations (Tier.call's timeout), kept with one timer. */
const noop = (): void => undefined;

/** One operation waiting for its deadline. */
interface Pending {
  deadline: number;
  done: boolean;
  reject: (err: Error) => void;
}

/**
 * Per-tier timeouts without a timer per operation: every operation on a tier has the same
 * timeout, so deadlines arrive in start order and one timer, armed for the oldest pending
 * deadline, serves them all. An operation costs a queue slot instead of a setTimeout and a
 * clearTimeout, which matters on the miss path at thousands of operations in flight.
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
      this.queue.push(entry);
      if (!this.timer) this.arm();
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
