/**
 * getMeta on the MongoDB store (SPEC §16; issue #14 item 4): the times `c` and `u` written by
 * the same update as the entry (plain, batched and streamed sets; touch keeps them), createdAt
 * kept over a live entry and renewed over an expired one, the stored size computed on the server
 * (a string's UTF-8 bytes, a streamed value's file length), tags, documents written before times
 * were recorded, one find per tick, no value on the wire, and corrupt fields failing their key alone.
 */
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { ObjectId } from 'mongodb';
import { ManualClock } from '../lib/clock';
import type { MongoStore } from '../lib/backends/mongo';
import { mongoTestStores } from './support/test-stores';

/** A clock a year ahead of the wall clock: what it expires is still in the future for the server's TTL monitor, so the expired document stays for the store to judge. */
function aheadClock(): ManualClock {
  return new ManualClock(Date.now() + 365 * 24 * 3600_000);
}

/** The raw document of a root-namespace key. */
function rawDoc(s: MongoStore, id: string): Promise<Record<string, unknown> | null> {
  return s.collection.findOne({ _id: id }) as Promise<Record<string, unknown> | null>;
}

/** The commands a store's client sends from now on (its settings must have monitorCommands). */
function recordCommands(s: MongoStore): Array<{ name: string; command: Record<string, unknown> }> {
  const sent: Array<{ name: string; command: Record<string, unknown> }> = [];
  s.client!.on('commandStarted', (e) => {
    if (e.commandName !== 'endSessions') sent.push({ name: e.commandName, command: e.command });
  });
  return sent;
}

describe('mongo store: getMeta', () => {
  const stores = mongoTestStores('mongo_meta');

  describe('times', () => {
    it('a set records createdAt and updatedAt from the clock; an overwrite keeps createdAt; touch changes only the expiry', async () => {
      const clock = aheadClock();
      const s = stores.open({ clock });
      const t0 = clock.now();
      await s.set('a', { x: 1 });
      expect(await s.getMeta('a')).to.deep.equal({ size: Buffer.byteLength('{"x":1}'), createdAt: t0, updatedAt: t0, expiresAt: null, tags: [] });
      clock.advance(1000);
      await s.set('a', { x: 22 }, { ttl: 10_000 });
      expect(await s.getMeta('a')).to.deep.equal({ size: 8, createdAt: t0, updatedAt: t0 + 1000, expiresAt: t0 + 11_000, tags: [] });
      clock.advance(1000);
      expect(await s.touch('a', 60_000)).to.equal(true);
      expect(await s.getMeta('a')).to.deep.equal({ size: 8, createdAt: t0, updatedAt: t0 + 1000, expiresAt: t0 + 62_000, tags: [] });
      const raw = await rawDoc(s, 'a');
      expect(raw!.c).to.deep.equal(new Date(t0));
      expect(raw!.u).to.deep.equal(new Date(t0 + 1000));
    });

    it('an expired entry has no metadata, and a set over it (the document still there) starts a new createdAt', async () => {
      const clock = aheadClock();
      const s = stores.open({ clock });
      const t0 = clock.now();
      await s.set('a', 1, { ttl: 1000 });
      clock.advance(1000);
      expect(await s.getMeta('a')).to.equal(undefined);
      expect(await rawDoc(s, 'a')).to.not.equal(null); // the pipeline judges the expired document, not an insert
      clock.advance(500);
      await s.set('a', 2);
      expect(await s.getMeta('a')).to.include({ createdAt: t0 + 1500, updatedAt: t0 + 1500, expiresAt: null });
    });

    it('a delete then a set starts a new createdAt; a missing key is undefined', async () => {
      const clock = aheadClock();
      const s = stores.open({ clock });
      await s.set('a', 1);
      clock.advance(10);
      await s.del('a');
      expect(await s.getMeta('a')).to.equal(undefined);
      expect(await s.getMeta('never')).to.equal(undefined);
      await s.set('a', 1);
      expect(await s.getMeta('a')).to.include({ createdAt: clock.now(), updatedAt: clock.now() });
    });

    it('batched sets (one update command) write the times of each statement: kept, renewed or new', async () => {
      const clock = aheadClock();
      const s = stores.open({ clock });
      const t0 = clock.now();
      await Promise.all([s.set('live', 1), s.set('short', 1, { ttl: 100 })]);
      clock.advance(200);
      await Promise.all([s.set('live', 2), s.set('short', 2), s.set('new', 3)]);
      const [live, short, fresh] = await Promise.all([s.getMeta('live'), s.getMeta('short'), s.getMeta('new')]);
      expect(live).to.include({ createdAt: t0, updatedAt: t0 + 200 });
      expect(short).to.include({ createdAt: t0 + 200, updatedAt: t0 + 200 });
      expect(fresh).to.include({ createdAt: t0 + 200, updatedAt: t0 + 200 });
    });

    it('setStream records the times like a set: over a live entry it keeps createdAt, over an expired one it renews it', async () => {
      const clock = aheadClock();
      const s = stores.open({ clock });
      const t0 = clock.now();
      await s.set('a', 'plain');
      await s.set('b', 'plain', { ttl: 100 });
      clock.advance(500);
      await s.setStream('a', Readable.from([Buffer.alloc(10, 1)]));
      await s.setStream('b', Readable.from([Buffer.alloc(10, 1)]));
      expect(await s.getMeta('a')).to.include({ createdAt: t0, updatedAt: t0 + 500 });
      expect(await s.getMeta('b')).to.include({ createdAt: t0 + 500, updatedAt: t0 + 500 });
    });

    it('documents written before times were recorded: null times; an overwrite sets updatedAt and leaves createdAt unknown; a re-creation sets both', async () => {
      const clock = aheadClock();
      const s = stores.open({ clock });
      await s.connect();
      await s.collection.insertOne({ _id: 'old', k: 'old', v: '"before"', e: null, n: '', s: new ObjectId() });
      expect(await s.getMeta('old')).to.deep.equal({ size: 8, createdAt: null, updatedAt: null, expiresAt: null, tags: [] });
      await s.set('old', 'after');
      expect(await s.getMeta('old')).to.include({ createdAt: null, updatedAt: clock.now() });
      expect(await rawDoc(s, 'old')).to.not.have.property('c');
      await s.del('old');
      await s.set('old', 'again');
      expect(await s.getMeta('old')).to.include({ createdAt: clock.now(), updatedAt: clock.now() });
    });
  });

  describe('size and tags', () => {
    it('size is the stored value\'s bytes: its serialized UTF-8 length, as the raw document holds it', async () => {
      const s = stores.open();
      const values: Record<string, unknown> = { ascii: 'abc', accents: 'héllo wörld', emoji: '😀😀', obj: { a: [1, 2, { b: 'ç' }] }, date: new Date(5), bytes: Buffer.from([1, 2, 3]), nil: null };
      for (const [key, value] of Object.entries(values)) await s.set(key, value);
      for (const key of Object.keys(values)) {
        const raw = await rawDoc(s, key);
        expect((await s.getMeta(key))!.size, key).to.equal(Buffer.byteLength(raw!.v as string, 'utf8'));
      }
      expect((await s.getMeta('accents'))!.size).to.equal(Buffer.byteLength('"héllo wörld"'));
    });

    it('tags come back in the order given; a set without tags clears them', async () => {
      const s = stores.open();
      await s.set({ id: 1 }, 'v', { tags: ['zeta', 'alpha', 'mid'] });
      expect((await s.getMeta({ id: 1 }))!.tags).to.deep.equal(['zeta', 'alpha', 'mid']);
      await s.set({ id: 1 }, 'v');
      expect((await s.getMeta({ id: 1 }))!.tags).to.deep.equal([]);
    });

    it('a streamed value\'s size is its file\'s length (several chunks); a plain set over it reports the new value', async () => {
      const s = stores.open({ chunkSize: 1024 });
      await s.setStream('big', Readable.from([Buffer.alloc(3000, 1), Buffer.alloc(1234, 2)]));
      expect((await s.getMeta('big'))!.size).to.equal(4234);
      const [big, missing] = await Promise.all([s.getMeta('big'), s.getMeta('none'), s.set('small', 'x')]);
      expect(big!.size).to.equal(4234);
      expect(missing).to.equal(undefined);
      await s.set('big', 'tiny');
      expect((await s.getMeta('big'))!.size).to.equal(6);
    });

    it('works in a namespace, apart from the root', async () => {
      const s = stores.open();
      const scoped = s.scope('ns');
      await s.set('a', 'root', { tags: ['r'] });
      await scoped.set('a', 'scoped value', { tags: ['s'] });
      expect(await scoped.getMeta('a')).to.include({ size: 14 });
      expect((await scoped.getMeta('a'))!.tags).to.deep.equal(['s']);
      expect((await s.getMeta('a'))!.tags).to.deep.equal(['r']);
      await scoped.close();
    });
  });

  describe('round trips', () => {
    it('the getMetas of one tick are one find, whose projection reads no value and whose reply holds none', async () => {
      const s = stores.open({ clientOptions: { monitorCommands: true } });
      await s.setMany(Array.from({ length: 500 }, (_, i) => ({ key: `k${i}`, value: 'x'.repeat(1000) })));
      const replies: Array<Record<string, unknown>> = [];
      s.client!.on('commandSucceeded', (e) => {
        if (e.commandName === 'find') replies.push(e.reply as Record<string, unknown>);
      });
      const sent = recordCommands(s);
      const metas = await Promise.all(Array.from({ length: 500 }, (_, i) => s.getMeta(`k${i}`)));
      expect(metas.every((m) => m!.size === 1002)).to.equal(true);
      expect(sent.map((c) => c.name)).to.deep.equal(['find']);
      expect(sent[0].command.projection).to.not.have.property('v');
      const batch = (replies[0].cursor as { firstBatch: Array<Record<string, unknown>> }).firstBatch;
      expect(batch).to.have.length(500);
      expect(batch.some((doc) => 'v' in doc)).to.equal(false);
    });
  });

  describe('touch', () => {
    it('reads no value back (only whether there is one), and still moves a streamed value\'s file expiry', async () => {
      const clock = aheadClock();
      const s = stores.open({ clock, clientOptions: { monitorCommands: true } });
      await s.set('plain', 'x'.repeat(10_000));
      await s.setStream('big', Readable.from([Buffer.alloc(100, 1)]), { ttl: 1000 });
      const replies: Array<Record<string, unknown>> = [];
      s.client!.on('commandSucceeded', (e) => {
        if (e.commandName === 'findAndModify') replies.push(e.reply as Record<string, unknown>);
      });
      expect(await s.touch('plain', 5000)).to.equal(true);
      expect(await s.touch('big', 60_000)).to.equal(true);
      expect(replies).to.have.length(2);
      for (const reply of replies) expect(reply.value).to.not.have.property('v');
      clock.advance(2000);
      expect(await s.sweep()).to.equal(0); // the file's expiry moved with the entry's
      expect(await s.getOne('big')).to.deep.equal(Buffer.alloc(100, 1));
      expect((await s.getMeta('plain'))!.expiresAt).to.equal(clock.now() - 2000 + 5000);
    });
  });

  describe('exact reads share the batching', () => {
    it('the getOnes of one tick are one find too: the cursor is exhausted in its first batch (no getMore)', async () => {
      const s = stores.open({ clientOptions: { monitorCommands: true } });
      await s.setMany(Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: i })));
      const sent = recordCommands(s);
      const values = await Promise.all(Array.from({ length: 300 }, (_, i) => s.getOne(`k${i}`)));
      expect(values).to.deep.equal(Array.from({ length: 300 }, (_, i) => i));
      expect(sent.map((c) => c.name)).to.deep.equal(['find']);
    });
  });

  describe('corrupt documents', () => {
    it('a time, tags or value field of another type fails that key alone (ERR_STORAGE_OPERATION), batched or not', async () => {
      const s = stores.open();
      await s.setMany([
        { key: 'good', value: 1 },
        { key: 'badC', value: 1 },
        { key: 'badU', value: 1 },
        { key: 'badT', value: 1 },
        { key: 'badV', value: 1 },
        { key: 'noV', value: 1 },
      ]);
      await s.collection.updateOne({ _id: 'badC' }, { $set: { c: 'yesterday' as unknown as Date } });
      await s.collection.updateOne({ _id: 'badU' }, { $set: { u: 5 as unknown as Date } });
      await s.collection.updateOne({ _id: 'badT' }, { $set: { t: [1] as unknown as string[] } });
      await s.collection.updateOne({ _id: 'badV' }, { $set: { v: 42 as unknown as string } });
      await s.collection.updateOne({ _id: 'noV' }, { $unset: { v: '' } });
      const keys = ['good', 'badC', 'badU', 'badT', 'badV', 'noV'];
      const batched = await Promise.allSettled(keys.map((k) => s.getMeta(k)));
      expect(batched[0].status).to.equal('fulfilled');
      for (let i = 1; i < keys.length; i++) {
        expect(batched[i].status, keys[i]).to.equal('rejected');
        expect(((batched[i] as PromiseRejectedResult).reason as { code: string }).code, keys[i]).to.equal('ERR_STORAGE_OPERATION');
      }
      for (const key of keys.slice(1)) {
        const err = await s.getMeta(key).then(() => undefined, (e: { code: string }) => e);
        expect(err?.code, key).to.equal('ERR_STORAGE_OPERATION');
      }
    });

    it('a streamed value whose file is gone is ERR_STORAGE_OPERATION; its neighbours in the batch still answer', async () => {
      const s = stores.open();
      await s.setStream('big', Readable.from([Buffer.alloc(100, 1)]));
      await s.set('small', 'x');
      const { g } = (await rawDoc(s, 'big')) as { g: ObjectId };
      await s.collection.db.collection(`${s.collection.collectionName}.fs.files`).deleteOne({ _id: g });
      const [big, small] = await Promise.allSettled([s.getMeta('big'), s.getMeta('small')]);
      expect((big as PromiseRejectedResult).reason.code).to.equal('ERR_STORAGE_OPERATION');
      expect((small as PromiseFulfilledResult<unknown>).value).to.include({ size: 3 });
      const err = await s.getMeta('big').then(() => undefined, (e: { code: string }) => e);
      expect(err?.code).to.equal('ERR_STORAGE_OPERATION');
    });
  });
});
