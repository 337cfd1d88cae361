/**
 * Layout 3 of the Redis store's ordered indexes (docs/redis.md, "Ordered indexes"): `n` members
 * carry the complemented creation sequence, so a descending sort reads ties in creation order
 * straight from the set. A namespace of layout 2 (`<sequence><id>` members) is rebuilt on
 * connect; while both forms are in a set (a rebuild under way, a writer of layout 2 still
 * running), ranges read both and sorts stay right, and every removal takes both away.
 */
import { expect } from 'chai';
import { KeyObject } from '../lib/keys';
import { compileQuery } from '../lib/query';
import { compileSort, sortEntries } from '../lib/query-sort';
import { RedisStore } from '../lib/backends/redis';
import { LAYOUT_VERSION, numberMember } from '../lib/backends/redis/ordered';
import { useRedisServers } from './support/redis-test-stores';

const server = useRedisServers({ admin: true, cluster: false });
let counter = 0;

/** A store on `namespace`, closed after the test. */
function open(namespace: string, batchSize = 4): RedisStore {
  const store = new RedisStore({ url: server.url, namespace, batchSize });
  return server.track(store);
}

/** Layout 2's `n` member: the 16-digit sequence, then the id. */
const legacyMember = (seq: number, id: string) => String(seq).padStart(16, '0') + id;
/** Layout 3's `n` member, built here digit by digit (10^16 − 1 − seq). */
const currentMember = (seq: number, id: string) => [...String(seq).padStart(16, '0')].map((d) => 9 - Number(d)).join('') + id;

/** A sorted set's members and scores. */
async function members(set: string): Promise<Map<string, number>> {
  const flat = await server.admin.zrange(set, '0', '-1', 'WITHSCORES');
  const out = new Map<string, number>();
  for (let i = 0; i < flat.length; i += 2) out.set(flat[i], Number(flat[i + 1]));
  return out;
}

/** Each id's creation sequence (its score in the order set). */
const sequences = (store: RedisStore) => members(store.layout.order);

/** Rewrites some (`which`) of an `n` set's members in layout 2's form; `both` keeps the current one too. */
async function toLegacy(store: RedisStore, set: string, which: (i: number) => boolean, both = false): Promise<void> {
  const seqs = await sequences(store);
  let i = 0;
  for (const [member, score] of await members(set)) {
    const { id } = numberMember(member);
    if (!which(i++)) continue;
    if (!both) await server.admin.zrem(set, member);
    await server.admin.zadd(set, score, legacyMember(seqs.get(id)!, id));
  }
}

/** The keys `query` gives with `sort`/`limit`, by lib/query-sort.ts over the keys in creation order. */
function expected(all: KeyObject[], query: Record<string, unknown>, sort?: Record<string, 1 | -1>, limit = Infinity): KeyObject[] {
  const selector = compileQuery(query);
  const matches = all.filter((k) => selector.kind === 'all' || (selector.kind === 'query' && selector.test(k))).map((key) => ({ key }));
  return (sort ? sortEntries(matches, compileSort(sort, 'test')) : matches).slice(0, limit).map((e) => e.key);
}

describe('Redis store: ordered index layout 3 (complemented sequences) and the upgrade from layout 2', () => {
  const all: KeyObject[] = [];
  for (let i = 0; i < 60; i++) all.push({ i, kind: i % 3 ? 'person' : 'robot', age: i % 6, name: `n${i % 4}` });
  const queries: Array<[Record<string, unknown>, Record<string, 1 | -1> | undefined, number]> = [
    [{ kind: 'person' }, { age: -1 }, 20],
    [{}, { age: -1 }, 7],
    [{}, { age: -1 }, Infinity],
    [{ age: { $gte: 3 } }, undefined, Infinity],
    [{ age: { $gt: 0, $lte: 4 }, kind: 'robot' }, undefined, Infinity],
    [{ name: { $gte: 'n2' } }, { age: -1 }, 9],
  ];

  /** Checks every query against lib/query-sort.ts. */
  async function checkQueries(store: RedisStore): Promise<void> {
    for (const [query, sort, limit] of queries) {
      const options = { ...(sort ? { sort } : {}), ...(limit < Infinity ? { limit } : {}) };
      expect(await store.keys(query, options), JSON.stringify([query, sort, limit])).to.deep.equal(expected(all, query, sort, limit));
    }
  }

  /** A namespace written by this layout, then turned into layout 2 by hand (its `n` members and its version record). */
  async function layout2Namespace(): Promise<{ namespace: string; n: string }> {
    const namespace = `lu${process.pid}x${++counter}`;
    const writer = open(namespace);
    for (const key of all) await writer.set(key, key.i);
    const n = writer.layout.ordered('n', 'age');
    await toLegacy(writer, n, () => true);
    await toLegacy(writer, writer.layout.ordered('n', 'i'), () => true);
    await server.admin.set(writer.layout.version, '2');
    await writer.close();
    return { namespace, n };
  }

  it('writes `n` members as the complemented sequence, so a descending sort reads ties in creation order, across pages', async () => {
    const store = open(`lu${process.pid}x${++counter}`, 3);
    for (const key of all) await store.set(key, key.i);
    const seqs = await sequences(store);
    const n = await members(store.layout.ordered('n', 'age'));
    expect(n.size).to.equal(all.length);
    for (const [id, seq] of seqs) expect(n.get(currentMember(seq, id)), id).to.equal((JSON.parse(id.slice(1)) as KeyObject).age);
    expect(await server.admin.get(store.layout.version)).to.equal(LAYOUT_VERSION);
    expect(LAYOUT_VERSION).to.equal('3');
    await checkQueries(store);
  });

  it('rebuilds a namespace of layout 2 on connect: every `n` member in the new form, the version record, the same answers', async () => {
    const { namespace, n } = await layout2Namespace();
    expect([...(await members(n)).keys()].every((m) => m.startsWith('0'))).to.equal(true);
    const reader = open(namespace);
    await checkQueries(reader);
    expect(await server.admin.get(reader.layout.version)).to.equal('3');
    const seqs = await sequences(reader);
    const got = await members(n);
    expect(got.size).to.equal(all.length);
    for (const [id, seq] of seqs) expect(got.has(currentMember(seq, id)), id).to.equal(true);
    // The `s` members did not change form.
    expect(await server.admin.zcard(reader.layout.ordered('s', 'name'))).to.equal(all.length);
  });

  it('while a set mixes both forms (a rebuild under way, a writer of layout 2), ranges and sorts are right and hold no id twice', async () => {
    const namespace = `lu${process.pid}x${++counter}`;
    const store = open(namespace);
    for (const key of all) await store.set(key, key.i);
    const n = store.layout.ordered('n', 'age');
    // Half the members in layout 2's form, a quarter in both forms (an old writer's rebuild adds its own next to ours).
    await toLegacy(store, n, (i) => i % 2 === 0);
    await toLegacy(store, n, (i) => i % 4 === 1, true);
    // Version record as layout 3's: ranges decode both forms; a descending sort reads the set (ties may then stray, values not).
    for (const [query, sort, limit] of queries) {
      const got = await store.keys(query, { ...(sort ? { sort } : {}), ...(limit < Infinity ? { limit } : {}) });
      const want = expected(all, query, sort, limit);
      if (sort === undefined) expect(got, JSON.stringify(query)).to.deep.equal(want);
      else expect(got.map((k) => (k as KeyObject).age), JSON.stringify([query, sort])).to.deep.equal(want.map((k) => k.age));
    }
    // An old writer rebuilt it and wrote its own version record: sorts no longer trust the set's tie order.
    await server.admin.set(store.layout.version, '2');
    await checkQueries(store);
    // A delete takes both forms away.
    const seqs = await sequences(store);
    expect(await store.del({ i: { $lt: 12 } })).to.equal(12);
    const left = [...(await members(n)).keys()].map((m) => JSON.parse(numberMember(m).id.slice(1)) as KeyObject);
    expect(left.length).to.be.greaterThan(0);
    expect(left.filter((k) => (k.i as number) < 12)).to.deep.equal([]);
    for (const [id, seq] of seqs) {
      const key = JSON.parse(id.slice(1)) as KeyObject;
      if ((key.i as number) >= 12) continue;
      expect(await server.admin.zscore(n, legacyMember(seq, id)), id).to.equal(null);
      expect(await server.admin.zscore(n, currentMember(seq, id)), id).to.equal(null);
    }
    // A store connecting now rebuilds it: one member per entry, in the new form.
    await store.close();
    const next = open(namespace);
    all.splice(0, 12);
    try {
      await checkQueries(next);
      const now = await members(n);
      expect(now.size).to.equal(all.length);
      for (const [id, seq] of await sequences(next)) expect(now.has(currentMember(seq, id)), id).to.equal(true);
    } finally {
      for (let i = 11; i >= 0; i--) all.unshift({ i, kind: i % 3 ? 'person' : 'robot', age: i % 6, name: `n${i % 4}` });
    }
  });
});
