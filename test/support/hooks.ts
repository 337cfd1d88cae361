/**
 * Mocha root hooks: whatever a test file starts on the shared fixtures (servers, stores) is
 * registered with `onTeardown` and stopped once, after the whole run, by PID — so no server
 * outlives the test process and mocha never needs `exit: true`.
 */
const teardowns: Array<() => Promise<void> | void> = [];

/** Registers a cleanup to run after every test file has finished (last registered, first run). */
export function onTeardown(fn: () => Promise<void> | void): void {
  teardowns.push(fn);
}

export const mochaHooks = {
  async afterAll(): Promise<void> {
    while (teardowns.length > 0) {
      const fn = teardowns.pop()!;
      await fn();
    }
  },
};
