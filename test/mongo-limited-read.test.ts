/**
 * A find with a limit of at most one batch and no skip (lib/backends/mongo/scans.ts,
 * limitedRead): sent without the expiry condition and, with values, without a projection, and
 * an object query's `k: { $type: 'object' }` left out where a condition implies it
 * (query.ts, needsPresentField). Expiry is then told by the store: checked here that expired
 * entries still in the collection (the TTL monitor has not run) are never returned and that
 * the answer is still the first `limit` live entries, ties in creation order (SPEC §14).
 */
import { expect } from 'chai';
import type { CommandStartedEvent, Document } from 'mongodb';
import { ManualClock } from '../lib/clock';
import { needsPresentField } from '../lib/backends/mongo/query';
import { useMongoStores } from './support/mongo-test-stores';

describe('mongo store: sort + limit reads', () => {
  const { watched } = useMongoStores('mongo_limited');

  const finds = (commands: CommandStartedEvent[]): Document[] => commands.filter((c) => c.commandName === 'find').map((c) => c.command);

  /** 30 keys `{ id, kind, age: id % 5 }`, kind 'a' for even ids; ids 0-9 with a 1 s TTL. */
  async function fill(clock: ManualClock) {
    const { s, commands } = watched({ indexes: ['age', { kind: 1, age: -1 }], clock });
    for (let id = 0; id < 30; id++) await s.set({ id, kind: id % 2 ? 'b' : 'a', age: id % 5 }, id, id < 10 ? { ttl: 1000 } : {});
    commands.length = 0;
    return { s, commands };
  }

  it('is one find without the expiry condition, $type or projection, ties in creation order', async () => {
    const clock = new ManualClock(Date.now());
    const { s, commands } = await fill(clock);
    const got = await s.get({ kind: 'a' }, { sort: { age: -1 }, limit: 5 });
    // kind 'a' = even ids; age 4: 4, 14, 24; age 3: 8, 18, ... in creation (id) order.
    expect(got).to.deep.equal([4, 14, 24, 8, 18]);
    const sent = finds(commands);
    expect(sent).to.have.length(1);
    expect(sent[0].filter).to.deep.equal({ n: '', $and: [{ 'k.kind': 'a' }] });
    expect(sent[0].projection).to.equal(undefined);
    expect(sent[0].limit).to.equal(5);
    // keys() keeps the projection without the value.
    commands.length = 0;
    expect(await s.keys({ kind: 'a' }, { sort: { age: -1 }, limit: 2 })).to.deep.equal([{ id: 4, kind: 'a', age: 4 }, { id: 14, kind: 'a', age: 4 }]);
    expect(finds(commands)[0].projection).to.deep.equal({ _id: 1, k: 1, e: 1 });
    expect(finds(commands)[0].filter).to.not.have.property('e');
  });

  it('expired entries still stored among the first are not returned: the find is sent again with the expiry condition', async () => {
    const clock = new ManualClock(Date.now());
    const { s, commands } = await fill(clock);
    clock.advance(1000); // ids 0-9 expired; the TTL monitor has not removed them
    expect(await s.get({ kind: 'a' }, { sort: { age: -1 }, limit: 5 })).to.deep.equal([14, 24, 18, 28, 12]);
    const sent = finds(commands);
    expect(sent).to.have.length(2);
    expect(sent[0].filter).to.not.have.property('e');
    expect(sent[1].filter).to.have.property('e');
    // Creation order with no sort, and a query that keeps $type (a string key has no kind).
    await s.set('plain string key', 'x');
    commands.length = 0;
    expect(await s.get({ kind: { $ne: 'b' } }, { limit: 3 })).to.deep.equal([10, 12, 14]);
    expect(finds(commands)[0].filter).to.have.property('k');
    // None expired among the first: one find.
    commands.length = 0;
    expect(await s.get({ kind: 'b', id: { $gte: 10 } }, { sort: { age: 1 }, limit: 3 })).to.deep.equal([15, 25, 11]);
    expect(finds(commands)).to.have.length(1);
  });

  it('an expired entry in a later batch (values over 16 MB) is left out, the entries before it yielded once', async function () {
    this.timeout(120_000);
    const clock = new ManualClock(Date.now());
    const { s, commands } = watched({ clock });
    const big = (i: number) => String(i).repeat(6 * 1024 * 1024);
    for (let i = 0; i < 5; i++) await s.set({ i }, i < 3 ? big(i) : i, i === 2 ? { ttl: 1000 } : {});
    clock.advance(1000);
    commands.length = 0;
    const got = (await s.get({ i: { $gte: 0 } }, { sort: { i: 1 }, limit: 4 })) as unknown[];
    expect(got.map((v) => (typeof v === 'string' ? v.length : v))).to.deep.equal([6 * 1024 * 1024, 6 * 1024 * 1024, 3, 4]);
    expect((got[0] as string)[0]).to.equal('0');
    expect((got[1] as string)[0]).to.equal('1');
    // The first batch held two documents (16 MB), the getMore brought the expired one; the
    // second find (with the expiry condition) read 0, 1, 3 and 4 in one batch.
    expect(commands.map((c) => c.commandName).filter((n) => n === 'find' || n === 'getMore')).to.deep.equal(['find', 'getMore', 'find']);
  });

  it('$type is left out only where a condition needs the path to exist', () => {
    for (const q of [{ a: 1 }, { a: 'x' }, { a: true }, { a: { $eq: 2 } }, { a: { $gte: 1 } }, { a: { $lt: 'm' } }, { a: { $in: [1, 'x'] } }, { a: { $exists: true } }, { a: { $ne: null, $gt: 0 } }, { b: null, a: 1 }]) {
      expect(needsPresentField(q), JSON.stringify(q)).to.equal(true);
    }
    for (const q of [{ a: null }, { a: { $ne: 1 } }, { a: { $nin: [1] } }, { a: { $exists: false } }, { a: { $in: [1, null] } }, { a: { $gte: null } }, { a: { $not: { $gt: 1 } } }, { $or: [{ a: 1 }, { b: 1 }] }, { a: { $in: [] } }]) {
      expect(needsPresentField(q), JSON.stringify(q)).to.equal(false);
    }
  });
});
