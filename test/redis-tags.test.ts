/**
 * Tags, touch and the lock client of the Redis store (lib/backends/redis/tags.ts, docs/redis.md
 * "Tags and touch"), on one server and on a real 3-master cluster, with and without shards:
 * tag records live and die with their entries (no tag key left after expiry and sweep, delete,
 * overwrite, setStream, clear, a delete by query), deleteByTags spares an entry another client
 * wrote again without the tag in between, touch is one script that a concurrent set from
 * another client cannot tear, and keeps the ordered indexes; the sweep's 'expire' events.
 * The conformance group (lib/conformance/entries.ts) runs in redis-conformance.test.ts.
 */
import { expect } from 'chai';
import { Cluster } from 'ioredis';
import { Readable } from 'node:stream';
import { ManualClock } from '../lib/clock';
import { keyId } from '../lib/keys';
import { RedisSettings, RedisStore } from '../lib/backends/redis';
import { RedisLayout } from '../lib/backends/redis/layout';
import { TAGGED_SCRIPT } from '../lib/backends/redis/read-scripts';
import { shardIndex } from '../lib/backends/redis/shards';
import { useRedisServers } from './support/redis-test-stores';

let counter = 0;
const servers = useRedisServers();

/** Where a store of a test runs: one server or the cluster, with or without shards. */
const PLACES: Array<{ name: string; settings: () => RedisSettings }> = [
  { name: 'one server', settings: () => ({ url: servers.url }) },
  { name: 'one server, shards 3', settings: () => ({ url: servers.url, shards: 3 }) },
  { name: 'cluster', settings: () => ({ cluster: servers.cluster.nodes }) },
  { name: 'cluster, shards 4', settings: () => ({ cluster: servers.cluster.nodes, shards: 4 }) },
];

/** A store closed (and cleared) after the test; `namespace` shares one between two stores (two clients). */
function open(place: RedisSettings, settings: RedisSettings = {}): RedisStore {
  const store = new RedisStore({ namespace: `tg${process.pid}x${++counter}`, ...place, ...settings });
  return servers.track(store);
}

/** Every key of the store's namespace (each shard's), scanned on every master. */
async function namespaceKeys(store: RedisStore): Promise<string[]> {
  const client = store.redis;
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  const out: string[] = [];
  for (const layout of store.shardLayouts) {
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, names] = await node.scan(cursor, 'MATCH', layout.base.replace(/[*?[\]\\]/g, '\\$&') + '*', 'COUNT', 1000);
        cursor = next;
        out.push(...names);
      } while (cursor !== '0');
    }
  }
  return out;
}

/** The namespace's tag record keys that exist (each shard's `g` and `b`), from a SCAN of its keys. */
async function tagKeys(store: RedisStore): Promise<string[]> {
  const names = new Set(store.shardLayouts.flatMap((l) => [l.entryTags, l.tagIndex]));
  return (await namespaceKeys(store)).filter((k) => names.has(k));
}

/** The layout of the shard that holds `key`. */
function layoutOf(store: RedisStore, key: string | object): RedisLayout {
  const layouts = store.shardLayouts;
  return layouts.length === 1 ? layouts[0] : layouts[shardIndex(keyId(key as never), layouts.length)];
}

/** A byte source of `n` bytes in chunks of `size`. */
async function* bytes(n: number, size = 16 * 1024): AsyncGenerator<Buffer> {
  for (let at = 0; at < n; at += size) yield Buffer.alloc(Math.min(size, n - at), at % 251);
}

for (const place of PLACES) {
  describe(`Redis store tags and touch: ${place.name}`, function () {
    this.timeout(30_000);

    it('deleteByTags removes the tagged entries of every shard with all their records; no tag key is left', async () => {
      const store = open(place.settings());
      for (let i = 0; i < 60; i++) {
        const tags = i % 3 === 0 ? ['three', 'all'] : ['all'];
        await store.set(i % 2 === 0 ? `s${i}` : { kind: 'k', i }, i, { tags, ttl: i % 4 === 0 ? 60_000 : undefined });
      }
      await store.set({ kind: 'k', i: 1000 }, 'untagged');
      expect(await store.delByTags(['three'])).to.equal(20);
      expect(await store.count({ kind: 'k' })).to.equal(21);
      expect(await store.get({ kind: 'k', i: { $gte: 0, $lt: 7 } }, { sort: { i: -1 } })).to.deep.equal([5, 1]);
      expect(await store.delByTags(['nothing', 'all'])).to.equal(40);
      expect(await store.keys()).to.deep.equal([{ kind: 'k', i: 1000 }]);
      expect(await tagKeys(store)).to.deep.equal([]);
      // Only the untagged entry's records are left: its string and its index records.
      const left = await namespaceKeys(store);
      expect(left.filter((k) => k.includes(':e:'))).to.have.length(1);
    });

    it('no tag key is left once tagged entries expire and the sweep runs', async () => {
      const clock = new ManualClock(Date.now());
      const store = open(place.settings(), { clock });
      for (let i = 0; i < 30; i++) await store.set(i % 2 ? `k${i}` : { n: i }, i, { ttl: 1_000, tags: [`t${i % 5}`, 'common'] });
      expect(await tagKeys(store)).to.not.deep.equal([]);
      clock.advance(1_001);
      expect(await store.sweep()).to.equal(30);
      expect(await tagKeys(store)).to.deep.equal([]);
      expect(await namespaceKeys(store).then((keys) => keys.filter((k) => !k.endsWith('}:v') && !k.endsWith('}:c')))).to.deep.equal([]);
      expect(await store.delByTags(['common'])).to.equal(0);
    });

    it('no tag key is left after delete, overwrite without tags, setStream over a tagged entry, a delete by query, clear', async () => {
      const store = open(place.settings());
      await store.set('a', 1, { tags: ['x'] });
      await store.del('a');
      expect(await tagKeys(store)).to.deep.equal([]);
      await store.set('b', 1, { tags: ['x', 'y'] });
      await store.set('b', 2);
      expect(await tagKeys(store)).to.deep.equal([]);
      await store.setMany([{ key: 'c', value: 1, tags: ['x'] }, { key: 'c', value: 2 }]);
      expect(await tagKeys(store)).to.deep.equal([]);
      await store.set('d', 1, { tags: ['x'] });
      await store.setStream('d', Readable.from(bytes(100_000)));
      expect(await tagKeys(store)).to.deep.equal([]);
      expect(await store.delByTags(['x'])).to.equal(0);
      expect((await store.getOne('d')) as Buffer).to.have.length(100_000);
      await store.set({ kind: 'q', n: 1 }, 1, { tags: ['x'] });
      await store.set({ kind: 'q', n: 2 }, 2, { tags: ['y'] });
      expect(await store.del({ kind: 'q' })).to.equal(2);
      expect(await tagKeys(store)).to.deep.equal([]);
      for (let i = 0; i < 20; i++) await store.set(`e${i}`, i, { tags: ['x'] });
      await store.clear();
      expect(await tagKeys(store)).to.deep.equal([]);
    });

    it('tags are replaced by a set from another client, and a set with the same id twice in one batch keeps the last tags', async () => {
      const first = open(place.settings());
      const second = open(place.settings(), { namespace: first.namespace });
      await first.set('k', 1, { tags: ['old'] });
      await second.set('k', 2, { tags: ['new'] });
      expect(await first.delByTags(['old'])).to.equal(0);
      await Promise.all([first.set('m', 1, { tags: ['p'] }), first.set('m', 2, { tags: ['q'] }), first.set('m', 3, { tags: ['q', 'r'] })]);
      expect(await first.delByTags(['p'])).to.equal(0);
      expect(await first.delByTags(['r'])).to.equal(1);
      expect(await first.delByTags(['new'])).to.equal(1);
      expect(await tagKeys(first)).to.deep.equal([]);
    });

    it('deleteByTags spares an entry another client wrote again without the tag between the listing and the delete', async () => {
      const store = open(place.settings());
      const other = open(place.settings(), { namespace: store.namespace });
      await store.set('a', 1, { tags: ['t'] });
      await store.set('b', 2, { tags: ['t'] });
      await store.set({ c: 3 }, 3, { tags: ['t', 'u'] });
      await other.getOne('a'); // connected before the race
      // Every listing returns only after the other client has written (once): 'a' untagged,
      // 'b' again with the tag, 'd' new with the tag.
      const run = TAGGED_SCRIPT.run;
      let race: Promise<void> | undefined;
      TAGGED_SCRIPT.run = async function (this: typeof TAGGED_SCRIPT, ...args: Parameters<typeof run>) {
        const ids = await run.apply(this, args);
        race ??= Promise.all([other.set('a', 'untagged'), other.set('b', 'again', { tags: ['t'] }), other.set('d', 4, { tags: ['t'] })]).then(() => undefined);
        await race;
        return ids;
      };
      let removed: number;
      try {
        removed = await store.delByTags(['t']);
      } finally {
        delete (TAGGED_SCRIPT as { run?: unknown }).run; // back to the class's method
      }
      expect(race).to.not.equal(undefined);
      expect(removed).to.equal(3); // b, { c: 3 }, and d: listed again after the first batch
      expect(await store.keys()).to.deep.equal(['a']);
      expect(await store.getOne('a')).to.equal('untagged');
      expect(await tagKeys(store)).to.deep.equal([]);
    });

    it('touch cannot be torn by a concurrent set from another client: the set is never lost and the expiry records agree', async () => {
      const store = open(place.settings());
      const other = open(place.settings(), { namespace: store.namespace });
      await other.getOne('k');
      const l = layoutOf(store, 'k');
      const admin = store.redis;
      for (let i = 0; i < 60; i++) {
        await store.set('k', 'old', { ttl: 60_000, tags: ['t'] });
        const [touched] = await Promise.all([store.touch('k', 120_000 + i), other.set('k', `new${i}`)]);
        expect(touched).to.equal(true);
        expect(await store.getOne('k')).to.equal(`new${i}`);
        // Whichever ran last, the entry string's head, the expiry record and the native expiry say the same.
        const [head, recorded, native] = await Promise.all([admin.getrange(l.entry('k'), 0, 60), admin.zscore(l.expiry, 'k'), admin.call('pexpiretime', l.entry('k'))]);
        const expiry = Number(/^(\d+)(?:\.\d*\.\d+)?v/.exec(head)![1]);
        if (expiry === 0) {
          expect([recorded, native]).to.deep.equal([null, -1]);
        } else {
          expect([Number(recorded), native]).to.deep.equal([expiry, expiry]);
        }
        // The set from the other client took no tags: the entry is untagged whatever the order.
        expect(await store.delByTags(['t'])).to.equal(0);
      }
    });

    it('a touched entry keeps its place in ordered indexes; touch(null) survives the sweep; an expiry set by touch takes it out of queries', async () => {
      const clock = new ManualClock(Date.now());
      const store = open(place.settings(), { clock });
      for (let n = 1; n <= 5; n++) await store.set({ kind: 'x', n }, n, { ttl: n === 3 ? 1_000 : undefined, tags: ['x'] });
      expect(await store.touch({ kind: 'x', n: 3 }, null)).to.equal(true);
      expect(await store.touch({ kind: 'x', n: 4 }, 500)).to.equal(true);
      expect(await store.get({ kind: 'x', n: { $gte: 2 } }, { sort: { n: -1 } })).to.deep.equal([5, 4, 3, 2]);
      clock.advance(600);
      expect(await store.get({ kind: 'x', n: { $gte: 2 } }, { sort: { n: 1 } })).to.deep.equal([2, 3, 5]);
      expect(await store.count({ kind: 'x' })).to.equal(4); // (an exact count sweeps first: n 4's records go now)
      clock.advance(1_000);
      await store.sweep();
      expect(await store.get({ kind: 'x', n: { $lte: 4 } })).to.deep.equal([1, 2, 3]);
      expect(await store.ttl({ kind: 'x', n: 3 })).to.equal(null);
      // The ordered index of n holds the four live entries only.
      const cards = await Promise.all(store.shardLayouts.map((l) => store.redis.zcard(l.ordered('n', 'n'))));
      expect(cards.reduce((a, b) => a + b, 0)).to.equal(4);
      expect(await store.delByTags(['x'])).to.equal(4);
      expect(await tagKeys(store)).to.deep.equal([]);
    });

    it('touch keeps large and streamed values whole, whether the head is rewritten in place or not, and moves the chunks\' expiry', async () => {
      const store = open(place.settings());
      const big = 'v'.repeat(300_000);
      await store.set('big', big, { tags: ['t'] });
      const l = layoutOf(store, 'big');
      for (const ttl of [60_000, 90_000, null, 5_000]) {
        // null -> 13 digits and back rewrite the string; 13 -> 13 digits is SETRANGE in place.
        expect(await store.touch('big', ttl)).to.equal(true);
        expect(await store.getOne('big')).to.equal(big);
        const ttlNow = await store.ttl('big');
        if (ttl === null) expect(ttlNow).to.equal(null);
        else expect(ttlNow).to.be.within(ttl - 2_000, ttl);
      }
      await store.setStream('file', Readable.from(bytes(200_000)));
      const f = layoutOf(store, 'file');
      expect(await store.touch('file', 30_000)).to.equal(true);
      const [entryExpiry, chunkExpiry] = await Promise.all([store.redis.call('pexpiretime', f.entry('file')), store.redis.call('pexpiretime', f.chunks('file'))]);
      expect(chunkExpiry).to.equal(entryExpiry);
      expect(entryExpiry).to.be.above(Date.now());
      expect(((await store.getOne('file')) as Buffer).length).to.equal(200_000);
      expect(await store.touch('file', null)).to.equal(true);
      expect(await store.redis.call('pexpiretime', f.chunks('file'))).to.equal(-1);
      expect(await store.delByTags(['t'])).to.equal(1);
      expect(await store.redis.exists(l.entry('big'))).to.equal(0);
    });

    it("lockRedis gives the store's own client, ready (the Cluster client on a cluster), before any other call", async () => {
      const store = open(place.settings());
      const backend = (store as unknown as { backend: { lockRedis(): Promise<unknown> } }).backend;
      const client = (await backend.lockRedis()) as RedisStore['redis'];
      expect(client).to.equal(store.redis);
      expect(client instanceof Cluster).to.equal(place.settings().cluster !== undefined);
      expect(client.status).to.equal('ready');
      const name = `${store.layout.base}lock-test`;
      expect(await client.set(name, 'me', 'PX', 5_000, 'NX')).to.equal('OK');
      expect(await client.set(name, 'you', 'PX', 5_000, 'NX')).to.equal(null);
      expect(await client.get(name)).to.equal('me');
      await client.del(name);
    });

    it("the sweep emits 'expire' with the key of each entry it frees to a listener", async () => {
      const clock = new ManualClock(Date.now());
      const store = open(place.settings(), { clock });
      await store.set('quiet', 1, { ttl: 100 });
      clock.advance(101);
      expect(await store.sweep()).to.equal(1);
      const expired: unknown[] = [];
      store.on('expire', (event: { key: unknown }) => expired.push(event.key));
      await store.set('s', 1, { ttl: 100, tags: ['t'] });
      await store.set({ o: 1 }, 2, { ttl: 100 });
      await store.set('kept', 3);
      clock.advance(101);
      expect(await store.sweep()).to.equal(2);
      expect(expired).to.have.deep.members(['s', { o: 1 }]);
      expect(expired).to.have.length(2);
    });
  });
}

describe('Redis store tags: tag records the store did not write', () => {
  /** The error code of a call that must fail. */
  const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (err: { code?: string }) => err.code);

  it('a key of another type at the tag hash fails every write with ERR_STORAGE_OPERATION, writing nothing; del, delByTags and clear get through', async () => {
    const store = open({ url: servers.url });
    await store.set('kept', 1);
    await store.redis.set(store.layout.entryTags, 'not a hash');
    expect(await codeOf(store.set('a', 1, { tags: ['t'] }))).to.equal('ERR_STORAGE_OPERATION');
    expect(await codeOf(store.set('b', 1))).to.equal('ERR_STORAGE_OPERATION');
    expect(await codeOf(store.setMany([{ key: 'c', value: 1 }, { key: 'd', value: 1, tags: ['t'] }]))).to.equal('ERR_STORAGE_OPERATION');
    expect(await store.keys()).to.deep.equal(['kept']);
    expect(await store.redis.exists(store.layout.tagIndex)).to.equal(0);
    expect(await store.del('kept')).to.equal(1);
    expect(await store.delByTags(['t'])).to.equal(0);
    await store.clear();
    await store.set('a', 1, { tags: ['t'] });
    expect(await store.delByTags(['t'])).to.equal(1);
  });

  it('a key of another type at the tag records fails tagged writes (untagged ones go on while nothing is tagged) and delByTags; clear removes it', async () => {
    const store = open({ url: servers.url });
    await store.has('a'); // connected
    await store.redis.set(store.layout.tagIndex, 'not a zset');
    expect(await codeOf(store.set('a', 1, { tags: ['t'] }))).to.equal('ERR_STORAGE_OPERATION');
    expect(await store.has('a')).to.equal(false);
    await store.set('b', 1);
    expect(await codeOf(store.delByTags(['t']))).to.equal('ERR_STORAGE_OPERATION');
    await store.clear();
    await store.set('a', 1, { tags: ['t'] });
    expect(await store.delByTags(['t'])).to.equal(1);
  });

  it('a tag record that points at no entry is removed by delByTags (not counted, not listed forever); a tag list that does not parse is replaced', async () => {
    const store = open({ url: servers.url });
    await store.set('real', 1, { tags: ['t'] });
    await store.redis.zadd(store.layout.tagIndex, 0, 't\0\0ghost', 0, 't\0\0real-but-untagged');
    await store.set('real-but-untagged', 2);
    // The entries' own tag lists decide: 'real-but-untagged' is spared, and the records pointing elsewhere go.
    expect(await store.delByTags(['t'])).to.equal(1);
    expect(await store.keys()).to.deep.equal(['real-but-untagged']);
    expect(await store.redis.exists(store.layout.tagIndex)).to.equal(0);
    await store.redis.hset(store.layout.entryTags, 'odd', 'garbage without separators');
    await store.set('odd', 1, { tags: ['u'] });
    expect(await store.redis.hget(store.layout.entryTags, 'odd')).to.equal('u\0\0');
    expect(await store.delByTags(['u'])).to.equal(1);
    expect(await tagKeys(store)).to.deep.equal([]);
  });

  it('tags with NULs and prefixes of each other stay apart', async () => {
    const store = open({ url: servers.url });
    const tags = ['a', 'a\0', 'a\0\x01', '\0', 'a\0b', 'ab'];
    for (let i = 0; i < tags.length; i++) await store.set(`k${i}`, i, { tags: [tags[i]] });
    for (let i = 0; i < tags.length; i++) {
      expect(await store.delByTags([tags[i]]), JSON.stringify(tags[i])).to.equal(1);
      expect(await store.has(`k${i}`)).to.equal(false);
      expect(await store.keys()).to.have.length(tags.length - i - 1);
    }
    expect(await store.keys()).to.deep.equal([]);
    expect(await tagKeys(store)).to.deep.equal([]);
  });
});
