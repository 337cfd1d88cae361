/**
 * Writes issued in one tick share one transaction. The first write of a tick commits on its
 * own (autocommit: one awaited write at a time costs what a plain statement costs) and asks
 * for the end of the tick (TickFlush on a microtask, not on nextTick: the tick must end before
 * a caller that awaits each write makes its next one, or that write would find the tick still
 * open and pay a BEGIN and a COMMIT of its own instead of an autocommit); a second write in the same tick opens a
 * transaction (BEGIN IMMEDIATE) that every later write of the tick joins, and the end of the
 * tick commits it; those writes resolve when the commit succeeds. Each write runs its statements at
 * once, synchronously, so a call issued after it (on this connection) sees it: exact calls
 * keep issue order.
 *
 * Why: a commit is a large part of the cost of a small write (the WAL append and its
 * bookkeeping); 1,000 sets in flight commit twice instead of 1,000 times.
 *
 * Honesty (SPEC §12): a write resolves only after the commit that holds it. A commit that
 * fails rejects every write of the tick; a statement that fails alone rejects its own call
 * only (SQLite undoes that statement and keeps the transaction), unless SQLite had to abandon
 * the whole transaction (disk full, I/O error), which rejects every write made before it too.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { TickFlush } from '../../core/tick-flush';
import { toStoreError } from './layout';

type Statement = BetterSqlite3.Statement<unknown[]>;

const RESOLVED: Promise<void> = Promise.resolve();

/** The open transaction of the current tick, if any, and what settles its writes. */
interface Batch {
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The ticks with an open transaction, in this process. Two connections to one file in one
 * process (two stores) would deadlock if the second waited for the first's lock: the first
 * commits in a microtask, which cannot run while the second blocks in its busy wait. So a
 * connection about to write commits every other open one first.
 */
const open = new Set<TickTransaction>();

/** One connection's per-tick write transaction. */
export class TickTransaction {
  private batch: Batch | undefined;
  private readonly begin: Statement;
  private readonly commitStatement: Statement;
  private readonly rollback: Statement;

  /** The end of the tick in which a write ran (until then, the next write opens the shared transaction). */
  private readonly tickEnd = new TickFlush(() => this.commit(), queueMicrotask);

  constructor(private readonly db: BetterSqlite3.Database) {
    this.begin = db.prepare('BEGIN IMMEDIATE') as Statement;
    this.commitStatement = db.prepare('COMMIT') as Statement;
    this.rollback = db.prepare('ROLLBACK') as Statement;
  }

  /** Runs `write` now inside this tick's transaction; resolves once the transaction commits. */
  run(write: () => void, action: string): Promise<void> {
    let batch = this.batch;
    if (!batch) {
      for (const other of open) other.commit();
      if (!this.tickEnd.requested) {
        this.tickEnd.request();
        try {
          write(); // committed by the time it returns
        } catch (err) {
          return Promise.reject(toStoreError(err, action));
        }
        return RESOLVED;
      }
      try {
        this.begin.run();
      } catch (err) {
        return Promise.reject(toStoreError(err, action));
      }
      batch = this.batch = newBatch();
      open.add(this);
    }
    try {
      write();
    } catch (err) {
      if (!this.db.inTransaction) this.abandon(err, action); // SQLite rolled back every write of the tick
      return Promise.reject(toStoreError(err, action));
    }
    return batch.done;
  }

  /** Commits the open transaction now (close() calls it before closing the file). */
  readonly commit = (): void => {
    const batch = this.batch;
    if (!batch) return;
    this.batch = undefined;
    open.delete(this);
    try {
      this.commitStatement.run();
      batch.resolve();
    } catch (err) {
      try {
        if (this.db.inTransaction) this.rollback.run();
      } catch {
        // the rollback failing leaves nothing more to undo here; the writes are rejected below
      }
      batch.reject(toStoreError(err, 'commit'));
    }
  };

  private abandon(err: unknown, action: string): void {
    const batch = this.batch;
    this.batch = undefined;
    open.delete(this);
    batch?.reject(toStoreError(err, `${action} (the transaction of this tick was rolled back)`));
  }
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Every write of the tick returns `done`; its callers handle a rejection, so none is unhandled here.
  done.catch(() => undefined);
  return { done, resolve, reject };
}
