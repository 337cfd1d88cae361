/**
 * The memory store's creation times kept by seq, in steps (lib/backends/memory/creation-times.ts):
 * exact for every entry through bulk writes, sparse writes, plain entries made Slots, deletions
 * and trims; never outgrowing the entries they describe.
 */
import { expect } from 'chai';
import * as Store from '../index';
import { MemoryStore } from '../lib/backends/memory';
import { CreationTimes } from '../lib/backends/memory/creation-times';

const { ManualClock } = Store;

describe('memory creation times (creation-times.ts)', () => {
  it('keeps a step only where the time changes, and finds each seq its time', () => {
    const times = new CreationTimes();
    const at = [5, 5, 5, 9, 9, 2, 2, 2, 7];
    at.forEach((t, i) => times.note(i + 1, t));
    expect(times.size).to.equal(4);
    at.forEach((t, i) => expect(times.at(i + 1), `seq ${i + 1}`).to.equal(t));
    expect(times.wide).to.equal(false);
  });

  it('moves to 64-bit columns for a time or seq 32 bits do not hold, keeping every time exact', () => {
    for (const odd of [-3, 0.5, 2 ** 32 + 1]) {
      const times = new CreationTimes();
      times.note(1, 10);
      times.note(2, odd);
      times.note(3, 11);
      expect(times.wide, String(odd)).to.equal(true);
      expect([times.at(1), times.at(2), times.at(3)], String(odd)).to.deep.equal([10, odd, 11]);
    }
    const times = new CreationTimes();
    times.note(2 ** 32 + 5, 1);
    expect(times.wide).to.equal(true);
    expect(times.at(2 ** 32 + 6)).to.equal(1);
  });

  it('keep() drops the steps of gone seqs and keeps the times of the live ones', () => {
    const times = new CreationTimes();
    for (let seq = 1; seq <= 100; seq++) times.note(seq, seq * 10);
    times.note(101, 0.25); // wide columns stay wide
    const live = [3, 4, 50, 99, 101];
    times.keep(live);
    expect(times.size).to.equal(5);
    for (const seq of live) expect(times.at(seq)).to.equal(seq === 101 ? 0.25 : seq * 10);
    expect(times.wide).to.equal(true);
    times.note(102, 0.25); // the time of the last live step: no new step
    expect(times.size).to.equal(5);
    times.keep([]);
    expect(times.size).to.equal(0);
  });

  it('a store keeps every entry\'s creation and update times exact while trims drop the steps of deleted entries', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const store = new MemoryStore({ clock, sweepInterval: 0 });
    try {
      const base = clock.now();
      const created = new Map<number, number>();
      // Sparse creations (a ms each), most deleted again: steps pile up until a trim drops them.
      for (let i = 0; i < 6_000; i++) {
        clock.advance(1);
        await store.set({ i }, i);
        created.set(i, clock.now());
        if (i % 10 !== 0) {
          await store.del({ i });
          created.delete(i);
        }
        if (i === 3_000) {
          // A plain entry made a Slot by a TTL keeps its old creation time.
          await store.set('plain', 'p');
          created.set(-1, clock.now());
        }
        if (i === 4_000) expect(await store.touch('plain', 3_600_000)).to.equal(true);
      }
      // A bulk of entries in one ms: one step.
      clock.advance(1);
      const bulkAt = clock.now();
      const before = store.internals.creationSteps;
      for (let i = 0; i < 1_000; i++) await store.set({ bulk: i }, i);
      expect(store.internals.creationSteps).to.be.at.most(before + 1);
      // Held: 600 sparse + 1 plain + 1000 bulk entries; without trims there would be 6,000 steps.
      expect(store.internals.creationSteps).to.be.at.most(2 * store.internals.size + 1024);
      clock.advance(1);
      await store.set({ i: 10 }, 'again');
      for (const [i, at] of created) {
        const meta = await store.getMeta(i === -1 ? 'plain' : { i });
        expect(meta, `entry ${i}`).to.deep.include({ createdAt: at, updatedAt: i === 10 ? clock.now() : at });
      }
      expect(await store.getMeta({ bulk: 999 })).to.deep.include({ createdAt: bulkAt, updatedAt: bulkAt });
      expect(base).to.be.below(bulkAt);
      await store.clear();
      expect(store.internals.creationSteps).to.equal(0);
      await store.set({ after: 1 }, 1);
      expect(await store.getMeta({ after: 1 })).to.deep.include({ createdAt: clock.now(), updatedAt: clock.now() });
    } finally {
      await store.close();
    }
  });
});
