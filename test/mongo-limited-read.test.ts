/**
 * A find with a limit of at most one batch and no skip (lib/backends/mongo/scans.ts,
 * limitedRead): sent without the expiry condition and, with values, without a projection, and
 * an object query's `k: { $type: 'object' }` left out where a condition implies it
 * (query.ts, needsPresentField). Expiry is then told by the store: checked here that expired
 * entries still in the collection (the TTL monitor has not run) are never returned and that
 * the answer is still the first `limit` live entries, ties in creation order (SPEC §14).
 */
import * as net from 'node:net';
import { expect } from 'chai';
import type { CommandStartedEvent, Document } from 'mongodb';
import { ManualClock } from '../lib/clock';
import { needsPresentField } from '../lib/backends/mongo/query';
import { suspect } from '../lib/backends/mongo/scans';
import type { EntryDoc } from '../lib/backends/mongo/layout';
import { useMongoStores } from './support/mongo-test-stores';

/**
 * A TCP proxy to `port` that turns every `QQQQ` in the server's replies into bytes that are not
 * UTF-8 (same length: the BSON stays well formed). The test engine refuses to store invalid
 * UTF-8, so this is how a stored string of invalid UTF-8 (another writer's, or damage) is read.
 */
async function corruptingProxy(port: number): Promise<{ port: number; dropNextBatch: boolean; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    let pending = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // Whole messages only (length-prefixed), so a marker is never split between two writes.
      while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
        const message = Buffer.from(pending.subarray(0, pending.readInt32LE(0)));
        pending = pending.subarray(message.length);
        for (let at = message.indexOf('QQQQ'); at !== -1; at = message.indexOf('QQQQ', at)) message.set([0xc3, 0x28, 0xff, 0x80], at);
        if (proxy.dropNextBatch && message.includes('firstBatch')) {
          // A connection lost before the reply came: the client sees a network error.
          proxy.dropNextBatch = false;
          client.destroy();
          upstream.destroy();
          return;
        }
        client.write(message);
      }
    });
    for (const socket of [client, upstream]) {
      socket.on('error', () => undefined);
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy = {
    port: (server.address() as net.AddressInfo).port,
    /** Set: the next reply holding a batch is not passed on, and its connection is cut. */
    dropNextBatch: false,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}

describe('mongo store: sort + limit reads', () => {
  const stores = useMongoStores('mongo_limited');
  const { watched } = stores;

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
    // The first batch held two documents (16 MB) and left a cursor: it is killed, and the
    // second find (with the expiry condition) read 0, 1, 3 and 4, the first two left out.
    expect(commands.map((c) => c.commandName).filter((n) => n === 'find' || n === 'getMore' || n === 'killCursors')).to.deep.equal(['find', 'killCursors', 'find']);
    // The same read with nothing expired: the rest still comes through the second find.
    await s.set({ i: 2 }, big(2));
    commands.length = 0;
    const all = (await s.get({ i: { $gte: 0 } }, { sort: { i: 1 }, limit: 4 })) as unknown[];
    expect(all.map((v) => (typeof v === 'string' ? v[0] + v.length : v))).to.deep.equal(['0' + 6 * 1024 * 1024, '1' + 6 * 1024 * 1024, '2' + 6 * 1024 * 1024, 3]);
    expect(commands.map((c) => c.commandName).filter((n) => n === 'find' || n === 'getMore' || n === 'killCursors')).to.deep.equal(['find', 'killCursors', 'find', 'getMore']);
  });

  it('strings are decoded without UTF-8 validation: a value, key or id holding U+FFFD is read again by the validated find, unchanged', async () => {
    const clock = new ManualClock(Date.now());
    const { s, commands } = watched({ clock });
    await s.set({ i: 1, name: 'one' }, { text: 'plain' });
    await s.set({ i: 2, name: 'two' }, { text: 'a \uFFFD b' });
    await s.set({ i: 3, name: 'th\uFFFDree', tags: ['x', { deep: '\uFFFD' }] }, 3);
    await s.set({ i: 4, name: 'four' }, 4);
    commands.length = 0;
    expect(await s.get({ i: { $gte: 1 } }, { sort: { i: -1 }, limit: 3 })).to.deep.equal([4, 3, { text: 'a \uFFFD b' }]);
    let sent = finds(commands);
    expect(sent).to.have.length(2);
    expect(sent[0].filter).to.not.have.property('e');
    expect(sent[1].filter).to.have.property('e');
    // Keys only: a key holding U+FFFD deep inside is read again; a value holding one is not read at all.
    commands.length = 0;
    expect(await s.keys({ i: { $gte: 1 } }, { sort: { i: -1 }, limit: 2 })).to.deep.equal([{ i: 4, name: 'four' }, { i: 3, name: 'th\uFFFDree', tags: ['x', { deep: '\uFFFD' }] }]);
    expect(finds(commands)).to.have.length(2);
    commands.length = 0;
    expect(await s.keys({ i: { $lte: 2 } }, { sort: { i: -1 }, limit: 2 })).to.deep.equal([{ i: 2, name: 'two' }, { i: 1, name: 'one' }]);
    expect(finds(commands)).to.have.length(1);
    // Nothing suspect: one find, values as stored.
    commands.length = 0;
    expect(await s.get({ i: { $in: [1, 4] } }, { sort: { i: 1 }, limit: 5 })).to.deep.equal([{ text: 'plain' }, 4]);
    sent = finds(commands);
    expect(sent).to.have.length(1);
  });

  it('suspect: U+FFFD in the _id, in any string of the key, or in a string value (read with values) only', () => {
    const doc = (fields: Partial<EntryDoc>) => ({ _id: '\u0000{"i":1}', k: { i: 1 }, v: '1', e: null, n: '', ...fields }) as unknown as EntryDoc;
    expect(suspect(doc({}), true)).to.equal(false);
    expect(suspect(doc({ _id: 'a\uFFFD', k: 'a\uFFFD' as never }), false)).to.equal(true);
    expect(suspect(doc({ k: { a: [1, { b: 'x\uFFFD' }] } as never }), false)).to.equal(true);
    expect(suspect(doc({ k: { 'x\uFFFD': 1 } as never }), false)).to.equal(false); // field names are never validated
    expect(suspect(doc({ v: '"\uFFFD"' }), true)).to.equal(true);
    expect(suspect(doc({ v: '"\uFFFD"' }), false)).to.equal(false);
  });

  it('a stored string of invalid UTF-8 (value or key) is ERR_STORAGE_OPERATION, as the validating driver gave', async function () {
    this.timeout(60_000);
    const proxy = await corruptingProxy(Number(new URL(stores.url).port));
    try {
      const db = stores.freshDb();
      const direct = stores.store({}, db);
      await direct.set({ i: 1 }, 'fine');
      await direct.set({ i: 2 }, 'bad QQQQ value');
      await direct.set({ i: 3, name: 'bad QQQQ key' }, 3);
      const through = stores.store({ url: `mongodb://127.0.0.1:${proxy.port}/?directConnection=true` }, db);
      expect(await through.get({ i: 1 }, { sort: { i: 1 }, limit: 5 })).to.deep.equal(['fine']);
      for (const read of [
        () => through.get({ i: { $gte: 1 } }, { sort: { i: 1 }, limit: 5 }),
        () => through.get({ i: { $gte: 2 } }, { sort: { i: 1 }, limit: 1 }),
        () => through.keys({ i: { $gte: 3 } }, { sort: { i: 1 }, limit: 5 }),
      ]) {
        const err = await read().then(() => undefined, (e: unknown) => e);
        expect((err as { code?: unknown })?.code, String(err)).to.equal('ERR_STORAGE_OPERATION');
      }
      await through.close();
    } finally {
      await proxy.close();
    }
  });

  it('a find that fails as the driver would retry (a connection lost) is sent again, through a cursor', async function () {
    this.timeout(60_000);
    const proxy = await corruptingProxy(Number(new URL(stores.url).port));
    try {
      const s = stores.store({ url: `mongodb://127.0.0.1:${proxy.port}/?directConnection=true` });
      for (let i = 0; i < 5; i++) await s.set({ i }, i);
      proxy.dropNextBatch = true;
      expect(await s.get({ i: { $gte: 0 } }, { sort: { i: -1 }, limit: 3 })).to.deep.equal([4, 3, 2]);
      expect(proxy.dropNextBatch).to.equal(false);
      await s.close();
    } finally {
      await proxy.close();
    }
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
