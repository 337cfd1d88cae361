/**
 * The one place callbacks exist (SPEC §5). Everything inside the store is promise-only; a
 * public method hands its promise here when it was given a callback.
 *
 * - 'node': cb(err, result).
 * - 'result-first' (memstorage 0.5.3): cb(result); on failure cb(failureValue) — memstorage's
 *   `false` / `[]` / `null` — and the error goes to the store's error reporter, so it is
 *   never lost.
 *
 * The callback runs on a later tick, exactly once, outside any promise chain: an exception it
 * throws is not caught and re-delivered as a store error, it surfaces as uncaught.
 */

/** Which callback convention a store uses. */
export type CallbackStyle = 'node' | 'result-first';

/** Any callback; its arguments depend on the convention. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Callback = (...args: any[]) => void;

/** Calls `cb` with the outcome of `promise` in the given convention. */
export function deliver<T>(
  promise: Promise<T>,
  cb: Callback,
  style: CallbackStyle,
  failureValue: unknown,
  reportError: (err: Error) => void,
): void {
  promise.then(
    (result) => {
      if (style === 'node') process.nextTick(cb, null, result);
      else process.nextTick(cb, result);
    },
    (err: Error) => {
      if (style === 'node') process.nextTick(cb, err);
      else {
        // Separate ticks: an 'error' listener that throws surfaces as uncaught and still
        // lets the callback run once.
        process.nextTick(reportError, err);
        process.nextTick(cb, failureValue);
      }
    },
  );
}
