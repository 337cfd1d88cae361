/**
 * Streamed values in GridFS (SPEC §7): the entry points at a file only once the upload is
 * complete, replaced and deleted values take their files with them, a failed upload leaves
 * nothing behind, and 200 MB passes through without the RSS growing by 64 MB.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { ManualClock } from '../lib/clock';
import { MongoSettings, MongoStore } from '../lib/backends/mongo';
import { sharedMongo } from './support/mongo-server';

let url = '';
let counter = 0;

/** `count` chunks of `size` bytes, each filled with its index, optionally failing after `failAfter` chunks. */
async function* bytes(count: number, size: number, failAfter = Infinity): AsyncGenerator<Buffer> {
  const chunk = Buffer.alloc(size);
  for (let i = 0; i < count; i++) {
    if (i === failAfter) throw new Error('the source failed midway');
    chunk.fill(i % 251);
    yield Buffer.from(chunk);
  }
}

describe('mongo store: GridFS values', () => {
  before(async function () {
    this.timeout(120_000);
    ({ url } = await sharedMongo());
  });

  const open: MongoStore[] = [];
  function store(settings: MongoSettings = {}): MongoStore {
    const s = new MongoStore({ url, db: `mongo_gridfs_${process.pid}_${++counter}`, ...settings });
    open.push(s);
    return s;
  }
  afterEach(async () => {
    while (open.length) {
      const s = open.pop()!;
      if (s.client) await s.collection.db.dropDatabase().catch(() => undefined);
      await s.close();
    }
  });

  async function fileCounts(s: MongoStore): Promise<{ files: number; chunks: number }> {
    const db = s.collection.db;
    const name = s.collection.collectionName;
    return {
      files: await db.collection(`${name}.fs.files`).countDocuments(),
      chunks: await db.collection(`${name}.fs.chunks`).countDocuments(),
    };
  }

  it('setStream uploads a file, then points the entry at it; getOne returns the whole value as a Buffer', async () => {
    const s = store({ chunkSize: 64 * 1024 });
    await s.setStream('big', bytes(10, 100_000));
    const doc = await s.collection.findOne({ _id: 'big' });
    expect(doc?.g).to.not.equal(undefined);
    expect(doc?.v).to.equal(undefined);
    expect(await fileCounts(s)).to.deep.equal({ files: 1, chunks: Math.ceil(1_000_000 / 65536) });
    const value = (await s.getOne('big')) as Buffer;
    expect(Buffer.isBuffer(value)).to.equal(true);
    expect(value.length).to.equal(1_000_000);
    expect(value[0]).to.equal(0);
    expect(value[999_999]).to.equal(9);
    const parts: Buffer[] = [];
    for await (const part of s.createValueStream('big')) parts.push(part as Buffer);
    expect(Buffer.concat(parts).equals(value)).to.equal(true);
    expect(await s.get({ x: 1 })).to.deep.equal([]);
    expect(await s.get('big')).to.deep.equal([value]);
  });

  it('replacing or deleting a streamed value deletes its file', async () => {
    const s = store();
    await s.setStream('a', bytes(3, 1000));
    await s.setStream('a', bytes(2, 1000));
    expect((await fileCounts(s)).files).to.equal(1);
    expect(((await s.getOne('a')) as Buffer).length).to.equal(2000);
    // A plain set replaces the value at once; its old file is freed by the sweep, unread.
    await s.set('a', 'small now');
    expect(await s.getOne('a')).to.equal('small now');
    expect(await s.get('a')).to.deep.equal(['small now']);
    const parts: Buffer[] = [];
    for await (const part of s.createValueStream('a')) parts.push(part as Buffer);
    expect(Buffer.concat(parts).toString()).to.equal('small now');
    expect(await s.sweep()).to.equal(1);
    expect(await fileCounts(s)).to.deep.equal({ files: 0, chunks: 0 });
    expect(await s.getOne('a')).to.equal('small now');
    expect((await s.collection.findOne({ _id: 'a' }))?.g).to.equal(undefined);
    // del() of an entry that still holds a superseded file frees it at once.
    await s.setStream('a', bytes(2, 1000));
    await s.set('a', 'plain again');
    expect(await s.del('a')).to.equal(1);
    expect(await fileCounts(s)).to.deep.equal({ files: 0, chunks: 0 });

    await s.setStream('b', bytes(2, 1000));
    expect(await s.del('b')).to.equal(1);
    await s.setStream({ q: 1 }, bytes(2, 1000));
    await s.setStream({ q: 2 }, bytes(2, 1000));
    expect(await s.del({ q: { $gte: 1 } })).to.equal(2);
    await s.setStream('c', bytes(2, 1000));
    await s.clear();
    expect(await fileCounts(s)).to.deep.equal({ files: 0, chunks: 0 });
  });

  it('a clear() in a scope deletes only that scope\'s files', async () => {
    const s = store();
    const scoped = s.scope('inner');
    await s.setStream('x', bytes(2, 1000));
    await scoped.setStream('x', bytes(3, 1000));
    await scoped.clear();
    expect((await fileCounts(s)).files).to.equal(1);
    expect(((await s.getOne('x')) as Buffer).length).to.equal(2000);
    await scoped.close();
  });

  it('a source that fails midway leaves no file, no chunks, and the previous value in place', async () => {
    const s = store({ chunkSize: 1024 });
    await s.set('k', 'before');
    let err: (Error & { code?: string }) | undefined;
    try {
      await s.setStream('k', bytes(50, 1000, 20));
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.message).to.contain('failed midway');
    expect(await s.getOne('k')).to.equal('before');
    expect(await fileCounts(s)).to.deep.equal({ files: 0, chunks: 0 });
    try {
      await s.setStream('fresh', bytes(50, 1000, 5));
    } catch {
      // expected
    }
    expect(await s.has('fresh')).to.equal(false);
    expect(await fileCounts(s)).to.deep.equal({ files: 0, chunks: 0 });
  });

  it('an expired streamed value is invisible at once and its file is freed by the sweep, unread', async () => {
    const clock = new ManualClock(Date.now());
    const s = store({ clock });
    await s.setStream('t', bytes(2, 1000), { ttl: 1000 });
    await s.setStream('keep', bytes(2, 1000));
    clock.advance(1001);
    expect(await s.getOne('t')).to.equal(undefined);
    expect(await s.sweep()).to.equal(1);
    expect((await fileCounts(s)).files).to.equal(1);
    expect(((await s.getOne('keep')) as Buffer).length).to.equal(2000);
  });

  it('a failed periodic sweep is reported to a store still open, not to a scope that attached first and closed', async () => {
    const root = store({ sweepInterval: 20 });
    const scope = root.scope('first') as MongoStore;
    const scopeErrors: Error[] = [];
    scope.on('error', (err: Error) => scopeErrors.push(err));
    await scope.set('a', 1); // the scope attaches to the shared connection before the root
    await root.set('b', 2);
    await scope.close();
    // Make every sweep fail on the server: expired file metadata to remove, and a view where
    // the chunks collection was (deleting from a view is a server error).
    const db = root.collection.db;
    const name = root.collection.collectionName;
    await db.collection(`${name}.fs.chunks`).drop().catch(() => undefined);
    await db.createCollection(`${name}.fs.chunks`, { viewOn: name, pipeline: [] });
    await db.collection(`${name}.fs.files`).insertOne({ metadata: { n: '', e: new Date(0) } });
    const err = await new Promise<Error & { code?: string }>((resolve) => root.once('error', resolve));
    expect(err.code).to.equal('ERR_STORAGE_OPERATION');
    expect(scopeErrors).to.deep.equal([]);
  });

  it('200 MB goes through setStream and createValueStream with RSS growth under 64 MB', async function () {
    this.timeout(600_000);
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const s = store();
    await s.set('warm', 1);
    gc();
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    try {
      const MB = 1024 * 1024;
      await s.setStream('huge', Readable.from(bytes(200 * 4, MB / 4)));
      let total = 0;
      let last = -1;
      await pipeline(
        s.createValueStream('huge'),
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            total += chunk.length;
            last = chunk[chunk.length - 1];
            cb();
          },
        }),
      );
      peak = Math.max(peak, process.memoryUsage().rss);
      expect(total).to.equal(200 * MB);
      expect(last).to.equal((200 * 4 - 1) % 251);
    } finally {
      clearInterval(timer);
    }
    const growth = (peak - base) / (1024 * 1024);
    expect(growth, `RSS grew by ${growth.toFixed(1)} MB`).to.be.below(64);
    await s.del('huge');
  });
});
