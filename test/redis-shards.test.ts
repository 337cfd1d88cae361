/**
 * A namespace spread over several hash-slot groups (`shards`, lib/backends/redis/shards.ts):
 * placement on a real 3-master cluster (every master holds part of one namespace), routing of
 * exact operations to one shard, queries merged in creation and sort order, TTL expiry, streamed
 * values, scopes, the refusal of a namespace opened with another shard count, and the checks of
 * the setting. The whole conformance suite runs sharded in redis-conformance.test.ts.
 */
import { expect } from 'chai';
import { Cluster, Redis } from 'ioredis';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const calculateSlot: (key: string) => number = require('cluster-key-slot');
import { ManualClock } from '../lib/clock';
import { keyId } from '../lib/keys';
import { RedisSettings, RedisStore } from '../lib/backends/redis';
import { slotOfTag } from '../lib/backends/redis/layout';
import { nextSequence } from '../lib/backends/redis/sequence';
import { shardIndex } from '../lib/backends/redis/shards';
import { rejection } from '../lib/conformance/context';
import { useRedisServers } from './support/redis-test-stores';
import { entriesOf, entryOf } from './support/tier-access';

let counter = 0;
const servers = useRedisServers();

/** A fresh namespace name. */
const fresh = (what: string) => `sh${process.pid}x${++counter}${what}`;

/** A sharded store, closed (and cleared) after the test: on the cluster, or with `on: 'server'` on the shared standalone server. */
function open(settings: RedisSettings & { on?: 'cluster' | 'server' } = {}): RedisStore {
  const { on = 'cluster', ...rest } = settings;
  const where: RedisSettings = on === 'cluster' ? { cluster: servers.cluster.nodes } : { url: servers.url };
  const store = new RedisStore({ namespace: fresh('ns'), shards: 3, ...where, ...rest });
  return servers.track(store);
}

/** The master ("host:port") that owns a key's slot, as the cluster client sees it. */
function ownerOf(store: RedisStore, key: string): string {
  const slots = (store.redis as unknown as { slots: string[][] }).slots;
  return slots[calculateSlot(key)][0];
}

/** Every key on every master whose name starts with `start` (SCAN MATCH; braces are not special in a glob). */
async function keysOnMasters(store: RedisStore, start: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const node of (store.redis as Cluster).nodes('master')) {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, names] = await node.scan(cursor, 'MATCH', start.replace(/[*?[\]\\]/g, '\\$&') + '*', 'COUNT', 1000);
      cursor = next;
      found.push(...names);
    } while (cursor !== '0');
    out.set(`${node.options.host}:${node.options.port}`, found);
  }
  return out;
}

/** Calls of a command on one server so far (INFO commandstats). */
async function calls(node: Redis, command: string): Promise<number> {
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(await node.info('commandstats'))?.[1] ?? 0);
}

describe('redis shards', () => {
  describe('setting', () => {
    for (const shards of [0, -1, 1025, 2.5, NaN, '4' as unknown as number, null as unknown as number]) {
      it(`refuses shards: ${String(shards)} with ERR_STORE_CONFIG naming the setting`, () => {
        let caught: (Error & { code?: string }) | undefined;
        try {
          new RedisStore({ url: servers.url, shards });
        } catch (err) {
          caught = err as Error & { code?: string };
        }
        expect(caught?.code).to.equal('ERR_STORE_CONFIG');
        expect(caught?.message).to.contain('shards');
      });
    }

    it('takes 1 (the one-slot layout) and 1024', async () => {
      const one = open({ on: 'server', shards: 1 });
      expect(one.shardLayouts).to.deep.equal([one.layout]);
      expect(one.layout.base).to.equal(`ms:{#${one.namespace}}:`);
      const many = open({ on: 'server', shards: 1024 });
      expect(many.shardLayouts.length).to.equal(1024);
      await many.set('a', 1);
      expect(await many.getOne('a')).to.equal(1);
    });
  });

  describe('creation sequence', () => {
    it('is 16 digits, strictly increasing even within one millisecond, and an exact score (below 2^53)', () => {
      const seqs = Array.from({ length: 5000 }, () => nextSequence());
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).to.be.greaterThan(seqs[i - 1]);
      for (const seq of [seqs[0], seqs[seqs.length - 1]]) {
        expect(String(seq)).to.match(/^\d{16}$/);
        expect(seq).to.be.below(2 ** 53);
        expect(seq).to.be.at.least(Date.now() * 1000 - 60_000_000);
      }
    });
  });

  describe('layout', () => {
    it('gives each shard its own tag, apart from the unsharded tag and any other namespace’s, spread evenly over the slots', () => {
      const store = open({ shards: 3, namespace: 'a%b}c' });
      const bases = store.shardLayouts.map((l) => l.base);
      expect(new Set(bases).size).to.equal(3);
      for (const [s, base] of bases.entries()) {
        expect(base.startsWith('ms:{#a%25b%7Dc%s' + s + ':')).to.equal(true);
        // The tag's slot (as Redis computes it for a key) is in the shard's third of the slot space.
        const slot = calculateSlot(base + 'z');
        expect(slotOfTag(base.slice(base.indexOf('{') + 1, base.indexOf('}')))).to.equal(slot);
        expect(slot).to.be.at.least(Math.floor((s * 16384) / 3));
        expect(slot).to.be.below(Math.floor(((s + 1) * 16384) / 3));
      }
      // A namespace whose name looks like a shard's tag still gets its own escaped tag.
      const lookalike = new RedisStore({ url: servers.url, namespace: bases[0].slice(5, bases[0].indexOf('}')) });
      expect(bases).not.to.include(lookalike.layout.base);
      expect(store.layout.base).to.equal('ms:{#a%25b%7Dc}:');
    });

    it('puts the keys of one namespace on every master of the cluster, each shard’s keys in its one slot', async function () {
      this.timeout(30_000);
      const store = open({ shards: 3, clock: new ManualClock(Date.now()) });
      const writes: Array<Promise<void>> = [];
      for (let i = 0; i < 300; i++) {
        writes.push(store.set({ i, g: i % 4 }, i, i % 2 === 0 ? { ttl: 60_000 } : undefined));
        writes.push(store.set(`user:${i}`, i));
      }
      await Promise.all(writes);
      const masters = servers.cluster.nodes.map((n) => `${n.host}:${n.port}`);
      expect(new Set(store.shardLayouts.map((l) => ownerOf(store, l.order)))).to.deep.equal(new Set(masters));
      const found = await keysOnMasters(store, `ms:{#${store.namespace}%s`);
      for (const master of masters) {
        const names = found.get(master)!;
        expect(names.filter((k) => k.includes('}:e:')).length, master).to.be.greaterThan(50);
        // Every key on this master belongs to a shard whose slot this master owns.
        for (const name of names) expect(ownerOf(store, name)).to.equal(master);
      }
      // Each entry is in the shard its id hashes to, and nowhere else.
      for (const key of [{ i: 7, g: 3 }, 'user:7']) {
        const id = keyId(key);
        store.shardLayouts.forEach((l, s) => {
          const there = found.get(ownerOf(store, l.entry(id)))!.includes(l.entry(id));
          expect(there, `shard ${s}`).to.equal(s === shardIndex(id, 3));
        });
      }
      // The namespace's home keeps only the shard count record.
      const home = (await keysOnMasters(store, store.layout.base)).get(ownerOf(store, store.layout.base))!;
      expect(home).to.deep.equal([store.layout.shardCount]);
      expect(await store.count({ g: 1 })).to.equal(75);
      expect((await store.keys()).length).to.equal(600);
    });
  });

  describe('exact operations', () => {
    it('go to the shard of their id: a tick of 1,000 getOne calls is one MGET per shard', async function () {
      this.timeout(30_000);
      const store = open({ shards: 3 });
      const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`);
      await Promise.all(keys.map((k, i) => store.set(k, i)));
      const masters = (store.redis as Cluster).nodes('master');
      const before = await Promise.all(masters.map((m) => calls(m, 'mget')));
      const values = await Promise.all(keys.map((k) => store.getOne(k)));
      expect(values).to.deep.equal(keys.map((_, i) => i));
      const after = await Promise.all(masters.map((m) => calls(m, 'mget')));
      // 1,000 reads over 3 shards, about 333 each: per shard, one MGET per 256 of its reads.
      const perShard = [0, 0, 0];
      for (const k of keys) perShard[shardIndex(keyId(k), 3)]++;
      expect(Math.min(...perShard)).to.be.greaterThan(256);
      const expected = masters.map(() => 0);
      store.shardLayouts.forEach((l, s) => {
        const master = masters.findIndex((m) => `${m.options.host}:${m.options.port}` === ownerOf(store, l.order));
        expected[master] += Math.ceil(perShard[s] / 256);
      });
      expect(after.map((n, i) => n - before[i])).to.deep.equal(expected);
    });

    it('set, getOne, has, ttl, del and the bulk calls reach each entry in its shard', async () => {
      const clock = new ManualClock(Date.now());
      const store = open({ shards: 4, clock });
      const admin = store.redis as Cluster;
      await store.set({ user: 1 }, 'one', { ttl: 10_000 });
      await store.set('plain', 'p');
      const id = keyId({ user: 1 });
      const shard = store.shardLayouts[shardIndex(id, 4)];
      expect(await admin.get(shard.entry(id))).to.match(/^\d+\.\d+\.\d+v"one"$/);
      expect(await store.getOne({ user: 1 })).to.equal('one');
      expect(await store.has({ user: 1 })).to.equal(true);
      expect(await store.ttl({ user: 1 })).to.equal(10_000);
      expect(await store.getMany(['plain', { user: 1 }, 'missing'])).to.deep.equal(['p', 'one', undefined]);
      const many = Array.from({ length: 20 }, (_, i) => ({ key: `m${i}`, value: i }));
      await store.setMany(many);
      expect(new Set(many.map((m) => shardIndex(keyId(m.key), 4))).size).to.equal(4);
      expect(await store.getMany(many.map((m) => m.key))).to.deep.equal(many.map((m) => m.value));
      expect(await store.delMany(many.slice(0, 10).map((m) => m.key))).to.equal(10);
      expect(await store.getMany(['m0', 'm9', 'm10'])).to.deep.equal([undefined, undefined, 10]);
      expect(await store.del({ user: 1 })).to.equal(1);
      expect(await admin.exists(shard.entry(id))).to.equal(0);
      expect(await store.has({ user: 1 })).to.equal(false);
    });
  });

  describe('as a tier', () => {
    it('getEntry and a batch of getEntries read every shard, one result per key in order', async () => {
      const clock = new ManualClock(Date.now());
      const store = open({ shards: 3, clock });
      const keys = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? `s${i}` : { i }));
      await Promise.all(keys.map((k, i) => store.set(k, i, i % 3 === 0 ? { ttl: 5_000 } : undefined)));
      expect(new Set(keys.map((k) => shardIndex(keyId(k), 3))).size).to.equal(3);
      const found = await entriesOf(store, [...keys, 'missing']);
      expect(found).to.deep.equal([...keys.map((_, i) => ({ value: i, expiresAt: i % 3 === 0 ? clock.now() + 5_000 : null })), undefined]);
      expect(await entryOf(store, { i: 3 })).to.deep.equal({ value: 3, expiresAt: clock.now() + 5_000 });
    });
  });

  for (const on of ['cluster', 'server'] as const) {
    describe(`queries (${on})`, () => {
      /** 120 object keys written in program order without waiting, so consecutive writes go to different shards in one tick. */
      async function filled(settings: RedisSettings = {}): Promise<RedisStore> {
        const store = open({ on, shards: 3, ...settings });
        const writes: Array<Promise<void>> = [];
        for (let i = 0; i < 120; i++) writes.push(store.set({ i, g: i % 4, name: `n${(i * 37) % 120}` }, i));
        await Promise.all(writes);
        return store;
      }

      it('merge every shard’s matches in creation order, which is program order; an overwrite keeps its place', async () => {
        const store = await filled();
        const all = Array.from({ length: 120 }, (_, i) => i);
        // The keys are spread over the three shards.
        const perShard = [0, 0, 0];
        for (const i of all) perShard[shardIndex(keyId({ i, g: i % 4, name: `n${(i * 37) % 120}` }), 3)]++;
        expect(Math.min(...perShard)).to.be.greaterThan(20);
        expect(await store.get({ i: { $gte: 0 } })).to.deep.equal(all);
        expect(await store.get({ g: 2 })).to.deep.equal(all.filter((i) => i % 4 === 2));
        expect(await store.get({ i: { $gte: 30, $lt: 40 } })).to.deep.equal(all.slice(30, 40));
        expect(await store.get({ g: { $in: [1, 3] }, i: { $lt: 20 } })).to.deep.equal([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
        expect((await store.keys()).length).to.equal(120);
        await store.set({ i: 0, g: 0, name: 'n0' }, 'again');
        expect((await store.get({ g: 0 }, { limit: 2 }))).to.deep.equal(['again', 4]);
      });

      it('sort, skip and limit over the merged shards, ties in creation order', async () => {
        const store = await filled();
        const all = Array.from({ length: 120 }, (_, i) => i);
        // g 1 descending by i: 117, 113, 109, 105, 101, then the window.
        expect(await store.get({ g: 1 }, { sort: { i: -1 }, skip: 5, limit: 4 })).to.deep.equal([97, 93, 89, 85]);
        const byName = [...all].sort((a, b) => (`n${(a * 37) % 120}` < `n${(b * 37) % 120}` ? -1 : 1));
        expect(await store.get({ i: { $gte: 0 } }, { sort: { name: 1 }, skip: 10, limit: 15 })).to.deep.equal(byName.slice(10, 25));
        // Ties on g keep creation order across the shards.
        const byGroup = [...all].sort((a, b) => (b % 4) - (a % 4) || a - b);
        expect(await store.get({ i: { $gte: 0 } }, { sort: { g: -1 }, limit: 50 })).to.deep.equal(byGroup.slice(0, 50));
        // g 0 has 30 keys: the window takes its last two (4, 0), then g 1 from the top (117, 113, 109).
        expect(await store.get({ i: { $gte: 0 } }, { sort: { g: 1, i: -1 }, skip: 28, limit: 5 })).to.deep.equal([4, 0, 117, 113, 109]);
        expect(await store.count({ g: 3 })).to.equal(30);
        expect(await store.count({ g: 3 }, { skip: 25 })).to.equal(5);
        expect(await store.keys({ g: 3 }, { sort: { i: -1 }, limit: 2 })).to.deep.equal([
          { i: 119, g: 3, name: `n${(119 * 37) % 120}` },
          { i: 115, g: 3, name: `n${(115 * 37) % 120}` },
        ]);
      });

      it('del(query) and clear() reach every shard', async () => {
        const store = await filled();
        expect(await store.del({ g: { $in: [0, 1] } })).to.equal(60);
        expect((await store.keys()).length).to.equal(60);
        expect(await store.get({ i: { $lt: 8 } })).to.deep.equal([2, 3, 6, 7]);
        await store.clear();
        expect((await store.keys()).length).to.equal(0);
        expect(await store.get({ i: { $gte: 0 } })).to.deep.equal([]);
      });

      it('TTL expiry by the store clock hides entries in every shard, and the sweep frees their records', async () => {
        const clock = new ManualClock(Date.now());
        const store = open({ on, shards: 3, clock, sweepInterval: 0 });
        const writes: Array<Promise<void>> = [];
        for (let i = 0; i < 60; i++) writes.push(store.set({ i }, i, i % 3 === 0 ? { ttl: 1000 } : undefined));
        await Promise.all(writes);
        const admin = store.redis;
        const expiring = await Promise.all(store.shardLayouts.map((l) => admin.zcard(l.expiry)));
        expect(expiring.every((n) => n > 0)).to.equal(true);
        clock.advance(1001);
        const kept = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 3 !== 0);
        expect(await store.get({ i: { $gte: 0 } })).to.deep.equal(kept);
        expect(await store.getOne({ i: 3 })).to.equal(undefined);
        expect(await store.sweep()).to.equal(20);
        expect(await Promise.all(store.shardLayouts.map((l) => admin.zcard(l.expiry)))).to.deep.equal([0, 0, 0]);
        expect((await store.keys()).length).to.equal(40);
        expect(await store.nextDue()).to.equal(undefined);
      });

      it('streamed values live in their shard and read back whole, also from a query', async () => {
        const store = open({ on, shards: 3, chunkSize: 1024 });
        const bytes = (seed: number) => Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * seed) % 251));
        async function* source(seed: number) {
          const all = bytes(seed);
          for (let at = 0; at < all.length; at += 700) yield all.subarray(at, at + 700);
        }
        for (let f = 1; f <= 6; f++) await store.setStream({ file: f }, source(f));
        for (let f = 1; f <= 6; f++) {
          const parts: Buffer[] = [];
          for await (const chunk of store.createValueStream({ file: f })) parts.push(chunk as Buffer);
          expect(Buffer.concat(parts).equals(bytes(f))).to.equal(true);
          const id = keyId({ file: f });
          expect(await store.redis.hlen(store.shardLayouts[shardIndex(id, 3)].chunks(id))).to.be.greaterThan(2);
        }
        const found = (await store.get({ file: { $gt: 3 } })) as Buffer[];
        expect(found.length).to.equal(3);
        found.forEach((value, i) => expect(value.equals(bytes(4 + i)), `file ${4 + i}`).to.equal(true));
      });

      it('a scope has as many shards, and its own data', async () => {
        const store = open({ on, shards: 3 });
        const scope = store.scope('inner') as RedisStore;
        expect(scope.shardLayouts.length).to.equal(3);
        expect(new Set(scope.shardLayouts.map((l) => l.base)).size).to.equal(3);
        await Promise.all([store.set('a', 'outer'), scope.set('a', 'inner'), scope.set({ x: 1 }, 1), scope.set({ x: 2 }, 2)]);
        expect(await scope.get({ x: { $gt: 0 } })).to.deep.equal([1, 2]);
        expect(await store.getOne('a')).to.equal('outer');
        expect(await scope.getOne('a')).to.equal('inner');
        await scope.clear();
        expect(await store.getOne('a')).to.equal('outer');
        await scope.close();
      });
    });
  }

  describe('equal sequences (two processes can assign the same one)', () => {
    it('a walk whose page boundary falls inside a group of equal scores neither skips nor repeats an entry', async () => {
      const store = open({ on: 'server', shards: 2, batchSize: 2 });
      const keys = Array.from({ length: 12 }, (_, i) => `tie${i}`);
      for (const k of keys) await store.set(k, k);
      await store.set({ g: 1, n: 1 }, 'o1');
      await store.set({ g: 1, n: 2 }, 'o2');
      await store.set({ g: 1, n: 3 }, 'o3');
      // What writers in two processes within the same microsecond leave: every entry of shard 0 at one score.
      const admin = store.redis;
      const l = store.shardLayouts[0];
      const members = await admin.zrange(l.order, '0', '-1', 'WITHSCORES');
      const same = members[1];
      for (let i = 0; i < members.length; i += 2) await admin.zadd(l.order, same, members[i]);
      const inShard0 = keys.filter((k) => shardIndex(keyId(k), 2) === 0);
      expect(inShard0.length).to.be.greaterThan(3);
      for (const id of await admin.zrange(l.indexFor('g', 1), '0', '-1')) await admin.zadd(l.indexFor('g', 1), same, id);
      const listed = (await store.keys()) as unknown[];
      expect(listed.length).to.equal(15);
      expect(new Set(listed.map((k) => keyId(k as string))).size).to.equal(15);
      expect(((await store.get({ g: 1 })) as string[]).sort()).to.deep.equal(['o1', 'o2', 'o3']);
      expect(await store.count({ n: { $gte: 0 } })).to.equal(3);
    });
  });

  describe('many shards', () => {
    it('64 shards merge as one namespace: creation order, sort with skip and limit, count', async () => {
      const store = open({ on: 'server', shards: 64 });
      const all = Array.from({ length: 200 }, (_, i) => i);
      await Promise.all(all.map((i) => store.set({ i, g: i % 7 }, i)));
      expect(new Set(all.map((i) => shardIndex(keyId({ i, g: i % 7 }), 64))).size).to.be.greaterThan(60);
      expect(await store.get({ i: { $gte: 0 } })).to.deep.equal(all);
      const byGroupDown = [...all].sort((a, b) => (b % 7) - (a % 7) || a - b);
      expect(await store.get({ i: { $gte: 0 } }, { sort: { g: -1 }, skip: 10, limit: 30 })).to.deep.equal(byGroupDown.slice(10, 40));
      expect(await store.get({ g: { $in: [2, 5] } }, { sort: { i: -1 }, limit: 5 })).to.deep.equal([198, 194, 191, 187, 184]);
      expect(await store.count({ g: 3 })).to.equal(all.filter((i) => i % 7 === 3).length);
    });
  });

  describe('a sharded namespace nobody has open', () => {
    it('is listed by its shard count, and its expired records in every shard are swept by another store’s timer', async function () {
      this.timeout(30_000);
      const clock = new ManualClock(Date.now());
      const start = clock.now();
      const prefix = `shdue${process.pid}:`;
      const writer = open({ on: 'server', clock, prefix, sweepInterval: 0, shards: 3 });
      await Promise.all([...Array(90).keys()].map((i) => writer.set({ id: i }, i, { ttl: i < 60 ? 1_000 : 5_000 })));
      await writer.has('x'); // answered after the note of the writes, on the same connection
      const due = writer.layout.dueNamespaces;
      expect(due).to.equal(`${prefix}{!due%s3}`);
      const admin = new Redis(servers.url);
      try {
        expect(await admin.zscore(due, writer.namespace)).to.equal(String(start + 1_000));
        const layouts = writer.shardLayouts;
        await writer.close();
        const other = open({ on: 'server', clock, prefix, sweepInterval: 20, shards: 3 });
        await other.connect();
        clock.advance(1_001);
        // Visited: every shard swept, the namespace rescheduled to when the rest expire.
        for (const deadline = Date.now() + 10_000; Number(await admin.zscore(due, writer.namespace)) !== start + 5_000; ) {
          if (Date.now() > deadline) throw new Error('the sharded namespace was not visited');
          await new Promise((r) => setTimeout(r, 20));
        }
        const left = await Promise.all(layouts.map((l) => admin.zcard(l.order)));
        expect(left.reduce((a, b) => a + b, 0)).to.equal(30);
        expect(left.every((n) => n > 0)).to.equal(true);
        open({ on: 'server', clock, prefix, namespace: writer.namespace, shards: 3 }); // cleared after the test
      } finally {
        await admin.del(due);
        admin.disconnect();
      }
    });
  });

  describe('shard count of a stored namespace', () => {
    it('a namespace written with one count is refused with another (ERR_STORE_CONFIG), and opens again with its own', async () => {
      const namespace = fresh('count');
      const writer = open({ on: 'server', namespace, shards: 3 });
      await writer.set({ a: 1 }, 1);
      for (const shards of [2, 4, 1]) {
        const other = open({ on: 'server', namespace, shards });
        expect((await rejection(other.getOne({ a: 1 }))).code, `shards ${shards}`).to.equal('ERR_STORE_CONFIG');
        // Refused before anything was written; a later call is refused too.
        expect((await rejection(other.set({ a: 2 }, 2))).code).to.equal('ERR_STORE_CONFIG');
        // The store's connection still serves its other namespaces.
        const inner = other.scope(fresh('inner')) as RedisStore;
        await inner.set('b', shards);
        expect(await inner.getOne('b')).to.equal(shards);
        await inner.clear();
      }
      const again = open({ on: 'server', namespace, shards: 3 });
      expect(await again.get({ a: { $gte: 1 } })).to.deep.equal([1]);
    });

    it('a namespace with entries written without shards is refused with shards; an empty one takes the new count', async () => {
      const namespace = fresh('plain');
      const plain = open({ on: 'server', namespace, shards: 1 });
      await plain.set('x', 1);
      const sharded = open({ on: 'server', namespace, shards: 3 });
      expect((await rejection(sharded.getOne('x'))).code).to.equal('ERR_STORE_CONFIG');
      await plain.clear();
      const later = open({ on: 'server', namespace, shards: 3 });
      await later.set('x', 2);
      expect(await later.getOne('x')).to.equal(2);
      // Now the namespace is sharded: the one-slot layout is refused, even by the store that wrote it once it reconnects.
      const reopened = open({ on: 'server', namespace, shards: 1 });
      expect((await rejection(reopened.getOne('x'))).code).to.equal('ERR_STORE_CONFIG');
    });
  });
});
