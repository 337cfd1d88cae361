/**
 * The Redis store's ordered indexes (docs/redis.md, "Ordered indexes"): ranges and sorts read
 * them, writes keep them atomically with the entry, sweeps and deletes remove them, an older
 * namespace is rebuilt on connect; and background failures of a scope reach the scope.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import { ManualClock } from '../lib/clock';
import { KeyObject } from '../lib/keys';
import { RedisStore, RedisSettings } from '../lib/backends/redis';
import { LAYOUT_VERSION } from '../lib/backends/redis/ordered';
import { useRedisServers } from './support/redis-test-stores';
import { expectedKeys } from './support/expected-order';

const server = useRedisServers({ admin: true, cluster: false });
let counter = 0;

/** A store in a fresh namespace on the shared server, closed after the test. */
function open(settings: RedisSettings = {}): RedisStore {
  const store = new RedisStore({ url: server.url, namespace: `ro${process.pid}x${++counter}`, ...settings });
  return server.track(store);
}

describe('Redis store: background errors', () => {
  it("a scope's failed background sweep reaches the scope's 'error' listeners, not the parent's", async function () {
    this.timeout(10_000);
    const root = open({ sweepInterval: 20 });
    const scope = root.scope('child') as RedisStore;
    const rootErrors: Error[] = [];
    root.on('error', (err: Error) => rootErrors.push(err));
    await root.set('r', 1);
    await scope.set('s', 1);
    // The scope's expiry set is no sorted set any more: its sweep's ZRANGE fails.
    await server.admin.set(scope.layout.expiry, 'not a zset');
    const [err] = (await once(scope, 'error')) as [Error & { code: string }];
    expect(err.code).to.equal('ERR_STORAGE_OPERATION');
    expect(rootErrors).to.deep.equal([]);
    await server.admin.del(scope.layout.expiry);
  });
});

/** A command MONITOR streamed: its name in lower case, its source (`lua` for a script's own calls) and its arguments. */
interface Monitored {
  name: string;
  source: string;
  args: string[];
}

/**
 * Every command the server runs while `run` runs (MONITOR on a connection of its own). A PING
 * sent after the run marks the end: MONITOR streams commands in the order the server ran them,
 * so every command of the run has arrived once the PING has. Waiting for it by event (no
 * polling deadline) keeps a loaded machine from handing back a partial list; a marker that
 * never comes fails the test loudly.
 */
async function monitored(run: () => Promise<unknown>): Promise<Monitored[]> {
  const monitor = await server.admin.monitor();
  const seen: Monitored[] = [];
  let markerSeen!: () => void;
  const marker = new Promise<void>((resolve) => (markerSeen = resolve));
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const name = args[0].toLowerCase();
    if (name === 'ping' && args[1] === 'end-of-run') markerSeen();
    else seen.push({ name, source, args });
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await run();
    await server.admin.ping('end-of-run');
    await Promise.race([
      marker,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('MONITOR did not stream the end-of-run PING within 20 s')), 20_000))),
    ]);
  } finally {
    clearTimeout(timer);
    monitor.disconnect();
  }
  return seen;
}

/** Every command the server runs while `run` runs, as argument lists. */
async function commandsDuring(run: () => Promise<unknown>): Promise<string[][]> {
  return (await monitored(run)).map((c) => c.args);
}

/**
 * The commands the client itself sent while `run` ran (not those its scripts ran), names in
 * lower case; with `store`, only those naming one of its keys (other files' stores on the
 * shared server sweep in the background meanwhile).
 */
async function clientCommandsDuring(run: () => Promise<unknown>, store?: RedisStore): Promise<string[]> {
  const base = store?.layout.order.slice(0, -1);
  return (await monitored(run))
    .filter((c) => c.source !== 'lua' && (base === undefined || c.args.some((a) => a.startsWith(base))))
    .map((c) => c.name);
}

describe('Redis store: ordered indexes', () => {
  it('a range query reads the number index and only its hits: no walk of the order set, no SCAN', async () => {
    const store = open();
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 3000; i++) writes.push(store.set({ id: i, age: i % 100 }, i));
    await Promise.all(writes);
    let found: unknown[] = [];
    const commands = await commandsDuring(async () => {
      found = (await store.get({ age: { $gte: 20, $lt: 22 } })) as unknown[];
    });
    expect(found).to.have.length(60);
    expect(found).to.deep.equal([...Array(3000).keys()].filter((i) => i % 100 === 20 || i % 100 === 21));
    const l = store.layout;
    const ranges = commands.filter((a) => a[0].toLowerCase() === 'zrange' && a[1] === l.ordered('n', 'age'));
    expect(ranges.map((a) => a.slice(2))).to.deep.equal([['20', '(22', 'BYSCORE']]);
    expect(commands.filter((a) => a[0].toLowerCase() === 'zrange' && a[1] === l.order)).to.deep.equal([]);
    expect(commands.filter((a) => a[0].toLowerCase() === 'scan')).to.deep.equal([]);
    // The entries read are the 60 hits, nothing else.
    const read = commands.filter((a) => ['evalsha', 'mget'].includes(a[0].toLowerCase())).flatMap((a) => a.filter((x) => x.startsWith(l.entryPrefix)));
    expect(read).to.have.length(60);
  });

  it('a range query counts and reads its range in one script, then reads values: no counting round trip first', async () => {
    const store = open({ batchSize: 25 });
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 1000; i++) writes.push(store.set({ id: i, age: i % 100, kind: i % 3 ? 'person' : 'robot' }, i));
    await Promise.all(writes);
    let found: unknown[] = [];
    const sent = await clientCommandsDuring(async () => {
      found = (await store.get({ age: { $gte: 20, $lt: 25 }, kind: 'person' })) as unknown[];
    });
    expect(found).to.deep.equal([...Array(1000).keys()].filter((i) => i % 100 >= 20 && i % 100 < 25 && i % 3 !== 0));
    // One script (counts of the range and of kind's index, then the range), then the values 25 at a time.
    expect(sent).to.deep.equal(['evalsha', ...Array(Math.ceil(found.length / 25)).fill('mget')]);
  });

  it('a range of more than 1,000 members is planned by the script and read by plain ZRANGEs, the r set too', async () => {
    const store = open();
    const all: KeyObject[] = [];
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 1500; i++) {
      // Every 50th key reaches age with two values: it is in the r set, and may match.
      const key = { id: i, age: i % 50 === 0 ? [i % 100, 500] : i % 100 };
      all.push(key);
      writes.push(store.set(key, i));
    }
    await Promise.all(writes);
    const query = { age: { $gte: 10, $lt: 90 } };
    let found: unknown[] = [];
    const commands = await commandsDuring(async () => {
      found = (await store.get(query)) as unknown[];
    });
    expect(found).to.deep.equal(expectedKeys(all, query, undefined).map((k) => k.id));
    expect(found.length).to.be.above(1000);
    // The script only counted: the range and the r set were read once, by the client (its range read has a LIMIT).
    const l = store.layout;
    const reads = commands.filter((a) => a[0].toLowerCase() === 'zrange' && [l.ordered('n', 'age'), l.ordered('r', 'age')].includes(a[1]));
    expect(reads.map((a) => a.slice(1))).to.deep.equal([
      [l.ordered('n', 'age'), '10', '(90', 'BYSCORE', 'LIMIT', '0', '200001'],
      [l.ordered('r', 'age'), '0', '-1', 'WITHSCORES'],
    ]);
  });

  it('a range is decided by the n set alone only where it is the path\'s whole condition', async () => {
    const store = open();
    const keys: KeyObject[] = [
      { n: 0, v: 3 },
      { n: 1, v: [2, 'a'] },
      { n: 2, v: 'a' },
      { n: 3, v: [3, 3] },
      { n: 4, v: 7 },
      { n: 5, w: 3 },
      { n: 6, v: [{ x: 1 }, 3] },
      { n: 7, v: 2.5, k: 'x' },
    ];
    for (const key of keys) await store.set(key, key.n);
    const queries: Array<Record<string, unknown>> = [
      { v: { $gte: 1, $lt: 4 } },
      { v: { $gte: 1, $lt: 'b' } },
      { v: { $gte: 1, $lt: 4, $ne: 3 } },
      { v: { $gte: 1, $lt: 4 }, n: { $lt: 3 } },
      { v: { $gte: 1 }, $and: [{ v: { $lt: 3 } }] },
      { v: { $gte: 1, $lt: 4 }, k: 'x' },
      { v: { $gt: 2 }, $or: [{ n: 0 }, { n: 4 }] },
    ];
    for (const query of queries) expect(await store.keys(query), JSON.stringify(query)).to.deep.equal(expectedKeys(keys, query, undefined));
  });

  it('a range member whose id is no key but has an entry: reading its key is ERR_STORAGE_OPERATION naming it', async () => {
    const store = open();
    await store.set({ age: 21 }, 'ok');
    const l = store.layout;
    const bad = '\u0000{not json';
    await server.admin.zadd(l.ordered('n', 'age'), 22, '9'.repeat(16) + bad);
    await server.admin.set(l.entry(bad), '0v"orphan"');
    const err = (await store.keys({ age: { $gte: 20 } }).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err.code).to.equal('ERR_STORAGE_OPERATION');
    expect(err.message).to.include('{not json');
    await server.admin.zrem(l.ordered('n', 'age'), '9'.repeat(16) + bad);
    expect(await store.keys({ age: { $gte: 20 } })).to.deep.equal([{ age: 21 }]);
  });

  it('a descending sort with a limit walks the number index from the top and reads only the entries it returns', async () => {
    const store = open();
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 3000; i++) writes.push(store.set({ id: i, kind: i % 2 ? 'person' : 'robot', age: i % 100 }, i));
    await Promise.all(writes);
    let found: unknown[] = [];
    const commands = await commandsDuring(async () => {
      found = (await store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 5, skip: 2 })) as unknown[];
    });
    // age 99: ids 99, 199, ... (odd: persons), in creation order; skip 2 of them.
    expect(found).to.deep.equal([299, 399, 499, 599, 699]);
    const l = store.layout;
    // One script: one page from the top, sized from the kind index (7 wanted × 3,000 / 1,500
    // persons × 1.15 + 4 = 21): the top value (99, 30 keys, all persons, in creation order),
    // ids searched for "person" on the server; no lookup of the kind index's members, no walk
    // of the order set, no page of the number index sent to the client.
    const walks = commands.filter((a) => a[0].toLowerCase() === 'zrange' && a[1] === l.ordered('n', 'age'));
    expect(walks.map((a) => a.slice(2))).to.deep.equal([['+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', '0', '21']]);
    expect(commands.filter((a) => a[1] === l.indexFor('kind', 'person')).map((a) => a[0].toLowerCase())).to.deep.equal(['zcard']);
    expect(commands.filter((a) => a[0].toLowerCase() === 'zrange' && a[1] === l.order)).to.deep.equal([]);
    // The script reads the seven wanted (skip + limit) with the page; the skipped ones are then
    // checked for liveness and the five returned read with their values (find.ts readInOrder).
    const read = commands
      .filter((a) => ['evalsha', 'mget'].includes(a[0].toLowerCase()))
      .map((a) => a.filter((x) => x.startsWith(l.entryPrefix) && x !== l.entryPrefix).length)
      .filter((n) => n > 0);
    expect(read).to.deep.equal([7, 7, 5]);
    expect(commands.filter((a) => a[0].toLowerCase() === 'scan')).to.deep.equal([]);
  });

  it('a descending sort with a small limit is one script (version, the path\'s other sets, a page of the walk, its entries)', async () => {
    const store = open();
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 300; i++) writes.push(store.set({ id: i, kind: i % 2 ? 'person' : 'robot', age: i % 7 === 0 ? String(i) : i % 100 }, i));
    await Promise.all(writes);
    let found: unknown[] = [];
    const sent = await clientCommandsDuring(async () => {
      found = (await store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 5 })) as unknown[];
    }, store);
    // Strings sort above numbers: the odd multiples of 7 from the top as strings ('91' > '287' > ...), then 99, 199, 299.
    const all = [...Array(300).keys()].map((id) => ({ id, kind: id % 2 ? 'person' : 'robot', age: id % 7 === 0 ? String(id) : id % 100 }));
    expect(found).to.deep.equal(expectedKeys(all, { kind: 'person' }, { age: -1 }, 0, 5).map((k) => k.id));
    // The `s` set holds keys: it is read after the walk's script (the `r` set is empty: not
    // read); its keys come first and were not read with the walk: one MGET.
    expect(sent).to.deep.equal(['evalsha', 'zrange', 'mget']);
    // Only numbers at the path: one script reads the walk's page and the entries, and that is all.
    const sentByNumber = await clientCommandsDuring(async () => {
      found = (await store.get({ kind: 'person' }, { sort: { id: -1 }, limit: 5 })) as unknown[];
    }, store);
    expect(found).to.deep.equal([299, 297, 295, 293, 291]);
    expect(sentByNumber).to.deep.equal(['evalsha']);
  });

  it('keys() with a descending sort and a small limit reads no entry in the walk\'s script; get() reads them there', async () => {
    const store = open();
    const all: KeyObject[] = [];
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 200; i++) {
      const key = { id: i, kind: i % 2 ? 'person' : 'robot', age: i % 50 };
      all.push(key);
      writes.push(store.set(key, i));
    }
    await Promise.all(writes);
    const l = store.layout;
    const entriesRead = (commands: string[][]) =>
      commands.filter((a) => a[0].toLowerCase() === 'mget').flatMap((a) => a.slice(1).filter((x) => x.startsWith(l.entryPrefix)));
    let keys: unknown[] = [];
    const byKeys = await commandsDuring(async () => {
      keys = await store.keys({ kind: 'person' }, { sort: { age: -1 }, limit: 5 });
    });
    expect(keys).to.deep.equal(expectedKeys(all, { kind: 'person' }, { age: -1 }, 0, 5));
    expect(entriesRead(byKeys)).to.deep.equal([]);
    let values: unknown[] = [];
    const byGet = await commandsDuring(async () => {
      values = (await store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 5 })) as unknown[];
    });
    expect(values).to.deep.equal(expectedKeys(all, { kind: 'person' }, { age: -1 }, 0, 5).map((k) => k.id));
    expect(entriesRead(byGet)).to.have.length(5);
  });

  it('a descending sort over a rare value is one script that reads on until it has the entries wanted; a value without keys reads no page', async () => {
    const store = open();
    const writes: Array<Promise<void>> = [];
    const all: KeyObject[] = [];
    for (let i = 0; i < 3000; i++) {
      const key = { id: i, kind: i % 97 === 0 ? 'rare' : 'common', age: i % 100 };
      all.push(key);
      writes.push(store.set(key, i));
    }
    await Promise.all(writes);
    let found: unknown[] = [];
    const sent = await clientCommandsDuring(async () => {
      found = (await store.get({ kind: 'rare' }, { sort: { age: -1 }, limit: 6 })) as unknown[];
    }, store);
    expect(found).to.deep.equal(expectedKeys(all, { kind: 'rare' }, { age: -1 }, 0, 6).map((k) => k.id));
    expect(sent).to.deep.equal(['evalsha']);
    const l = store.layout;
    const commands = await commandsDuring(async () => {
      found = (await store.get({ kind: 'absent' }, { sort: { age: -1 }, limit: 6 })) as unknown[];
    });
    expect(found).to.deep.equal([]);
    expect(commands.filter((a) => a[0].toLowerCase() === 'zrange' && a[1] === l.ordered('n', 'age'))).to.deep.equal([]);
  });

  it('ranges and sorts over mixed types, arrays, nulls and missing fields agree with lib/query-sort.ts', async function () {
    this.timeout(30_000);
    const store = open({ batchSize: 7 });
    const values: unknown[] = [3, 1, 'b', 'a', null, [], [2, 9], [5, 'c'], { x: 1 }, true, false, 3, 'a\u0000b', 'a', -0, 2.5, 'é', '\u{1F600}', [null, 4], 1e300, -7];
    const all: KeyObject[] = [];
    let n = 0;
    for (const v of values) {
      for (const shape of ['flat', 'nested', 'array', 'missing']) {
        const key = (
          shape === 'flat' ? { n: n++, v } : shape === 'nested' ? { n: n++, o: { v } } : shape === 'array' ? { n: n++, a: [{ v }, { v: 4 }] } : { n: n++, w: 1 }
        ) as KeyObject;
        all.push(JSON.parse(JSON.stringify(key)) as KeyObject); // -0 is stored as 0
        await store.set(key, n);
      }
    }
    const queries: Array<Record<string, unknown>> = [
      { v: { $gte: 1, $lt: 4 } },
      { v: { $gt: 'a' } },
      { v: { $lte: 'b' } },
      { 'o.v': { $gt: 2 } },
      { 'a.v': { $gte: 3, $lte: 4 } },
      { v: { $gt: -1e301 }, n: { $lt: 40 } },
      { n: { $gte: 0 } },
    ];
    for (const query of queries) expect(await store.keys(query), JSON.stringify(query)).to.deep.equal(expectedKeys(all, query, undefined));
    const sorts: Array<Record<string, 1 | -1>> = [{ v: -1 }, { v: 1 }, { 'o.v': -1 }, { 'a.v': -1 }, { 'a.v': 1 }, { v: -1, n: -1 }, { w: -1 }];
    for (const sort of sorts) {
      for (const query of [{ n: { $gte: 0 } }, { n: { $lt: 50 } }]) {
        for (const [skip, limit] of [[0, Infinity], [0, 3], [5, 10], [40, 100]]) {
          const got = await store.keys(query, limit === Infinity ? { sort, skip } : { sort, skip, limit });
          expect(got, `${JSON.stringify(query)} ${JSON.stringify(sort)} ${skip} ${limit}`).to.deep.equal(expectedKeys(all, query, sort, skip, limit));
        }
      }
    }
  });

  it('a write whose ordered index key holds another type fails and leaves no record of itself', async () => {
    const store = open();
    await store.connect();
    const l = store.layout;
    await server.admin.set(l.ordered('s', 'name'), 'garbage');
    const err = await store.set({ age: 3, name: 'x' }, 1).then(
      () => undefined,
      (e: Error & { code: string }) => e,
    );
    expect(err?.code).to.equal('ERR_STORAGE_OPERATION');
    expect(await server.admin.zcard(l.order)).to.equal(0);
    expect(await server.admin.exists(l.ordered('n', 'age'), l.indexFor('age', 3), l.indexFor('name', 'x'), l.entry('\u0000{"age":3,"name":"x"}'))).to.equal(0);
    expect(await server.admin.smembers(l.registry)).to.deep.equal([]);
    // A key without that path is written with all its records.
    await store.set({ age: 4 }, 2);
    expect(await server.admin.zrange(l.ordered('n', 'age'), '0', '-1', 'WITHSCORES')).to.have.length(2);
    expect(await store.get({ age: { $gt: 1 } })).to.deep.equal([2]);
    await server.admin.del(l.ordered('s', 'name'));
  });

  it('the sweep removes the ordered index records of expired entries', async () => {
    const clock = new ManualClock(Date.now());
    const store = open({ clock, sweepInterval: 0 });
    await store.set({ age: 1, name: 'a', tags: [1, 2] }, 1, { ttl: 1000 });
    await store.set({ age: 2, name: 'b' }, 2);
    const l = store.layout;
    expect(await server.admin.zcard(l.ordered('n', 'age'))).to.equal(2);
    expect(await server.admin.zcard(l.ordered('r', 'tags'))).to.equal(1);
    clock.advance(1001);
    expect(await store.sweep()).to.equal(1);
    expect(await server.admin.zcard(l.ordered('n', 'age'))).to.equal(1);
    expect(await server.admin.zcard(l.ordered('s', 'name'))).to.equal(1);
    expect(await server.admin.exists(l.ordered('r', 'tags'))).to.equal(0);
    expect((await server.admin.smembers(l.registry)).sort()).to.deep.equal(
      [l.indexFor('age', 2), l.indexFor('name', 'b'), l.ordered('n', 'age'), l.ordered('s', 'name')].sort(),
    );
    await store.del({ age: 2 });
    expect(await server.admin.exists(l.ordered('n', 'age'), l.ordered('s', 'name'))).to.equal(0);
    expect(await server.admin.smembers(l.registry)).to.deep.equal([]);
  });

  it('a key written again after it expired, before any sweep, keeps one ordered record (its new place)', async () => {
    const clock = new ManualClock(Date.now());
    const store = open({ clock, sweepInterval: 3_600_000 });
    await store.set({ g: 2, u: 2 }, 'old', { ttl: 1 });
    await store.set({ g: 9 }, 'other');
    clock.advance(1000);
    await store.set({ g: 2, u: 2 }, 'new');
    expect(await store.count({ g: { $gt: -1, $lt: 3 } })).to.equal(1);
    expect(await server.admin.zcard(store.layout.ordered('n', 'g'))).to.equal(2);
    expect(await store.keys({ g: { $gte: 0 } }, { sort: { g: -1 } })).to.deep.equal([{ g: 9 }, { g: 2, u: 2 }]);
  });

  it('a namespace written before ordered indexes (no version record) is rebuilt on connect', async () => {
    const namespace = `old${process.pid}x${++counter}`;
    const writer = new RedisStore({ url: server.url, namespace });
    server.track(writer);
    for (let i = 0; i < 50; i++) await writer.set({ i, age: i % 10, name: `n${i % 5}` }, i);
    const l = writer.layout;
    // What the previous layout left: no ordered sets, none in the registry, no version record.
    const ordered = (await server.admin.smembers(l.registry)).filter((k) => !k.startsWith(l.base + 'i:'));
    expect(ordered.length).to.equal(3);
    await server.admin.del(...ordered, l.version);
    await server.admin.srem(l.registry, ...ordered);
    await writer.close();
    const reader = new RedisStore({ url: server.url, namespace });
    server.track(reader);
    expect(await reader.get({ age: { $gte: 8 } })).to.deep.equal([...Array(50).keys()].filter((i) => i % 10 >= 8));
    expect(await server.admin.get(l.version)).to.equal(LAYOUT_VERSION);
    expect(await server.admin.zcard(l.ordered('n', 'age'))).to.equal(50);
    expect(await server.admin.zcard(l.ordered('s', 'name'))).to.equal(50);
    expect((await server.admin.smembers(l.registry)).filter((k) => !k.startsWith(l.base + 'i:')).sort()).to.deep.equal(ordered.sort());
  });
});
