/**
 * touch and tags on the MongoDB store (SPEC §15; issue #13 items 2 and 4), beyond the
 * conformance group: the stored field `t` and its partial index, which never keeps a record of
 * an entry that is gone; deleteByTags and touch against a second store (its own client) writing
 * the same collection; touch on a GridFS-streamed value; documents written before tags existed.
 */
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { ObjectId } from 'mongodb';
import { ManualClock } from '../lib/clock';
import { MongoStore } from '../lib/backends/mongo';
import { TAG_INDEX } from '../lib/backends/mongo/layout';
import { startMongo } from './support/mongo-server';
import { mongoTestStores } from './support/test-stores';

/** How many keys the tag index holds (a document with n tags holds n). */
async function tagIndexKeys(s: MongoStore): Promise<number> {
  const res = await s.collection.db.command({ validate: s.collection.collectionName, full: true });
  return (res.keysPerIndex as Record<string, number>)[TAG_INDEX];
}

/** The raw document of a root-namespace key. */
function rawDoc(s: MongoStore, id: string): Promise<Record<string, unknown> | null> {
  return s.collection.findOne({ _id: id }) as Promise<Record<string, unknown> | null>;
}

describe('mongo store: touch and tags', () => {
  const stores = mongoTestStores('mongo_tags');

  describe('the tags field and its index', () => {
    it('a tagged set stores `t`; a set without tags removes it; setStream removes it; only tagged documents are in the index', async () => {
      const s = stores.open();
      await s.set('a', 1, { tags: ['x', 'y'] });
      await s.set('b', 2);
      expect((await rawDoc(s, 'a'))!.t).to.deep.equal(['x', 'y']);
      expect(await rawDoc(s, 'b')).to.not.have.property('t');
      expect(await tagIndexKeys(s)).to.equal(2);
      await s.set('a', 3, { tags: ['z'] });
      expect((await rawDoc(s, 'a'))!.t).to.deep.equal(['z']);
      expect(await tagIndexKeys(s)).to.equal(1);
      await s.set('a', 4);
      expect(await rawDoc(s, 'a')).to.not.have.property('t');
      expect(await tagIndexKeys(s)).to.equal(0);
      await s.set('a', 5, { tags: ['x'] });
      await s.setStream('a', Readable.from([Buffer.from('bytes')]));
      expect(await rawDoc(s, 'a')).to.not.have.property('t');
      expect(await s.delByTags(['x'])).to.equal(0);
      expect(await s.getOne('a')).to.deep.equal(Buffer.from('bytes'));
    });

    it('batched sets (one update command) write and remove tags per statement', async () => {
      const s = stores.open();
      await Promise.all([s.set('a', 1, { tags: ['x'] }), s.set('b', 2), s.set('c', 3, { tags: ['x', 'y'] })]);
      await Promise.all([s.set('a', 1), s.set('b', 2, { tags: ['y'] }), s.set('c', 3, { tags: ['x', 'y'] })]);
      expect(await rawDoc(s, 'a')).to.not.have.property('t');
      expect((await rawDoc(s, 'b'))!.t).to.deep.equal(['y']);
      expect(await s.delByTags(['y'])).to.equal(2);
      expect(await s.keys()).to.deep.equal(['a']);
    });

    it('no tag record outlives its entry: delete, overwrite, delByTags, clear', async () => {
      const s = stores.open();
      const scoped = s.scope('ns');
      for (let i = 0; i < 10; i++) await s.set(`k${i}`, i, { tags: ['t1', `own${i}`] });
      await scoped.set('k0', 'scoped', { tags: ['t1'] });
      expect(await tagIndexKeys(s)).to.equal(21);
      await s.del('k0');
      await s.del({ $or: [{ never: 1 }] }); // a query delete matching nothing leaves the rest
      await s.set('k1', 'untagged now');
      expect(await tagIndexKeys(s)).to.equal(17);
      expect(await s.delByTags(['own2', 'own3'])).to.equal(2);
      expect(await tagIndexKeys(s)).to.equal(13);
      await s.clear();
      expect(await tagIndexKeys(s)).to.equal(1); // the scope's entry is another namespace's
      expect(await scoped.delByTags(['t1'])).to.equal(1);
      expect(await tagIndexKeys(s)).to.equal(0);
      await scoped.close();
    });

    it('delByTags is one delete through the partial tag index (the command sent, explained), never a scan of the namespace', async () => {
      const s = stores.open({ clientOptions: { monitorCommands: true } });
      for (let i = 0; i < 300; i++) await s.set(`k${i}`, i, i % 3 === 0 ? { tags: [`g${i % 7}`] } : undefined);
      const sent: Array<{ name: string; command: Record<string, unknown> }> = [];
      s.client!.on('commandStarted', (e) => sent.push({ name: e.commandName, command: e.command }));
      expect(await s.delByTags(['g1', 'g2'])).to.equal(28);
      const deletes = sent.filter((c) => c.name === 'delete');
      expect(deletes).to.have.length(1);
      const { delete: collection, deletes: statements } = deletes[0].command as { delete: string; deletes: unknown[] };
      const plan = await s.collection.db.command({ explain: { delete: collection, deletes: statements }, verbosity: 'queryPlanner' });
      const winning = JSON.stringify(plan.queryPlanner.winningPlan);
      expect(winning).to.contain(TAG_INDEX);
      expect(winning).to.not.contain('COLLSCAN');
      expect(winning).to.not.contain('n_1_s_1');
    });

    it('an expired tagged entry is not counted by delByTags (nor deleted twice: the TTL monitor frees it with its tags)', async () => {
      const clock = new ManualClock(Date.now());
      const s = stores.open({ clock });
      await s.set('short', 1, { ttl: 1000, tags: ['x'] });
      await s.set('long', 2, { ttl: 5000, tags: ['x'] });
      clock.advance(1000);
      expect(await s.delByTags(['x'])).to.equal(1);
      expect(await s.keys()).to.deep.equal([]);
    });
  });

  describe('touch', () => {
    it('is one findOneAndUpdate on _id with the liveness check in its filter, writing only `e`', async () => {
      const clock = new ManualClock(Date.now());
      const s = stores.open({ clock, clientOptions: { monitorCommands: true } });
      await s.set({ a: 1 }, 'v', { tags: ['x'] });
      const before = await s.collection.findOne({});
      const commands: Array<Record<string, unknown>> = [];
      s.client!.on('commandStarted', (e) => commands.push({ name: e.commandName, ...e.command }));
      expect(await s.touch({ a: 1 }, 5000)).to.equal(true);
      const sent = commands.filter((c) => c.name !== 'endSessions');
      expect(sent.map((c) => c.name)).to.deep.equal(['findAndModify']);
      expect(sent[0].update).to.deep.equal({ $set: { e: new Date(clock.now() + 5000) } });
      expect(sent[0].query).to.have.property('e');
      const after = await s.collection.findOne({});
      expect(after).to.deep.equal({ ...before, e: new Date(clock.now() + 5000) });
    });

    it('keeps a streamed value\'s file alive past its old expiry, and lets the sweep free it after the new one', async () => {
      const clock = new ManualClock(Date.now());
      const s = stores.open({ clock });
      await s.setStream('big', Readable.from([Buffer.alloc(1000, 1), Buffer.alloc(1000, 2)]), { ttl: 1000 });
      expect(await s.touch('big', 60_000)).to.equal(true);
      clock.advance(2000);
      expect(await s.sweep()).to.equal(0); // the file's expiry moved with the entry's
      expect(await s.getOne('big')).to.deep.equal(Buffer.concat([Buffer.alloc(1000, 1), Buffer.alloc(1000, 2)]));
      expect(await s.touch('big', null)).to.equal(true);
      clock.advance(120_000);
      expect(await s.sweep()).to.equal(0);
      expect((await s.getOne('big') as Buffer).length).to.equal(2000);
      expect(await s.touch('big', 10)).to.equal(true);
      clock.advance(10);
      expect(await s.sweep()).to.equal(1);
      expect(await s.getOne('big')).to.equal(undefined);
    });

    it('the sweep never frees a file a live entry holds, even when the file still carries an older expiry (the instant between touch\'s two updates)', async () => {
      const clock = new ManualClock(Date.now());
      const s = stores.open({ clock });
      await s.setStream('big', Readable.from([Buffer.from('streamed bytes')]), { ttl: 1000 });
      await s.setStream('gone', Readable.from([Buffer.from('expires')]), { ttl: 1000 });
      // The entry's expiry moved, its file's not yet: what a sweep between the two updates sees.
      await s.collection.updateOne({ _id: 'big' }, { $set: { e: new Date(clock.now() + 60_000) } });
      clock.advance(1000);
      expect(await s.sweep()).to.equal(1); // 'gone' only
      expect(await s.getOne('big')).to.deep.equal(Buffer.from('streamed bytes'));
      const files = s.collection.db.collection(`${s.collection.collectionName}.fs.files`);
      const file = await files.findOne({ _id: (await rawDoc(s, 'big'))!.g as ObjectId });
      expect(file!.metadata.e).to.deep.equal(new Date(clock.now() + 59_000)); // corrected from the entry
      expect(await s.sweep()).to.equal(0);
    });

    it('a touched expiry is what queries, counts and key listings honour', async () => {
      const clock = new ManualClock(Date.now());
      const s = stores.open({ clock, indexes: ['kind'] });
      await s.set({ kind: 'a', i: 1 }, 1, { ttl: 1000 });
      await s.set({ kind: 'a', i: 2 }, 2);
      expect(await s.touch({ kind: 'a', i: 1 }, null)).to.equal(true);
      expect(await s.touch({ kind: 'a', i: 2 }, 500)).to.equal(true);
      clock.advance(1000);
      expect(await s.get({ kind: 'a' })).to.deep.equal([1]);
      expect(await s.count({ kind: 'a' })).to.equal(1);
      expect(await s.keys()).to.deep.equal([{ i: 1, kind: 'a' }]);
      expect(await s.ttl({ kind: 'a', i: 1 })).to.equal(null);
      expect(await s.touch({ kind: 'a', i: 2 }, 500)).to.equal(false); // expired: not revived
      expect(await s.collection.findOne({ 'k.i': 2 })).to.have.property('e').that.deep.equals(new Date(clock.now() - 500));
    });

    it('an expiry a stored Date cannot hold is ERR_INVALID_ARGUMENT and writes nothing', async () => {
      const clock = new ManualClock(8.64e15 - 1000);
      const s = stores.open({ clock });
      await s.set('k', 'v', { ttl: 500 });
      const err = await s.touch('k', 10_000).then(() => undefined, (e: { code?: string }) => e);
      expect(err?.code).to.equal('ERR_INVALID_ARGUMENT');
      expect((await rawDoc(s, 'k'))!.e).to.deep.equal(new Date(8.64e15 - 500));
    });
  });

  describe('against a second store on the same collection (another client, as another process)', () => {
    it('touch never brings back an entry the other store deleted (one atomic update, no read-then-write)', async () => {
      const a = stores.open();
      await a.connect();
      const other = stores.open({ collectionName: a.collection.collectionName });
      for (let round = 0; round < 40; round++) {
        const key = `k${round}`;
        await a.set(key, round, { tags: ['x'] });
        const [touched, deleted] = await Promise.all([a.touch(key, 60_000), other.del(key)]);
        expect(deleted).to.equal(1);
        expect(touched).to.be.a('boolean');
        expect(await other.has(key)).to.equal(false, `round ${round}: touched=${touched}`);
        expect(await a.getOne(key)).to.equal(undefined);
      }
    });

    it('delByTags counts exactly what it removed while the other store writes tagged entries', async () => {
      const a = stores.open();
      await a.connect();
      const other = stores.open({ collectionName: a.collection.collectionName });
      const writes: Array<Promise<void>> = [];
      const deletes: Array<Promise<number>> = [];
      for (let i = 0; i < 300; i++) {
        writes.push(other.set(`w${i}`, i, { tags: ['hot', `w${i % 5}`] }));
        if (i % 60 === 0) deletes.push(a.delByTags(['hot']));
      }
      await Promise.all(writes);
      const removed = (await Promise.all(deletes)).reduce((x, y) => x + y, 0);
      const remaining = (await other.keys()).length;
      expect(removed + remaining).to.equal(300);
      expect(await a.delByTags(['w0', 'w1', 'w2', 'w3', 'w4'])).to.equal(remaining);
      expect(await tagIndexKeys(a)).to.equal(0);
    });

    it('delByTags leaves an entry the other store re-set without the tag meanwhile, and frees only files no entry holds', async () => {
      const a = stores.open();
      await a.connect();
      const other = stores.open({ collectionName: a.collection.collectionName });
      // A streamed value replaced by a tagged plain set: the entry holds both v and the old file g.
      await a.setStream('s', Readable.from([Buffer.from('old file')]));
      await a.set('s', 'plain', { tags: ['x'] });
      const fileId = (await rawDoc(a, 's'))!.g;
      expect(fileId).to.be.instanceOf(ObjectId);
      expect(await a.delByTags(['x'])).to.equal(1);
      const files = a.collection.db.collection(`${a.collection.collectionName}.fs.files`);
      expect(await files.countDocuments({ _id: fileId as ObjectId })).to.equal(0);
      await other.set('u', 1, { tags: ['y'] });
      await other.set('u', 2);
      expect(await a.delByTags(['y'])).to.equal(0);
      expect(await a.getOne('u')).to.equal(2);
    });
  });

  describe('with the server down', () => {
    it('touch and delByTags fail with ERR_STORAGE_CONNECTION (typed, within the timeout), and work again after a restart', async function () {
      this.timeout(120_000);
      const server = await startMongo();
      const s = new MongoStore({ url: server.url, db: 'down', collectionName: 'tags', serverSelectionTimeoutMS: 1000 });
      try {
        await s.set('k', 1, { tags: ['x'] });
        await server.stop();
        for (const call of [s.touch('k', 5000), s.delByTags(['x'])]) {
          const started = Date.now();
          const err = await call.then(() => undefined, (e: { code?: string }) => e);
          expect(err?.code).to.equal('ERR_STORAGE_CONNECTION');
          expect(Date.now() - started).to.be.below(15_000);
        }
        await server.restart();
        expect(await s.touch('k', 5000)).to.equal(true);
        expect(await s.delByTags(['x'])).to.equal(1);
      } finally {
        await s.close();
        await server.dispose();
      }
    });
  });

  describe('documents written before tags existed', () => {
    it('read, touch, list and take tags; delByTags does not count them; the tag index is created on connect', async () => {
      const clock = new ManualClock(Date.now());
      const s = stores.open({ clock });
      await s.connect();
      // The layout at HEAD before tags: no `t`, and no tag index.
      await s.collection.dropIndex(TAG_INDEX);
      await s.collection.insertMany([
        { _id: 'old', k: 'old', v: JSON.stringify('old value'), e: null, n: '', s: new ObjectId() },
        { _id: '\u0000{"o":1}', k: { o: 1 }, v: JSON.stringify(7), e: new Date(clock.now() + 1000), n: '', s: new ObjectId() },
      ] as never);
      await s.close();
      const again = stores.open({ clock, collectionName: s.collection.collectionName });
      expect(await again.getOne('old')).to.equal('old value');
      expect(await again.get({ o: 1 })).to.deep.equal([7]);
      expect((await again.collection.indexes()).map((i) => i.name)).to.include(TAG_INDEX);
      expect(await again.delByTags(['x'])).to.equal(0);
      expect(await again.touch({ o: 1 }, null)).to.equal(true);
      clock.advance(2000);
      expect(await again.get({ o: 1 })).to.deep.equal([7]);
      await again.set('old', 'tagged now', { tags: ['x'] });
      expect(await again.delByTags(['x'])).to.equal(1);
      expect(await again.keys()).to.deep.equal([{ o: 1 }]);
    });
  });
});
