/**
 * Expiry on the MongoDB store at its edges (SPEC §6, §12; issue #10 findings 3 and 7):
 * an entry at the largest TTL reads back; an expiry a BSON Date cannot hold is never written
 * (all or nothing); an iteration checks expiry per entry, when it yields it.
 */
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { ManualClock } from '../lib/clock';
import type { MongoStore } from '../lib/backends/mongo';
import { MAX_TTL_MS } from '../lib/limits';
import { mongoTestStores } from './support/test-stores';
import { entryOf } from './support/tier-access';


async function code(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return (err as { code?: unknown }).code;
  }
}

describe('mongo store: expiry at the edges', () => {
  const stores = mongoTestStores('mongo_expiry');
  const store = stores.open;

  describe('the largest TTL', () => {
    it('an entry at exactly now + MAX_TTL_MS is stored and read back by every read path', async () => {
      const clock = new ManualClock(Date.now());
      const s = store({ clock });
      await s.set('far', 'v', { ttl: MAX_TTL_MS });
      await s.set({ far: 1 }, 'w', { ttl: MAX_TTL_MS });
      await s.setStream('streamed', Readable.from([Buffer.from('bytes')]), { ttl: MAX_TTL_MS });
      expect(await s.getOne('far')).to.equal('v');
      expect(await s.get({ far: 1 })).to.deep.equal(['w']);
      expect(await s.ttl('far')).to.equal(MAX_TTL_MS);
      expect((await entryOf(s, 'far'))?.expiresAt).to.equal(clock.now() + MAX_TTL_MS);
      expect(await s.keys()).to.deep.equal(['far', { far: 1 }, 'streamed']);
      expect(await s.count({ far: 1 })).to.equal(1);
      expect(await s.getOne('streamed')).to.deep.equal(Buffer.from('bytes'));
      clock.advance(MAX_TTL_MS - 1);
      expect(await s.getOne('far')).to.equal('v');
      clock.advance(1);
      expect(await s.getOne('far')).to.equal(undefined);
    });

    it('an expiry a stored Date cannot hold (a clock near the end of time) is ERR_INVALID_ARGUMENT and writes nothing', async () => {
      // JavaScript's Date ends at 8.64e15 ms; a clock 1 s before it plus a 10 s TTL is past it.
      const clock = new ManualClock(8.64e15 - 1000);
      const s = store({ clock });
      await s.connect();
      const [bad, good, badStream] = await Promise.all([
        code(s.set('late', 'v', { ttl: 10_000 })),
        code(s.set('fine', 'v', { ttl: 500 })),
        code(s.setStream('late-stream', Readable.from([Buffer.from('x')]), { ttl: 10_000 })),
      ]);
      expect(bad).to.equal('ERR_INVALID_ARGUMENT');
      expect(badStream).to.equal('ERR_INVALID_ARGUMENT');
      expect(good).to.equal('resolved'); // a neighbour in the same batch is not failed with it
      expect(await s.collection.countDocuments({ _id: { $in: ['late', 'late-stream'] } })).to.equal(0);
      const files = s.collection.db.collection(`${s.collection.collectionName}.fs.files`);
      expect(await files.countDocuments()).to.equal(0);
      expect(await s.getOne('fine')).to.equal('v');
    });
  });

  describe('iteration checks expiry per entry (SPEC §12)', () => {
    async function fill(clock: ManualClock): Promise<MongoStore> {
      const s = store({ clock });
      await s.set({ i: 0 }, 0);
      await s.set({ i: 1 }, 1, { ttl: 1000 });
      await s.set({ i: 2 }, 2, { ttl: 1000 });
      await s.setStream({ i: 3 }, Readable.from([Buffer.from('three')]), { ttl: 1000 });
      await s.set({ i: 4 }, 4);
      return s;
    }

    it('entries(): an entry that expires while the iteration runs is not yielded', async () => {
      const clock = new ManualClock(Date.now());
      const s = await fill(clock);
      const seen: unknown[] = [];
      for await (const { value } of s.entries({ i: { $gte: 0 } })) {
        seen.push(value);
        if (value === 0) clock.advance(1000);
      }
      expect(seen).to.deep.equal([0, 4]);
    });

    it('entries() of everything and keys are checked the same way', async () => {
      const clock = new ManualClock(Date.now());
      const s = await fill(clock);
      const seen: unknown[] = [];
      for await (const { key } of s.entries()) {
        seen.push(key);
        if (seen.length === 2) clock.advance(1000);
      }
      expect(seen).to.deep.equal([{ i: 0 }, { i: 1 }, { i: 4 }]);
    });

    it('createReadStream(): entries past the read-ahead buffer of the stream are checked when it pulls them', async () => {
      const clock = new ManualClock(Date.now());
      const s = store({ clock });
      await Promise.all(Array.from({ length: 40 }, (_, i) => s.set({ i }, i, { ttl: 1000 })));
      await s.set({ i: 40 }, 40);
      const seen: number[] = [];
      for await (const entry of s.createReadStream({ i: { $gte: 0 } })) {
        seen.push((entry as { value: number }).value);
        if (seen.length === 1) clock.advance(1000);
      }
      // The stream reads one entry ahead of its consumer (lib/store.ts, Readable.from), so the
      // entry it pulled before the clock moved may still come out; none of the later ones does.
      expect(seen.slice(0, -1)).to.have.length.within(1, 2);
      expect(seen[seen.length - 1]).to.equal(40);
    });
  });
});
