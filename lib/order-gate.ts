/**
 * Program order (SPEC §12): on one store object and its scopes, a call sees the effects of
 * every call issued before it, awaited or not. This gate is the one mechanism that keeps it,
 * for every backend and every multi-step operation.
 *
 * Every call is admitted in issue order under one of four kinds:
 * - `read` / `write`: an exact-key operation on one id (or a few);
 * - `scan`: a read over many entries (a query, `keys`, `count`) — it must not see a write
 *   issued after it, nor miss one issued before;
 * - `exclusive`: a write over many entries (`clear`, `del(query)`), alone in flight.
 *
 * A call waits until it is compatible with everything in flight, and nothing overtakes a
 * waiting call (first in, first out). Exact-key operations need no gate between themselves
 * on a backend that sends them down one ordered channel and answers each in one step (a
 * pipelined Redis connection; the memory store's synchronous map): such a backend declares
 * `ordered`, and its single-step exact calls are not even counted — the hot path stays a
 * couple of comparisons. Elsewhere (MongoDB's coalesced batches run on several pooled
 * connections; a multi store writes tier after tier), exact calls are tracked per id and
 * conflict only on the same id.
 *
 * Written here rather than taken from a library: the lock libraries on npm (async-mutex,
 * p-queue, rwlock) offer a mutex or a readers-writer lock, not per-id tracking with a
 * single FIFO across four kinds, and each costs a promise per call even when uncontended.
 */

/** What a call does, for ordering. */
export type OrderKind = 'read' | 'write' | 'scan' | 'exclusive';

interface Waiter {
  kind: OrderKind;
  ids: string | readonly string[] | undefined;
  tracked: boolean;
  start: () => void;
}

/** See the file comment. One gate is shared by a store and every scope made from it. */
export class OrderGate {
  private scans = 0;
  private exclusive = 0;
  /**
   * Tracked exact reads and writes in flight, counted per id (untracked ones, on an ordered
   * backend, are never counted). Two maps of numbers rather than one of objects: a burst of
   * misses holds a thousand ids at once, and a read checks only `writesById`.
   */
  private readonly readsById = new Map<string, number>();
  private readonly writesById = new Map<string, number>();
  /** Tracked exact writes in flight (a scan must wait for them). */
  private trackedWrites = 0;
  private readonly queue: Waiter[] = [];
  private idleWaiters: Array<() => void> = [];

  /**
   * @param ordered the backend keeps issue order among its single-step exact calls (see the file comment)
   */
  constructor(readonly ordered: boolean) {}

  /**
   * True when an exact read of `id` may be answered right now, synchronously, without entering
   * the gate: nothing waits, no multi-entry write runs, no tracked write of `id` runs.
   */
  canReadNow(id: string): boolean {
    return this.queue.length === 0 && this.exclusive === 0 && (this.writesById.size === 0 || !this.writesById.has(id));
  }

  /** True when an exact write of `id` may be applied right now, synchronously (as canReadNow, and no scan runs). */
  canWriteNow(id: string): boolean {
    return this.queue.length === 0 && this.exclusive === 0 && this.scans === 0 && !this.inUse(id);
  }

  /** True when a call of this kind would be admitted now (nothing waits and it is compatible with what runs). */
  admitsNow(kind: OrderKind, ids: string | readonly string[] | undefined): boolean {
    return this.queue.length === 0 && this.compatible(kind, ids);
  }

  /** True when nothing at all is in flight or waiting (a store layered over this one may skip the gate). */
  get idle(): boolean {
    return this.queue.length === 0 && this.exclusive === 0 && this.scans === 0 && this.readsById.size === 0 && this.writesById.size === 0;
  }

  /**
   * Whether a call of this kind is counted while in flight: multi-entry calls always; exact
   * calls when the backend is not ordered or the call takes several steps.
   */
  tracks(kind: OrderKind, multiStep: boolean): boolean {
    return kind === 'scan' || kind === 'exclusive' || multiStep || !this.ordered;
  }

  /**
   * Admits a call: runs `start` now (synchronously) when the call is compatible with what is in
   * flight and nothing waits, else queues it to run, synchronously, as soon as it is. A tracked
   * call must be matched by `leave(kind, ids)` when it settles.
   */
  enter(kind: OrderKind, ids: string | readonly string[] | undefined, tracked: boolean, start: () => void): void {
    if (this.queue.length === 0 && this.compatible(kind, ids)) {
      if (tracked) this.add(kind, ids, 1);
      start();
      return;
    }
    this.queue.push({ kind, ids, tracked, start });
  }

  /**
   * Counts an exact call as in flight without admission: only for a caller that has just seen
   * `idle` (or `canReadNow`) in the same turn, so the call is compatible. Match with `leave`.
   */
  hold(kind: 'read' | 'write', ids: string | readonly string[]): void {
    this.add(kind, ids, 1);
  }

  /** Marks a tracked call settled and admits what was waiting for it. */
  leave(kind: OrderKind, ids: string | readonly string[] | undefined): void {
    this.add(kind, ids, -1);
    this.admitWaiting();
    if (this.idleWaiters.length > 0 && this.idle) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Resolves once nothing is in flight or waiting (what `close()` lets finish before releasing the backend). */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private admitWaiting(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (!this.compatible(head.kind, head.ids)) return;
      this.queue.shift();
      if (head.tracked) this.add(head.kind, head.ids, 1);
      head.start();
    }
  }

  private compatible(kind: OrderKind, ids: string | readonly string[] | undefined): boolean {
    if (this.exclusive > 0) return false;
    switch (kind) {
      case 'exclusive':
        return this.scans === 0 && this.readsById.size === 0 && this.writesById.size === 0;
      case 'scan':
        return this.trackedWrites === 0;
      case 'write':
        if (this.scans > 0) return false;
        return !someId(ids, this.inUse);
      case 'read':
        return this.writesById.size === 0 || !someId(ids, this.writing);
    }
  }

  private readonly writing = (id: string): boolean => this.writesById.has(id);

  private readonly inUse = (id: string): boolean => (this.writesById.size > 0 && this.writesById.has(id)) || (this.readsById.size > 0 && this.readsById.has(id));

  private add(kind: OrderKind, ids: string | readonly string[] | undefined, delta: 1 | -1): void {
    switch (kind) {
      case 'exclusive':
        this.exclusive += delta;
        return;
      case 'scan':
        this.scans += delta;
        return;
      case 'write':
        this.trackedWrites += delta * idCount(ids);
        break;
    }
    if (ids === undefined) return;
    if (typeof ids === 'string') this.count(ids, kind === 'write', delta);
    else for (const id of ids) this.count(id, kind === 'write', delta);
  }

  /** One id's use count; an id no call uses any more leaves its map. A method, not a closure: this runs per tracked call. */
  private count(id: string, write: boolean, delta: 1 | -1): void {
    const uses = write ? this.writesById : this.readsById;
    const n = (uses.get(id) ?? 0) + delta;
    if (n === 0) uses.delete(id);
    else uses.set(id, n);
  }
}

function someId(ids: string | readonly string[] | undefined, test: (id: string) => boolean): boolean {
  if (ids === undefined) return false;
  if (typeof ids === 'string') return test(ids);
  for (const id of ids) if (test(id)) return true;
  return false;
}

function idCount(ids: string | readonly string[] | undefined): number {
  return ids === undefined ? 0 : typeof ids === 'string' ? 1 : ids.length;
}
