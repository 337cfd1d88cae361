/**
 * What is specific to the MongoDB store (the shared behaviour is in mongo-conformance.test.ts):
 * settings, the document layout, native queries and indexes, the TTL index, cursors, and
 * collections written by memstorage 0.5.3.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { Document, MongoClient } from 'mongodb';
import Store = require('../index');
import { ManualClock } from '../lib/clock';
import { MONGO_DEFAULTS, MongoSettings, MongoStore, connectionString } from '../lib/backends/mongo';
import { MigrationProgress } from '../lib/backends/mongo/migrate';
import { useMongoStores } from './support/mongo-test-stores';
import { rejection } from '../lib/conformance/context';

describe('mongo store', () => {
  const mongo = useMongoStores('mongo_test');
  const store = (settings: MongoSettings = {}): MongoStore => mongo.store(settings);

  describe('settings', () => {
    const bad: Array<[string, MongoSettings, string]> = [
      ['port out of range', { port: 70000 }, 'port'],
      ['port not a number', { port: '27017' as unknown as number }, 'port'],
      ['empty host', { host: '' }, 'host'],
      ['hosts with a space', { hosts: 'a:1, b c:2' }, 'hosts'],
      ['url with a bad scheme', { url: 'http://x' }, 'url'],
      ['url with host', { url: 'mongodb://x', host: 'y' }, 'host'],
      ['client that is not a MongoClient', { client: {} as MongoClient }, 'client'],
      ['indexes not an array', { indexes: 'age' as unknown as string[] }, 'indexes'],
      ['an index path with $', { indexes: ['$where'] }, 'indexes'],
      ['collectionName with $', { collectionName: 'a$b' }, 'collectionName'],
      ['db with a dot', { db: 'a.b' }, 'db'],
      ['negative serverSelectionTimeoutMS', { serverSelectionTimeoutMS: -1 }, 'serverSelectionTimeoutMS'],
      ['tiny chunkSize', { chunkSize: 10 }, 'chunkSize'],
      ['migrateLegacy not a boolean', { migrateLegacy: 'yes' as unknown as boolean }, 'migrateLegacy'],
    ];
    for (const [name, settings, setting] of bad) {
      it(`rejects ${name} when created, naming ${setting}`, () => {
        let err: (Error & { code?: string }) | undefined;
        try {
          new MongoStore(settings);
        } catch (e) {
          err = e as Error & { code?: string };
        }
        expect(err?.code).to.equal('ERR_STORE_CONFIG');
        expect(err?.message).to.contain(setting);
      });
    }

    it("builds memstorage's connection string from its settings", () => {
      expect(connectionString({})).to.equal('mongodb://localhost:27017/?directConnection=true');
      expect(connectionString({ host: 'db', port: 1234, user: 'u@x', pass: 'p:w/' })).to.equal(
        'mongodb://u%40x:p%3Aw%2F@db:1234/?directConnection=true',
      );
      expect(connectionString({ hosts: 'a:1,b:2', replicaset: 'rs0' })).to.equal('mongodb://a:1,b:2/?replicaSet=rs0');
      expect(connectionString({ hosts: ['a:1', 'b:2'] })).to.equal('mongodb://a:1,b:2/');
      expect(MONGO_DEFAULTS.collectionName).to.equal('memstorage');
    });

    it("Store({ type: 'mongo' }) builds a MongoStore with memstorage's host/port/db/collectionName", async () => {
      const { hostname, port } = new URL(mongo.url.replace('mongodb://', 'http://'));
      const db = mongo.freshDb();
      const s = Store({ type: 'mongo', settings: { host: hostname, port: Number(port), db, collectionName: 'legacy', callbacks: 'node' } });
      expect(s).to.be.instanceOf(MongoStore);
      try {
        await s.set('a', 1);
        expect(await mongo.raw.db(db).collection('legacy').countDocuments()).to.equal(1);
      } finally {
        await s.close();
      }
    });

    it('uses an existing client and never closes it', async () => {
      const client = new MongoClient(mongo.url);
      const s = new MongoStore({ client, db: mongo.freshDb() });
      await s.set('a', 1);
      await s.close();
      const db = client.db('admin');
      expect((await db.command({ ping: 1 })).ok).to.equal(1);
      await client.close();
    });
  });

  describe('document layout', () => {
    it('one document per entry: _id = key id, k = key, v = serialized value, e, n, s', async () => {
      const s = store();
      await s.set('user:1', { name: 'Ann', born: new Date(0) });
      await s.set({ b: 2, a: { c: [1, 'x'] } }, 'obj', { ttl: 60_000 });
      const docs = await s.collection.find({}).sort({ s: 1 }).toArray();
      expect(docs).to.have.length(2);
      expect(docs[0]._id).to.equal('user:1');
      expect(docs[0].k).to.equal('user:1');
      expect(docs[0].e).to.equal(null);
      expect(docs[0].n).to.equal('');
      expect(docs[0].v).to.be.a('string');
      expect(docs[1]._id).to.equal('\u0000{"a":{"c":[1,"x"]},"b":2}');
      expect(docs[1].k).to.deep.equal({ a: { c: [1, 'x'] }, b: 2 });
      expect(docs[1].e).to.be.instanceOf(Date);
      expect(docs[0].s.toHexString() < docs[1].s.toHexString()).to.equal(true);
      expect(await s.getOne('user:1')).to.deep.equal({ name: 'Ann', born: new Date(0) });
    });

    it('a scope keeps its entries under NUL + namespace + NUL + id, with n = namespace', async () => {
      const s = store();
      const scoped = s.scope('tenant');
      await scoped.set('k', 1);
      await s.set('k', 2);
      const docs = await s.collection.find({}).sort({ s: 1 }).toArray();
      expect(docs.map((d) => [d._id, d.n])).to.deep.equal([
        ['\u0000tenant\u0000k', 'tenant'],
        ['k', ''],
      ]);
      await scoped.clear();
      expect(await s.getOne('k')).to.equal(2);
      await scoped.close();
    });

    it('Buffer, Uint8Array and Date come back with the same types', async () => {
      const s = store();
      const value = { buf: Buffer.from([1, 2]), u8: new Uint8Array([3]), at: new Date(5), list: [Buffer.from('x')] };
      await s.set('v', value);
      const back = (await s.getOne('v')) as typeof value;
      expect(Buffer.isBuffer(back.buf)).to.equal(true);
      expect(back.u8).to.be.instanceOf(Uint8Array);
      expect(Buffer.isBuffer(back.u8)).to.equal(false);
      expect(back.at).to.be.instanceOf(Date);
      expect(back).to.deep.equal(value);
    });
  });

  describe('native queries and indexes', () => {
    const watched = (settings: MongoSettings = {}) => mongo.watched(settings);

    it('a query runs on the server as a filter over k.<path>, sorted by creation order', async () => {
      const { s, commands } = watched();
      for (let i = 0; i < 50; i++) await s.set({ id: i, age: 20 + (i % 5) }, i);
      commands.length = 0;
      expect(await s.get({ age: 21 })).to.deep.equal([1, 6, 11, 16, 21, 26, 31, 36, 41, 46]);
      const find = commands.find((c) => c.commandName === 'find')!;
      expect(JSON.stringify(find.command.filter)).to.contain('"k.age":21');
      expect(Object.fromEntries(find.command.sort instanceof Map ? find.command.sort : Object.entries(find.command.sort))).to.deep.equal({ s: 1 });
      commands.length = 0;
      expect(await s.count({ age: { $gte: 23 } })).to.equal(20);
      expect(commands.map((c) => c.commandName)).to.deep.equal(['aggregate']);
      commands.length = 0;
      expect(await s.del({ age: 24 })).to.equal(10);
      expect(commands.map((c) => c.commandName)).to.include('delete');
      expect(commands.filter((c) => c.commandName === 'find').every((c) => JSON.stringify(c.command.filter).includes('k.age'))).to.equal(true);
      expect(await s.count({ age: { $gte: 20 } })).to.equal(40);
    });

    it('an exact key is one findOne on _id', async () => {
      const { s, commands } = watched();
      await s.set({ b: 1, a: 2 }, 'x');
      commands.length = 0;
      expect(await s.getOne({ a: 2, b: 1 })).to.equal('x');
      expect(commands).to.have.length(1);
      expect(commands[0].command.filter).to.deep.equal({ _id: '\u0000{"a":2,"b":1}' });
      const indexes = await s.collection.indexes();
      expect(indexes.find((i) => i.name === '_id_')).to.not.equal(undefined);
    });

    it('a query on a path in `indexes` uses that index (explain shows IXSCAN)', async () => {
      const { s, commands } = watched({ indexes: ['age', 'name.last'] });
      const docs = [];
      for (let i = 0; i < 2000; i++) docs.push(s.set({ id: i, age: i % 100, name: { last: `L${i % 50}` } }, i));
      await Promise.all(docs);
      commands.length = 0;
      expect(await s.get({ age: 42 })).to.have.length(20);
      const find = commands.find((c) => c.commandName === 'find')!.command;
      const plan = await s.collection.db.command({ explain: { find: find.find, filter: find.filter, sort: find.sort }, verbosity: 'queryPlanner' });
      const winning = JSON.stringify(plan.queryPlanner.winningPlan);
      expect(winning).to.contain('IXSCAN');
      expect(winning).to.contain('n_1_k.age_1_s_1');
      expect(winning).to.not.contain('COLLSCAN');
      // A nested partial key on the other indexed path.
      commands.length = 0;
      expect(await s.count({ name: { last: 'L7' } })).to.equal(40);
      const agg = commands.find((c) => c.commandName === 'aggregate')!.command;
      const plan2 = await s.collection.db.command({ explain: { aggregate: agg.aggregate, pipeline: agg.pipeline, cursor: {} }, verbosity: 'queryPlanner' });
      expect(JSON.stringify(plan2)).to.contain('n_1_k.name.last_1_s_1');
    });

    it('operators, $elemMatch, $not, $regex and logical operators run natively', async () => {
      const s = store();
      await s.set({ n: 1, tags: [{ t: 'a', w: 1 }, { t: 'b', w: 5 }], name: 'Apple' }, 'one');
      await s.set({ n: 2, tags: [{ t: 'a', w: 9 }], name: 'apricot' }, 'two');
      await s.set({ n: 3, tags: [], name: 'Banana' }, 'three');
      await s.set('n', 'a string key never matches an object query');
      expect(await s.get({ tags: { $elemMatch: { t: 'a', w: { $gt: 4 } } } })).to.deep.equal(['two']);
      expect(await s.get({ name: { $regex: /^ap/i } })).to.deep.equal(['one', 'two']);
      expect(await s.get({ name: { $regex: '^Ap' } })).to.deep.equal(['one']);
      expect(await s.get({ name: /^B/ })).to.deep.equal(['three']);
      expect(await s.get({ n: { $not: { $gt: 1 } } })).to.deep.equal(['one']);
      expect(await s.get({ $nor: [{ n: 1 }, { n: 2 }] })).to.deep.equal(['three']);
      expect(await s.get({ missing: { $exists: false } })).to.deep.equal(['one', 'two', 'three']);
      expect(await s.get({ $or: [{ n: 3 }, { 'tags.w': 9 }] })).to.deep.equal(['two', 'three']);
    });

    it('$where and other code-running operators never reach the server', async () => {
      const { s, commands } = watched();
      await s.set({ a: 1 }, 1);
      commands.length = 0;
      for (const q of [{ $where: 'true' }, { a: { $where: 'true' } }, { $expr: { $eq: [1, 1] } }, { a: { $function: {} } }]) {
        expect((await rejection(s.get(q as never))).code).to.equal('ERR_INVALID_QUERY');
        expect((await rejection(s.del(q as never))).code).to.equal('ERR_INVALID_QUERY');
      }
      expect(commands).to.have.length(0);
    });

    it('globs match string keys only, anchored at both ends', async () => {
      const s = store();
      await s.set('user:1', 1);
      await s.set('user:10\n', 2);
      await s.set('xuser:1', 3);
      await s.set({ user: 1 }, 4);
      expect(await s.keys('user:*')).to.deep.equal(['user:1', 'user:10\n']);
      expect(await s.keys('user:?')).to.deep.equal(['user:1']);
      expect(await s.keys('*')).to.deep.equal(['user:1', 'user:10\n', 'xuser:1']);
    });
  });

  describe('coalescing concurrent exact-key calls', () => {
    it('1,000 concurrent getOne/set are a few round trips, and each caller gets its own result', async () => {
      const client = new MongoClient(mongo.url, { monitorCommands: true });
      const commands: string[] = [];
      client.on('commandStarted', (event) => commands.push(event.commandName));
      const s = store({ url: undefined, client });
      mongo.closeAfterTest({ close: async () => client.close() });
      await s.connect();
      commands.length = 0;
      await Promise.all(Array.from({ length: 1000 }, (_, i) => s.set(`k${i}`, { i })));
      expect(commands.filter((c) => c === 'update').length).to.be.at.most(2);
      commands.length = 0;
      const keys = Array.from({ length: 1000 }, (_, i) => (i % 7 === 0 ? 'missing' : `k${i}`));
      const values = await Promise.all(keys.map((k) => s.getOne(k)));
      expect(commands.filter((c) => c === 'find').length).to.be.at.most(2);
      values.forEach((v, i) => expect(v).to.deep.equal(i % 7 === 0 ? undefined : { i }));
      expect(values[1]).to.not.equal(values[8]);
    });

    it('close() right after calls still sends and answers them', async () => {
      const db = mongo.freshDb();
      const s = new MongoStore({ url: mongo.url, db });
      await s.connect();
      const writes = [s.set('a', 1), s.set('b', 2), s.getOne('a')];
      await s.close();
      const [, , read] = await Promise.all(writes);
      expect(read === undefined || read === 1).to.equal(true);
      const again = new MongoStore({ url: mongo.url, db });
      mongo.closeAfterTest(again);
      expect(await again.get('b')).to.deep.equal([2]);
    });

    it('in one batch: the same key twice keeps the last value, an expired key moves to the end, a streamed value is replaced', async () => {
      const clock = new ManualClock(Date.now());
      const s = store({ clock });
      await s.set('first', 0);
      await s.set('expiring', 'old', { ttl: 10 });
      await s.setStream('streamed', (async function* () {
        yield Buffer.from('bytes');
      })());
      await s.set('last', 0);
      clock.advance(11);
      await Promise.all([s.set('dup', 1), s.set('expiring', 'new'), s.set('dup', 2), s.set('streamed', 'plain'), s.set('first', 1)]);
      expect(await s.getOne('dup')).to.equal(2);
      expect(await s.getOne('streamed')).to.equal('plain');
      expect(await s.keys()).to.deep.equal(['first', 'streamed', 'last', 'dup', 'expiring']);
      await s.sweep();
      const files = await s.collection.db.collection(`${s.collection.collectionName}.fs.files`).countDocuments();
      expect(files).to.equal(0);
    });
  });

  describe('TTL', () => {
    it('a TTL index on e frees entries on the server; reads skip expired entries before it runs', async () => {
      const clock = new ManualClock(Date.now());
      const s = store({ clock });
      await s.set('short', 1, { ttl: 1000 });
      await s.setex('long', 2, 3600);
      await s.set('never', 3);
      const ttlIndex = (await s.collection.indexes()).find((i) => i.key.e === 1)!;
      expect(ttlIndex.expireAfterSeconds).to.equal(0);
      expect(await s.ttl('short')).to.equal(1000);
      expect(await s.ttl('never')).to.equal(null);
      clock.advance(1001);
      // The server has not removed it yet (its monitor runs every 60 s); the store does not see it.
      expect(await s.collection.countDocuments({ _id: 'short' })).to.equal(1);
      expect(await s.getOne('short')).to.equal(undefined);
      expect(await s.has('short')).to.equal(false);
      expect(await s.ttl('short')).to.equal(undefined);
      expect(await s.keys()).to.deep.equal(['long', 'never']);
      expect(await s.count({ a: { $exists: false } })).to.equal(0);
      expect((await s.stats()).items).to.equal(2);
      expect(await s.del('short')).to.equal(0);
      const remaining = (await s.ttl('long')) as number;
      expect(remaining).to.be.within(3600_000 - 1001 - 50, 3600_000 - 1001);
    });
  });

  describe('cursors', () => {
    /**
     * Cursors open on the server. The count is the whole server's: a test before this one may
     * leave one for the server to time out (cli-snapshots SIGKILLs a copy mid-walk), so each
     * test compares with the count it started from.
     */
    const openCursors = async (client: MongoClient): Promise<number> =>
      ((await client.db('admin').command({ serverStatus: 1 })).metrics?.cursor?.open?.total as number | undefined) ?? 0;

    it('entries() streams over a cursor; destroying the stream closes the cursor on the server', async () => {
      const client = new MongoClient(mongo.url, { monitorCommands: true });
      const commands: string[] = [];
      client.on('commandStarted', (event) => commands.push(event.commandName));
      const s = store({ url: undefined, client });
      try {
        const before = await openCursors(client);
        const writes = [];
        // More than one batch of the scan (1,000 documents), so the server still holds the cursor.
        for (let i = 0; i < 2_500; i++) writes.push(s.set(`k${String(i).padStart(4, '0')}`, i));
        await Promise.all(writes);
        const stream = s.createReadStream();
        const first = await new Promise((resolve) => stream.once('data', resolve));
        expect(first).to.deep.equal({ key: 'k0000', value: 0 });
        commands.length = 0;
        stream.destroy();
        await new Promise((resolve) => stream.once('close', resolve));
        for (let i = 0; i < 50 && !commands.includes('killCursors'); i++) await new Promise((r) => setTimeout(r, 10));
        expect(commands).to.include('killCursors');
        expect(await openCursors(client)).to.equal(before);
      } finally {
        await s.close();
        await client.close();
      }
    });

    it('breaking out of entries() closes the cursor too', async () => {
      const s = store();
      const before = await openCursors(mongo.raw);
      for (let i = 0; i < 300; i++) await s.set({ i }, i);
      let seen = 0;
      for await (const entry of s.entries({ i: { $gte: 0 } })) {
        expect(entry.value).to.equal(seen);
        if (++seen === 3) break;
      }
      expect(await openCursors(mongo.raw)).to.equal(before);
    });
  });

  describe('collections written by memstorage 0.5.3', () => {
    /** Writes documents exactly as memstorage 0.5.3's mongo store did: update({ _id: key }, { _id: key, val }, { upsert: true }). */
    async function writeLegacy(db: string, collection: string): Promise<void> {
      const coll = mongo.raw.db(db).collection<Document>(collection);
      const docs: Array<[unknown, unknown]> = [
        ['greeting', 'hello'],
        [{ name: { first: 'Ann', last: 'Apple' }, age: 20 }, { id: 1, at: new Date(1000) }],
        [{ name: { last: 'Apple', first: 'Bob' }, age: 31 }, [1, 2, 3]],
        [{ name: { first: 'Cid', last: 'Pear' }, age: 20 }, Buffer.from('bytes')],
        ['config:x', { nested: { deep: true } }],
      ];
      for (const [key, val] of docs) {
        await coll.updateOne({ _id: key } as Document, { $set: { val } }, { upsert: true });
      }
    }

    it('are detected at connect: the store fails with ERR_STORE_CONFIG instead of hiding the entries', async () => {
      const db = mongo.freshDb();
      await writeLegacy(db, 'legacy');
      const s = store({ db, collectionName: 'legacy' });
      const err = await rejection(s.getOne('greeting'));
      expect(err.code).to.equal('ERR_STORE_CONFIG');
      expect(err.message).to.contain('memstorage 0.5.3');
    });

    it('migrate in place with progress; then read, query (nested partial keys) and delete', async () => {
      const db = mongo.freshDb();
      await writeLegacy(db, 'legacy');
      const s = store({ db, collectionName: 'legacy' });
      const progress: MigrationProgress[] = [];
      const result = await s.migrateLegacy((p) => progress.push(p));
      expect(result).to.include({ migrated: 5, skipped: 0, total: 5 });
      expect(progress[0]).to.deep.equal({ migrated: 0, skipped: 0, total: 5 });
      expect(progress[progress.length - 1]).to.deep.equal({ migrated: 5, skipped: 0, total: 5 });

      expect(await s.getOne('greeting')).to.equal('hello');
      expect(await s.getOne({ age: 20, name: { last: 'Apple', first: 'Ann' } })).to.deep.equal({ id: 1, at: new Date(1000) });
      expect(await s.get({ name: { last: 'Apple' } })).to.deep.equal([{ id: 1, at: new Date(1000) }, [1, 2, 3]]);
      expect(await s.get({ age: 20 }, { includeKey: true })).to.deep.equal([
        { key: { age: 20, name: { first: 'Ann', last: 'Apple' } }, val: { id: 1, at: new Date(1000) } },
        { key: { age: 20, name: { first: 'Cid', last: 'Pear' } }, val: Buffer.from('bytes') },
      ]);
      expect(await s.keys('config:*')).to.deep.equal(['config:x']);
      expect(await s.del({ name: { last: 'Apple' } })).to.equal(2);
      expect(await s.del('greeting')).to.equal(1);
      expect(await s.count({ age: 20 })).to.equal(1);
      expect(await s.collection.countDocuments({ val: { $exists: true } })).to.equal(0);
      // Running it again finds nothing to do.
      expect(await s.migrateLegacy()).to.include({ migrated: 0, skipped: 0, total: 0 });
    });

    it('migrateLegacy: true converts at connect; documents that cannot be entries are tagged and reported', async () => {
      const db = mongo.freshDb();
      await writeLegacy(db, 'legacy');
      await mongo.raw.db(db).collection<Document>('legacy').insertOne({ _id: 42 as unknown as string, val: 'numeric key' } as Document);
      const s = store({ db, collectionName: 'legacy', migrateLegacy: true });
      expect(await s.get({ name: { last: 'Pear' } })).to.deep.equal([Buffer.from('bytes')]);
      const left = await s.collection.findOne({ _id: 42 as unknown as string });
      expect(left?.legacyError).to.be.a('string');
    });

    it('an entry the new store already wrote wins over the old document', async () => {
      const db = mongo.freshDb();
      const coll = mongo.raw.db(db).collection<Document>('legacy');
      const fresh = store({ db, collectionName: 'legacy' });
      await fresh.set({ a: 1 }, 'new');
      await fresh.close();
      await coll.insertOne({ _id: { a: 1 } as unknown as string, val: 'old' } as Document);
      const s = store({ db, collectionName: 'legacy', migrateLegacy: true });
      expect(await s.getOne({ a: 1 })).to.equal('new');
      expect(await coll.countDocuments()).to.equal(1);
    });

    it('one command: scripts/migrate-memstorage.ts prints progress and exits 0', async function () {
      this.timeout(60_000);
      const db = mongo.freshDb();
      await writeLegacy(db, 'legacy');
      const coll = mongo.raw.db(db).collection<Document>('legacy');
      const many = [];
      for (let i = 0; i < 1200; i++) many.push({ _id: { n: i } as unknown as string, val: i } as Document);
      await coll.insertMany(many);
      const root = path.resolve(__dirname, '..');
      const { stderr } = await promisify(execFile)(
        process.execPath,
        ['-r', 'ts-node/register/transpile-only', 'scripts/migrate-memstorage.ts', '--url', mongo.url, '--db', db, '--collection', 'legacy'],
        { cwd: root },
      );
      expect(stderr).to.contain('0%  0 migrated, 0 skipped, of 1205');
      expect(stderr).to.contain('100%  1205 migrated, 0 skipped, of 1205');
      expect(stderr).to.contain('done: 1205 migrated');
      const s = store({ db, collectionName: 'legacy' });
      expect(await s.count({ n: { $gte: 1000 } })).to.equal(200);
      expect(await s.get({ n: { $lt: 3 } })).to.deep.equal([0, 1, 2]);
    });
  });
});
