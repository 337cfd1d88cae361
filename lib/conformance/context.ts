/**
 * What each part of the conformance suite receives: a way to open a fresh, isolated store
 * (its own namespace, a ManualClock) and close it after the test.
 */
import { ManualClock } from '../clock';
import type { BaseStore, CommonSettings } from '../store';
import type { Capabilities } from '../backend';

/** Builds the store under test; every call must give a store isolated from the others by `namespace`. */
export type StoreFactory = (settings: CommonSettings & { clock: ManualClock; namespace: string }) => BaseStore | Promise<BaseStore>;

/** Options of the suite. */
export interface ConformanceOptions {
  /** Bytes pushed through setStream/createValueStream in the stream tests. Default 2 MiB. */
  streamBytes?: number;
  /** Run the whole suite a second time on a scope of each store (`store.scope('scoped')`). Default true. */
  throughScope?: boolean;
  /**
   * Whether getMeta reports when entries were created and updated (SPEC §16). Default true:
   * every built-in backend does. False for a backend that leaves getMeta to the core's default,
   * whose times are null: the suite then checks that they are.
   */
  entryTimes?: boolean;
}

/** A capability a group of tests needs (a flag of `store.supports`). */
export type Capability = keyof Capabilities;

/** Handed to each part of the suite. */
export interface SuiteContext {
  /** Opens a fresh store (closed and cleared after the test) with a ManualClock at the wall time. */
  open(settings?: CommonSettings): Promise<{ store: BaseStore; clock: ManualClock; namespace: string }>;
  options: Required<ConformanceOptions>;
  /**
   * Call inside a `describe`: its tests run only when the store under test declares `flag` in
   * `supports` (read from a store opened once before them), and are reported as pending
   * otherwise. The suite chooses its groups from what a backend says it can do, never its name.
   */
  requires(flag: Capability): void;
}

let counter = 0;

/** Builds the context for one run of the suite. */
export function makeContext(factory: StoreFactory, options: ConformanceOptions): SuiteContext {
  const opened: BaseStore[] = [];
  afterEach(async () => {
    while (opened.length > 0) {
      const store = opened.pop()!;
      try {
        await store.clear().catch((err: { code?: string }) => {
          if (err.code !== 'ERR_STORE_CLOSED') throw err; // the test closed it itself
        });
      } finally {
        await store.close();
      }
    }
  });
  return {
    options: { streamBytes: options.streamBytes ?? 2 * 1024 * 1024, throughScope: options.throughScope ?? true, entryTimes: options.entryTimes ?? true },
    requires(flag: Capability) {
      before(async function () {
        const probe = await factory({ clock: new ManualClock(Date.now()), namespace: `conf${process.pid}probe${++counter}` });
        const supported = probe.supports[flag];
        await probe.close();
        if (!supported) this.skip(); // the backend says it cannot do this: nothing of it to test
      });
    },
    async open(settings: CommonSettings = {}) {
      const clock = new ManualClock(Date.now());
      const namespace = `conf${process.pid}x${++counter}`;
      const store = await factory({ clock, namespace, ...settings } as CommonSettings & { clock: ManualClock; namespace: string });
      opened.push(store);
      return { store, clock: (settings.clock as ManualClock | undefined) ?? clock, namespace: settings.namespace ?? namespace };
    },
  };
}

/** Awaits `promise` and returns the error it rejects with (fails when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected the operation to fail, but it succeeded');
}
