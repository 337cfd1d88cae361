/**
 * Compression (SPEC §16; issue #14 item 3): the shared core (lib/compression.ts: the setting,
 * the value codec) and the SQLite store with `compress` — every value type round-trips, the
 * threshold decides what is stored as a BLOB (checked with a raw better-sqlite3 connection),
 * rows written with compression off read with it on and the other way round, gzip and brotli,
 * an asynchronous serializer (program order kept while it runs), bad settings refused.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { BackendStore } from '../lib/backend-store';
import { ManualClock } from '../lib/clock';
import { createBackend, SqliteSettings } from '../lib/backends/sqlite';
import { COMPRESS_DEFAULTS, FRAME_BROTLI, FRAME_GZIP, createValueCodec, frameText, resolveCompression, unframeText } from '../lib/compression';
import { createStore } from '../lib/factory';
import { AsyncCapableSerializer, Serializer, defaultSerializer } from '../lib/serializer';
import { freshSqlitePath } from './support/sqlite-files';

type Store = BackendStore<SqliteSettings>;

/** A JSON text of about `bytes` bytes that compresses well (repetitive records). */
function records(bytes: number): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; JSON.stringify(out).length < bytes; i++) out.push({ id: i, name: `user ${i}`, email: `user${i}@example.com`, active: i % 2 === 0 });
  return out;
}

/** Rejects with the error `promise` fails with; fails the test when it resolves. */
async function failure(promise: Promise<unknown>): Promise<{ code?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { code?: string };
  }
  throw new Error('expected a failure');
}

/** Reads an iterable to its end. */
async function drain(entries: AsyncIterable<unknown>): Promise<void> {
  for await (const entry of entries) void entry;
}

describe('compression', () => {
  describe('the compress setting (resolveCompression)', () => {
    it('off when absent or false; true takes the defaults; fields default one by one', () => {
      expect(resolveCompression(undefined)).to.equal(null);
      expect(resolveCompression(false)).to.equal(null);
      expect(resolveCompression(true)).to.deep.equal(COMPRESS_DEFAULTS);
      expect(resolveCompression({})).to.deep.equal({ threshold: 1024, algorithm: 'gzip' });
      expect(resolveCompression({ algorithm: 'brotli' })).to.deep.equal({ threshold: 1024, algorithm: 'brotli' });
      expect(resolveCompression({ threshold: 0 })).to.deep.equal({ threshold: 0, algorithm: 'gzip' });
    });

    for (const [name, bad] of [
      ['a string', 'gzip'],
      ['null', null],
      ['an array', []],
      ['a negative threshold', { threshold: -1 }],
      ['a fractional threshold', { threshold: 1.5 }],
      ['a threshold given as text', { threshold: '1024' }],
      ['an unknown algorithm', { algorithm: 'lz4' }],
      ['an unknown field', { level: 9 }],
    ] as const) {
      it(`refuses ${name} with ERR_STORE_CONFIG when the SQLite store is created`, () => {
        let thrown: unknown;
        try {
          createStore({ type: 'sqlite', settings: { path: ':memory:', compress: bad as never } });
        } catch (err) {
          thrown = err;
        }
        expect(thrown).to.have.property('code', 'ERR_STORE_CONFIG');
        expect(() => resolveCompression(bad)).to.throw().with.property('code', 'ERR_STORE_CONFIG');
      });
    }
  });

  describe('the value codec', () => {
    const gzip = createValueCodec(defaultSerializer, { threshold: 100, algorithm: 'gzip' });

    it('under the threshold: the serializer\'s own string, synchronously', () => {
      const encoded = gzip.encode({ a: 1 });
      expect(encoded).to.equal('{"a":1}');
      expect(gzip.sync).to.equal(true);
    });

    it('the threshold counts UTF-8 bytes, not characters', () => {
      const codec = createValueCodec(defaultSerializer, { threshold: 60, algorithm: 'gzip' });
      expect(typeof codec.encode('a'.repeat(40))).to.equal('string'); // 42 bytes
      expect(Buffer.isBuffer(codec.encode('é'.repeat(40)))).to.equal(true); // 82 bytes, 42 characters
    });

    it('at the threshold: algorithm byte, then the compressed text', () => {
      const value = records(2000);
      const encoded = gzip.encode(value) as Buffer;
      expect(encoded[0]).to.equal(FRAME_GZIP);
      expect(zlib.gunzipSync(encoded.subarray(1)).toString()).to.equal(JSON.stringify(value));
      expect(gzip.decode(encoded)).to.deep.equal(value);
      const brotli = createValueCodec(defaultSerializer, { threshold: 100, algorithm: 'brotli' });
      const packed = brotli.encode(value) as Buffer;
      expect(packed[0]).to.equal(FRAME_BROTLI);
      expect(zlib.brotliDecompressSync(packed.subarray(1)).toString()).to.equal(JSON.stringify(value));
    });

    it('text that would not shrink is kept as text (gzip adds ~20 bytes of header)', () => {
      expect(frameText('"ab"', 'gzip')).to.equal(undefined);
      const always = createValueCodec(defaultSerializer, { threshold: 0, algorithm: 'gzip' });
      expect(always.encode('ab')).to.equal('"ab"');
      expect(Buffer.isBuffer(always.encode('ab'.repeat(100)))).to.equal(true);
    });

    it('unreadable frames throw: an unknown algorithm byte, bytes zlib refuses, nothing at all', () => {
      expect(() => unframeText(Buffer.from([9, 1, 2]))).to.throw();
      expect(() => unframeText(Buffer.from([FRAME_GZIP, 1, 2, 3]))).to.throw();
      expect(() => unframeText(Buffer.alloc(0))).to.throw();
    });

    it('a serializer that throws, or returns no string, is ERR_INVALID_VALUE', () => {
      const throwing = createValueCodec({ serialize: () => { throw new Error('no'); }, deserialize: JSON.parse }, null);
      expect(() => throwing.encode(1)).to.throw().with.property('code', 'ERR_INVALID_VALUE');
      const numeric = createValueCodec({ serialize: () => 5 as unknown as string, deserialize: JSON.parse }, null);
      expect(() => numeric.encode(1)).to.throw().with.property('code', 'ERR_INVALID_VALUE');
    });

    it('a promise from a serializer not declared asynchronous is refused (encode: ERR_INVALID_VALUE; decode throws)', () => {
      const sneaky: AsyncCapableSerializer = { serialize: (v) => Promise.resolve(JSON.stringify(v)), deserialize: (t) => Promise.resolve(JSON.parse(t)) };
      const codec = createValueCodec(sneaky, null);
      expect(codec.sync).to.equal(true);
      expect(() => codec.encode(1)).to.throw().with.property('code', 'ERR_INVALID_VALUE');
      expect(() => codec.decode('1')).to.throw();
    });

    it('an asynchronous serializer (async function, or async: true) gives promises', async () => {
      const declared = createValueCodec({ async: true, serialize: (v) => Promise.resolve(JSON.stringify(v)), deserialize: (t) => Promise.resolve(JSON.parse(t)) }, { threshold: 10, algorithm: 'gzip' });
      expect(declared.sync).to.equal(false);
      const encoded = await declared.encode({ long: 'x'.repeat(100) });
      expect(Buffer.isBuffer(encoded)).to.equal(true);
      expect(await declared.decode(encoded)).to.deep.equal({ long: 'x'.repeat(100) });
      const asyncFns = createValueCodec({ serialize: async (v) => JSON.stringify(v), deserialize: async (t) => JSON.parse(t) }, null);
      expect(asyncFns.sync).to.equal(false);
      expect(await asyncFns.encode([1])).to.equal('[1]');
      const rejecting = createValueCodec({ serialize: async () => { throw new Error('no'); }, deserialize: JSON.parse }, null);
      expect(await failure(rejecting.encode(1) as Promise<unknown>)).to.have.property('code', 'ERR_INVALID_VALUE');
    });
  });

  describe('on the SQLite store', () => {
    const opened: Store[] = [];
    const raws: Database.Database[] = [];
    afterEach(async () => {
      while (opened.length > 0) await opened.pop()!.close();
      while (raws.length > 0) raws.pop()!.close();
    });

    function open(settings: Partial<SqliteSettings> = {}): Store {
      const store = new BackendStore<SqliteSettings>({ path: freshSqlitePath('compress'), clock: new ManualClock(), sweepInterval: 0, ...settings }, (s, context) => createBackend(s, context));
      opened.push(store);
      return store;
    }

    /** How a row's value is stored, read by a raw connection (as another process would). */
    function stored(path: string, id: string, ns = ''): { type: string; first: number | null; bytes: number } {
      const db = new Database(path, { readonly: true });
      raws.push(db);
      return db.prepare(`SELECT typeof(v) AS type, iif(typeof(v) = 'blob', unicode(CAST(substr(v, 1, 1) AS TEXT)), NULL) AS first, length(CAST(v AS BLOB)) AS bytes FROM memstorage WHERE ns = ? AND id = ?`).get(ns, id) as {
        type: string;
        first: number | null;
        bytes: number;
      };
    }

    /** The first byte of a stored BLOB, exactly. */
    function firstByte(path: string, id: string): number {
      const db = new Database(path, { readonly: true });
      raws.push(db);
      return (db.prepare(`SELECT v FROM memstorage WHERE ns = '' AND id = ?`).pluck().get(id) as Buffer)[0];
    }

    const big = records(10_000);
    const VALUES: Array<[string, unknown]> = [
      ['a nested object with Dates, Buffers and Uint8Arrays', { when: new Date(1_700_000_000_000), raw: Buffer.from('bytes'), u8: new Uint8Array([1, 2, 3]), nested: { deep: [{ d: new Date(0) }] }, rows: big }],
      ['a long string', 'é'.repeat(5000)],
      ['an array', big],
      ['a Buffer', Buffer.alloc(5000, 7)],
      ['a Date (short: stored as text)', new Date(123)],
      ['a number', 42],
      ['null', null],
      ['a boolean', false],
      ['an object with a field starting with NUL', { '\u0000t': 'looks like a tag', pad: 'x'.repeat(3000) }],
    ];

    for (const algorithm of ['gzip', 'brotli'] as const) {
      it(`${algorithm}: every value type round-trips through set/getOne, get(query), entries and getMany`, async () => {
        const store = open({ compress: { threshold: 64, algorithm }, indexes: ['i'] });
        for (let i = 0; i < VALUES.length; i++) await store.set({ i }, VALUES[i][1]);
        for (let i = 0; i < VALUES.length; i++) expect(await store.getOne({ i }), VALUES[i][0]).to.deep.equal(VALUES[i][1]);
        expect(await store.get({ i: { $gte: 0 } })).to.deep.equal(VALUES.map(([, v]) => v));
        expect(await store.get({ i: 0 })).to.deep.equal([VALUES[0][1]]);
        expect(await store.get({ i: { $gte: 0 } }, { sort: { i: -1 }, limit: 2 })).to.deep.equal([VALUES[VALUES.length - 1][1], VALUES[VALUES.length - 2][1]]);
        const entries: unknown[] = [];
        for await (const entry of store.entries({ i: { $gte: 0 } })) entries.push(entry.value);
        expect(entries).to.deep.equal(VALUES.map(([, v]) => v));
        expect(await store.getMany([{ i: 0 }, { i: 99 }, { i: 3 }])).to.deep.equal([VALUES[0][1], undefined, VALUES[3][1]]);
      });
    }

    it('streamed values are stored as they come and read back whole or as a stream, compression on', async () => {
      const store = open({ compress: { threshold: 0 } });
      const bytes = Buffer.alloc(150_000, 3);
      await store.setStream('s', Readable.from([bytes]));
      expect(await store.getOne('s')).to.deep.equal(bytes);
      const chunks: Buffer[] = [];
      for await (const chunk of store.createValueStream('s')) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks)).to.deep.equal(bytes);
      // a compressed plain value read as a stream gives its value's bytes
      await store.set('plain', Buffer.alloc(5000, 1));
      const plain: Buffer[] = [];
      for await (const chunk of store.createValueStream('plain')) plain.push(chunk as Buffer);
      expect(Buffer.concat(plain)).to.deep.equal(Buffer.alloc(5000, 1));
    });

    it('the threshold decides: shorter text is TEXT, longer a BLOB of algorithm byte + compressed text, ≥ 3× smaller for 10 KB of JSON', async () => {
      const path = freshSqlitePath('threshold');
      const store = open({ path, compress: { threshold: 1024 } });
      const under = records(900);
      const over = records(10_000);
      await store.set('under', under);
      await store.set('over', over);
      await store.set('brotli-later', over);
      expect(stored(path, 'under')).to.include({ type: 'text', bytes: Buffer.byteLength(JSON.stringify(under)) });
      const overRow = stored(path, 'over');
      expect(overRow.type).to.equal('blob');
      expect(firstByte(path, 'over')).to.equal(FRAME_GZIP);
      expect(overRow.bytes * 3).to.be.below(Buffer.byteLength(JSON.stringify(over)));
      expect((await store.getMeta('over'))!.size).to.equal(overRow.bytes);
    });

    it('brotli rows carry their own algorithm byte', async () => {
      const path = freshSqlitePath('brotli');
      const store = open({ path, compress: { algorithm: 'brotli', threshold: 10 } });
      await store.set('b', records(5000));
      expect(firstByte(path, 'b')).to.equal(FRAME_BROTLI);
    });

    it('rows written with compression off read with it on, and the other way round; the algorithm can change too', async () => {
      const path = freshSqlitePath('switch');
      const value = records(5000);
      const plain = open({ path });
      await plain.set('old', value);
      await plain.close();
      opened.pop();
      const gzip = open({ path, compress: { threshold: 10 } });
      expect(await gzip.getOne('old')).to.deep.equal(value);
      await gzip.set('gz', value);
      await gzip.close();
      opened.pop();
      expect(stored(path, 'old').type).to.equal('text');
      expect(firstByte(path, 'gz')).to.equal(FRAME_GZIP);
      const brotli = open({ path, compress: { algorithm: 'brotli', threshold: 10 } });
      expect(await brotli.getOne('gz')).to.deep.equal(value);
      await brotli.set('br', value);
      await brotli.close();
      opened.pop();
      const off = open({ path });
      expect(await off.getOne('old')).to.deep.equal(value);
      expect(await off.getOne('gz')).to.deep.equal(value);
      expect(await off.getOne('br')).to.deep.equal(value);
      expect(await off.get({ $or: [{ nothing: 1 }] })).to.deep.equal([]);
      expect(await off.keys()).to.deep.equal(['old', 'gz', 'br']);
      // overwriting a compressed row with compression off stores text again
      await off.set('gz', value);
      expect(stored(path, 'gz').type).to.equal('text');
    });

    it('a compressed row that does not inflate is ERR_STORAGE_OPERATION; del and clear still succeed over it', async () => {
      const path = freshSqlitePath('corrupt');
      const store = open({ path, compress: true });
      await store.set('a', records(3000));
      await store.set('b', records(3000));
      const db = new Database(path);
      raws.push(db);
      db.prepare(`UPDATE memstorage SET v = x'01deadbeef' WHERE id = 'a'`).run();
      db.prepare(`UPDATE memstorage SET v = x'07deadbeef' WHERE id = 'b'`).run();
      expect(await failure(store.getOne('a'))).to.have.property('code', 'ERR_STORAGE_OPERATION');
      expect(await failure(store.getOne('b'))).to.have.property('code', 'ERR_STORAGE_OPERATION');
      expect(await failure(drain(store.entries()))).to.have.property('code', 'ERR_STORAGE_OPERATION');
      expect(await store.del('a')).to.equal(1);
      await store.clear();
      expect(await store.keys()).to.deep.equal([]);
    });

    describe('an asynchronous serializer', () => {
      /** A JSON serializer whose serialize, for a value that says `hold`, waits until `release()` (called before or after). */
      function heldSerializer() {
        const held: Array<() => void> = [];
        let released = false;
        const serializer: AsyncCapableSerializer = {
          async serialize(value: unknown) {
            if ((value as { hold?: boolean })?.hold && !released) await new Promise<void>((resolve) => held.push(resolve));
            return defaultSerializer.serialize(value);
          },
          async deserialize(text: string) {
            return defaultSerializer.deserialize(text);
          },
        };
        const release = () => {
          released = true;
          held.splice(0).forEach((r) => r());
        };
        return { serializer: serializer as unknown as Serializer, release, held };
      }

      it('round-trips values, compressed or not, through getOne, queries and getMany', async () => {
        const { serializer } = heldSerializer();
        const store = open({ serializer, compress: { threshold: 100 } });
        const value = { when: new Date(5), rows: records(3000) };
        await store.set({ i: 1 }, value);
        await store.set({ i: 2 }, 'small');
        expect(await store.getOne({ i: 1 })).to.deep.equal(value);
        expect(await store.get({ i: { $gte: 1 } })).to.deep.equal([value, 'small']);
        expect(await store.getMany([{ i: 2 }, { i: 1 }])).to.deep.equal(['small', value]);
        expect((await store.getMeta({ i: 1 }))!.size).to.be.below(JSON.stringify(value).length / 3);
      });

      it('keeps program order: a later set, read or delete of the key waits for an earlier set still serializing', async () => {
        const { serializer, release, held } = heldSerializer();
        const store = open({ serializer });
        const first = store.set('a', { hold: true, n: 1 });
        const second = store.set('a', { n: 2 });
        const read = store.getOne('a');
        const third = store.set('b', { hold: true, n: 3 });
        const deleted = store.del('b');
        const listed = store.keys();
        for (let i = 0; i < 100 && held.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
        expect(held).to.have.length(1); // the first set is serializing; everything after waits
        release();
        await Promise.all([first, second, third]);
        expect(await read).to.deep.equal({ n: 2 });
        expect(await deleted).to.equal(1);
        expect(await listed).to.deep.equal(['a']);
        expect(await store.getOne('a')).to.deep.equal({ n: 2 });
        expect(await store.getOne('b')).to.equal(undefined);
      });

      it('a rejected serialization is ERR_INVALID_VALUE and writes nothing', async () => {
        const store = open({ serializer: { serialize: async () => { throw new Error('no'); }, deserialize: JSON.parse } as unknown as Serializer });
        expect(await failure(store.set('a', 1))).to.have.property('code', 'ERR_INVALID_VALUE');
        expect(await store.keys()).to.deep.equal([]);
      });

      it('a rejected deserialization is ERR_STORAGE_OPERATION', async () => {
        const store = open({ serializer: { serialize: async (v: unknown) => JSON.stringify(v), deserialize: async () => { throw new Error('no'); } } as unknown as Serializer });
        await store.set('a', 1);
        expect(await failure(store.getOne('a'))).to.have.property('code', 'ERR_STORAGE_OPERATION');
        expect(await failure(drain(store.entries()))).to.have.property('code', 'ERR_STORAGE_OPERATION');
      });

      it('an undeclared promise from serialize is refused with ERR_INVALID_VALUE before anything is written', async () => {
        const store = open({ serializer: { serialize: (v: unknown) => Promise.resolve(JSON.stringify(v)), deserialize: JSON.parse } as unknown as Serializer });
        expect(await failure(store.set('a', 1))).to.have.property('code', 'ERR_INVALID_VALUE');
        expect(await store.keys()).to.deep.equal([]);
      });
    });
  });
});
