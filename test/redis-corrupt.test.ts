/**
 * The Redis store over data it did not write, or that lost a part (SPEC §12): garbage written
 * with a raw ioredis client into each of the store's own records. Every call settles, only
 * StoreErrors reach the caller, a corrupt entry is ERR_STORAGE_OPERATION naming its key, and
 * clear()/del succeed over all of it. Also: a write that fails inside a script leaves nothing
 * behind and never fails another caller's write of the same batch; and an iteration never
 * yields an entry that expired while it ran.
 */
import { expect } from 'chai';
import { Readable } from 'node:stream';
import { Cluster, Redis } from 'ioredis';
import { ManualClock } from '../lib/clock';
import { StoreError } from '../lib/errors';
import { Key } from '../lib/keys';
import { RedisStore } from '../lib/backends/redis';
import { BatchItem, BatchOwner } from '../lib/backends/redis/connection';
import { valueEntry } from '../lib/backends/redis/layout';
import { rejection } from '../lib/conformance/context';
import { sharedRedisCluster } from './support/redis-server';
import { namespaceKeys, redisTestStores } from './support/test-stores';
import { entryOf, entriesOf } from './support/tier-access';

const stores = redisTestStores('rc');
const open = stores.open;
/** The raw client for writing what the store would not. */
const admin = (): Redis => stores.admin();

/** How many commands the shared server has run (INFO stats): a spinning client shows here. */
async function commandsRun(): Promise<number> {
  return Number(/total_commands_processed:(\d+)/.exec(await admin().info('stats'))?.[1] ?? 0);
}

/** The error a promise rejects with, asserted to be a StoreError with `code`. */
async function rejectsWith(promise: Promise<unknown>, code: string, naming?: string): Promise<Error> {
  const err = await rejection(promise);
  expect(err, String(err)).to.be.instanceOf(StoreError);
  expect((err as StoreError).code, err.message).to.equal(code);
  if (naming !== undefined) expect(err.message).to.include(naming);
  return err;
}

/** The promise, failing the test if it has not settled within `ms` (a hang, not a slow call). */
function within<T>(promise: Promise<T>, ms = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** Every value `entries()` yields, or the error it stops with. */
async function drain(iterable: AsyncIterable<{ key: Key; value: unknown }>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const entry of iterable) out.push(entry.value);
  return out;
}

/** Every object a readable stream emits, or its error. */
function streamed(stream: Readable): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const out: unknown[] = [];
    stream.on('data', (d) => out.push(d));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
}


describe('redis store over corrupt data', () => {
  describe('a streamed value whose chunks are gone (eviction, an operator DEL)', () => {
    it('reads as absent everywhere, settles at once, and does not spin', async () => {
      const store = open({ chunkSize: 1024 });
      await store.setStream('s', Readable.from([Buffer.alloc(3000, 1)]));
      await store.set('plain', 1);
      await admin().del(store.layout.chunks('s'));
      const before = await commandsRun();
      expect(await within(store.getOne('s'))).to.equal(undefined);
      expect(await within(store.get('s'))).to.deep.equal([]);
      expect(await entryOf(store, 's')).to.equal(undefined);
      expect(await entriesOf(store, ['s', 'plain'])).to.deep.equal([undefined, { value: 1, expiresAt: null }]);
      expect(await store.has('s')).to.equal(false);
      expect(await store.ttl('s')).to.equal(undefined);
      expect(await store.count('s')).to.equal(0);
      expect(await store.keys()).to.deep.equal(['plain']);
      expect(await store.keys('*')).to.deep.equal(['plain']);
      expect(await drain(store.entries())).to.deep.equal([1]);
      const err = await rejection(streamed(store.createValueStream('s')));
      expect((err as StoreError).code).to.equal('ERR_KEY_NOT_FOUND');
      // A handful of commands per call, not a loop.
      expect((await commandsRun()) - before).to.be.lessThan(60);
      // Writing and deleting the key work as usual.
      expect(await store.del('s')).to.equal(0);
      await store.setStream('s', Readable.from([Buffer.from('back')]));
      expect(await store.getOne('s')).to.deep.equal(Buffer.from('back'));
    });

    it('batched getOne calls over a streamed entry without chunks all settle', async () => {
      const store = open({ chunkSize: 1024 });
      await store.setStream('s', Readable.from([Buffer.alloc(3000, 2)]));
      await admin().del(store.layout.chunks('s'));
      const before = await commandsRun();
      const reads = await within(Promise.all(Array.from({ length: 50 }, () => store.getOne('s'))));
      expect(reads.every((v) => v === undefined)).to.equal(true);
      // Four commands each after the shared MGET: the chunk hash, the grace key (with its
      // renewal), the entry again. Not a loop.
      expect((await commandsRun()) - before).to.be.lessThan(250);
    });

    it('is ERR_STORAGE_OPERATION naming the key when some chunks are gone or belong to another generation', async () => {
      const store = open({ chunkSize: 1024 });
      await store.setStream('torn', Readable.from([Buffer.alloc(3000, 3)]));
      await store.setStream('alien', Readable.from([Buffer.alloc(3000, 4)]));
      await admin().hdel(store.layout.chunks('torn'), '1');
      await admin().hset(store.layout.chunks('alien'), 'g', 'someone-else');
      for (const key of ['torn', 'alien']) {
        await rejectsWith(store.getOne(key), 'ERR_STORAGE_OPERATION', key);
        await rejectsWith(store.get(key), 'ERR_STORAGE_OPERATION', key);
        await rejectsWith(entryOf(store, key), 'ERR_STORAGE_OPERATION', key);
        await rejectsWith(drain(store.entries()), 'ERR_STORAGE_OPERATION');
      }
      await rejectsWith(streamed(store.createValueStream('torn')), 'ERR_STORAGE_OPERATION', 'torn');
      const [torn] = await entriesOf(store, ['torn']);
      expect((torn as StoreError).code).to.equal('ERR_STORAGE_OPERATION');
      await store.clear();
      // The torn value's generation is the store's, so its chunks are kept for the grace (they
      // expire by themselves); the alien ones are removed.
      const left = (await namespaceKeys(admin(), store)).filter((k) => k !== store.layout.version);
      expect(left.map((k) => k.slice(0, store.layout.gracePrefix.length))).to.deep.equal([store.layout.gracePrefix]);
      expect(await admin().pttl(left[0])).to.be.within(1, store.streamGraceMs);
    });

    it('a read that finds its chunks gone and the value replaced fails after one re-read; it never starts over on the new value', async () => {
      const store = open({ chunkSize: 1024 });
      await store.setStream('s', Readable.from([Buffer.alloc(3000, 5)]));
      await admin().hset(store.layout.chunks('s'), 'g', 'never-matches');
      // Every re-read of the entry finds yet another generation, as under a storm of concurrent rewrites.
      let rereads = 0;
      (store as unknown as { backend: { getString: (key: string) => Promise<string> } }).backend.getString = async () => `0c3:storm${++rereads}`;
      const err = await rejectsWith(within(store.getOne('s')), 'ERR_STORAGE_OPERATION', 's');
      expect(err.message).to.include('replaced');
      expect(rereads).to.equal(1);
    });

    it('a streamed head whose chunk count or generation does not parse is ERR_STORAGE_OPERATION naming the key', async () => {
      const store = open();
      await store.set('h', 1);
      await admin().set(store.layout.entry('h'), '0cxyz:');
      await rejectsWith(store.getOne('h'), 'ERR_STORAGE_OPERATION', 'h');
      await rejectsWith(streamed(store.createValueStream('h')), 'ERR_STORAGE_OPERATION', 'h');
      expect(await store.del('h')).to.equal(1);
    });
  });

  describe('entries that do not parse', () => {
    it('a value that is not JSON is ERR_STORAGE_OPERATION naming the key on every read path; clear() removes it', async () => {
      const store = open();
      const target = open();
      await store.set({ g: 1, n: 1 }, 'fine');
      await store.set({ g: 1, n: 2 }, 'soon bad');
      await store.set('bad', 'soon bad');
      await admin().set(store.layout.entry('bad'), '0v{not json');
      await admin().set(store.layout.entry('\u0000{"g":1,"n":2}'), '0v{not json');
      await rejectsWith(store.getOne('bad'), 'ERR_STORAGE_OPERATION', 'bad');
      await rejectsWith(store.get('bad'), 'ERR_STORAGE_OPERATION', 'bad');
      await rejectsWith(entryOf(store, 'bad'), 'ERR_STORAGE_OPERATION', 'bad');
      await rejectsWith(streamed(store.createValueStream('bad')), 'ERR_STORAGE_OPERATION', 'bad');
      const [bad] = await entriesOf(store, ['bad']);
      expect((bad as StoreError).code).to.equal('ERR_STORAGE_OPERATION');
      const naming = '"n":2';
      await rejectsWith(store.getOne({ g: 1, n: 2 }), 'ERR_STORAGE_OPERATION', naming);
      await rejectsWith(store.get({ g: 1 }), 'ERR_STORAGE_OPERATION', naming); // one index
      await rejectsWith(store.get({ g: 1, n: { $gt: 1 } }), 'ERR_STORAGE_OPERATION', naming); // index, then sift
      await rejectsWith(store.get({ n: { $gt: 1 } }), 'ERR_STORAGE_OPERATION', naming); // full walk
      await rejectsWith(store.get({ n: { $in: [2, 3] } }), 'ERR_STORAGE_OPERATION', naming); // several index sets
      await rejectsWith(drain(store.entries()), 'ERR_STORAGE_OPERATION');
      await rejectsWith(streamed(store.createReadStream({ g: 1 })), 'ERR_STORAGE_OPERATION', naming);
      await rejectsWith(store.copy(target), 'ERR_STORAGE_OPERATION');
      // Reads of the head only (has, ttl, count, keys) see a well-formed head.
      expect(await store.has('bad')).to.equal(true);
      expect(await store.ttl('bad')).to.equal(null);
      expect(await store.count({ g: 1 })).to.equal(2);
      expect(await store.del({ g: 1, n: { $gte: 2 } })).to.equal(1); // a delete by query over the corrupt entry
      expect(await store.del({ n: { $gte: 0 } })).to.equal(1); // and by a full walk
      expect(await store.del('bad')).to.equal(1);
      expect(await store.keys()).to.deep.equal([]);
      await store.clear();
      // Only the layout version record, written when the store connected, stays.
      expect(await namespaceKeys(admin(), store)).to.deep.equal([store.layout.version]);
    });

    it('an entry string without an entry head is ERR_STORAGE_OPERATION naming the key, also for has and ttl', async () => {
      const store = open();
      for (const garbage of ['garbage', '123', '12x3', '-5v1']) {
        await store.set('k', 'v');
        await store.set({ o: 1 }, 'v');
        await admin().set(store.layout.entry('k'), garbage);
        await admin().set(store.layout.entry('\u0000{"o":1}'), garbage);
        await rejectsWith(store.getOne('k'), 'ERR_STORAGE_OPERATION', 'k');
        await rejectsWith(store.has('k'), 'ERR_STORAGE_OPERATION', 'k');
        await rejectsWith(store.ttl('k'), 'ERR_STORAGE_OPERATION', 'k');
        await rejectsWith(store.count('k'), 'ERR_STORAGE_OPERATION', 'k');
        await rejectsWith(store.get({ o: 1 }), 'ERR_STORAGE_OPERATION', '"o":1');
        await rejectsWith(store.keys({ o: { $gte: 1 } }), 'ERR_STORAGE_OPERATION', '"o":1');
        await rejectsWith(store.keys(), 'ERR_STORAGE_OPERATION');
        await rejectsWith(drain(store.entries()), 'ERR_STORAGE_OPERATION');
        // set() over it writes a fresh entry.
        await store.set('k', 'again');
        expect(await store.getOne('k')).to.equal('again');
        expect(await store.del({ o: 1 })).to.equal(1);
        await store.clear();
      }
      // Only the layout version record, written when the store connected, stays.
      expect(await namespaceKeys(admin(), store)).to.deep.equal([store.layout.version]);
    });

    it('another type at an entry key reads as absent; set, del and clear replace or remove it', async () => {
      const store = open();
      await store.set('h', 1);
      await store.set({ o: 1 }, 1);
      await store.set({ o: 2 }, 2);
      await admin().del(store.layout.entry('h'), store.layout.entry('\u0000{"o":1}'));
      await admin().hset(store.layout.entry('h'), 'f', 'v');
      await admin().rpush(store.layout.entry('\u0000{"o":1}'), 'x');
      expect(await store.getOne('h')).to.equal(undefined);
      expect(await entriesOf(store, ['h'])).to.deep.equal([undefined]);
      expect(await store.has('h')).to.equal(false);
      expect(await store.ttl('h')).to.equal(undefined);
      expect(await store.get({ o: { $gte: 1 } })).to.deep.equal([2]);
      expect(await store.get({ o: { $in: [1, 2] } })).to.deep.equal([2]);
      expect(await store.keys({ o: 1 })).to.deep.equal([]);
      expect(await drain(store.entries())).to.deep.equal([2]);
      await store.set('h', 'string again');
      expect(await store.getOne('h')).to.equal('string again');
      expect(await store.del({ o: 1 })).to.equal(0);
      await admin().del(store.layout.entry('h'));
      await admin().hset(store.layout.entry('h'), 'f', 'v'); // another type again, without going through set
      await store.clear();
      // Only the layout version record, written when the store connected, stays.
      expect(await namespaceKeys(admin(), store)).to.deep.equal([store.layout.version]);
    });
  });

  describe("garbage in the store's own sets", () => {
    /** A namespace with good entries and garbage members in its order, expiry and index sets. */
    async function polluted(clock = new ManualClock()): Promise<RedisStore> {
      const store = open({ clock, sweepInterval: 0 });
      await store.set({ g: 1, n: 1 }, 'one');
      await store.set('plain', 'p', { ttl: 60_000 });
      const l = store.layout;
      const index = l.indexFor('g', 1);
      for (const set of [l.order, l.expiry, index]) {
        await admin().zadd(set, 1, '\u0000{not json', 2, '\u0000123', 3, '\u0000[1,2]', 4, '\u0000null', 5, 'ghost');
      }
      // One garbage id has an entry string too, and one points at a hash.
      await admin().set(l.entry('\u0000{not json'), '0v"orphan"');
      await admin().hset(l.entry('\u0000123'), 'f', 'v');
      return store;
    }

    it('reads skip members without an entry and report a live entry under an id that is no key', async () => {
      const store = await polluted();
      await admin().del(store.layout.entry('\u0000{not json'));
      expect(await store.get({ g: 1 })).to.deep.equal(['one']);
      expect(await store.get({ g: 1, n: { $gte: 1 } })).to.deep.equal(['one']);
      expect(await store.get({ n: { $gte: 1 } })).to.deep.equal(['one']);
      expect(await store.keys()).to.deep.equal([{ g: 1, n: 1 }, 'plain']);
      expect(await store.del({ n: { $gte: 1 } })).to.equal(1);
      await admin().set(store.layout.entry('\u0000{not json'), '0v"orphan"');
      await rejectsWith(store.keys(), 'ERR_STORAGE_OPERATION', '{not json');
      await rejectsWith(store.keys({ g: 1 }), 'ERR_STORAGE_OPERATION', '{not json');
    });

    it('clear() succeeds and leaves nothing; the sweep and deletes by query succeed', async () => {
      const clock = new ManualClock();
      const store = await polluted(clock);
      clock.advance(120_000);
      expect(await store.sweep()).to.be.greaterThan(0);
      expect(await store.del({ n: { $gte: 0 } })).to.equal(1);
      await store.set({ g: 1, n: 1 }, 'one');
      expect(await store.del({ g: 1 })).to.equal(1);
      const l = store.layout;
      await admin().zadd(l.order, 1, '\u0000{not json', 2, '\u0000123');
      await admin().set(l.entry('\u0000123'), 'garbage');
      await admin().set(l.indexFor('g', 2), 'a string where an index set belongs');
      await admin().sadd(l.registry, l.indexFor('g', 2));
      await admin().set(l.counter, 'not a number');
      await store.clear();
      // Only the layout version record, written when the store connected, stays.
      expect(await namespaceKeys(admin(), store)).to.deep.equal([store.layout.version]);
      // Records of the wrong type: clear() still removes them.
      await admin().set(l.order, 'x');
      await admin().set(l.registry, 'x');
      await admin().hset(l.expiry, 'f', 'v');
      await store.clear();
      // Only the layout version record, written when the store connected, stays.
      expect(await namespaceKeys(admin(), store)).to.deep.equal([store.layout.version]);
    });
  });

  it('the sweep never frees a live entry listed in the expiry set by mistake', async () => {
    const clock = new ManualClock();
    const store = open({ clock, sweepInterval: 0 });
    await store.set('forever', 1);
    await store.set('later', 2, { ttl: 60_000 });
    const l = store.layout;
    await admin().zadd(l.expiry, 1, 'forever', 2, 'later');
    expect(await store.sweep()).to.equal(0);
    expect(await store.getOne('forever')).to.equal(1);
    expect(await store.getOne('later')).to.equal(2);
    expect(await admin().zscore(l.expiry, 'forever')).to.equal(null);
    expect(Number(await admin().zscore(l.expiry, 'later'))).to.equal(await entryOf(store, 'later').then((e) => e?.expiresAt));
    clock.advance(60_000);
    expect(await store.sweep()).to.equal(1);
    expect(await store.keys()).to.deep.equal(['forever']);
  });

  describe('writes are all or nothing', () => {
    /** Queues writes straight into the store's batch path, as set() would after validation. */
    function setItems(store: RedisStore, writes: Array<{ key: Key; value: unknown; expiresAt: number | null }>): Array<Promise<unknown>> {
      const ids = writes.map((w) => (typeof w.key === 'string' ? w.key : '\u0000' + JSON.stringify(w.key)));
      const items: Array<BatchItem & { key: Key; text: string; expiresAt: number | null }> = [];
      const settled = writes.map(
        (w, i) =>
          new Promise((resolve, reject) => {
            items.push({ id: ids[i], key: w.key, text: valueEntry(w.expiresAt, JSON.stringify(w.value)), expiresAt: w.expiresAt, resolve, reject });
          }),
      );
      (store as unknown as { backend: BatchOwner }).backend.sendBatch('set', items);
      return settled;
    }

    for (const bad of [1e19, Number.MAX_VALUE, -5, 1.5, 1e15]) {
      it(`an expiry Redis cannot store (${bad}) fails only its own write, leaving no record of it`, async () => {
        const store = open();
        await store.connect();
        const now = Date.now();
        const alone = setItems(store, [{ key: { o: 2 }, value: 'v', expiresAt: bad }]);
        await rejectsWith(alone[0], 'ERR_STORAGE_OPERATION');
        const batch = setItems(store, [
          { key: { o: 1 }, value: 'a', expiresAt: now + 60_000 },
          { key: { o: 2, p: 1 }, value: 'bad', expiresAt: bad },
          { key: 'plain', value: 'b', expiresAt: null },
        ]);
        const results = await Promise.allSettled(batch);
        expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
        expect(((results[1] as PromiseRejectedResult).reason as StoreError).code).to.equal('ERR_STORAGE_OPERATION');
        expect(await store.get({ o: 1 })).to.deep.equal(['a']);
        expect(await store.getOne('plain')).to.equal('b');
        expect(await store.count({ o: 2 })).to.equal(0);
        expect(await store.count({ p: 1 })).to.equal(0);
        expect(await store.keys()).to.deep.equal([{ o: 1 }, 'plain']);
        const l = store.layout;
        const bads = ['\u0000{"o":2}', '\u0000{"o":2,"p":1}'];
        for (const id of bads) {
          expect(await admin().zscore(l.order, id)).to.equal(null);
          expect(await admin().zscore(l.expiry, id)).to.equal(null);
          expect(await admin().exists(l.entry(id))).to.equal(0);
        }
        expect(await admin().exists(l.indexFor('o', 2), l.indexFor('p', 1))).to.equal(0);
        expect((await admin().smembers(l.registry)).sort()).to.deep.equal([l.indexFor('o', 1), l.ordered('n', 'o')].sort());
        expect(await admin().zcard(l.ordered('n', 'o'))).to.equal(1);
        expect(await admin().exists(l.ordered('n', 'p'))).to.equal(0);
      });
    }

    it('a write whose index key holds another type fails alone and leaves nothing of itself', async () => {
      const store = open();
      await store.connect();
      const l = store.layout;
      await admin().set(l.indexFor('p', 1), 'garbage');
      const batch = setItems(store, [
        { key: { o: 1 }, value: 'a', expiresAt: null },
        { key: { o: 2, p: 1 }, value: 'bad', expiresAt: Date.now() + 60_000 },
        { key: { o: 3 }, value: 'c', expiresAt: null },
      ]);
      const results = await Promise.allSettled(batch);
      expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
      expect(((results[1] as PromiseRejectedResult).reason as StoreError).code).to.equal('ERR_STORAGE_OPERATION');
      expect(await store.keys()).to.deep.equal([{ o: 1 }, { o: 3 }]);
      const id = '\u0000{"o":2,"p":1}';
      expect(await admin().zscore(l.order, id)).to.equal(null);
      expect(await admin().zscore(l.expiry, id)).to.equal(null);
      expect(await admin().exists(l.entry(id), l.indexFor('o', 2))).to.equal(0);
      // The same through set(): rejected, nothing left.
      await rejectsWith(store.set({ o: 4, p: 1 }, 'x'), 'ERR_STORAGE_OPERATION');
      expect(await store.count({ o: 4 })).to.equal(0);
      expect(await admin().exists(l.indexFor('o', 4))).to.equal(0);
      await store.clear();
      // clear() reaches what the store's records list; the garbage index key was never listed.
      expect((await namespaceKeys(admin(), store)).sort()).to.deep.equal([l.indexFor('p', 1), l.version].sort());
    });

    it('a serializer that throws or returns no string fails only its own write, with a typed error', async () => {
      const serializer = {
        serialize: (v: unknown) => {
          if (v === 'boom') throw new Error('serializer failed');
          if (v === 'nothing') return undefined as unknown as string;
          return JSON.stringify(v);
        },
        deserialize: (t: string) => JSON.parse(t) as unknown,
      };
      const store = open({ serializer });
      const results = await Promise.allSettled([store.set('a', 1), store.set('b', 'boom'), store.set('c', 'nothing'), store.set('d', 4)]);
      expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
      for (const r of [results[1], results[2]] as PromiseRejectedResult[]) {
        expect(r.reason).to.be.instanceOf(StoreError);
        expect((r.reason as StoreError).code).to.equal('ERR_INVALID_VALUE');
      }
      expect(await store.keys()).to.deep.equal(['a', 'd']);
    });

    it('set() with a TTL Redis cannot store is rejected before anything is sent', async () => {
      const store = open();
      await rejectsWith(store.set({ o: 2 }, 'v', { ttl: 1e19 }), 'ERR_INVALID_ARGUMENT');
      await rejectsWith(store.setex({ o: 2 }, 'v', 1e300), 'ERR_INVALID_ARGUMENT');
      expect(await store.count({ o: 2 })).to.equal(0);
      // Only the layout version record, written when the store connected, stays.
      expect(await namespaceKeys(admin(), store)).to.deep.equal([store.layout.version]);
    });
  });

  describe('expiry during an iteration', () => {
    const queries: Array<[string, Record<string, unknown> | undefined]> = [
      ['everything (order walk)', undefined],
      ['a full scan (nothing indexable)', { n: { $gte: 0 } }],
      ['one equality (index walk)', { g: 1 }],
      ['an equality and a range (index, then sift)', { g: 1, n: { $gte: 0 } }],
      ['an $in (several index sets)', { n: { $in: [0, 1, 2, 3, 4] } }],
    ];
    for (const [name, query] of queries) {
      it(`${name}: an entry that expires mid-iteration is not yielded`, async () => {
        const clock = new ManualClock();
        const store = open({ clock, batchSize: 2 });
        for (let n = 0; n < 5; n++) await store.set({ g: 1, n }, n, { ttl: n === 0 ? null : 1000 * n });
        const seen: unknown[] = [];
        for await (const entry of store.entries(query)) {
          seen.push(entry.value);
          if (entry.value === 0) clock.advance(2500); // 1 and 2 have now expired
        }
        expect(seen).to.deep.equal([0, 3, 4]);
      });
    }
  });
});

describe('redis cluster store over corrupt data', () => {
  let nodes: Array<{ host: string; port: number }> = [];
  before(async function () {
    this.timeout(60_000);
    ({ nodes } = await sharedRedisCluster());
  });

  it('a corrupt entry and garbage members give typed errors, and clear() removes everything', async () => {
    const store = stores.track(new RedisStore({ cluster: nodes, namespace: stores.namespace('rcc'), chunkSize: 1024 }));
    const raw = new Cluster(nodes);
    try {
      const l = store.layout;
      await store.set({ g: 1 }, 'v');
      await store.set('bad', 'v');
      await store.setStream('s', Readable.from([Buffer.alloc(3000, 1)]));
      await raw.set(l.entry('bad'), '0v{not json');
      await raw.del(l.chunks('s'));
      await raw.zadd(l.order, 1, '\u0000{not json', 2, '\u0000123');
      await rejectsWith(store.getOne('bad'), 'ERR_STORAGE_OPERATION', 'bad');
      expect(await store.getOne('s')).to.equal(undefined);
      expect(await store.get({ g: 1 })).to.deep.equal(['v']);
      await rejectsWith(drain(store.entries()), 'ERR_STORAGE_OPERATION', 'bad');
      await store.clear();
      expect(await raw.exists(l.order, l.entry('bad'), l.entry('s'), l.indexFor('g', 1), l.registry)).to.equal(0);
    } finally {
      raw.disconnect();
    }
  });
});
