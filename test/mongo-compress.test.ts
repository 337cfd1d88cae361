/**
 * Compression on the MongoDB store (SPEC §16; issue #14 item 3): `compress: { threshold,
 * algorithm }` stores a value whose serialized text reaches the threshold as BSON Binary holding
 * the framed compressed text (lib/compression.ts), checked here with the raw driver; every value
 * type round-trips on every read path; entries written before compression was turned on, and
 * compressed ones after it is turned off, still read; gzip and brotli; an asynchronous serializer;
 * damaged compressed bytes fail their key alone.
 */
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { Binary } from 'mongodb';
import { FRAME_BROTLI, FRAME_GZIP } from '../lib/compression';
import type { MongoStore } from '../lib/backends/mongo';
import type { MongoSettings } from '../lib/backends/mongo/settings';
import { mongoTestStores } from './support/test-stores';

/** The raw `v` of a root-namespace string key. */
async function rawV(s: MongoStore, id: string): Promise<unknown> {
  const doc = (await s.collection.findOne({ _id: id })) as Record<string, unknown> | null;
  return doc?.v;
}

/** The bytes `v` takes as stored: a string's UTF-8 length, a Binary's length. */
function storedBytes(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (v instanceof Binary) return v.length();
  throw new Error(`v is ${typeof v}`);
}

/** A JSON record of about `bytes` bytes, compressible as real records are (repeated field names, varied values). */
function record(bytes: number): Record<string, unknown> {
  const items: Array<Record<string, unknown>> = [];
  for (let i = 0; JSON.stringify(items).length < bytes; i++) {
    items.push({ id: i, name: `user ${i}`, email: `user${i}@example.com`, score: (i * 7919) % 1000, active: i % 3 === 0 });
  }
  return { items };
}

/** Every value type the store keeps, large enough to be compressed, and the small ones that stay text. */
const VALUES: Record<string, unknown> = {
  string: 'lorem ipsum dolor '.repeat(300),
  unicode: 'héllo wörld 😀 '.repeat(300),
  number: 12345.678,
  boolean: true,
  nil: null,
  array: Array.from({ length: 500 }, (_, i) => i % 17),
  object: record(5000),
  date: new Date(1_700_000_000_000),
  dates: { at: Array.from({ length: 200 }, (_, i) => new Date(i * 1000)) },
  buffer: Buffer.alloc(4000, 7),
  uint8: new Uint8Array(4000).fill(3),
  mixed: { buf: Buffer.from('bytes'), when: new Date(5), list: ['a', 'b', 'c'].flatMap((x) => Array(300).fill(x)), deep: { nested: { ok: true } } },
  emptyString: '',
  emptyObject: {},
};

describe('mongo store: compression', () => {
  const stores = mongoTestStores('mongo_compress');
  let shared = 0;
  /** Two stores on one collection (e.g. written with one `compress` setting, read with another). */
  function pair(first: MongoSettings, second: MongoSettings): [MongoStore, MongoStore] {
    const collectionName = `shared${process.pid}_${++shared}`;
    return [stores.open({ ...first, collectionName }), stores.open({ ...second, collectionName })];
  }

  describe('round trip', () => {
    for (const algorithm of ['gzip', 'brotli'] as const) {
      it(`${algorithm}: every value type comes back equal from getOne, a batched getOne, get, entries and createValueStream`, async () => {
        const s = stores.open({ compress: { threshold: 100, algorithm } });
        const names = Object.keys(VALUES);
        for (const name of names) await s.set(name, VALUES[name]);
        await s.set({ kind: 'obj', n: 1 }, VALUES.object);
        for (const name of names) expect(await s.getOne(name), name).to.deep.equal(VALUES[name]);
        expect(await Promise.all(names.map((name) => s.getOne(name)))).to.deep.equal(names.map((name) => VALUES[name]));
        expect(await s.get({ kind: 'obj' })).to.deep.equal([VALUES.object]);
        const seen: Record<string, unknown> = {};
        for await (const { key, value } of s.entries()) if (typeof key === 'string') seen[key] = value;
        expect(seen).to.deep.equal(VALUES);
        const chunks: Buffer[] = [];
        for await (const chunk of s.createValueStream('buffer')) chunks.push(chunk as Buffer);
        expect(Buffer.concat(chunks)).to.deep.equal(VALUES.buffer);
        // The large ones are stored compressed, framed with the algorithm's byte; the small ones as text.
        const frame = algorithm === 'gzip' ? FRAME_GZIP : FRAME_BROTLI;
        for (const name of ['string', 'unicode', 'array', 'object', 'dates', 'buffer', 'uint8', 'mixed']) {
          const v = await rawV(s, name);
          expect(v, name).to.be.instanceOf(Binary);
          expect((v as Binary).value()[0], name).to.equal(frame);
        }
        for (const name of ['number', 'boolean', 'nil', 'date', 'emptyString', 'emptyObject']) expect(typeof (await rawV(s, name)), name).to.equal('string');
      });
    }

    it('getMeta reports the compressed size, as the raw document holds it', async () => {
      const s = stores.open({ compress: true });
      const value = record(10_000);
      await s.set('r', value);
      const v = await rawV(s, 'r');
      expect(v).to.be.instanceOf(Binary);
      expect((await s.getMeta('r'))!.size).to.equal(storedBytes(v));
      expect(storedBytes(v)).to.be.below(Buffer.byteLength(JSON.stringify(value)) / 3);
    });

    it('batched sets (one update command) store each value in its own form', async () => {
      const s = stores.open({ compress: { threshold: 1000 } });
      await Promise.all([s.set('small', 'x'), s.set('large', 'y'.repeat(5000)), s.set('mid', record(2000))]);
      expect(typeof (await rawV(s, 'small'))).to.equal('string');
      expect(await rawV(s, 'large')).to.be.instanceOf(Binary);
      expect(await rawV(s, 'mid')).to.be.instanceOf(Binary);
      expect(await Promise.all([s.getOne('small'), s.getOne('large'), s.getOne('mid')])).to.deep.equal(['x', 'y'.repeat(5000), record(2000)]);
    });
  });

  describe('threshold', () => {
    it('text one byte under the threshold stays a string; at the threshold it is compressed (UTF-8 bytes, not characters)', async () => {
      const threshold = 2000;
      const s = stores.open({ compress: { threshold } });
      const under = 'a'.repeat(threshold - 3); // serialized: quotes add 2 bytes → threshold - 1
      const at = 'a'.repeat(threshold - 2);
      const wide = 'é'.repeat((threshold - 2) / 2); // 999 characters, 2000 bytes serialized
      await s.setMany([
        { key: 'under', value: under },
        { key: 'at', value: at },
        { key: 'wide', value: wide },
      ]);
      expect(await rawV(s, 'under')).to.equal(JSON.stringify(under));
      expect(await rawV(s, 'at')).to.be.instanceOf(Binary);
      expect(await rawV(s, 'wide')).to.be.instanceOf(Binary);
      expect(await s.getOne('at')).to.equal(at);
      expect(await s.getOne('wide')).to.equal(wide);
    });

    it('stores 10 KB and 100 KB JSON records in at least 3× fewer bytes, with either algorithm', async () => {
      for (const algorithm of ['gzip', 'brotli'] as const) {
        const s = stores.open({ compress: { algorithm } });
        for (const size of [10_000, 100_000]) {
          const value = record(size);
          await s.set(`r${size}`, value);
          const bytes = storedBytes(await rawV(s, `r${size}`));
          expect(bytes, `${algorithm} ${size}`).to.be.below(Buffer.byteLength(JSON.stringify(value)) / 3);
        }
      }
    });

    it('text that compression would not shrink is stored as text, even at threshold 0', async () => {
      const s = stores.open({ compress: { threshold: 0, algorithm: 'gzip' } });
      await s.setMany([
        { key: 'tiny', value: 1 },
        { key: 'short', value: 'abcdefgh' },
      ]);
      expect(await rawV(s, 'tiny')).to.equal('1');
      expect(await rawV(s, 'short')).to.equal('"abcdefgh"');
      expect(await Promise.all([s.getOne('tiny'), s.getOne('short')])).to.deep.equal([1, 'abcdefgh']);
    });
  });

  describe('turning compression on and off', () => {
    it('entries written before compression was on still read; written with it on, they read after it is off', async () => {
      const [plain, packed] = pair({}, { compress: { threshold: 100 } });
      const value = record(5000);
      await plain.set('old', value);
      expect(typeof (await rawV(plain, 'old'))).to.equal('string');
      expect(await packed.getOne('old')).to.deep.equal(value);
      expect(await packed.getMeta('old')).to.include({ size: Buffer.byteLength(JSON.stringify(value)) });
      await packed.set('new', value);
      await packed.set('old', value); // an overwrite compresses it
      expect(await rawV(packed, 'old')).to.be.instanceOf(Binary);
      const offStore = stores.open({ collectionName: packed.collection.collectionName });
      expect(await offStore.getOne('new')).to.deep.equal(value);
      expect(await Promise.all([offStore.getOne('old'), offStore.getOne('new')])).to.deep.equal([value, value]);
      await offStore.set('new', value); // written as text again
      expect(typeof (await rawV(offStore, 'new'))).to.equal('string');
    });

    it('a brotli store reads gzip entries and the reverse: the algorithm is read from the stored bytes', async () => {
      const [gz, br] = pair({ compress: { algorithm: 'gzip', threshold: 0 } }, { compress: { algorithm: 'brotli', threshold: 0 } });
      const value = record(3000);
      await gz.set('g', value);
      await br.set('b', value);
      expect((await rawV(gz, 'g') as Binary).value()[0]).to.equal(FRAME_GZIP);
      expect((await rawV(gz, 'b') as Binary).value()[0]).to.equal(FRAME_BROTLI);
      expect(await Promise.all([gz.getOne('b'), br.getOne('g'), gz.getOne('g'), br.getOne('b')])).to.deep.equal([value, value, value, value]);
    });
  });

  describe('serializers', () => {
    it('an asynchronous serializer: its text is compressed and read back through it, singly and batched', async () => {
      const serializer = {
        async serialize(value: unknown): Promise<string> {
          await new Promise((resolve) => setImmediate(resolve));
          return JSON.stringify({ wrapped: value });
        },
        async deserialize(text: string): Promise<unknown> {
          await new Promise((resolve) => setImmediate(resolve));
          return (JSON.parse(text) as { wrapped: unknown }).wrapped;
        },
      };
      const s = stores.open({ compress: { threshold: 100 }, serializer } as unknown as MongoSettings);
      const value = record(3000);
      await Promise.all([s.set('a', value), s.set('b', 'short')]);
      expect(await rawV(s, 'a')).to.be.instanceOf(Binary);
      expect(await rawV(s, 'b')).to.equal('{"wrapped":"short"}');
      expect(await s.getOne('a')).to.deep.equal(value);
      expect(await Promise.all([s.getOne('a'), s.getOne('b')])).to.deep.equal([value, 'short']);
      const all: unknown[] = [];
      for await (const { value: v } of s.entries()) all.push(v);
      expect(all).to.deep.equal([value, 'short']);
    });

    it('a custom serializer whose text holds a lone surrogate is refused (ERR_INVALID_VALUE) before compression would fold it', async () => {
      const serializer = { serialize: (value: unknown) => `${String(value)}\ud800${'x'.repeat(2000)}`, deserialize: (text: string) => text };
      const s = stores.open({ compress: { threshold: 10 }, serializer });
      const err = await s.set('k', 'v').then(() => undefined, (e: { code: string }) => e);
      expect(err?.code).to.equal('ERR_INVALID_VALUE');
      expect(await s.collection.countDocuments({})).to.equal(0);
    });
  });

  describe('what compression leaves alone', () => {
    it('streamed values are stored as given (GridFS chunks are not compressed)', async () => {
      const s = stores.open({ compress: { threshold: 0 } });
      const bytes = Buffer.alloc(50_000, 1);
      await s.setStream('big', Readable.from([bytes]));
      expect((await s.getMeta('big'))!.size).to.equal(50_000);
      expect(await s.getOne('big')).to.deep.equal(bytes);
    });

    it('a bad compress setting is ERR_STORE_CONFIG when the store is made', () => {
      for (const compress of [{ algorithm: 'zstd' }, { threshold: -1 }, { level: 3 }, 'gzip']) {
        expect(() => stores.open({ compress } as unknown as MongoSettings), JSON.stringify(compress)).to.throw().with.property('code', 'ERR_STORE_CONFIG');
      }
    });
  });

  describe('damaged compressed values', () => {
    it('an unknown algorithm byte or bytes zlib cannot read fail that key alone with ERR_STORAGE_OPERATION; has, ttl and getMeta still answer', async () => {
      const s = stores.open({ compress: { threshold: 0 } });
      const value = record(2000);
      await s.setMany([
        { key: 'good', value },
        { key: 'badFrame', value },
        { key: 'badBytes', value },
      ]);
      await s.collection.updateOne({ _id: 'badFrame' }, { $set: { v: new Binary(Buffer.from([9, 1, 2, 3])) } });
      await s.collection.updateOne({ _id: 'badBytes' }, { $set: { v: new Binary(Buffer.from([FRAME_GZIP, 1, 2, 3])) } });
      const [good, badFrame, badBytes] = await Promise.allSettled([s.getOne('good'), s.getOne('badFrame'), s.getOne('badBytes')]);
      expect((good as PromiseFulfilledResult<unknown>).value).to.deep.equal(value);
      expect((badFrame as PromiseRejectedResult).reason.code).to.equal('ERR_STORAGE_OPERATION');
      expect((badBytes as PromiseRejectedResult).reason.code).to.equal('ERR_STORAGE_OPERATION');
      const err = await s.getOne('badBytes').then(() => undefined, (e: { code: string }) => e);
      expect(err?.code).to.equal('ERR_STORAGE_OPERATION');
      expect(await s.has('badFrame')).to.equal(true);
      expect((await s.getMeta('badFrame'))!.size).to.equal(4);
    });
  });
});
