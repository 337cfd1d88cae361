/** SharedResource (lib/core/shared-resource.ts): the user count, periodic task and release every backend shares. */
import { expect } from 'chai';
import { SharedResource } from '../lib/core/shared-resource';

/** A release that stays running until `finish()` or `fail()`. */
function heldRelease(): { release: () => Promise<void>; calls: () => number; finish: () => void; fail: (err: Error) => void } {
  let calls = 0;
  let finish = (): void => undefined;
  let fail = (_err: Error): void => undefined;
  return {
    release: () => {
      calls++;
      return new Promise<void>((resolve, reject) => {
        finish = resolve;
        fail = reject;
      });
    },
    calls: () => calls,
    finish: () => finish(),
    fail: (err) => fail(err),
  };
}

describe('core: SharedResource', () => {
  it('the last user to leave releases, once; earlier ones do not', async () => {
    let releases = 0;
    const shared = new SharedResource({ interval: 0, periodic: () => undefined, release: () => void releases++ });
    expect(shared.join()).to.equal(true);
    expect(shared.join()).to.equal(false);
    await shared.leave();
    expect(releases).to.equal(0);
    expect(shared.users).to.equal(1);
    await shared.leave();
    expect(releases).to.equal(1);
    await shared.leave(); // nobody holds it: no second release, no negative count
    expect(releases).to.equal(1);
    expect(shared.users).to.equal(0);
  });

  it('a synchronous release has happened when leave() returns', () => {
    let released = false;
    const shared = new SharedResource({ interval: 0, periodic: () => undefined, release: () => void (released = true) });
    shared.join();
    void shared.leave();
    expect(released).to.equal(true);
  });

  it('runs the periodic task on an unref\'d timer while anyone uses it, and stops it when the last one leaves', async () => {
    let runs = 0;
    let ran: () => void = () => undefined;
    const shared = new SharedResource({
      interval: 1,
      periodic: () => {
        runs++;
        ran();
      },
    });
    expect(shared.periodicTimer).to.equal(undefined);
    shared.join();
    shared.join();
    const timer = shared.periodicTimer!;
    expect(timer.hasRef()).to.equal(false);
    await new Promise<void>((resolve) => (ran = resolve));
    expect(runs).to.be.greaterThan(0);
    await shared.leave();
    expect(shared.periodicTimer).to.equal(timer); // one user left: still running
    await shared.leave();
    expect(shared.periodicTimer).to.equal(undefined);
    // A new first user starts a new timer.
    shared.join();
    expect(shared.periodicTimer).to.not.equal(undefined);
    expect(shared.periodicTimer).to.not.equal(timer);
    expect(shared.periodicTimer!.hasRef()).to.equal(false);
    await shared.leave();
  });

  it('starts no timer when the interval is 0', async () => {
    const shared = new SharedResource({ interval: 0, periodic: () => undefined });
    shared.join();
    expect(shared.periodicTimer).to.equal(undefined);
    await shared.leave();
  });

  it('a release that fails rejects the last leave() with its error; the resource can be used again', async () => {
    const boom = new Error('close failed');
    let calls = 0;
    const shared = new SharedResource({
      interval: 0,
      periodic: () => undefined,
      release: () => {
        calls++;
        if (calls === 1) return Promise.reject(boom);
        throw boom; // a synchronous throw too
      },
    });
    shared.join();
    const err = await shared.leave().then(() => undefined, (e: unknown) => e);
    expect(err).to.equal(boom);
    expect(shared.join()).to.equal(true);
    const again = await shared.leave().then(() => undefined, (e: unknown) => e);
    expect(again).to.equal(boom);
    expect(calls).to.equal(2);
  });

  it('a user joining while the release runs is counted at once as the first of the next round, restarts the task, and releases on its own leave', async () => {
    const held = heldRelease();
    const shared = new SharedResource({ interval: 1000, periodic: () => undefined, release: held.release });
    shared.join();
    const leaving = shared.leave();
    expect(held.calls()).to.equal(1);
    expect(shared.periodicTimer).to.equal(undefined);

    expect(shared.join()).to.equal(true); // the first user of the next generation: it opens again
    expect(shared.users).to.equal(1);
    expect(shared.periodicTimer).to.not.equal(undefined);
    held.finish();
    await leaving;
    expect(held.calls()).to.equal(1); // the joiner did not release anything
    expect(shared.users).to.equal(1);

    const second = shared.leave();
    expect(held.calls()).to.equal(2); // its own release when it leaves
    held.fail(new Error('second close failed'));
    expect(await second.then(() => 'resolved', (e: Error) => e.message)).to.equal('second close failed');
  });
});
