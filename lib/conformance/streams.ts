/** Conformance: result streams and value streams (SPEC §7). */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { Readable, Writable, pipeline } from 'readable-stream';
import { SuiteContext, rejection } from './context';

/** A deterministic byte stream of `total` bytes, optionally failing after `failAfter`. */
function byteSource(total: number, failAfter = Infinity): Readable {
  let sent = 0;
  let n = 0;
  return new Readable({
    read() {
      if (sent >= failAfter) {
        this.destroy(new Error('source failed midway'));
        return;
      }
      if (sent >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(64 * 1024, total - sent);
      const chunk = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4) chunk.writeUInt32LE((n++ * 2654435761) >>> 0, i);
      sent += size;
      this.push(chunk);
    },
  });
}

async function hashOf(stream: AsyncIterable<unknown>): Promise<{ hash: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { hash: hash.digest('hex'), bytes };
}

export function streams(ctx: SuiteContext): void {
  describe('streams', () => {
    it('entries() iterates matches in creation order', async () => {
      const { store } = await ctx.open();
      for (let i = 0; i < 250; i++) await store.set({ i, even: i % 2 === 0 }, { i });
      const seen: number[] = [];
      for await (const entry of store.entries<{ i: number }>({ even: true })) seen.push(entry.value.i);
      expect(seen).to.deep.equal(Array.from({ length: 125 }, (_, k) => k * 2));
      let all = 0;
      for await (const entry of store.entries()) if (entry.key) all++;
      expect(all).to.equal(250);
    });

    it('createReadStream() respects backpressure and pipes with pipeline()', async () => {
      const { store } = await ctx.open();
      for (let i = 0; i < 300; i++) await store.set({ i }, i);
      const source = store.createReadStream({ i: { $gte: 0 } });
      const got: number[] = [];
      const sink = new Writable({
        objectMode: true,
        highWaterMark: 1,
        write(entry: { value: number }, _enc, done) {
          got.push(entry.value);
          setImmediate(done); // a slow consumer
        },
      });
      await new Promise<void>((resolve, reject) => pipeline(source, sink, (err) => (err ? reject(err) : resolve())));
      expect(got).to.deep.equal(Array.from({ length: 300 }, (_, k) => k));
      expect(source.readableLength).to.be.at.most(source.readableHighWaterMark);
    });

    it('destroying a read stream early stops it cleanly', async () => {
      const { store } = await ctx.open();
      for (let i = 0; i < 100; i++) await store.set({ i }, i);
      const stream = store.createReadStream();
      const first = await new Promise((resolve) => stream.once('data', resolve));
      expect(first).to.deep.equal({ key: { i: 0 }, value: 0 });
      await new Promise<void>((resolve) => {
        stream.once('close', () => resolve());
        stream.destroy();
      });
      expect(await store.count({ i: { $gte: 0 } })).to.equal(100);
    });

    it('a bad query makes the read stream error with ERR_INVALID_QUERY', async () => {
      const { store } = await ctx.open();
      const stream = store.createReadStream({ $where: 'x' } as never);
      const err = await new Promise<Error & { code?: string }>((resolve) => stream.once('error', resolve));
      expect(err.code).to.equal('ERR_INVALID_QUERY');
    });

    it('setStream() stores a byte stream; createValueStream() and getOne() read it back', async () => {
      const { store } = await ctx.open();
      const total = ctx.options.streamBytes;
      const expected = await hashOf(byteSource(total));
      await store.setStream({ file: 'big' }, byteSource(total));
      expect(await hashOf(store.createValueStream({ file: 'big' }))).to.deep.equal(expected);
      const whole = await store.getOne({ file: 'big' });
      expect(Buffer.isBuffer(whole)).to.equal(true);
      expect(createHash('sha256').update(whole as Buffer).digest('hex')).to.equal(expected.hash);
      // A query finds it too, as one Buffer.
      const [found, ...rest] = (await store.get({ file: 'big' })) as Buffer[];
      expect(rest).to.deep.equal([]);
      expect(createHash('sha256').update(found).digest('hex')).to.equal(expected.hash);
    });

    it('an ordinary Buffer value can be read as a stream', async () => {
      const { store } = await ctx.open();
      const value = Buffer.from('hello streams '.repeat(10_000));
      await store.set('buf', value);
      const back = await hashOf(store.createValueStream('buf'));
      expect(back.hash).to.equal(createHash('sha256').update(value).digest('hex'));
    });

    it('a stream that errors midway leaves no partial value visible', async () => {
      const { store } = await ctx.open();
      await store.set('file', Buffer.from('previous'));
      const err = await rejection(store.setStream('file', byteSource(1024 * 1024, 256 * 1024)));
      expect(err.message).to.contain('source failed midway');
      expect(await store.getOne('file')).to.deep.equal(Buffer.from('previous'));
      const err2 = await rejection(store.setStream('fresh', byteSource(1024 * 1024, 128 * 1024)));
      expect(err2).to.be.instanceOf(Error);
      expect(await store.has('fresh')).to.equal(false);
      expect(await store.keys()).to.deep.equal(['file']);
    });

    it('setStream() takes a ttl', async () => {
      const { store, clock } = await ctx.open();
      await store.setStream('t', byteSource(100_000), { ttl: 1000 });
      expect(await store.has('t')).to.equal(true);
      clock.advance(1001);
      expect(await store.has('t')).to.equal(false);
    });

    it('createValueStream() of a missing key errors with ERR_KEY_NOT_FOUND', async () => {
      const { store } = await ctx.open();
      const stream = store.createValueStream('absent');
      const err = await new Promise<Error & { code?: string }>((resolve) => {
        stream.once('error', resolve);
        stream.resume();
      });
      expect(err.code).to.equal('ERR_KEY_NOT_FOUND');
    });
  });
}
