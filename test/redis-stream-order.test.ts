/**
 * Program order (SPEC §12) for reads of streamed values on Redis (issue #10, finding 1): the
 * store sends exact calls untracked (ordersExactCalls), but a read of a value written with
 * setStream takes several round trips (the entry string, then its chunks). A write or delete
 * of the same key issued after the read runs in between; the read must still return the value
 * its entry string named, never the newer value and never `undefined`. The old chunks are kept
 * under a grace key that expires by itself (docs/redis.md, "Streams").
 */
import { expect } from 'chai';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { StoreError } from '../lib/errors';
import { rejection } from '../lib/conformance/context';
import { RedisStore } from '../lib/backends/redis';
import { sharedRedisCluster } from './support/redis-server';
import { redisTestStores } from './support/test-stores';
import { entryOf, entriesOf } from './support/tier-access';

const stores = redisTestStores('ro');
const open = stores.open;
/** The raw client for writing what the store would not. */
const admin = (): Redis => stores.admin();

/** The bytes a value stream yields, concatenated. */
async function bytesOf(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Bytes that differ at every position, so a splice of two values shows. */
function pattern(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed) % 251;
  return out;
}

/** Every key of a namespace whose name starts with `<base><kind>` (a test may SCAN; the store never does). */
async function keysOfKind(store: RedisStore, kind: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  const match = (store.layout.base + kind).replace(/[*?[\]\\]/g, '\\$&') + '*';
  do {
    const [next, keys] = await admin().scan(cursor, 'MATCH', match, 'COUNT', '1000');
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

/** A read of one exact key, as each read path issues it; resolves the value as bytes (or undefined). */
type Read = (store: RedisStore, key: string) => Promise<unknown>;
const READS: Array<[string, Read]> = [
  ['getOne', (store, key) => store.getOne(key)],
  ['getEntry', (store, key) => entryOf(store, key).then((entry) => entry?.value)],
  ['getEntries', (store, key) => entriesOf(store, [key]).then(([entry]) => (entry instanceof Error ? Promise.reject(entry) : entry?.value))],
  ['get of an exact key', (store, key) => store.get(key).then((values) => (values as unknown[])[0])],
  ['createValueStream', (store, key) => bytesOf(store.createValueStream(key))],
];

/** A call issued right after the read, not awaited before the read settles. */
type Later = (store: RedisStore, key: string) => Promise<unknown>;
const LATER: Array<[string, Later]> = [
  ['set', (store, key) => store.set(key, 'new')],
  ['del', (store, key) => store.del(key)],
  ['setStream', (store, key) => store.setStream(key, Readable.from([Buffer.from('newer bytes')]))],
  ['clear()', (store) => store.clear()],
];


describe('redis: a read of a streamed value keeps program order (SPEC §12)', () => {
  // One chunk, and a value that takes several chunk reads (chunkSize 1 KiB, 5.5 KiB of bytes).
  for (const [size, bytes] of [
    ['one chunk', 700],
    ['six chunks', 5_600],
  ] as const) {
    for (const [readName, read] of READS) {
      for (const [laterName, later] of LATER) {
        it(`${readName} of a streamed value (${size}) with an un-awaited ${laterName} of the same key issued after it returns the old bytes`, async () => {
          const store = open({ chunkSize: 1024 });
          const old = pattern(bytes, 3);
          await store.setStream('s', Readable.from([old]));
          const reading = read(store, 's');
          const after = later(store, 's');
          expect(await reading).to.deep.equal(old);
          await after;
          // The later call took effect, as issued.
          const now = await store.getOne('s');
          if (laterName === 'del' || laterName === 'clear()') expect(now).to.equal(undefined);
          else expect(now).to.not.deep.equal(old);
        });
      }
    }
  }

  it('a read of an object key with an un-awaited del by query issued after it returns the old bytes', async () => {
    const store = open({ chunkSize: 1024 });
    const old = pattern(5_000, 4);
    await store.setStream({ g: 1, u: 1 }, Readable.from([old]));
    const reading = store.getOne({ g: 1, u: 1 });
    const removal = store.del({ g: 1 });
    expect(await reading).to.deep.equal(old);
    expect(await removal).to.equal(1);
    expect(await store.getOne({ g: 1, u: 1 })).to.equal(undefined);
  });

  it('setStream takes its creation position when it is called: a set of another key issued after it comes after it', async () => {
    const store = open({ chunkSize: 1024 });
    async function* slow(): AsyncGenerator<Buffer> {
      yield pattern(3_000, 1);
      await sleep(20); // the set below commits while this value is still streaming in
      yield pattern(3_000, 2);
    }
    const streaming = store.setStream({ g: 1, u: 1 }, Readable.from(slow()));
    const plain = store.set({ g: 1, u: 2 }, 'plain', { ttl: 60_000 });
    await Promise.all([streaming, plain]);
    expect(await store.keys()).to.deep.equal([
      { g: 1, u: 1 },
      { g: 1, u: 2 },
    ]);
    const values = (await store.get({ g: 1 })) as unknown[];
    expect(values).to.have.length(2);
    expect(values[1]).to.equal('plain');
    // Overwriting a live key keeps its place; the number taken for it is simply not used.
    await Promise.all([store.setStream({ g: 1, u: 1 }, Readable.from([Buffer.from('again')])), store.set({ g: 1, u: 3 }, 'third')]);
    expect(await store.keys({ g: 1 })).to.deep.equal([
      { g: 1, u: 1 },
      { g: 1, u: 2 },
      { g: 1, u: 3 },
    ]);
  });

  it('many reads and rewrites interleaved without awaiting each see exactly the value issued before them', async () => {
    const store = open({ chunkSize: 1024 });
    const values = Array.from({ length: 20 }, (_, i) => pattern(1_000 + 600 * i, i));
    await store.setStream('s', Readable.from([values[0]]));
    const reads: Array<Promise<unknown>> = [];
    for (let i = 1; i < values.length; i++) {
      reads.push(store.getOne('s'));
      // Alternate a plain overwrite, a delete and a streamed rewrite.
      if (i % 3 === 0) void store.set('s', `plain ${i}`);
      else if (i % 3 === 1) void store.del('s');
      void store.setStream('s', Readable.from([values[i]]));
    }
    const got = await Promise.all(reads);
    // Read i was issued after setStream(values[i - 1]) and before the next write.
    got.forEach((value, i) => expect(value, `read ${i}`).to.deep.equal(values[i]));
    expect(await store.getOne('s')).to.deep.equal(values[values.length - 1]);
  });

  it("a replaced value's chunks stay under a grace key with an expiry of its own, so nothing is left for good", async () => {
    const commandTimeout = 500;
    const store = open({ chunkSize: 1024, commandTimeout });
    await store.setStream('s', Readable.from([pattern(3_000, 1)]));
    await store.set('s', 'plain');
    const [grace] = await keysOfKind(store, 'o:');
    expect(grace, 'the old chunks are kept').to.be.a('string');
    const ttl = await admin().pttl(grace);
    expect(ttl).to.be.greaterThan(0);
    expect(ttl).to.be.at.most(store.streamGraceMs);
    expect(await admin().hlen(grace)).to.equal(4); // three chunks and the generation
    // Deleting a streamed value and clear() keep them the same way.
    await store.setStream('t', Readable.from([pattern(3_000, 2)]));
    await store.del('t');
    await store.setStream('u', Readable.from([pattern(3_000, 2)]));
    await store.clear();
    const kept = await keysOfKind(store, 'o:');
    expect(kept).to.have.length(3);
    for (const key of kept) expect(await admin().pttl(key)).to.be.within(1, store.streamGraceMs);
    expect(await keysOfKind(store, 'k:')).to.deep.equal([]);
  });

  // These two wait on Redis's own clock (key expiry), which a ManualClock cannot move.
  describe('a value stream read slowly while its value is replaced (grace of 1 s)', () => {
    const KIB = 1024;
    /** Opens a 64-chunk value's stream, takes its first chunk, then overwrites the value. */
    async function readThenOverwrite(store: RedisStore, old: Buffer): Promise<AsyncIterator<Buffer>> {
      await store.setStream('s', Readable.from([old]));
      const chunks = store.createValueStream('s')[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      expect((await chunks.next()).value).to.deep.equal(old.subarray(0, KIB));
      await store.set('s', 'new');
      return chunks;
    }
    /** The chunks an iterator still yields, concatenated, taking `n` of them at most. */
    async function take(chunks: AsyncIterator<Buffer>, n = Infinity): Promise<Buffer> {
      const parts: Buffer[] = [];
      for (let r = await chunks.next(); ; r = await chunks.next()) {
        if (r.done) break;
        parts.push(r.value);
        if (parts.length >= n) break;
      }
      return Buffer.concat(parts);
    }

    it('a reader that keeps reading renews the grace and gets every old byte', async () => {
      const store = open({ chunkSize: KIB, commandTimeout: 50 });
      expect(store.streamGraceMs).to.equal(1_000);
      const old = pattern(64 * KIB, 5);
      const chunks = await readThenOverwrite(store, old);
      await sleep(600);
      const middle = await take(chunks, 30);
      await sleep(600); // 1.2 s after the overwrite: past the first grace, within the renewed one
      const rest = await take(chunks);
      expect(Buffer.concat([old.subarray(0, KIB), middle, rest])).to.deep.equal(old);
    });

    it('a reader that stalls longer than the grace fails with ERR_STORAGE_OPERATION, never splicing in the new value', async () => {
      const store = open({ chunkSize: KIB, commandTimeout: 50 });
      const chunks = await readThenOverwrite(store, pattern(64 * KIB, 6));
      await sleep(1_300);
      const err = await rejection(take(chunks));
      expect(err, String(err)).to.be.instanceOf(StoreError);
      expect((err as StoreError).code).to.equal('ERR_STORAGE_OPERATION');
      expect(err.message).to.include('replaced');
    });
  });

  it('the grace lasts a few command timeouts, at least a second', () => {
    expect(open({ commandTimeout: 2_000 }).streamGraceMs).to.equal(8_000);
    expect(open({ commandTimeout: 50 }).streamGraceMs).to.equal(1_000);
  });
});

describe('redis cluster: a read of a streamed value keeps program order', () => {
  let nodes: Array<{ host: string; port: number }> = [];
  before(async function () {
    this.timeout(60_000);
    ({ nodes } = await sharedRedisCluster());
  });

  it('getOne and createValueStream return the old bytes across a later set and del; the grace key is in the namespace slot', async () => {
    const store = stores.track(new RedisStore({ cluster: nodes, namespace: stores.namespace('roc'), chunkSize: 1024 }));
    const old = pattern(5_000, 9);
      await store.setStream('s', Readable.from([old]));
      const one = store.getOne('s');
      const overwrite = store.set('s', 'new');
      expect(await one).to.deep.equal(old);
      await overwrite;
      await store.setStream('s', Readable.from([old]));
      const streamed = bytesOf(store.createValueStream('s'));
      const removal = store.del('s');
      expect(await streamed).to.deep.equal(old);
      expect(await removal).to.equal(1);
      expect(await store.getOne('s')).to.equal(undefined);
  });
});
