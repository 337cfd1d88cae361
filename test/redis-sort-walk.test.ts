/**
 * A descending sort read from a path's number index by TOP_SCRIPT (lib/backends/redis/sorted.ts
 * DescendingWalk): the server passes on only the members whose id holds a wanted value's text,
 * reads on until it has the entries wanted, keeps the cursor (value, members read at it) itself
 * and reads the first entries with the page. The answers must be lib/query-sort.ts's whatever
 * the page boundaries: long runs of equal values across pages and across calls (batchSize 5),
 * keys that are not in the number index (strings, arrays, null, missing), a sharded namespace,
 * layout 2's members of the same ids, and entries that expired after the walk listed them.
 */
import { expect } from 'chai';
import { ManualClock } from '../lib/clock';
import { KeyObject } from '../lib/keys';
import { RedisStore, RedisSettings } from '../lib/backends/redis';
import { SEQ_DIGITS, numberMember } from '../lib/backends/redis/ordered';
import { useRedisServers } from './support/redis-test-stores';
import { expectedKeys } from './support/expected-order';

const server = useRedisServers({ admin: true, cluster: false });
let counter = 0;

/** A store in a fresh namespace on the shared server, closed after the test. */
function open(settings: RedisSettings = {}): RedisStore {
  return server.track(new RedisStore({ url: server.url, namespace: `rsw${process.pid}x${++counter}`, batchSize: 5, ...settings }));
}

/** The ids (`n`) a store should list for `query`. */
function expected(all: KeyObject[], query: Record<string, unknown>, sort: Record<string, 1 | -1>, skip: number, limit: number): number[] {
  return expectedKeys(all, query, sort, skip, limit).map((key) => key.n as number);
}

/** 400 keys: ages in four long runs of equal numbers, a few strings, arrays, nulls and missing ages; seven kinds. */
function keys(): KeyObject[] {
  const out: KeyObject[] = [];
  for (let n = 0; n < 400; n++) {
    const key: KeyObject = { n, kind: `k${n % 7}` };
    if (n % 23 === 0) key.age = String(n % 3);
    else if (n % 29 === 0) key.age = [n % 4, 9];
    else if (n % 31 === 0) key.age = null;
    else if (n % 37 !== 0) key.age = n % 4;
    out.push(key);
  }
  return out;
}

const QUERIES: Array<Record<string, unknown>> = [
  { kind: 'k3' },
  { kind: { $in: ['k1', 'k5'] } },
  { kind: 'k2', age: { $gte: 1 } },
  { kind: 'k4', n: { $gt: 200 } },
  { $or: [{ kind: 'k6' }, { n: { $lt: 10 } }] },
  { kind: 'none' },
  { n: { $gte: 0 } },
];

const WINDOWS: Array<[number, number]> = [
  [0, 1],
  [0, 3],
  [0, 20],
  [2, 5],
  [11, 40],
  [0, Infinity],
];

async function checkAll(store: RedisStore, all: KeyObject[]): Promise<void> {
  for (const query of QUERIES) {
    for (const [skip, limit] of WINDOWS) {
      const label = `${JSON.stringify(query)} skip ${skip} limit ${limit}`;
      const want = expected(all, query, { age: -1 }, skip, limit);
      const options = limit === Infinity ? { sort: { age: -1 as const }, skip } : { sort: { age: -1 as const }, skip, limit };
      expect(await store.get(query, options), label).to.deep.equal(want);
      expect((await store.keys(query, options)).map((k) => (k as KeyObject).n), label).to.deep.equal(want);
    }
  }
}

describe('Redis store: a descending sort walked by the number index script', () => {
  it('lists what lib/query-sort.ts lists over runs of equal values longer than a page and a call, for every window', async function () {
    this.timeout(120_000);
    const store = open();
    const all = keys();
    for (const key of all) await store.set(key, key.n);
    await checkAll(store, all);
  });

  it('lists the same over a sharded namespace (its shards merged: no entries read with the walk)', async function () {
    this.timeout(120_000);
    const store = open({ shards: 3 });
    const all = keys();
    for (const key of all) await store.set(key, key.n);
    await checkAll(store, all);
  });

  it("lists an id once when it also has layout 2's member at its value (a writer of layout 2 still running)", async function () {
    this.timeout(60_000);
    const store = open();
    const all = keys();
    for (const key of all) await store.set(key, key.n);
    const n = store.layout.ordered('n', 'age');
    const members = (await server.admin.zrange(n, '0', '-1', 'WITHSCORES')) as string[];
    // Every third member again in layout 2's form: <16-digit sequence><id>, at the same score.
    for (let i = 0; i < members.length; i += 6) {
      const { id, seq } = numberMember(members[i]);
      await server.admin.zadd(n, members[i + 1], String(seq).padStart(SEQ_DIGITS, '0') + id);
    }
    await checkAll(store, all);
  });

  it('passes over entries that expired after the walk read them with the page, and still returns `limit` entries', async () => {
    const clock = new ManualClock(Date.now());
    const store = open({ clock, sweepInterval: 0, batchSize: 1000 });
    const all: KeyObject[] = [];
    for (let n = 0; n < 60; n++) {
      const key = { n, kind: n % 2 ? 'person' : 'robot', age: n };
      all.push(key);
      // The five oldest persons of the top expire.
      await store.set(key, n, n >= 49 && n % 2 === 1 ? { ttl: 1000 } : {});
    }
    expect(await store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 3 })).to.deep.equal([59, 57, 55]);
    clock.advance(1001);
    const live = all.filter((k) => !((k.n as number) >= 49 && (k.n as number) % 2 === 1));
    expect(await store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 3 })).to.deep.equal(expected(live, { kind: 'person' }, { age: -1 }, 0, 3));
    expect(await store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 3 })).to.deep.equal([47, 45, 43]);
    expect(await store.get({ kind: 'person' }, { sort: { age: -1 }, limit: 8 })).to.deep.equal([47, 45, 43, 41, 39, 37, 35, 33]);
  });
});
