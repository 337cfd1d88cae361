/**
 * Compressed chunks of streamed values (issue #14 item 3, "Redis chunks"; lib/compressed-chunks.ts,
 * lib/backends/redis/streams.ts): with `compress`, each chunk of a `setStream` value is framed —
 * compressed when that saves bytes, raw otherwise — and the chunk hash marks it (field `z`). Checked
 * with a raw client on one server and on a 3-master cluster with shards: the bytes stored shrink for
 * compressible streams and barely grow for random ones; every read path gives the bytes back; values
 * streamed with compression off read with it on and the other way round; a reader that started
 * before an overwrite finishes on its value; a chunk that does not decompress is ERR_STORAGE_OPERATION.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { keyId } from '../lib/keys';
import { FRAME_RAW, frameChunk, unframeChunk } from '../lib/compressed-chunks';
import { StoreError } from '../lib/errors';
import { RedisSettings, RedisStore } from '../lib/backends/redis';
import type { RedisLayout } from '../lib/backends/redis/layout';
import { shardIndex } from '../lib/backends/redis/shards';
import { useRedisServers } from './support/redis-test-stores';

let counter = 0;
const servers = useRedisServers();

const PLACES: Array<{ name: string; settings: () => RedisSettings }> = [
  { name: 'one server', settings: () => ({ url: servers.url }) },
  { name: 'cluster, shards 3', settings: () => ({ cluster: servers.cluster.nodes, shards: 3 }) },
];

const CHUNK = 16 * 1024;

/** A store on a fresh (or the given) namespace, closed and cleared after the test. */
function open(place: RedisSettings, settings: RedisSettings = {}, namespace = `cc${process.pid}x${++counter}`): RedisStore {
  return servers.track(new RedisStore({ namespace, chunkSize: CHUNK, ...place, ...settings }));
}

/** The layout of the shard that holds `key`. */
function layoutOf(store: RedisStore, key: string): RedisLayout {
  const layouts = store.shardLayouts;
  return layouts.length === 1 ? layouts[0] : layouts[shardIndex(keyId(key), layouts.length)];
}

/** The chunk hash of `key` as Redis holds it: its fields and the bytes of its chunk fields. */
async function chunkHash(store: RedisStore, key: string): Promise<{ framed: boolean; chunks: Buffer[] }> {
  const all = await store.redis.hgetallBuffer(layoutOf(store, key).chunks(keyId(key)));
  const chunks = Object.keys(all).filter((f) => /^\d+$/.test(f)).sort((a, b) => Number(a) - Number(b)).map((f) => all[f]);
  return { framed: 'z' in all, chunks };
}

/** Bytes that compress well: repetitive text. */
function compressible(bytes: number): Buffer {
  const line = Buffer.from('{"id":12345,"name":"a user of the store","active":true,"score":77}\n');
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += line.length) line.copy(out, i);
  return out;
}

/** `bytes` streamed in pieces of `piece` bytes. */
function streamOf(bytes: Buffer, piece = 5000): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += piece) pieces.push(bytes.subarray(i, i + piece));
  return Readable.from(pieces);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

async function rejection(p: Promise<unknown>): Promise<StoreError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(StoreError);
    return err as StoreError;
  }
  throw new Error('expected a rejection');
}

describe('compressed chunks of streamed values', function () {
  this.timeout(30_000);

  describe('frameChunk / unframeChunk', () => {
    it('compresses what shrinks, keeps the rest raw behind FRAME_RAW, and round-trips both', () => {
      const text = compressible(CHUNK);
      const random = randomBytes(CHUNK);
      for (const algorithm of ['gzip', 'brotli'] as const) {
        const packed = frameChunk(text, { threshold: 0, algorithm });
        expect(packed.length).to.be.below(text.length / 5);
        expect(packed[0]).to.not.equal(FRAME_RAW);
        expect(unframeChunk(packed).equals(text)).to.equal(true);
        const raw = frameChunk(random, { threshold: 0, algorithm });
        expect(raw[0]).to.equal(FRAME_RAW);
        expect(raw.length).to.equal(random.length + 1);
        expect(unframeChunk(raw).equals(random)).to.equal(true);
      }
      const small = frameChunk(text.subarray(0, 100), { threshold: 1024, algorithm: 'gzip' });
      expect(small[0], 'under the threshold: not even tried').to.equal(FRAME_RAW);
      expect(unframeChunk(frameChunk(Buffer.alloc(0), { threshold: 0, algorithm: 'gzip' })).length).to.equal(0);
      expect(() => unframeChunk(Buffer.from([9, 1, 2]))).to.throw(/unknown frame byte 9/);
      expect(() => unframeChunk(Buffer.alloc(0))).to.throw(/empty/);
    });
  });

  for (const place of PLACES) {
    describe(place.name, () => {
      it('a compressible stream is stored in far fewer bytes, and every read path gives its bytes back', async () => {
        const store = open(place.settings(), { compress: { threshold: 0, algorithm: 'gzip' } });
        const bytes = compressible(5 * CHUNK + 1234);
        await store.setStream('doc', streamOf(bytes, CHUNK));
        const { framed, chunks } = await chunkHash(store, 'doc');
        expect(framed).to.equal(true);
        expect(chunks.length).to.equal(6);
        const storedBytes = chunks.reduce((n, c) => n + c.length, 0);
        expect(storedBytes, `stored ${storedBytes} of ${bytes.length}`).to.be.below(bytes.length / 5);
        expect(((await store.getOne('doc')) as Buffer).equals(bytes)).to.equal(true);
        expect((await readAll(store.createValueStream('doc'))).equals(bytes)).to.equal(true);
        const [found] = (await store.get('doc')) as unknown[];
        expect((found as Buffer).equals(bytes)).to.equal(true);
        expect(((await store.getMany(['doc']))[0] as Buffer).equals(bytes)).to.equal(true);
        expect((await store.getMeta('doc'))?.size, "getMeta's size is the bytes Redis holds").to.equal(storedBytes);
        const copy = open(place.settings());
        expect(await store.copy(copy)).to.equal(1);
        expect(((await copy.getOne('doc')) as Buffer).equals(bytes)).to.equal(true);
        expect((await chunkHash(copy, 'doc')).framed, 'the copy streams through a store without compress').to.equal(false);
      });

      it('a random stream is stored raw (one frame byte a chunk), brotli and an empty stream round-trip', async () => {
        const store = open(place.settings(), { compress: { threshold: 0, algorithm: 'brotli' } });
        const random = randomBytes(3 * CHUNK);
        await store.setStream('r', streamOf(random, CHUNK));
        const { chunks } = await chunkHash(store, 'r');
        expect(chunks.map((c) => c.length)).to.deep.equal([CHUNK + 1, CHUNK + 1, CHUNK + 1]);
        expect(((await store.getOne('r')) as Buffer).equals(random)).to.equal(true);
        const text = compressible(2 * CHUNK);
        await store.setStream('t', streamOf(text));
        expect((await readAll(store.createValueStream('t'))).equals(text)).to.equal(true);
        await store.setStream('empty', Readable.from([]));
        expect(((await store.getOne('empty')) as Buffer).length).to.equal(0);
      });

      it('streams written with compression off read with it on, and the other way round', async () => {
        const place_ = place.settings();
        const plain = open(place_);
        const packed = open(place_, { compress: true }, plain.namespace);
        const a = compressible(3 * CHUNK);
        const b = compressible(2 * CHUNK + 7);
        await plain.setStream('a', streamOf(a));
        await packed.setStream('b', streamOf(b));
        expect((await chunkHash(plain, 'a')).framed).to.equal(false);
        expect((await chunkHash(plain, 'b')).framed).to.equal(true);
        for (const store of [plain, packed]) {
          expect(((await store.getOne('a')) as Buffer).equals(a)).to.equal(true);
          expect((await readAll(store.createValueStream('b'))).equals(b)).to.equal(true);
        }
      });

      it('a reader that started before an overwrite finishes on the value it started with', async () => {
        const store = open(place.settings(), { compress: { threshold: 0, algorithm: 'gzip' } });
        const first = compressible(6 * CHUNK);
        await store.setStream('k', streamOf(first));
        const reader = store.createValueStream('k');
        const parts: Buffer[] = [];
        const iterator = reader[Symbol.asyncIterator]();
        parts.push((await iterator.next()).value as Buffer);
        await store.setStream('k', streamOf(Buffer.from('replaced')));
        for (let step = await iterator.next(); !step.done; step = await iterator.next()) parts.push(step.value as Buffer);
        expect(Buffer.concat(parts).equals(first)).to.equal(true);
        expect(((await store.getOne('k')) as Buffer).toString()).to.equal('replaced');
      });

      it('a chunk that does not decompress is ERR_STORAGE_OPERATION naming the key', async () => {
        const store = open(place.settings(), { compress: { threshold: 0, algorithm: 'gzip' } });
        await store.setStream('bad', streamOf(compressible(2 * CHUNK)));
        const hash = layoutOf(store, 'bad').chunks(keyId('bad'));
        await store.redis.hset(hash, '1', Buffer.from([1, 0x1f, 0x8b, 0, 0]));
        const err = await rejection(store.getOne('bad'));
        expect(err.code).to.equal('ERR_STORAGE_OPERATION');
        expect(err.message).to.include('bad').and.include('chunk 1');
        await store.redis.hset(hash, '1', Buffer.from([7, 1, 2]));
        expect((await rejection(readAll(store.createValueStream('bad')))).code).to.equal('ERR_STORAGE_OPERATION');
        expect(await store.del('bad')).to.equal(1);
      });
    });
  }
});
