/**
 * What a store and its scopes share (a client, a file, keyspaces) is counted by its users: the
 * first one starts the periodic task (an expiry sweep), the last one to leave stops it and
 * releases the resource (closes a client the store made). Every backend counts its users here;
 * none shares by key (each store makes its own resource and hands it to its scopes), so there
 * is no registry.
 */

/** How a SharedResource looks after its resource. */
export interface SharedResourceOptions {
  /** Every how many ms `periodic` runs while anyone uses the resource; 0 or less: never. */
  interval: number;
  /** The periodic task (a sweep). Its timer is unref'd: it never keeps the process alive. */
  periodic: () => void;
  /**
   * Called when the last user leaves, after the timer is stopped: releases the resource. Called
   * synchronously, so a synchronous release has happened when `leave()` returns; its error, or
   * the rejection of the promise it returns, rejects that `leave()`.
   */
  release?: () => void | Promise<void>;
}

const DONE: Promise<void> = Promise.resolve();

/** A user count with the periodic task and the release of one shared resource. */
export class SharedResource {
  private count = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SharedResourceOptions) {}

  /** How many users hold the resource now. */
  get users(): number {
    return this.count;
  }

  /** The timer of the periodic task while it runs (for tests: it must be unref'd). */
  get periodicTimer(): NodeJS.Timeout | undefined {
    return this.timer;
  }

  /**
   * Counts one more user; the first starts the periodic task. Returns whether this user is the
   * first (the one to open the resource if it is opened per use).
   */
  join(): boolean {
    const first = this.count++ === 0;
    const { interval, periodic } = this.options;
    if (first && interval > 0 && !this.timer) {
      this.timer = setInterval(periodic, interval);
      this.timer.unref();
    }
    return first;
  }

  /**
   * Counts one user less (no-op when nobody holds it); the last one stops the periodic task and
   * runs the release. Resolves when the release has finished, rejects with its error. A user
   * that joins while a release runs is the first of the next round and opens the resource
   * anew; each backend's open copes with a release still running (Mongo makes a new client,
   * Redis waits for its client as at any connect, SQLite's release is synchronous).
   */
  leave(): Promise<void> {
    if (this.count === 0 || --this.count > 0) return DONE;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const release = this.options.release;
    if (!release) return DONE;
    let result: void | Promise<void>;
    try {
      result = release();
    } catch (err) {
      return Promise.reject(err);
    }
    return result ?? DONE;
  }
}
