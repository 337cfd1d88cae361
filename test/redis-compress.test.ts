/**
 * Compression on the Redis store (`compress` setting; lib/compression.ts's codec; docs/redis.md
 * "Compression"), on one server and on a real 3-master cluster with shards: every value type
 * round-trips through every read path with gzip and brotli; the threshold decides what is
 * compressed (checked on the stored strings with a raw client); entries written with
 * compression off read with it on and the other way round; getMeta's size is the stored bytes;
 * a compressed value that does not decompress is ERR_STORAGE_OPERATION; an asynchronous
 * serializer works and keeps program order.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { keyId } from '../lib/keys';
import type { CompressSetting } from '../lib/compression';
import { RedisSettings, RedisStore } from '../lib/backends/redis';
import { RedisLayout, liveHead } from '../lib/backends/redis/layout';
import { shardIndex } from '../lib/backends/redis/shards';
import { useRedisServers } from './support/redis-test-stores';

let counter = 0;
const servers = useRedisServers();

const PLACES: Array<{ name: string; settings: () => RedisSettings }> = [
  { name: 'one server', settings: () => ({ url: servers.url }) },
  { name: 'cluster, shards 3', settings: () => ({ cluster: servers.cluster.nodes, shards: 3 }) },
];

/** A fresh namespace name (two stores may share one to see each other's entries). */
function namespace(): string {
  return `cz${process.pid}x${++counter}`;
}

/** A store closed (and cleared) after the test. */
function open(place: RedisSettings, settings: RedisSettings = {}): RedisStore {
  return servers.track(new RedisStore({ namespace: namespace(), ...place, ...settings }));
}

/** The layout of the shard that holds `key`. */
function layoutOf(store: RedisStore, key: string | object): RedisLayout {
  const layouts = store.shardLayouts;
  return layouts.length === 1 ? layouts[0] : layouts[shardIndex(keyId(key as never), layouts.length)];
}

/** The stored entry string of `key`, its kind letter and the bytes its value takes. */
async function stored(store: RedisStore, key: string | object): Promise<{ kind: string; bytes: number; raw: string }> {
  const raw = (await store.redis.get(layoutOf(store, key).entry(keyId(key as never))))!;
  const k = liveHead(raw, 0);
  return { kind: raw[k], bytes: Buffer.byteLength(raw) - (k + 1), raw };
}

/** A JSON record of about `bytes` bytes, repetitive as real records are. */
function record(bytes: number, seed = 0): Record<string, unknown> {
  const rows = [];
  for (let i = 0; rows.length * 60 < bytes; i++) rows.push({ id: seed * 1000 + i, name: `user ${i % 37}`, active: i % 3 === 0, score: (i * 7) % 100 });
  return { kind: 'report', rows };
}

/** Every kind of value the store takes, large enough to be compressed with threshold 0. */
const VALUES: Array<[string, unknown]> = [
  ['string', 'hello ✓ ünïcødé '.repeat(20)],
  ['empty string', ''],
  ['number', 12.5],
  ['boolean', false],
  ['null', null],
  ['array', [1, 'two', { three: 3 }, [4]]],
  ['object', record(2_000)],
  ['Date', new Date(1_700_000_000_123)],
  ['Buffer', Buffer.from(Array.from({ length: 3_000 }, (_, i) => i % 7))],
  ['Uint8Array', new Uint8Array([0, 255, 1, 254])],
  ['nested Dates and bytes', { when: [new Date(0), new Date(86_400_000)], bytes: Buffer.from('abc'), text: 'x'.repeat(500) }],
];

for (const place of PLACES) {
  for (const algorithm of ['gzip', 'brotli'] as const) {
    describe(`Redis store compression: ${place.name}, ${algorithm}`, function () {
      this.timeout(30_000);

      it('round-trips every value type through getOne, getMany, getEntry-backed reads, queries and value streams', async () => {
        const store = open(place.settings(), { compress: { threshold: 0, algorithm } });
        for (const [name, value] of VALUES) await store.set(name, value);
        for (const [i, [, value]] of VALUES.entries()) await store.set({ i }, value);
        for (const [name, value] of VALUES) {
          expect(await store.getOne(name), name).to.deep.equal(value);
          expect((await stored(store, name)).kind, name).to.be.oneOf(['z', 'v']);
        }
        expect(await store.getMany(VALUES.map(([name]) => name))).to.deep.equal(VALUES.map(([, value]) => value));
        expect(await store.get({ i: { $gte: 0 } }, { sort: { i: 1 } })).to.deep.equal(VALUES.map(([, value]) => value));
        for (const name of ['string', 'Buffer']) {
          const chunks: Buffer[] = [];
          for await (const chunk of store.createValueStream(name)) chunks.push(chunk as Buffer);
          const value = VALUES.find(([n]) => n === name)![1];
          expect(Buffer.concat(chunks), name).to.deep.equal(typeof value === 'string' ? Buffer.from(value) : value);
        }
        // The large ones are stored compressed.
        for (const name of ['string', 'object', 'Buffer', 'nested Dates and bytes']) expect((await stored(store, name)).kind, name).to.equal('z');
      });

      it('compresses only values whose serialized text reaches the threshold, and a 10 KB record at least 3× smaller', async () => {
        const store = open(place.settings(), { compress: { threshold: 1_000, algorithm } });
        const small = record(500);
        const large = record(10_000);
        await store.set('small', small);
        await store.set('large', large);
        const text = JSON.stringify(large);
        expect(Buffer.byteLength(JSON.stringify(small))).to.be.below(1_000);
        expect((await stored(store, 'small')).kind).to.equal('v');
        expect((await stored(store, 'small')).bytes).to.equal(Buffer.byteLength(JSON.stringify(small)));
        const packed = await stored(store, 'large');
        expect(packed.kind).to.equal('z');
        expect(packed.bytes * 3).to.be.below(Buffer.byteLength(text));
        expect(await store.getOne('large')).to.deep.equal(large);
        // getMeta's size is what Redis holds for the value: the compressed form.
        expect((await store.getMeta('large'))?.size).to.equal(packed.bytes);
        // Text that compression would not shrink is stored as text.
        const noise = randomBytes(2_000).toString('base64');
        await store.set('noise', noise);
        expect((await stored(store, 'noise')).kind).to.equal('v');
        expect(await store.getOne('noise')).to.equal(noise);
      });

      it('entries written with compression off read with it on, and compressed ones after it is turned off', async () => {
        const ns = namespace();
        const settings = (compress: CompressSetting) => ({ ...place.settings(), namespace: ns, compress });
        const plain = servers.track(new RedisStore(settings(false)));
        const value = record(5_000, 1);
        await plain.set('before', value, { ttl: 60_000, tags: ['t'] });
        await plain.set({ o: 1 }, value);
        const packing = servers.track(new RedisStore(settings({ threshold: 100, algorithm })));
        expect(await packing.getOne('before')).to.deep.equal(value);
        expect(await packing.get({ o: 1 })).to.deep.equal([value]);
        await packing.set('after', value);
        await packing.set({ o: 2 }, value);
        expect((await stored(packing, 'after')).kind).to.equal('z');
        const again = servers.track(new RedisStore(settings(false)));
        expect(await again.getOne('after')).to.deep.equal(value);
        expect(await again.get({ o: { $in: [1, 2] } }, { sort: { o: 1 } })).to.deep.equal([value, value]);
        expect(await again.getMany(['before', 'after'])).to.deep.equal([value, value]);
        // Another algorithm reads them too: the frame names its own.
        const other = servers.track(new RedisStore(settings({ algorithm: algorithm === 'gzip' ? 'brotli' : 'gzip', threshold: 0 })));
        expect(await other.getOne('after')).to.deep.equal(value);
        // An overwrite with compression off keeps createdAt and stores text again.
        const created = (await again.getMeta('after'))!.createdAt;
        await again.set('after', 'short');
        expect((await stored(again, 'after')).kind).to.equal('v');
        expect(await again.getMeta('after')).to.deep.include({ createdAt: created });
      });

      it('a compressed value that does not decompress is ERR_STORAGE_OPERATION naming the key', async () => {
        const store = open(place.settings(), { compress: { threshold: 0, algorithm } });
        await store.set('bad', record(2_000));
        const { raw } = await stored(store, 'bad');
        const k = raw.indexOf('z');
        await store.redis.set(layoutOf(store, 'bad').entry('bad'), raw.slice(0, k + 1) + Buffer.from([1, 9, 9, 9]).toString('base64'));
        for (const read of [() => store.getOne('bad'), () => store.getMany(['bad'])]) {
          const err = await read().then(
            () => undefined,
            (e: { code?: string; message: string }) => e,
          );
          expect(err?.code).to.equal('ERR_STORAGE_OPERATION');
          expect(err?.message).to.include('bad');
        }
      });
    });
  }
}

describe('Redis store compression: settings and serializers', function () {
  this.timeout(30_000);

  it('refuses a bad compress setting with ERR_STORE_CONFIG', () => {
    for (const compress of [{ algorithm: 'zstd' }, { threshold: -1 }, { level: 3 }, 'gzip']) {
      let code: string | undefined;
      try {
        new RedisStore({ url: servers.url, compress: compress as never });
      } catch (err) {
        code = (err as { code?: string }).code;
      }
      expect(code, JSON.stringify(compress)).to.equal('ERR_STORE_CONFIG');
    }
  });

  it('streamed values keep their chunk layout, each chunk compressed alone (test/compressed-chunks.test.ts has the rest)', async () => {
    const store = open({ url: servers.url }, { compress: { threshold: 0 }, chunkSize: 1024 });
    const bytes = Buffer.alloc(5_000, 'a');
    await store.setStream('s', Readable.from([bytes]));
    expect((await stored(store, 's')).kind).to.equal('c');
    // getMeta's size is the bytes Redis holds: five compressed chunks of 1 KiB of 'a', far below 5,000.
    const size = (await store.getMeta('s'))?.size as number;
    expect(size).to.be.above(0).and.below(1_000);
    expect(await store.getOne('s')).to.deep.equal(bytes);
  });

  it('an asynchronous serializer round-trips compressed values and keeps program order', async () => {
    const serializer = {
      async: true,
      serialize: (v: unknown) => new Promise<string>((resolve) => setTimeout(() => resolve(JSON.stringify(v)), v === 'slow' ? 20 : 0)),
      deserialize: (t: string) => Promise.resolve(JSON.parse(t) as unknown),
    };
    const store = open({ url: servers.url }, { serializer: serializer as never, compress: { threshold: 10 } });
    const value = record(3_000);
    await store.set('k', value);
    expect(await store.getOne('k')).to.deep.equal(value);
    expect((await stored(store, 'k')).kind).to.equal('z');
    // A slow write then a fast one of the same key, not awaited: the last one issued wins, and a read issued after both sees it.
    const [, , read] = await Promise.all([store.set('k', 'slow'), store.set('k', 'fast'), store.getOne('k')]);
    expect(read).to.equal('fast');
    expect(await store.getOne('k')).to.equal('fast');
    expect(await store.getMany(['k', 'none'])).to.deep.equal(['fast', undefined]);
  });
});
