/**
 * Program order on the MongoDB store (SPEC §12, issue #10 finding 1): a call sees the effects
 * of every call issued before it on the same store, awaited or not.
 *
 * Why the Mongo store reorders by itself: `getOne` and `set` are coalesced (mongo-batch.ts) —
 * queued and sent on the next tick — while every other call (clear, del, has, ttl, getEntry,
 * queries) is sent at once; reads and writes are two separate queues whose batches, like two
 * batches of one queue (more than 1,000 calls, or calls of two ticks), run at the same time on
 * different pooled connections. The core's ordering mechanism (lib/order-gate.ts) is what
 * keeps the order; these tests hold the store to it.
 */
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { ManualClock } from '../lib/clock';
import { MongoSettings, MongoStore } from '../lib/backends/mongo';
import { sharedMongo } from './support/mongo-server';

let url = '';
let counter = 0;
/** A value big enough (2 MB) that the server takes longer to apply its write than a call issued after it. */
const PAD = 'x'.repeat(2_000_000);

describe('mongo store: program order (SPEC §12)', () => {
  before(async function () {
    this.timeout(120_000);
    ({ url } = await sharedMongo());
  });

  const open: MongoStore[] = [];
  async function store(settings: MongoSettings = {}): Promise<MongoStore> {
    const s = new MongoStore({ url, db: 'mongo_order', collectionName: `c${process.pid}_${++counter}`, ...settings });
    open.push(s);
    await s.connect();
    // Several pooled connections, as a busy application has: a call never waits for one to open.
    await Promise.all(Array.from({ length: 4 }, (_, i) => s.has(`warm${i}`)));
    return s;
  }
  afterEach(async () => {
    while (open.length) {
      const s = open.pop()!;
      await s.collection.drop().catch(() => undefined);
      await s.close();
    }
  });

  it('set(x) then clear(), not awaited in between, leaves nothing', async () => {
    const s = await store();
    // 100 writes of 100 KB: more than one update command, so the last ones are sent after the first completes.
    for (let i = 0; i < 100; i++) void s.set(`x${i}`, { pad: PAD.slice(0, 100_000) });
    await s.clear();
    expect(await s.getOne('x99')).to.equal(undefined);
    expect(await s.count({})).to.equal(0);
  });

  it('clear() then set(new), not awaited in between, leaves the new entry', async () => {
    const s = await store();
    await s.set('old', 1);
    void s.clear();
    await s.set('new', 2);
    expect(await s.getOne('new')).to.equal(2);
    expect(await s.keys()).to.deep.equal(['new']);
  });

  it('set(k) then del(query matching k) deletes it', async () => {
    const s = await store();
    for (let i = 0; i < 100; i++) void s.set({ g: 1, u: i }, { pad: PAD.slice(0, 100_000) });
    expect(await s.del({ g: 1 })).to.equal(100);
    expect(await s.count({ g: 1 })).to.equal(0);
  });

  it('del(query) then set(a key it matches) leaves the new entry', async () => {
    const s = await store();
    await s.set({ g: 1, u: 1 }, 'a');
    void s.del({ g: 1 });
    await s.set({ g: 1, u: 2 }, 'b');
    expect(await s.get({ g: 1 })).to.deep.equal(['b']);
  });

  it('set(k) then del(k) removes it; del(k) then set(k) keeps it', async () => {
    const s = await store();
    void s.set('k', 1);
    expect(await s.del('k')).to.equal(1);
    expect(await s.getOne('k')).to.equal(undefined);
    void s.del('k');
    await s.set('k', 2);
    expect(await s.getOne('k')).to.equal(2);
  });

  it('set(k) then has(k) / ttl(k) / get(query) see the write', async () => {
    const s = await store();
    void s.set({ a: 1 }, 'v', { ttl: 60_000 });
    const [has, ttl, got] = await Promise.all([s.has({ a: 1 }), s.ttl({ a: 1 }), s.get({ a: 1 })]);
    expect(has).to.equal(true);
    expect(ttl).to.be.a('number');
    expect(got).to.deep.equal(['v']);
  });

  it('a read issued after an un-awaited write returns the new value (200 keys in one tick)', async () => {
    const s = await store();
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k) => s.set(k, 'old')));
    const reads: Array<Promise<unknown>> = [];
    for (const k of keys) {
      void s.set(k, { fresh: 'new'.repeat(15_000) });
      reads.push(s.getOne(k));
    }
    const values = await Promise.all(reads);
    const stale = keys.filter((_, i) => values[i] === 'old');
    expect(stale).to.deep.equal([]);
  });

  it('writes of one key in two batches (over 1,000 calls in a tick) apply in issue order', async () => {
    const s = await store();
    const writes: Array<Promise<void>> = [];
    // Call 0 writes 'first' with a large value in the first batch; call 1,000 writes 'last' in the second.
    writes.push(s.set('dup', { v: 'first', pad: 'x'.repeat(200_000) }));
    for (let i = 1; i < 1000; i++) writes.push(s.set(`filler${i}`, i));
    writes.push(s.set('dup', { v: 'last' }));
    await Promise.all(writes);
    expect(await s.getOne('dup')).to.deep.equal({ v: 'last' });
  });

  it('writes of one key in two ticks apply in issue order', async () => {
    const s = await store();
    const first = s.set('dup', { v: 'first', pad: PAD });
    await new Promise((resolve) => setImmediate(resolve)); // the first batch is in flight
    const second = s.set('dup', { v: 'second' });
    await Promise.all([first, second]);
    expect(await s.getOne('dup')).to.deep.equal({ v: 'second' });
  });

  it('creation order is issue order: a setStream started before a set is listed first, though it finishes last', async () => {
    const s = await store();
    async function* slow(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        yield Buffer.from(`chunk${i}`);
      }
    }
    await Promise.all([s.setStream({ g: 0, u: 0 }, slow()), s.set('a', 1), s.setStream('empty', Readable.from([])), s.set('b', 2)]);
    expect(await s.keys()).to.deep.equal([{ g: 0, u: 0 }, 'a', 'empty', 'b']);
  });

  it('a set judges whether the entry it replaces has expired at the time it is issued', async () => {
    const clock = new ManualClock(Date.now());
    const s = await store({ clock });
    await s.set('first', 1, { ttl: 100 });
    await s.set('second', 2);
    // Issued while 'first' is live: it keeps its position, although the clock moves on before the batch is sent.
    const write = s.set('first', 'again');
    clock.advance(1000);
    await write;
    expect(await s.keys()).to.deep.equal(['first', 'second']);
  });
});
