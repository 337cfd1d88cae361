/** Promise helpers of the core: errors as StoreErrors, bounded waits, observed promises. */
import { StoreError, StorageOperationError } from '../errors';

/** A promise that records whether anyone attached a handler (then/catch/finally/await). */
export class ObservedPromise<T> extends Promise<T> {
  observed = false;
  static get [Symbol.species](): PromiseConstructor {
    return Promise;
  }
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.observed = true;
    return super.then(onFulfilled, onRejected);
  }
}

/** A StoreError as is; anything else a backend let through is an operation failure (SPEC §12: only StoreErrors reach the caller). */
export function asStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  return new StorageOperationError(`the operation failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/**
 * Resolves when `promise` settles or after `ms`, whichever comes first (a close() draining
 * what is in flight without hanging on it); rejects if `promise` rejects first. The timer never
 * holds the process.
 */
export function withinMs(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** A thrown value as an Error (stores only throw Errors; this guards against anything else). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
