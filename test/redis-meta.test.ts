/**
 * getMeta on the Redis store (lib/backends/redis/meta.ts, docs/redis.md "Metadata"), on one
 * server and on a real 3-master cluster, with and without shards: the times ride in the entry
 * string's head (createdAt kept by an overwrite of a live entry, reset after expiry; updatedAt
 * moved by set, not by touch), size is the stored bytes of the value, tags come from the tag
 * records; no record of its own is left once the entry goes (delete, expiry and sweep, clear,
 * delByTags, a delete by query); a tick's calls are one script per shard; entries written
 * before times were recorded read with null times.
 */
import { expect } from 'chai';
import { Cluster } from 'ioredis';
import { Readable } from 'node:stream';
import { ManualClock } from '../lib/clock';
import { keyId } from '../lib/keys';
import { defaultSerializer } from '../lib/serializer';
import { RedisSettings, RedisStore } from '../lib/backends/redis';
import { RedisLayout, headTimes, liveHead, timedHead } from '../lib/backends/redis/layout';
import { tagsOf } from '../lib/backends/redis/meta';
import { shardIndex } from '../lib/backends/redis/shards';
import { tagPrefix } from '../lib/backends/redis/layout';
import { useRedisServers } from './support/redis-test-stores';

let counter = 0;
const servers = useRedisServers();

/** Where a store of a test runs: one server or the cluster, with or without shards. */
const PLACES: Array<{ name: string; shards: number; cluster: boolean; settings: () => RedisSettings }> = [
  { name: 'one server', shards: 1, cluster: false, settings: () => ({ url: servers.url }) },
  { name: 'one server, shards 3', shards: 3, cluster: false, settings: () => ({ url: servers.url, shards: 3 }) },
  { name: 'cluster', shards: 1, cluster: true, settings: () => ({ cluster: servers.cluster.nodes }) },
  { name: 'cluster, shards 4', shards: 4, cluster: true, settings: () => ({ cluster: servers.cluster.nodes, shards: 4 }) },
];

/** A store closed (and cleared) after the test. */
function open(place: RedisSettings, settings: RedisSettings = {}): RedisStore {
  return servers.track(new RedisStore({ namespace: `meta${process.pid}x${++counter}`, ...place, ...settings }));
}

/** The masters the store's client talks to (one server: the client itself). */
function mastersOf(store: RedisStore) {
  const client = store.redis;
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/** Every key of the store's namespace (each shard's and its home's), scanned on every master. */
async function namespaceKeys(store: RedisStore): Promise<string[]> {
  const bases = new Set([store.layout.base, ...store.shardLayouts.map((l) => l.base)]);
  const out: string[] = [];
  for (const base of bases) {
    for (const node of mastersOf(store)) {
      let cursor = '0';
      do {
        const [next, names] = await node.scan(cursor, 'MATCH', base.replace(/[*?[\]\\]/g, '\\$&') + '*', 'COUNT', 1000);
        cursor = next;
        out.push(...names);
      } while (cursor !== '0');
    }
  }
  return out.sort();
}

/** The keys an empty namespace keeps: the layout version records (and a sharded one's shard count). */
function emptyKeys(store: RedisStore): string[] {
  const layouts = store.shardLayouts;
  const kept = layouts.map((l) => l.version);
  if (layouts.length > 1) kept.push(store.layout.shardCount);
  return kept.sort();
}

/** The layout of the shard that holds `key`. */
function layoutOf(store: RedisStore, key: string | object): RedisLayout {
  const layouts = store.shardLayouts;
  return layouts.length === 1 ? layouts[0] : layouts[shardIndex(keyId(key as never), layouts.length)];
}

/** How many EVALSHA calls the masters have answered so far (INFO commandstats). */
async function evalshaCalls(store: RedisStore): Promise<number> {
  let total = 0;
  for (const node of mastersOf(store)) total += Number(/cmdstat_evalsha:calls=(\d+)/.exec(await node.info('commandstats'))?.[1] ?? 0);
  return total;
}

/** Bytes the default serializer stores for `value`. */
function bytesOf(value: unknown): number {
  return Buffer.byteLength(defaultSerializer.serialize(value) as string, 'utf8');
}

describe('Redis store getMeta: the head of an entry string', () => {
  it('parses a head with times, one without, and one whose createdAt is unknown', () => {
    const timed = timedHead(5_000, 1_234) + '"x"';
    expect(timed).to.equal('5000.1234.1234v"x"');
    const k = liveHead(timed, 1_000);
    expect(timed[k]).to.equal('v');
    expect(headTimes(timed, k)).to.deep.equal({ createdAt: 1_234, updatedAt: 1_234 });
    expect(liveHead(timed, 5_000)).to.equal(-1); // expired
    expect(headTimes('0v"x"', liveHead('0v"x"', 0))).to.deep.equal({ createdAt: null, updatedAt: null });
    expect(headTimes('0..77v"x"', liveHead('0..77v"x"', 0))).to.deep.equal({ createdAt: null, updatedAt: 77 });
    expect(timedHead(null, 0)).to.equal('0.0.0v');
    expect(timedHead(null, 12.7)).to.equal('0.12.12v');
    for (const bad of ['0.1v', '0.1.v"x"', '0..v', '0.1.2', '0.1.2x"', '.1.2v', '0.a.2v']) expect(liveHead(bad, 0), bad).to.equal(-2);
  });

  it('decodes the tag member prefixes of the g hash back into the tags, in order', () => {
    const tags = ['b', 'a', 'x\u0000y', '', 'end\u0000', '\u0000\u0001'];
    expect(tagsOf(tags.map(tagPrefix).join(''))).to.deep.equal(tags);
    expect(tagsOf('')).to.deep.equal([]);
  });
});

for (const place of PLACES) {
  describe(`Redis store getMeta: ${place.name}`, function () {
    this.timeout(30_000);

    it('records createdAt and updatedAt from the store clock: an overwrite keeps createdAt, touch keeps updatedAt', async () => {
      const clock = new ManualClock(Date.now());
      const store = open(place.settings(), { clock });
      const t0 = clock.now();
      await store.set('k', { a: 1 });
      expect(await store.getMeta('k')).to.deep.equal({ size: bytesOf({ a: 1 }), createdAt: t0, updatedAt: t0, expiresAt: null, tags: [] });
      clock.advance(1_000);
      await store.set('k', 'longer value');
      expect(await store.getMeta('k')).to.deep.include({ createdAt: t0, updatedAt: t0 + 1_000, size: bytesOf('longer value') });
      clock.advance(1_000);
      expect(await store.touch('k', 60_000)).to.equal(true);
      expect(await store.getMeta('k')).to.deep.equal({
        size: bytesOf('longer value'),
        createdAt: t0,
        updatedAt: t0 + 1_000,
        expiresAt: t0 + 2_000 + 60_000,
        tags: [],
      });
      // A touch to an expiry of another width rewrites the head: the times stay.
      expect(await store.touch('k', null)).to.equal(true);
      expect(await store.getMeta('k')).to.deep.include({ createdAt: t0, updatedAt: t0 + 1_000, expiresAt: null });
      // setMany and object keys, in one script
      clock.advance(1_000);
      await store.setMany([
        { key: 'k', value: 3 },
        { key: { id: 1 }, value: 4, ttl: 5_000 },
      ]);
      expect(await store.getMeta('k')).to.deep.include({ createdAt: t0, updatedAt: t0 + 3_000 });
      expect(await store.getMeta({ id: 1 })).to.deep.equal({ size: 1, createdAt: t0 + 3_000, updatedAt: t0 + 3_000, expiresAt: t0 + 8_000, tags: [] });
    });

    it('an entry written again after it expired gets a new createdAt; absent and expired entries have no metadata', async () => {
      const clock = new ManualClock(Date.now());
      const store = open(place.settings(), { clock, sweepInterval: 0 });
      const t0 = clock.now();
      expect(await store.getMeta('never')).to.equal(undefined);
      await store.set('k', 1, { ttl: 1_000 });
      expect(await store.getMeta('k')).to.deep.include({ createdAt: t0, expiresAt: t0 + 1_000 });
      clock.advance(1_000);
      expect(await store.getMeta('k')).to.equal(undefined);
      // The string is still in Redis (its native expiry is on the wall clock): expired by the store's clock all the same.
      expect(await store.redis.exists(layoutOf(store, 'k').entry('k'))).to.equal(1);
      clock.advance(500);
      await store.set('k', 2);
      expect(await store.getMeta('k')).to.deep.equal({ size: 1, createdAt: t0 + 1_500, updatedAt: t0 + 1_500, expiresAt: null, tags: [] });
    });

    it('size is the stored bytes of the value (UTF-8), and a streamed value the total of its chunks', async () => {
      const store = open(place.settings(), { chunkSize: 1024 });
      const value = { text: 'ünïcødé ✓ '.repeat(50), when: new Date(0), bytes: Buffer.from([1, 2, 3]) };
      await store.set('v', value);
      const meta = await store.getMeta('v');
      expect(meta?.size).to.equal(bytesOf(value));
      const l = layoutOf(store, 'v');
      const stored = await store.redis.get(l.entry('v'));
      expect(meta?.size).to.equal(Buffer.byteLength(stored!) - (stored!.indexOf('v') + 1));
      const t = Date.now();
      await store.setStream('s', Readable.from([Buffer.alloc(2_500, 7), Buffer.alloc(10, 1)]));
      const streamed = await store.getMeta('s');
      expect(streamed?.size).to.equal(2_510);
      expect(streamed?.createdAt).to.be.within(t, Date.now());
      expect(streamed?.tags).to.deep.equal([]);
      await store.setStream('empty', Readable.from([]));
      expect((await store.getMeta('empty'))?.size).to.equal(0);
      // A streamed value written over a live entry keeps its createdAt.
      const before = (await store.getMeta('v'))!.createdAt;
      await store.setStream('v', Readable.from([Buffer.alloc(3)]));
      expect(await store.getMeta('v')).to.deep.include({ createdAt: before, size: 3 });
      // A streamed value whose chunks were removed by hand reads as absent, as reads see it.
      await store.redis.del(layoutOf(store, 's').chunks('s'));
      expect(await store.getMeta('s')).to.equal(undefined);
    });

    it('gives the tags in the order they were given', async () => {
      const store = open(place.settings());
      await store.set('k', 1, { tags: ['b', 'a', 'x\u0000y'] });
      expect((await store.getMeta('k'))?.tags).to.deep.equal(['b', 'a', 'x\u0000y']);
      await store.set('k', 2);
      expect((await store.getMeta('k'))?.tags).to.deep.equal([]);
      await store.set({ id: 1 }, 2, { tags: ['only'] });
      expect((await store.getMeta({ id: 1 }))?.tags).to.deep.equal(['only']);
    });

    it('leaves no record once the entry goes: delete, expiry and sweep, delByTags, a delete by query, clear', async () => {
      const clock = new ManualClock(Date.now());
      const store = open(place.settings(), { clock, sweepInterval: 0 });
      for (let i = 0; i < 20; i++) await store.set({ i }, i, { tags: i % 2 ? ['odd'] : undefined, ttl: i < 5 ? 1_000 : undefined });
      await store.set('plain', 1);
      expect(await store.del('plain')).to.equal(1);
      expect(await store.delByTags(['odd'])).to.equal(10);
      expect(await store.del({ i: { $gte: 14 } })).to.equal(3);
      clock.advance(1_000);
      expect(await store.sweep()).to.equal(3);
      // Left: i = 6, 8, 10, 12.
      const left = await store.keys();
      expect(left).to.have.length(4);
      for (const key of left) expect(await store.getMeta(key)).to.include({ createdAt: clock.now() - 1_000 });
      for (const key of [{ i: 1 }, { i: 0 }, { i: 16 }, 'plain']) expect(await store.getMeta(key)).to.equal(undefined);
      await store.clear();
      expect(await namespaceKeys(store)).to.deep.equal(emptyKeys(store));
    });

    it("batches a tick's getMeta calls: one script per shard", async () => {
      const store = open(place.settings(), { sweepInterval: 0 });
      const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
      await store.setMany(keys.map((key, i) => ({ key, value: i, tags: i % 7 === 0 ? ['seven'] : undefined })));
      const before = await evalshaCalls(store);
      const metas = await Promise.all([...keys, 'absent'].map((key) => store.getMeta(key)));
      const calls = (await evalshaCalls(store)) - before;
      expect(metas.slice(0, 200).map((m) => m?.tags.length)).to.deep.equal(keys.map((_, i) => (i % 7 === 0 ? 1 : 0)));
      expect(metas[200]).to.equal(undefined);
      // One script per shard that holds one of the keys (every shard, with 200 keys; at most 256 calls a batch, as reads).
      expect(calls).to.equal(place.shards);
    });

    it('is ordered with the calls around it: a getMeta issued before a set sees the old entry', async () => {
      const clock = new ManualClock(Date.now());
      const store = open(place.settings(), { clock });
      await store.set('k', 'a');
      clock.advance(10);
      const [before, , after] = await Promise.all([store.getMeta('k'), store.set('k', 'bb'), store.getMeta('k'), store.del('k')]);
      expect(before).to.deep.include({ size: 3, updatedAt: clock.now() - 10 });
      expect(after).to.deep.include({ size: 4, updatedAt: clock.now(), createdAt: clock.now() - 10 });
      expect(await store.getMeta('k')).to.equal(undefined);
    });

    it('reads entries written before times were recorded with null times; an overwrite keeps createdAt unknown', async () => {
      const clock = new ManualClock(Date.now());
      const store = open(place.settings(), { clock });
      await store.set('old', { a: 1 }, { tags: ['t'] });
      await store.set('oldTtl', 'x', { ttl: 60_000 });
      const l = layoutOf(store, 'old');
      const lt = layoutOf(store, 'oldTtl');
      // What an older version wrote: `<expiry>v<value>`.
      await store.redis.set(l.entry('old'), '0v{"a":1}');
      await store.redis.set(lt.entry('oldTtl'), `${clock.now() + 60_000}v"x"`, 'PXAT', clock.now() + 60_000);
      expect(await store.getMeta('old')).to.deep.equal({ size: 7, createdAt: null, updatedAt: null, expiresAt: null, tags: ['t'] });
      expect(await store.getMeta('oldTtl')).to.deep.include({ createdAt: null, updatedAt: null, expiresAt: clock.now() + 60_000 });
      expect(await store.getOne('old')).to.deep.equal({ a: 1 });
      clock.advance(5);
      await store.set('old', 2);
      expect(await store.getMeta('old')).to.deep.include({ createdAt: null, updatedAt: clock.now(), size: 1 });
      expect(await store.redis.get(l.entry('old'))).to.equal(`0..${clock.now()}v2`);
      expect(await store.getOne('old')).to.equal(2);
      expect(await store.touch('oldTtl', 1_000)).to.equal(true);
      expect(await store.getMeta('oldTtl')).to.deep.include({ createdAt: null, updatedAt: null, expiresAt: clock.now() + 1_000 });
      expect(await store.getOne('oldTtl')).to.equal('x');
      // Written anew after a delete: times again.
      await store.del('old');
      await store.set('old', 3);
      expect(await store.getMeta('old')).to.deep.include({ createdAt: clock.now(), updatedAt: clock.now() });
    });

    it('a string that is not an entry the store wrote is ERR_STORAGE_OPERATION naming the key', async () => {
      const store = open(place.settings());
      await store.set('bad', 1);
      await store.redis.set(layoutOf(store, 'bad').entry('bad'), 'garbage');
      const err = await store.getMeta('bad').then(
        () => undefined,
        (e: { code?: string; message: string }) => e,
      );
      expect(err?.code).to.equal('ERR_STORAGE_OPERATION');
      expect(err?.message).to.include('bad');
    });
  });
}
