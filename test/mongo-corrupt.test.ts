/**
 * Corrupt data in the MongoDB store (SPEC §12, issue #10 finding 6): documents written by
 * something else — with the raw driver here — never make a call hang or throw anything but a
 * StoreError. Every read that needs the damaged field fails with ERR_STORAGE_OPERATION naming
 * the key; reads that do not need it (has/ttl need no value, keys/count need no value) answer;
 * clear() and del (exact and by query) succeed over corrupt documents.
 */
import { Readable } from 'node:stream';
import { expect } from 'chai';
import fc from 'fast-check';
import { Binary, Collection, Decimal128, Document, Double, Int32, Long, MaxKey, MinKey, MongoClient, ObjectId, Timestamp } from 'mongodb';
import { ManualClock } from '../lib/clock';
import { StoreError } from '../lib/errors';
import { MemoryStore } from '../lib/backends/memory';
import { MongoStore } from '../lib/backends/mongo';
import { useMongoStores } from './support/mongo-test-stores';
import { entryOf, entriesOf } from './support/tier-access';

let counter = 0;
const DB = `mongo_corrupt_${process.pid}`;

/** What a call did: its value, or its error's code and message. */
type Outcome = { value: unknown } | { code: unknown; message: string; name: string };

async function outcome(p: Promise<unknown>): Promise<Outcome> {
  try {
    return { value: await p };
  } catch (err) {
    const e = err as { code?: unknown; message?: string; name?: string };
    return { code: e?.code, message: String(e?.message), name: String(e?.name) };
  }
}

/** Reads a whole stream: its chunks or items, or the error it ended with. */
function drain(stream: Readable): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const items: unknown[] = [];
    stream.on('data', (item) => items.push(item));
    stream.on('end', () => resolve(items));
    stream.on('error', reject);
  });
}

function wrapAll(calls: Record<string, Promise<unknown>>): Record<string, Promise<Outcome>> {
  const out: Record<string, Promise<Outcome>> = {};
  for (const [name, p] of Object.entries(calls)) out[name] = outcome(p);
  return out;
}

async function collect(iterable: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Asserts a corrupt-data failure: ERR_STORAGE_OPERATION, a StorageOperationError, naming `name`. */
function expectCorrupt(o: Outcome, name: string, what: string): void {
  expect(o, what).to.have.property('code', 'ERR_STORAGE_OPERATION');
  const failed = o as { message: string; name: string };
  expect(failed.name, what).to.equal('StorageOperationError');
  expect(failed.message, what).to.contain(name);
}

/** One kind of damage: the document to write in place of the entry `{ t: 1 }` (or the string key 'bad'). */
interface Damage {
  name: string;
  /** Which field is damaged: decides which reads must fail. */
  field: 'value' | 'expiry' | 'key';
  /** Writes the damaged document(s); `good` is the entry the store itself wrote, to start from. */
  write(col: Collection<Document>, good: Document, db: MongoClient['db'] extends (...a: never[]) => infer D ? D : never, bucket: string): Promise<void>;
}

const OBJECT_KEY = { t: 1 };
const OBJECT_ID = '\u0000{"t":1}';
const NAME = '{"t":1}';

const damages: Damage[] = [
  { name: 'v is a number', field: 'value', write: (col, good) => col.replaceOne({ _id: good._id }, { ...good, v: 42 }).then(() => undefined) },
  { name: 'v is not parsable', field: 'value', write: (col, good) => col.replaceOne({ _id: good._id }, { ...good, v: '0v{not json' }).then(() => undefined) },
  { name: 'v is a BSON object', field: 'value', write: (col, good) => col.replaceOne({ _id: good._id }, { ...good, v: { a: 1 } }).then(() => undefined) },
  {
    name: 'neither v nor g',
    field: 'value',
    write: async (col, good) => {
      const { v: _v, ...rest } = good;
      await col.replaceOne({ _id: good._id }, rest);
    },
  },
  {
    name: 'g is a string and no v',
    field: 'value',
    write: async (col, good) => {
      const { v: _v, ...rest } = good;
      await col.replaceOne({ _id: good._id }, { ...rest, g: 'abc' });
    },
  },
  {
    name: 'g is an operator-looking object and no v',
    field: 'value',
    write: async (col, good) => {
      const { v: _v, ...rest } = good;
      await col.replaceOne({ _id: good._id }, { ...rest, g: { $exists: true } });
    },
  },
  {
    name: 'g names a file that does not exist',
    field: 'value',
    write: async (col, good) => {
      const { v: _v, ...rest } = good;
      await col.replaceOne({ _id: good._id }, { ...rest, g: new ObjectId() });
    },
  },
  {
    name: 'g names a file whose first chunk is gone',
    field: 'value',
    write: async (col, good, db, bucket) => {
      const { v: _v, ...rest } = good;
      const g = new ObjectId();
      await db.collection(`${bucket}.files`).insertOne({ _id: g, length: 6, chunkSize: 3, uploadDate: new Date(), filename: 'x', metadata: { n: '', id: OBJECT_ID, e: null } });
      await db.collection(`${bucket}.chunks`).insertOne({ files_id: g, n: 1, data: new Binary(Buffer.from('def')) });
      await col.replaceOne({ _id: good._id }, { ...rest, g });
    },
  },
  {
    name: 'g names a file whose chunk data is a string',
    field: 'value',
    write: async (col, good, db, bucket) => {
      const { v: _v, ...rest } = good;
      const g = new ObjectId();
      await db.collection(`${bucket}.files`).insertOne({ _id: g, length: 3, chunkSize: 3, uploadDate: new Date(), filename: 'x', metadata: { n: '', id: OBJECT_ID, e: null } });
      await db.collection(`${bucket}.chunks`).insertOne({ files_id: g, n: 0, data: 'abc' });
      await col.replaceOne({ _id: good._id }, { ...rest, g });
    },
  },
  {
    name: 'g names a file with a garbage length',
    field: 'value',
    write: async (col, good, db, bucket) => {
      const { v: _v, ...rest } = good;
      const g = new ObjectId();
      await db.collection(`${bucket}.files`).insertOne({ _id: g, length: 'long', chunkSize: 3, uploadDate: new Date(), filename: 'x', metadata: { n: '', id: OBJECT_ID, e: null } });
      await db.collection(`${bucket}.chunks`).insertOne({ files_id: g, n: 0, data: new Binary(Buffer.from('abc')) });
      await col.replaceOne({ _id: good._id }, { ...rest, g });
    },
  },
  { name: 'e is a string', field: 'expiry', write: (col, good) => col.replaceOne({ _id: good._id }, { ...good, e: 'tomorrow' }).then(() => undefined) },
  { name: 'e is a number', field: 'expiry', write: (col, good) => col.replaceOne({ _id: good._id }, { ...good, e: new Double(4102444800000) }).then(() => undefined) },
  {
    name: 'e is a BSON date past what a JS Date holds',
    field: 'expiry',
    write: async (col, good) => {
      await col.replaceOne({ _id: good._id }, { ...good, e: null });
      // The driver cannot write an out-of-range Date; a pipeline can.
      await col.updateOne({ _id: good._id }, [{ $set: { e: { $toDate: Long.fromString('9000000000000000') } } }]);
    },
  },
  { name: 'k is missing', field: 'key', write: async (col, good) => void (await col.updateOne({ _id: good._id }, { $unset: { k: '' } })) },
  { name: 'k is a string for an object key', field: 'key', write: (col, good) => col.replaceOne({ _id: good._id }, { ...good, k: 'not an object' }).then(() => undefined) },
  { name: 'k is an array', field: 'key', write: (col, good) => col.replaceOne({ _id: good._id }, { ...good, k: [1] }).then(() => undefined) },
];

describe('mongo store: corrupt data (SPEC §12)', function () {
  this.timeout(20_000);
  const mongo = useMongoStores('mongo_corrupt');

  /** A connected store on a collection of its own, with the entries { t: 0 }, { t: 1 }, { t: 2 } and 'good'. */
  async function filled(namespace = ''): Promise<{ store: MongoStore; col: Collection<Document>; bucket: string; clock: ManualClock }> {
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const collectionName = `c${++counter}`;
    const root = mongo.store({ collectionName, clock }, DB);
    const store = (namespace ? root.scope(namespace) : root) as MongoStore;
    if (store !== root) mongo.closeAfterTest(store);
    await store.set({ t: 0 }, 'zero');
    await store.set(OBJECT_KEY, 'one', { ttl: 60_000 });
    await store.set({ t: 2 }, 'two');
    await store.set('good', 'fine');
    return { store, col: mongo.raw.db(DB).collection(collectionName), bucket: `${collectionName}.fs`, clock };
  }

  for (const damage of damages) {
    describe(`an entry whose ${damage.name}`, () => {
      it('fails exactly the reads that need that field, with ERR_STORAGE_OPERATION naming the key; the others answer', async () => {
        const { store, col, bucket } = await filled();
        const good = (await col.findOne({ _id: OBJECT_ID as never }))!;
        await damage.write(col, good, mongo.raw.db(DB), bucket);
        const target = new MemoryStore();
        mongo.closeAfterTest(target);

        // Each call is wrapped at once, so no rejection waits unobserved.
        const reads: Record<string, Promise<Outcome>> = wrapAll({
          getOne: store.getOne(OBJECT_KEY),
          'get(exact key)': store.get(OBJECT_KEY),
          'get(query)': store.get({ t: { $gte: 0 } }),
          'get(all, includeKey)': store.get({ t: { $exists: true } }, { includeKey: true }),
          entries: collect(store.entries()),
          createReadStream: drain(store.createReadStream({ t: 1 })),
          copy: store.copy(target),
          getEntry: entryOf(store, OBJECT_KEY),
          createValueStream: drain(store.createValueStream(OBJECT_KEY)),
          has: store.has(OBJECT_KEY),
          ttl: store.ttl(OBJECT_KEY),
          keys: store.keys(),
          count: store.count({ t: 1 }),
        });
        const needs: Record<Damage['field'], string[]> = {
          value: ['getOne', 'get(exact key)', 'get(query)', 'get(all, includeKey)', 'entries', 'createReadStream', 'copy', 'getEntry', 'createValueStream'],
          expiry: ['getOne', 'get(exact key)', 'get(query)', 'get(all, includeKey)', 'entries', 'createReadStream', 'copy', 'getEntry', 'createValueStream', 'has', 'ttl', 'keys'],
          // A query never matches such a document (it filters on k), so only full scans meet it.
          key: ['entries', 'copy', 'keys'],
        };
        const failing = new Set(needs[damage.field]);
        for (const [name, p] of Object.entries(reads)) {
          const o = await p;
          if (failing.has(name)) expectCorrupt(o, NAME, name);
          else expect(o, name).to.have.property('value');
        }
        // getEntries reports the one key's failure in place and still answers the others.
        const entries = await entriesOf(store, [{ t: 0 }, OBJECT_KEY, 'good']);
        expect(entries[0]).to.deep.include({ value: 'zero' });
        expect(entries[2]).to.deep.include({ value: 'fine' });
        if (damage.field === 'key') expect(entries[1]).to.have.property('value', 'one');
        else expectCorrupt({ code: (entries[1] as { code?: string }).code, message: String((entries[1] as Error).message), name: String((entries[1] as Error).name) }, NAME, 'getEntries');
        // Coalesced reads: the damaged key fails alone, its batch neighbours are answered.
        const batch = await Promise.all([store.getOne('good'), outcome(store.getOne(OBJECT_KEY)), store.getOne({ t: 2 })]);
        expect(batch[0]).to.equal('fine');
        expect(batch[2]).to.equal('two');
        if (damage.field === 'key') expect(batch[1]).to.deep.equal({ value: 'one' });
        else expectCorrupt(batch[1], NAME, 'coalesced getOne');
      });

      it('del(key), del(query) and clear() succeed over it', async () => {
        for (const remove of ['del(key)', 'del(query)', 'clear'] as const) {
          const { store, col, bucket } = await filled();
          const good = (await col.findOne({ _id: OBJECT_ID as never }))!;
          await damage.write(col, good, mongo.raw.db(DB), bucket);
          // An object passed to del is a query over k: a damaged k is not matched, so that
          // document stays (clear() removes it); the others go.
          const keyDamaged = damage.field === 'key' && remove !== 'clear';
          if (remove === 'del(key)') expect(await store.del(OBJECT_KEY)).to.equal(keyDamaged ? 0 : 1);
          else if (remove === 'del(query)') expect(await store.del({ t: { $gte: 0 } })).to.equal(keyDamaged ? 2 : 3);
          else await store.clear();
          const left = keyDamaged ? 1 : 0;
          expect(await col.countDocuments({ _id: OBJECT_ID as never }), remove).to.equal(left);
          if (left === 0) expect(await store.getOne(OBJECT_KEY), remove).to.equal(undefined);
          // The store writes the key again as if nothing had happened.
          await store.set(OBJECT_KEY, 'again');
          expect(await store.get({ t: 1 }), remove).to.deep.equal(['again']);
        }
      });
    });
  }

  it('a set over a damaged entry replaces it whole', async () => {
    const { store, col } = await filled();
    await col.updateOne({ _id: OBJECT_ID as never }, { $set: { v: 42, e: 'tomorrow', k: [1] } });
    await store.set(OBJECT_KEY, 'fixed');
    expect(await store.getOne(OBJECT_KEY)).to.equal('fixed');
    expect(await store.get({ t: 1 })).to.deep.equal(['fixed']);
    expect(await store.ttl(OBJECT_KEY)).to.equal(null);
  });

  it('a damaged GridFS reference never becomes a filter: del, setStream and sweep leave other files alone', async () => {
    const { store, col } = await filled();
    await store.setStream('streamed', Readable.from([Buffer.from('bytes')]));
    await col.updateOne({ _id: OBJECT_ID as never }, { $set: { g: { $exists: true } } });
    await store.sweep();
    expect(await store.del({ t: 1 })).to.equal(1);
    await col.insertOne({ _id: 'other' as never, k: 'other', v: '1', g: { $exists: true }, e: null, n: '', s: new ObjectId() });
    expect(await store.del('other')).to.equal(1);
    await store.setStream('x', Readable.from([Buffer.from('x')]));
    await col.updateOne({ _id: 'x' as never }, { $set: { g: { $exists: true } } });
    await store.setStream('x', Readable.from([Buffer.from('y')]));
    expect((await store.getOne('streamed')) as Buffer).to.deep.equal(Buffer.from('bytes'));
    expect((await store.getOne('x')) as Buffer).to.deep.equal(Buffer.from('y'));
  });

  it('an _id without its namespace prefix, or not a string, fails scans with ERR_STORAGE_OPERATION; clear() removes them', async () => {
    const { store, col } = await filled('ns');
    await col.insertOne({ _id: 'unprefixed' as never, k: 'unprefixed', v: '1', e: null, n: 'ns', s: new ObjectId() });
    expectCorrupt(await outcome(store.keys()), 'unprefixed', 'keys with an unprefixed _id');
    await col.deleteOne({ _id: 'unprefixed' as never });
    await col.insertOne({ _id: 7 as never, k: 'seven', v: '1', e: null, n: 'ns', s: new ObjectId() });
    expectCorrupt(await outcome(collect(store.entries())), '7', 'entries with a numeric _id');
    expectCorrupt(await outcome(store.keys()), '7', 'keys with a numeric _id');
    await store.clear();
    expect(await col.countDocuments({ n: 'ns' })).to.equal(0);
  });

  it('a document of another namespace under this _id fails exact reads with ERR_STORAGE_OPERATION; del(key) removes it', async () => {
    const { store, col } = await filled();
    await col.insertOne({ _id: 'foreign' as never, k: 'foreign', v: '"x"', e: null, n: 'elsewhere', s: new ObjectId() });
    expectCorrupt(await outcome(store.getOne('foreign')), '"foreign"', 'getOne');
    expectCorrupt(await outcome(store.has('foreign')), '"foreign"', 'has');
    expect(await store.del('foreign')).to.equal(1);
  });

  it('a memstorage 0.5.3 document written after connect is ERR_STORE_CONFIG (migrate it), not corruption', async () => {
    const { store, col } = await filled();
    await col.insertOne({ _id: 'legacy' as never, val: { a: 1 } });
    for (const p of [store.getOne('legacy'), store.get('legacy'), store.has('legacy'), store.ttl('legacy')].map(outcome)) {
      expect(await p).to.have.property('code', 'ERR_STORE_CONFIG');
    }
    // Scans go by namespace, which memstorage's documents lack: they do not see it.
    expect(await store.keys()).to.deep.equal([{ t: 0 }, { t: 1 }, { t: 2 }, 'good']);
  });

  it('garbage in the creation-order field s does not break reads or clear()', async () => {
    const { store, col } = await filled();
    await col.updateOne({ _id: OBJECT_ID as never }, { $set: { s: 'garbage' } });
    await col.updateOne({ _id: '\u0000{"t":2}' as never }, { $set: { s: { $gt: 1 } } });
    expect((await store.keys()).length).to.equal(4);
    expect(await store.get({ t: { $gte: 0 } })).to.have.members(['zero', 'one', 'two']);
    await store.set(OBJECT_KEY, 'rewritten');
    expect(await store.getOne(OBJECT_KEY)).to.equal('rewritten');
    await store.clear();
    expect(await store.count({})).to.equal(0);
  });

  describe('random garbage in every field (fast-check)', () => {
    /** Something another program might leave in a field: BSON of every kind, nested, operator-looking. */
    const garbage: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      leaf: fc.oneof(
        fc.string({ unit: 'binary', maxLength: 12 }),
        fc.constantFrom('0v{not json', '{"\\u0000t":{"\\u0000b":5}}', '{"\\u0000t":1}', '"ok"', '[', 'null', ''),
        fc.integer(),
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.date({ noInvalidDate: true }),
        fc.constant(new ObjectId()),
        fc.constant(new Binary(Buffer.from('bin'))),
        fc.constant(new Int32(7)),
        fc.constant(Long.fromNumber(9e15)),
        fc.constant(new Decimal128('1.5')),
        fc.constant(new Timestamp({ t: 1, i: 1 })),
        fc.constant(new MinKey()),
        fc.constant(new MaxKey()),
        fc.constant({ $exists: true }),
      ),
      node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('a', 't', 'x', '$gt'), tie('node'), { maxKeys: 2 })),
    })).node;
    /** A field: left as the store wrote it, removed, or replaced by garbage. */
    const field = fc.oneof({ weight: 2, arbitrary: fc.constant<'keep'>('keep') }, fc.constant<'unset'>('unset'), garbage.map((value) => ({ value })));
    const damage = fc.record({ k: field, v: field, g: field, e: field, n: field, s: field });

    /** Each call settles within this (the reads are of one small collection). */
    const SETTLE_MS = 5000;

    async function settles(name: string, p: Promise<unknown>): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      const hang = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} did not settle within ${SETTLE_MS} ms`)), SETTLE_MS);
      });
      try {
        await Promise.race([p, hang]);
      } catch (err) {
        if (!(err instanceof StoreError)) throw new Error(`${name} failed with a raw ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
      } finally {
        clearTimeout(timer);
      }
    }

    it('every call settles with a value or a StoreError; clear() then empties the store', async function () {
      this.timeout(120_000);
      const { store, col } = await filled();
      const target = new MemoryStore();
      mongo.closeAfterTest(target);
      const good = (await col.findOne({ _id: OBJECT_ID as never }))!;
      await fc.assert(
        fc.asyncProperty(damage, fc.boolean(), async (fields, stringKey) => {
          const _id = stringKey ? 'good' : OBJECT_ID;
          const base = stringKey ? (await col.findOne({ _id: 'good' as never })) ?? { ...good, _id: 'good', k: 'good' } : good;
          const doc: Document = { ...base, _id };
          for (const [name, change] of Object.entries(fields)) {
            if (change === 'unset') delete doc[name];
            else if (change !== 'keep') doc[name] = change.value;
          }
          try {
            await col.replaceOne({ _id: _id as never }, doc, { upsert: true });
          } catch {
            return; // garbage the server itself refuses (parallel arrays in a compound index): nothing to read
          }
          const key = stringKey ? 'good' : OBJECT_KEY;
          const calls: Array<[string, Promise<unknown>]> = [
            ['getOne', store.getOne(key)],
            ['get', store.get(key)],
            ['get(query)', store.get({ t: { $gte: 0 } }, { includeKey: true })],
            ['entries', collect(store.entries())],
            ['createReadStream', drain(store.createReadStream())],
            ['copy', store.copy(target)],
            ['getEntry', entryOf(store, key)],
            ['getEntries', entriesOf(store, [key, { t: 0 }])],
            ['createValueStream', drain(store.createValueStream(key))],
            ['has', store.has(key)],
            ['ttl', store.ttl(key)],
            ['keys', store.keys()],
            ['count', store.count({ t: 1 })],
            ['stats', store.stats()],
          ];
          await Promise.all(calls.map(([name, p]) => settles(name, p)));
          await settles('sweep', store.sweep());
          // Put the entry back the way the store writes it, by the store itself.
          await store.set(key, stringKey ? 'fine' : 'one');
          expect(await store.getOne(key)).to.equal(stringKey ? 'fine' : 'one');
        }),
        { numRuns: Number(process.env.FUZZ_RUNS ?? 60), seed: Number(process.env.FUZZ_SEED ?? 20261201) },
      );
      await store.clear();
      expect(await col.countDocuments({ n: '' })).to.equal(0);
    });
  });
});
