/**
 * What only the Redis store has to prove (the shared behaviour is in redis-conformance):
 * settings checks, the data layout, atomic index maintenance under concurrency, expiry
 * cleanup that frees index memory without reads, 200 MB streams in bounded memory, faults
 * (SIGKILL, restart, a hung server), and slot placement on a real cluster.
 */
import { expect } from 'chai';
import { Readable } from 'node:stream';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const calculateSlot: (key: string) => number = require('cluster-key-slot');
import { Redis } from 'ioredis';
import { ManualClock } from '../lib/clock';
import { KeyObject, keyFromId } from '../lib/keys';
import { compileQuery } from '../lib/query';
import { MemoryStore } from '../lib/backends/memory';
import { RedisStore, RedisSettings } from '../lib/backends/redis';
import { IDLE_RECHECK_MS } from '../lib/backends/redis/due-namespaces';
import { SEQ_DIGITS, orderedRecords, scoreOf } from '../lib/backends/redis/ordered';
import { lastJson, runChild, ROOT } from './support/memory-child';
import { RedisServer, sharedRedisCluster, startRedis } from './support/redis-server';
import { useRedisServers } from './support/redis-test-stores';
import { rejection } from '../lib/conformance/context';
import { namespaceKeys } from './support/test-stores';
import { entryOf, entriesOf } from './support/tier-access';

const servers = useRedisServers({ admin: true, cluster: false });
let counter = 0;

/** A store in a fresh namespace on the shared server, closed after the test. */
function open(settings: RedisSettings = {}): RedisStore {
  return servers.track(new RedisStore({ url: servers.url, namespace: `rt${process.pid}x${++counter}`, ...settings }));
}


/** How many times the shared server has run a command (INFO commandstats): shows which path a query took. */
async function commandCalls(name: string): Promise<number> {
  return Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(await servers.admin.info('commandstats'))?.[1] ?? 0);
}

/** The member and score an ordered index record has (docs/redis.md), built here independently of the scripts. */
function orderedMember(descriptor: string, seq: number, id: string): [string, number] {
  const pad = String(seq).padStart(SEQ_DIGITS, '0');
  switch (descriptor[0]) {
    case 'n':
      // Layout 3: the sequence complemented digit by digit (10^16 − 1 − seq), so ties read backwards come in creation order.
      return [[...pad].map((d) => 9 - Number(d)).join('') + id, scoreOf(descriptor.slice(1))];
    case 's':
      return [descriptor.slice(1) + pad + id, 0];
    default:
      return [id, seq];
  }
}

/** Checks that order, expiry, registry and every index (equality and ordered) agree exactly with the entries. */
async function checkIndexes(client: Redis, store: RedisStore): Promise<number> {
  const l = store.layout;
  const order = await client.zrange(l.order, 0, '-1', 'WITHSCORES');
  const seq = new Map<string, string>();
  for (let i = 0; i < order.length; i += 2) seq.set(order[i], order[i + 1]);
  const expected = new Map<string, Set<string>>();
  const expectedOrdered = new Map<string, Map<string, number>>();
  for (const id of seq.keys()) {
    expect(await client.exists(l.entry(id)), `entry of ${JSON.stringify(id)}`).to.equal(1);
    const key = keyFromId(id);
    if (typeof key === 'string') continue;
    for (const index of l.indexesOf(key)) {
      if (!expected.has(index)) expected.set(index, new Set());
      expected.get(index)!.add(id);
    }
    const ordered = orderedRecords(l, key);
    ordered.keys.forEach((index, i) => {
      if (!expectedOrdered.has(index)) expectedOrdered.set(index, new Map());
      expectedOrdered.get(index)!.set(...orderedMember(ordered.descriptors[i], Number(seq.get(id)), id));
    });
  }
  const registry = (await client.smembers(l.registry)).sort();
  expect(registry).to.deep.equal([...expected.keys(), ...expectedOrdered.keys()].sort());
  for (const [index, members] of expectedOrdered) {
    const actual = await client.zrange(index, 0, '-1', 'WITHSCORES');
    const got = new Map<string, number>();
    for (let i = 0; i < actual.length; i += 2) got.set(actual[i], scoreOf(actual[i + 1]));
    expect(got, index).to.deep.equal(members);
  }
  for (const [index, ids] of expected) {
    const members = await client.zrange(index, 0, '-1', 'WITHSCORES');
    const actual = new Map<string, string>();
    for (let i = 0; i < members.length; i += 2) actual.set(members[i], members[i + 1]);
    expect([...actual.keys()].sort(), index).to.deep.equal([...ids].sort());
    for (const [id, score] of actual) expect(score, `${index} ${id}`).to.equal(seq.get(id));
  }
  const entryKeys = (await namespaceKeys(client, store)).filter((k) => k.startsWith(l.base + 'e:'));
  expect(entryKeys.length).to.equal(seq.size);
  for (const id of await client.zrange(l.expiry, 0, '-1')) expect(seq.has(id)).to.equal(true);
  return seq.size;
}

describe('redis store', () => {
  describe('settings', () => {
    const bad: Array<[string, RedisSettings]> = [
      ['url', { url: 'http://localhost' }],
      ['url', { url: 42 as unknown as string }],
      ['port', { port: 0 }],
      ['port', { port: 70000 }],
      ['db', { db: -1 }],
      ['host', { host: 1 as unknown as string }],
      ['prefix', { prefix: 'a{b}' }],
      ['client', { client: {} as unknown as Redis }],
      ['cluster', { cluster: [] }],
      ['cluster', { cluster: ['nohostport'] }],
      ['commandTimeout', { commandTimeout: 0 }],
      ['connectTimeout', { connectTimeout: -5 }],
      ['sweepInterval', { sweepInterval: 1.5 }],
      ['batchSize', { batchSize: 0 }],
      ['chunkSize', { chunkSize: 10 }],
      ['url and cluster', { url: 'redis://localhost', cluster: ['localhost:7000'] }],
      ['host', { url: 'redis://localhost', host: 'x' }],
      ['redisOptions', { redisOptions: 5 as unknown as RedisSettings['redisOptions'] }],
      // A given client was built with its own credentials; the store cannot apply these.
      ['password', { client: new Redis({ lazyConnect: true }), password: 'x' }],
      ['username', { client: new Redis({ lazyConnect: true }), username: 'x' }],
    ];
    for (const [name, settings] of bad) {
      it(`rejects a bad ${name} when the store is created`, () => {
        let caught: (Error & { code?: string }) | undefined;
        try {
          new RedisStore(settings);
        } catch (err) {
          caught = err as Error & { code?: string };
        }
        expect(caught?.code).to.equal('ERR_STORE_CONFIG');
        expect(caught?.message).to.contain(name);
      });
    }

    it('connects with host, port, db, username and password, and writes every key under its prefix', async () => {
      const server = await startRedis();
      const root = new Redis(server.url);
      const store = new RedisStore({ host: '127.0.0.1', port: server.port, db: 3, username: 'app', password: 'app-secret', prefix: 'myapp:', namespace: 'settings' });
      const wrong = new RedisStore({ host: '127.0.0.1', port: server.port, username: 'app', password: 'nope', connectTimeout: 1000 });
      try {
        await root.acl('SETUSER', 'app', 'on', '>app-secret', '~*', '&*', '+@all');
        await root.config('SET', 'requirepass', 'root-secret');
        await store.set({ id: 1 }, 'v');
        expect(await store.get({ id: 1 })).to.deep.equal(['v']);
        await root.select(3);
        const keys = await root.keys('*'); // a test may use KEYS; the store never does
        expect(store.layout.base).to.equal('myapp:{#settings}:');
        expect(keys).to.include(store.layout.order);
        expect(keys.filter((k) => !k.startsWith(store.layout.base))).to.deep.equal([]);
        await root.select(0);
        expect(await root.dbsize()).to.equal(0);
        const err = await rejection(wrong.set('a', 1));
        expect(err.code).to.equal('ERR_STORAGE_CONNECTION');
        expect(err.message).to.match(/WRONGPASS|NOAUTH/);
      } finally {
        await store.close();
        await wrong.close();
        root.disconnect();
        await server.stop();
      }
    });

    it('uses a client it is given and leaves it open on close()', async () => {
      const client = new Redis(servers.url, { enableAutoPipelining: true });
      const store = new RedisStore({ client, namespace: 'given-client' });
      await store.set('a', 1);
      expect(await store.getOne('a')).to.equal(1);
      await store.clear();
      await store.close();
      expect(await client.ping()).to.equal('PONG');
      await client.quit();
    });
  });

  describe('data layout', () => {
    it('keeps string keys addressable: SCAN MATCH finds user:* entries, the order set lists them', async () => {
      const store = open();
      await store.set('user:1', { name: 'a' });
      await store.set('user:2', { name: 'b' });
      await store.set('other', 1);
      await store.set({ age: 20 }, 'obj');
      // SCAN pages through the whole database (other tests' keys included): follow the cursor to the end.
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await servers.admin.scan(cursor, 'MATCH', store.layout.entryPattern('user:*'), 'COUNT', '10000');
        cursor = next;
        found.push(...keys);
      } while (cursor !== '0');
      expect(found.sort()).to.deep.equal([store.layout.entry('user:1'), store.layout.entry('user:2')]);
      // An entry is one string: its expiry ('0': none), 'v', the serialized value.
      expect(await servers.admin.get(store.layout.entry('user:1'))).to.match(/^0\.\d+\.\d+v\{"name":"a"\}$/);
      expect(await servers.admin.zrange(store.layout.order, 0, '-1')).to.have.length(4);
      expect(await servers.admin.zrange(store.layout.indexFor('age', 20), 0, '-1')).to.deep.equal(['\u0000{"age":20}']);
      expect(await store.keys('user:*')).to.deep.equal(['user:1', 'user:2']);
    });

    it('stores values through a custom serializer, on every read path', async () => {
      const serializer = { serialize: (v: unknown) => 'X' + JSON.stringify(v), deserialize: (t: string) => JSON.parse(t.slice(1)) as unknown };
      const store = open({ serializer });
      await store.set('a', { n: 1 });
      await store.set({ id: 1 }, [2]);
      expect(await servers.admin.get(store.layout.entry('a'))).to.match(/^0\.\d+\.\d+vX\{"n":1\}$/);
      expect(await store.getOne('a')).to.deep.equal({ n: 1 });
      expect(await entryOf(store, 'a')).to.deep.equal({ value: { n: 1 }, expiresAt: null });
      expect(await store.get({ id: 1 })).to.deep.equal([[2]]);
      expect(await store.get({ id: { $gte: 0 } })).to.deep.equal([[2]]); // a walk, read by script
    });

    it('merges a long $in on the server: the same results in creation order, and no temporary set left', async () => {
      const store = open({ batchSize: 7 });
      for (let i = 0; i < 200; i++) await store.set({ id: i, n: i % 50, tags: [`t${i % 40}`, `u${i % 30}`] }, i);
      const all = [...Array(200).keys()];
      const ns = [...Array(40).keys()]; // 40 index sets: more than the client merges itself
      const unions = () => commandCalls('zunionstore');
      const unionsBefore = await unions();
      expect(await store.get({ n: { $in: ns } })).to.deep.equal(all.filter((i) => i % 50 < 40));
      expect(await store.count({ n: { $in: ns }, id: { $lt: 100 } })).to.equal(80);
      // Every entry is in two of these 70 sets, with the same score: it comes once, in its place.
      const tags = [...[...Array(40).keys()].map((i) => `t${i}`), ...[...Array(30).keys()].map((i) => `u${i}`)];
      expect(await store.get({ tags: { $in: tags } })).to.deep.equal(all);
      expect(await store.get({ tags: { $in: tags } }, { limit: 3 })).to.deep.equal([0, 1, 2]);
      for await (const entry of store.entries({ n: { $in: ns } })) if (entry) break; // abandoned
      expect(await store.del({ n: { $in: ns.slice(0, 20) } })).to.equal(80);
      expect(await store.get({ n: { $in: ns } })).to.deep.equal(all.filter((i) => i % 50 >= 20 && i % 50 < 40));
      const temporary = (await namespaceKeys(servers.admin, store)).filter((k) => k.startsWith(store.layout.base + 't:'));
      expect(temporary).to.deep.equal([]);
      expect(await unions()).to.be.at.least(unionsBefore + 6); // every query above was merged on the server
      expect(await checkIndexes(servers.admin, store)).to.equal(120);
    });

    it('narrows a top-level $or through the indexes of its branches, and agrees with the memory store', async () => {
      const store = open({ batchSize: 7 });
      const memory = new MemoryStore();
      const keys = [...Array(300).keys()].map((i) => ({ id: i, age: i % 30, city: `c${i % 7}`, tags: [`t${i % 4}`] }));
      await Promise.all(keys.map((key, i) => store.set(key, i)));
      await Promise.all(keys.map((key, i) => memory.set(key, i)));
      const zcards = () => commandCalls('zcard');
      const indexed = [
        { $or: [{ age: 3 }, { city: 'c2', age: { $gt: 20 } }, { tags: { $in: ['t1'] }, id: { $lt: 20 } }] },
        { $or: [{ age: { $in: [1, 2, 3] } }, { age: 2 }, { city: 'nowhere' }] },
        { $or: [{ city: 'nowhere' }, { age: 99 }] },
      ];
      for (const query of indexed) {
        const before = await zcards();
        expect(await store.get(query), JSON.stringify(query)).to.deep.equal(await memory.get(query));
        expect(await zcards(), JSON.stringify(query)).to.be.greaterThan(before); // answered from the indexes
      }
      // A branch with nothing indexable: the whole order set is walked, with the same answer.
      const walked = { $or: [{ age: 3 }, { id: { $gt: 290 } }] };
      expect(await store.get(walked)).to.deep.equal(await memory.get(walked));
      expect(await store.count(indexed[0])).to.equal(await memory.count(indexed[0]));
      expect(await store.del(indexed[1])).to.equal(await memory.del(indexed[1]));
      expect(await checkIndexes(servers.admin, store)).to.equal(await memory.count({ id: { $gte: 0 } }));
      await memory.close();
    });

    it('merges a long $in with too many hits for the server in the client, a few ids per set at a time', async () => {
      // batchSize 7: the server merges at most 700 hits; these 40 sets hold 1,000.
      const store = open({ batchSize: 7 });
      const memory = new MemoryStore();
      const keys = [...Array(1_000).keys()].map((i) => ({ id: i, n: i % 40, m: i % 3 }));
      await Promise.all(keys.map((key, i) => store.set(key, i)));
      await Promise.all(keys.map((key, i) => memory.set(key, i)));
      const unions = () => commandCalls('zunionstore');
      const before = await unions();
      const ns = [...Array(40).keys()].reverse();
      for (const query of [{ n: { $in: ns } }, { n: { $in: ns }, m: 1 }, { $or: [{ n: { $in: ns.slice(0, 30) } }, { n: { $in: ns.slice(20) }, m: 2 }] }]) {
        expect(await store.get(query), JSON.stringify(query)).to.deep.equal(await memory.get(query));
      }
      expect(await store.get({ n: { $in: ns } }, { limit: 50 })).to.deep.equal([...Array(50).keys()]);
      expect(await unions()).to.equal(before);
      await memory.close();
    });

    it('merges an $in over 2,500 index sets (more than one Lua unpack) in creation order', async () => {
      const store = open();
      const ids = [...Array(2_500).keys()];
      await Promise.all(ids.map((i) => store.set({ u: i }, i)));
      const reversed = [...ids].reverse();
      expect(await store.get({ u: { $in: reversed } })).to.deep.equal(ids);
      expect(await store.count({ u: { $in: reversed.slice(0, 1_200) } })).to.equal(1_200);
    });

    it('writes the expiry natively (PEXPIREAT) from the store clock', async () => {
      const clock = new ManualClock(Date.now());
      const store = open({ clock });
      await store.set('t', 1, { ttl: 60_000 });
      const expireTime = await servers.admin.pexpiretime(store.layout.entry('t'));
      expect(expireTime).to.equal(clock.now() + 60_000);
      expect(await servers.admin.zscore(store.layout.expiry, 't')).to.equal(String(clock.now() + 60_000));
      await store.set('t', 2);
      expect(await servers.admin.pexpiretime(store.layout.entry('t'))).to.equal(-1);
      expect(await servers.admin.zscore(store.layout.expiry, 't')).to.equal(null);
    });

    it('keeps a streamed value in a chunk hash that expires with its entry and goes when the entry is overwritten or deleted', async () => {
      const clock = new ManualClock(Date.now());
      const store = open({ clock, chunkSize: 1024 });
      const expiresAt = clock.now() + 60_000;
      await store.setStream('s', Readable.from([Buffer.alloc(2500, 7)]), { ttl: 60_000 });
      const head = await servers.admin.get(store.layout.entry('s'));
      expect(head).to.match(new RegExp(`^${expiresAt}\\.\\d+\\.\\d+c3:[0-9a-f]+$`));
      expect(await servers.admin.hlen(store.layout.chunks('s'))).to.equal(4); // three chunks and the generation
      expect(await servers.admin.pexpiretime(store.layout.chunks('s'))).to.equal(expiresAt);
      expect(await servers.admin.pexpiretime(store.layout.entry('s'))).to.equal(expiresAt);
      await store.setStream('s', Readable.from([Buffer.from('ab')]));
      expect(await servers.admin.pexpiretime(store.layout.chunks('s'))).to.equal(-1); // no expiry any more
      expect(await store.getOne('s')).to.deep.equal(Buffer.from('ab'));
      await store.set('s', 'plain');
      expect(await servers.admin.exists(store.layout.chunks('s'))).to.equal(0);
      await store.setStream('s', Readable.from([Buffer.from('again')]));
      expect(await store.del('s')).to.equal(1);
      expect(await servers.admin.exists(store.layout.chunks('s'), store.layout.entry('s'))).to.equal(0);
    });

    it('serves an equality query from one index and finishes other operators with sift', async () => {
      const store = open({ batchSize: 7 });
      for (let i = 0; i < 100; i++) await store.set({ id: i, age: i % 10, tags: [`t${i % 3}`] }, i);
      expect(await store.get({ age: 4 })).to.deep.equal([4, 14, 24, 34, 44, 54, 64, 74, 84, 94]);
      expect(await store.get({ age: { $in: [1, 2] }, id: { $gte: 50 } })).to.deep.equal([51, 52, 61, 62, 71, 72, 81, 82, 91, 92]);
      expect(await store.count({ tags: 't1', age: { $in: [1, 4] } })).to.equal(8);
      expect(await store.get({ age: { $gt: 8 } }, { limit: 3 })).to.deep.equal([9, 19, 29]);
      expect(await store.del({ age: { $in: [0, 9] } })).to.equal(20);
      expect(await store.count({ age: { $gte: 0 } })).to.equal(80);
      expect(await checkIndexes(servers.admin, store)).to.equal(80);
    });
  });

  describe('batching', () => {
    it('keeps program order across batched and direct commands, and close() sends what is queued', async () => {
      const store = open();
      const results: Array<Promise<unknown>> = [
        store.set('k', 1),
        store.getOne('k'),
        store.set('k', 2),
        store.set({ id: 1 }, 'x'),
        store.getOne('k'),
        store.del('k'),
        store.getOne('k'),
        store.set('k', 3),
        store.count({ id: 1 }),
      ];
      expect(await Promise.all(results)).to.deep.equal([undefined, 1, undefined, undefined, 2, 1, undefined, undefined, 1]);
      const last = store.set('after', 'queued');
      const read = store.getOne('k');
      await store.close();
      await last;
      expect(await read).to.equal(3);
      const again = open({ namespace: store.namespace });
      expect(await again.getOne('after')).to.equal('queued');
    });

    it('writes each batch at once, without waiting for earlier batches to be answered', async () => {
      // A paused server answers nothing, so every command the client has written waits in its
      // queue. A later batch must be written too: ioredis's auto-pipeline would hold it back
      // until the earlier one was answered, leaving Redis idle while Node prepares the next.
      const server = await startRedis();
      const pauser = new Redis(server.url);
      const store = new RedisStore({ url: server.url, namespace: 'overlap', sweepInterval: 0 });
      try {
        await store.set('warm', 0);
        const client = store.redis as Redis;
        await pauser.client('PAUSE', '1500', 'ALL');
        const first = store.set('a', 1);
        // Two turns of the event loop: an auto-pipeline would have been written in the first.
        await new Promise(setImmediate);
        await new Promise(setImmediate);
        const later = Promise.all([store.getOne('warm'), store.set('b', 2)]); // two more batches
        await new Promise(setImmediate);
        expect(client.commandQueue.length).to.equal(3);
        expect(await Promise.all([first, later])).to.deep.equal([undefined, [0, undefined]]);
        expect(await store.getOne('b')).to.equal(2);
      } finally {
        await store.close();
        pauser.disconnect();
        await server.stop();
      }
    });

    it('keeps program order when batches queue behind an unanswered auto-pipelined command', async () => {
      const store = open();
      await store.set('k', 0);
      // has() rides the auto-pipeline; the batches after it (in later ticks, before it is
      // answered) must not overtake it, and the direct batches after those must not either.
      const seen = store.has('k');
      const deleted = store.del('k');
      await Promise.resolve();
      const written = store.set('k', 1);
      await new Promise(process.nextTick);
      const read = store.getOne('k');
      const again = store.set('k', 2);
      expect(await Promise.all([seen, deleted, written, read, again])).to.deep.equal([true, 1, undefined, 1, undefined]);
      expect(await store.getOne('k')).to.equal(2);
    });

    it('batched getEntry calls report each entry with its expiry: plain, with a TTL, expired, absent, streamed', async () => {
      const clock = new ManualClock();
      const store = open({ clock });
      await store.set('plain', { a: 1 });
      await store.set({ id: 2 }, new Date(5), { ttl: 60_000 });
      await store.set('short', 'gone soon', { ttl: 1_000 });
      await store.setStream('streamed', Readable.from([Buffer.from('ab'), Buffer.from('cd')]), { ttl: 30_000 });
      clock.advance(2_000);
      const keys = ['plain', { id: 2 }, 'short', 'absent', 'streamed'];
      // Issued in one tick, so they go out as one script call; then one alone (the single-key path).
      const batched = await Promise.all(keys.map((key) => entryOf(store, key)));
      const single = await Promise.all([entryOf(store, { id: 2 })]);
      const start = clock.now() - 2_000;
      expect(batched).to.deep.equal([
        { value: { a: 1 }, expiresAt: null },
        { value: new Date(5), expiresAt: start + 60_000 },
        undefined,
        undefined,
        { value: Buffer.from('abcd'), expiresAt: start + 30_000 },
      ]);
      expect(single).to.deep.equal([batched[1]]);
      // getEntries (a layered store's batch): one MGET, the same answers, and a value that no
      // longer parses fails in its own place only.
      await servers.admin.set(store.layout.entry('broken'), '0v{not json');
      const many = await entriesOf(store, [...keys, 'broken']);
      expect(many.slice(0, 5)).to.deep.equal(batched);
      expect(many[5]).to.be.instanceOf(Error);
    });
  });

  describe('atomic index maintenance', () => {
    it('1,000 concurrent sets and deletes on overlapping keys leave indexes that agree exactly with the entries', async function () {
      this.timeout(60_000);
      const namespace = `race${process.pid}`;
      // Two stores, two connections: their commands interleave on the server.
      const a = open({ namespace });
      const b = open({ namespace });
      const keyOf = (n: number): KeyObject => ({ id: n, group: n % 4, tags: [`t${n % 3}`, `u${n % 5}`], nested: { v: n % 2 === 0 } });
      let seed = 42;
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      const ops: Array<Promise<unknown>> = [];
      for (let i = 0; i < 1000; i++) {
        const store = i % 2 === 0 ? a : b;
        const n = random(40);
        const roll = random(10);
        if (roll < 6) ops.push(store.set(keyOf(n), { i }, roll === 0 ? { ttl: 60_000 } : undefined));
        else if (roll < 8) ops.push(store.del(keyOf(n)));
        else if (roll < 9) ops.push(store.del({ group: n % 4, id: { $lt: 20 } }));
        else ops.push(store.set(`s${n}`, i));
      }
      await Promise.all(ops);
      const size = await checkIndexes(servers.admin, a);
      expect(size).to.be.greaterThan(0);
      // Queries answer exactly what a full filter over the entries answers.
      const all = (await a.keys()) as Array<string | KeyObject>;
      for (const query of [{ group: 1 }, { tags: 't2' }, { 'nested.v': true }, { tags: { $in: ['u1', 'u3'] }, group: { $ne: 2 } }]) {
        const selector = compileQuery(query);
        if (selector.kind !== 'query') throw new Error('expected a query');
        const expected = all.filter((k) => typeof k !== 'string' && selector.test(k));
        expect(await b.keys(query)).to.deep.equal(expected);
        expect(await b.count(query)).to.equal(expected.length);
      }
    });
  });

  describe('expiry cleanup', () => {
    async function usedMemory(): Promise<number> {
      const info = await servers.admin.info('memory');
      return Number(/used_memory:(\d+)/.exec(info)![1]);
    }

    it('10,000 short-TTL entries: after expiry and the sweep, keys and index memory are back to where they started', async function () {
      this.timeout(60_000);
      const clock = new ManualClock(Date.now());
      // A prefix of its own: keys of other tests (a grace key expiring natively, another
      // prefix's due list) must not move the count.
      const prefix = `cleanup${process.pid}:`;
      const store = open({ clock, sweepInterval: 0, prefix });
      const prefixKeys = async () => (await servers.admin.keys(`${prefix}*`)).sort();
      // Load the scripts and create the namespace's counter and the prefix's due-namespace list
      // (one member per namespace that ever had a TTL'd entry, kept by design) before measuring.
      await store.set({ warm: 1 }, 1, { ttl: 60_000 });
      await store.del({ warm: 1 });
      const keysBefore = await prefixKeys();
      const memoryBefore = await usedMemory();
      const writes: Array<Promise<void>> = [];
      for (let i = 0; i < 10_000; i++) {
        writes.push(store.set({ id: i, age: i % 50, city: `c${i % 7}`, tags: ['a', `t${i % 11}`] }, { n: i, pad: 'x'.repeat(64) }, { ttl: 60_000 }));
      }
      await Promise.all(writes);
      expect((await prefixKeys()).length).to.be.greaterThan(keysBefore.length + 10_000);
      const memoryFull = await usedMemory();
      expect(memoryFull - memoryBefore).to.be.greaterThan(2_000_000);
      clock.advance(60_001);
      // Nothing reads the entries: the sweep alone frees them and every record pointing at them.
      expect(await store.sweep()).to.equal(10_000);
      expect(await prefixKeys()).to.deep.equal(keysBefore);
      expect((await namespaceKeys(servers.admin, store)).sort()).to.deep.equal([store.layout.counter, store.layout.version].sort());
      // Redis shrinks the keyspace's own hash tables in its background cron (10 times a second),
      // so used_memory settles a moment after the keys are gone.
      // used_memory is the whole server's (client buffers and other tests' connections move it
      // by tens of KB under load), so what is left is judged against what the entries took: a
      // leak of one record per entry would keep a third of it or more.
      const allowed = Math.max(64 * 1024, 0.05 * (memoryFull - memoryBefore));
      let memoryAfter = await usedMemory();
      for (const deadline = Date.now() + 5000; memoryAfter - memoryBefore >= allowed && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 100));
        memoryAfter = await usedMemory();
      }
      expect(memoryAfter - memoryBefore, `used_memory ${memoryBefore} -> ${memoryFull} -> ${memoryAfter}`).to.be.lessThan(allowed);
      expect((await store.stats()).expirations).to.equal(10_000);
    });

    it('the timer sweeps the records of natively expired entries without anyone reading them', async function () {
      this.timeout(30_000);
      const store = open({ sweepInterval: 50 });
      await store.connect();
      const writes: Array<Promise<void>> = [];
      for (let i = 0; i < 1000; i++) writes.push(store.set({ id: i, group: i % 10 }, i, { ttl: 1500 }));
      await Promise.all(writes);
      expect(await servers.admin.zcard(store.layout.expiry)).to.equal(1000);
      const deadline = Date.now() + 15_000;
      while ((await namespaceKeys(servers.admin, store)).length > 2) {
        if (Date.now() > deadline) throw new Error('the sweep did not run');
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((await namespaceKeys(servers.admin, store)).sort()).to.deep.equal([store.layout.counter, store.layout.version].sort());
    });
  });

  describe('namespaces nobody has open', () => {
    it('their expired records are swept by the timer of any store on the same prefix', async function () {
      this.timeout(30_000);
      const clock = new ManualClock(Date.now());
      const start = clock.now();
      const prefix = `due${process.pid}:`;
      const writer = open({ clock, prefix, sweepInterval: 0 });
      await Promise.all([...Array(100).keys()].map((i) => writer.set({ id: i, g: i % 5 }, i, { ttl: i < 60 ? 1_000 : 5_000 })));
      await writer.has('x'); // answered after the note of the writes, on the same connection
      const due = writer.layout.dueNamespaces;
      expect(due).to.equal(`${prefix}{!due}`);
      expect(await servers.admin.zscore(due, writer.namespace)).to.equal(String(start + 1_000));
      await writer.close();

      const other = open({ clock, prefix, sweepInterval: 20 });
      await other.connect();
      // The visit ends by rescheduling the namespace: wait for that (the timer runs every 20 ms).
      const untilScore = async (score: number) => {
        for (const deadline = Date.now() + 10_000; Number(await servers.admin.zscore(due, writer.namespace)) !== score; ) {
          if (Date.now() > deadline) throw new Error(`the namespace was not rescheduled to ${score}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      clock.advance(1_001);
      // Visited: its next sweep is due when the remaining entries expire.
      await untilScore(start + 5_000);
      expect(await servers.admin.zcard(writer.layout.order)).to.equal(40);
      expect(await servers.admin.zcard(writer.layout.expiry)).to.equal(40);
      clock.advance(4_000);
      // Nothing left to expire: looked at again in an hour, unless a TTL'd write comes first.
      await untilScore(clock.now() + IDLE_RECHECK_MS);
      expect((await namespaceKeys(servers.admin, writer)).sort()).to.deep.equal([writer.layout.counter, writer.layout.version].sort());
      await other.set('late', 1, { ttl: 10 });
      await other.has('x');
      expect(await servers.admin.zscore(due, other.namespace)).to.equal(String(clock.now() + 10));
      await servers.admin.del(due);
    });
  });

  describe('streamed values', () => {
    it('a 200 MB value goes through setStream and createValueStream with RSS growth under 64 MB', async function () {
      this.timeout(180_000);
      // A fresh process, garbage-collected before the baseline, so mocha's heap does not blur the peak.
      const script = `
        const { RedisStore } = require(${JSON.stringify(ROOT + '/lib/backends/redis')});
        const crypto = require('crypto');
        const { Readable } = require('stream');
        const SIZE = 200 * 1024 * 1024;
        const PIECE = 64 * 1024;
        (async () => {
          const store = new RedisStore({ url: ${JSON.stringify(servers.url)}, namespace: 'rss-${process.pid}' });
          await store.set('warm', 1);
          global.gc(); global.gc();
          const baseline = process.memoryUsage().rss;
          let peak = baseline;
          const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
          const written = crypto.createHash('sha256');
          async function* source() {
            for (let i = 0; i * PIECE < SIZE; i++) {
              const chunk = Buffer.allocUnsafe(PIECE);
              chunk.fill(i % 251);
              written.update(chunk);
              yield chunk;
            }
          }
          await store.setStream('big', Readable.from(source()));
          const head = await store.redis.get(store.layout.entry('big'));
          const chunks = /^0(?:\\.\\d*\\.\\d+)?c(\\d+):/.exec(head)[1];
          const read = crypto.createHash('sha256');
          let bytes = 0;
          for await (const chunk of store.createValueStream('big')) { read.update(chunk); bytes += chunk.length; }
          clearInterval(sampler);
          peak = Math.max(peak, process.memoryUsage().rss);
          await store.clear();
          await store.close();
          console.log(JSON.stringify({ baseline, peak, bytes, chunks: Number(chunks), same: read.digest('hex') === written.digest('hex') }));
        })().catch((err) => { console.error(err); process.exit(2); });
      `;
      const result = await runChild(script, { timeoutMs: 170_000, nodeArgs: ['--expose-gc'] });
      expect(result.code, result.stderr).to.equal(0);
      const r = lastJson<{ baseline: number; peak: number; bytes: number; chunks: number; same: boolean }>(result);
      expect(r.bytes).to.equal(200 * 1024 * 1024);
      expect(r.same).to.equal(true);
      expect(r.chunks, 'stored in chunks').to.be.greaterThan(1);
      const growth = (r.peak - r.baseline) / 1024 / 1024;
      expect(growth, `peak RSS grew by ${growth.toFixed(1)} MB`).to.be.lessThan(64);
    });

    it('a failed stream leaves neither a value nor its temporary chunks', async () => {
      const store = open();
      async function* failing() {
        yield Buffer.alloc(2 * 1024 * 1024, 1);
        throw new Error('source failed');
      }
      await rejection(store.setStream('f', failing()));
      expect(await store.has('f')).to.equal(false);
      // Only the namespace's creation counter, which the call advanced when it started (its
      // creation position is taken then): no entry, order, index or chunk record.
      expect((await namespaceKeys(servers.admin, store)).sort()).to.deep.equal([store.layout.counter, store.layout.version].sort());
    });
  });

  describe('faults', () => {
    let server: RedisServer;
    beforeEach(async () => {
      server = await startRedis();
    });
    afterEach(async () => {
      await server.stop();
    });

    /** Writes `key` = 'back' as soon as the store has reconnected (polling a real server, at most 10 s). */
    async function writeOnceBack(store: RedisStore, key: string): Promise<void> {
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          await store.set(key, 'back');
          return;
        } catch (err) {
          expect((err as { code?: string }).code).to.equal('ERR_STORAGE_CONNECTION');
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }

    const everyOperation = (store: RedisStore): Array<[string, () => Promise<unknown>]> => [
      ['set', () => store.set('a', 2)],
      ['set object key', () => store.set({ id: 1 }, 2)],
      ['getOne', () => store.getOne('a')],
      ['get query', () => store.get({ id: 1 })],
      ['has', () => store.has('a')],
      ['ttl', () => store.ttl('a')],
      ['del', () => store.del('a')],
      ['del query', () => store.del({ id: { $gte: 0 } })],
      ['count', () => store.count({ id: 1 })],
      ['keys', () => store.keys('user:*')],
      ['clear', () => store.clear()],
      ['stats', () => store.stats()],
      ['setStream', () => store.setStream('s', Readable.from([Buffer.alloc(1000)]))],
      ['createValueStream', () => new Promise((resolve, reject) => store.createValueStream('a').on('error', reject).on('end', resolve).resume())],
      ['entries', async () => {
        for await (const entry of store.entries({ id: 1 })) if (entry) break;
      }],
      ['getEntry', () => entryOf(store, 'a')],
      ['setex', () => store.setex('a', 2, 60)],
      ['copy', () => store.copy(new MemoryStore())],
      ['createReadStream', () => new Promise((resolve, reject) => store.createReadStream({ id: { $gte: 0 } }).on('error', reject).on('end', resolve).resume())],
    ];

    it('while Redis is down every operation fails fast with ERR_STORAGE_CONNECTION; after a restart the store reconnects by itself', async function () {
      this.timeout(60_000);
      const store = open({ url: server.url, commandTimeout: 500 });
      await store.set('a', 1);
      await server.kill();
      for (const [name, op] of everyOperation(store)) {
        const started = Date.now();
        const err = await rejection(op());
        expect(err.code, `${name}: ${err.message}`).to.equal('ERR_STORAGE_CONNECTION');
        expect(Date.now() - started, name).to.be.lessThan(1000);
      }
      await server.restart();
      await writeOnceBack(store, 'a');
      expect(await store.getOne('a')).to.equal('back');
      expect(await store.get({ id: 1 })).to.deep.equal([]);
    });

    it('operations in flight when the server is killed all settle: success or ERR_STORAGE_CONNECTION, none hangs', async function () {
      this.timeout(30_000);
      const store = open({ url: server.url, commandTimeout: 1000 });
      await store.connect();
      const ops: Array<Promise<unknown>> = [];
      for (let i = 0; i < 1000; i++) ops.push(i % 2 ? store.set({ id: i }, i) : store.getOne({ id: i - 1 }));
      const killed = server.kill();
      const results = await Promise.allSettled(ops);
      await killed;
      for (const r of results) {
        if (r.status === 'rejected') expect((r.reason as { code?: string }).code).to.equal('ERR_STORAGE_CONNECTION');
      }
      // The restarted server starts empty (no persistence): nothing that was in flight is
      // replayed into it once the store has reconnected, and the store works again.
      await server.restart();
      await writeOnceBack(store, 'probe');
      expect(await store.get({ id: { $gte: 0 } })).to.deep.equal([]);
      expect(await store.getOne('probe')).to.equal('back');
      const fresh = new Redis(server.url);
      try {
        expect(await fresh.dbsize()).to.equal(3); // the probe's entry, the order set, the counter
      } finally {
        fresh.disconnect();
      }
    });

    for (const given of [false, true]) {
      it(`a hung server (SIGSTOP) makes every kind of operation fail after commandTimeout instead of hanging${given ? ', on a given client' : ''}`, async function () {
        this.timeout(30_000);
        // A given client keeps its own (default) options: no commandTimeout, an offline queue.
        const client = given ? new Redis(server.url) : undefined;
        const store = given ? new RedisStore({ client, namespace: `hung${process.pid}`, commandTimeout: 300 }) : open({ url: server.url, commandTimeout: 300 });
        if (given) servers.track(store);
        try {
          await store.set('a', 1);
          await store.set({ id: 1 }, 'x');
          process.kill(server.pid, 'SIGSTOP');
          try {
            const started = Date.now();
            // Batches first (written straight to the socket), then commands on the auto-pipeline,
            // then batches again, which now queue behind the unanswered auto-pipelined ones.
            const ops: Array<Promise<unknown>> = [store.getOne('a'), store.set('b', 2), store.has('a'), store.get({ id: 1 }), store.del('a'), store.count({ id: 1 })];
            await new Promise(setImmediate);
            ops.push(store.getOne('a'), store.set('c', 3));
            const errors = await Promise.all(ops.map((op) => rejection(op)));
            expect(errors.map((err) => err.code)).to.deep.equal(new Array(ops.length).fill('ERR_STORAGE_CONNECTION'));
            expect(Date.now() - started).to.be.within(250, 2000);
          } finally {
            process.kill(server.pid, 'SIGCONT');
          }
        } finally {
          client?.disconnect();
        }
      });
    }

    it('with Redis down at start, the first operation fails within connectTimeout and a later one connects', async function () {
      this.timeout(30_000);
      await server.kill();
      const store = open({ url: server.url, connectTimeout: 500 });
      const started = Date.now();
      const err = await rejection(store.set('a', 1));
      expect(err.code).to.equal('ERR_STORAGE_CONNECTION');
      expect(Date.now() - started).to.be.lessThan(1500);
      await server.restart();
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          await store.set('a', 1);
          break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      expect(await store.getOne('a')).to.equal(1);
    });
  });

  describe('process exit', () => {
    it('after close() the process exits by itself: sweep timer, sockets and reconnection all stop', async function () {
      this.timeout(60_000);
      const script = `
        const { RedisStore } = require(${JSON.stringify(ROOT + '/lib/backends/redis')});
        (async () => {
          const live = new RedisStore({ url: ${JSON.stringify(servers.url)}, namespace: 'exit-${process.pid}', sweepInterval: 10 });
          await live.set('a', 1, { ttl: 60000 });
          const scoped = live.scope('s');
          await scoped.set('b', 2);
          const dead = new RedisStore({ port: 1, connectTimeout: 300 });
          const err = await dead.set('a', 1).catch((e) => e);
          await scoped.clear();
          await live.clear();
          await Promise.all([scoped.close(), live.close(), dead.close()]);
          console.log(JSON.stringify({ deadCode: err.code }));
        })();
      `;
      const result = await runChild(script, { timeoutMs: 20_000 });
      expect(result.timedOut, 'the process did not exit by itself').to.equal(false);
      expect(result.code, result.stderr).to.equal(0);
      expect(lastJson<{ deadCode: string }>(result).deadCode).to.equal('ERR_STORAGE_CONNECTION');
    });
  });

  describe('cluster', () => {
    it('keeps a namespace in one slot and spreads namespaces over the masters', async function () {
      this.timeout(60_000);
      const { nodes } = await sharedRedisCluster();
      const stores = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'].map((ns) => {
        const store = new RedisStore({ cluster: nodes, namespace: `slots-${ns}` });
        servers.track(store);
        return store;
      });
      for (const store of stores) {
        for (let i = 0; i < 20; i++) await store.set({ id: i, group: i % 3 }, i, { ttl: 60_000 });
        await store.set('plain', 1);
        const names = [store.layout.order, store.layout.expiry, store.layout.registry, store.layout.entry('plain'), store.layout.indexFor('group', 1)];
        const slots = new Set(names.map((k) => calculateSlot(k)));
        expect(slots.size).to.equal(1);
        expect(await store.get({ group: 1 })).to.deep.equal([1, 4, 7, 10, 13, 16, 19]);
        // A long $in is merged on the server into a temporary set of the same slot.
        expect(await store.get({ id: { $in: [...Array(30).keys()].reverse() }, group: { $ne: 1 } })).to.deep.equal([0, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]);
      }
      const slotOwners = new Set<number>();
      const cluster = stores[0].redis as import('ioredis').Cluster;
      for (const store of stores) {
        const slot = calculateSlot(store.layout.order);
        const owner = (cluster as unknown as { slots: string[][] }).slots[slot][0];
        slotOwners.add(nodes.findIndex((n) => `${n.host}:${n.port}` === owner));
      }
      expect(slotOwners.size).to.be.greaterThan(1);
    });
  });
});
