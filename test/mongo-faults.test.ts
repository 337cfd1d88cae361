/**
 * Faults (SPEC §8, §10, §11): the MongoDB server is stopped, killed and restarted under a
 * running store. While it is down every operation fails within the documented timeout
 * (serverSelectionTimeoutMS, here 1 s) with ERR_STORAGE_CONNECTION — none hangs and none
 * reports success — and once it is back the same store works again without being touched.
 * These tests own their server, so they never disturb the shared one.
 */
import { expect } from 'chai';
import { MongoStore } from '../lib/backends/mongo';
import { MongoHandle, startMongo } from './support/mongo-server';

const SELECTION_MS = 1000;
/** What "fails within the timeout" allows on top of serverSelectionTimeoutMS on a loaded 2-core machine. */
const SLACK_MS = 1500;

async function outcome(promise: Promise<unknown>): Promise<{ ok: boolean; code?: string; ms: number; value?: unknown }> {
  const t0 = Date.now();
  try {
    const value = await promise;
    return { ok: true, ms: Date.now() - t0, value };
  } catch (err) {
    return { ok: false, code: (err as { code?: string }).code, ms: Date.now() - t0 };
  }
}

async function drain(stream: NodeJS.ReadableStream): Promise<number> {
  let n = 0;
  for await (const chunk of stream) n += (chunk as Buffer).length ?? 1;
  return n;
}

async function* twoChunks(): AsyncGenerator<Buffer> {
  yield Buffer.alloc(1000, 1);
  yield Buffer.alloc(1000, 2);
}

describe('mongo store: server stopped, killed and restarted', function () {
  this.timeout(120_000);
  let server: MongoHandle;
  let store: MongoStore;

  before(async () => {
    server = await startMongo();
  });
  after(async () => {
    await store?.close();
    await server?.dispose();
  });

  function newStore(): MongoStore {
    return new MongoStore({
      url: server.url,
      db: 'faults',
      serverSelectionTimeoutMS: SELECTION_MS,
      connectTimeoutMS: SELECTION_MS,
      socketTimeoutMS: 5000,
    });
  }

  /** Every kind of operation, each expected to fail fast with ERR_STORAGE_CONNECTION. */
  function everyOperation(s: MongoStore): Array<[string, () => Promise<unknown>]> {
    return [
      ['getOne', () => s.getOne('a')],
      ['set', () => s.set('down', 1)],
      ['set with ttl', () => s.set({ id: 99 }, 1, { ttl: 1000 })],
      ['has', () => s.has('a')],
      ['ttl', () => s.ttl('a')],
      ['get(query)', () => s.get({ id: { $gte: 0 } })],
      ['count', () => s.count({ id: 1 })],
      ['del(key)', () => s.del('a')],
      ['del(query)', () => s.del({ id: 1 })],
      ['keys', () => s.keys('*')],
      ['clear', () => s.clear()],
      ['stats', () => s.stats()],
      ['setStream', () => s.setStream('big', twoChunks())],
      ['createValueStream', () => drain(s.createValueStream('a'))],
      ['entries', async () => {
        for await (const entry of s.entries({ id: 1 })) void entry;
      }],
    ];
  }

  /** Each operation, issued alone, fails within the timeout with ERR_STORAGE_CONNECTION. */
  async function expectAllFailFast(s: MongoStore): Promise<void> {
    for (const [opName, op] of everyOperation(s)) {
      const r = { name: opName, ...(await outcome(op())) };
      expect(r.ok, `${name(r)} reported success while the server was down`).to.equal(false);
      expect(r.code, `${name(r)} failed with ${r.code}`).to.equal('ERR_STORAGE_CONNECTION');
      expect(r.ms, `${name(r)} took ${r.ms} ms`).to.be.below(SELECTION_MS + SLACK_MS);
    }
  }

  /**
   * Every operation issued at once, none awaited: each fails with ERR_STORAGE_CONNECTION and
   * none hangs. Program order (SPEC §12) makes a call wait for the earlier calls it conflicts
   * with (clear() waits for everything before it), so their timeouts add up: the bound is one
   * timeout per call.
   */
  async function expectAllFailTogether(s: MongoStore): Promise<void> {
    const operations = everyOperation(s);
    const t0 = Date.now();
    const results = await Promise.all(operations.map(async ([opName, op]) => ({ name: opName, ...(await outcome(op())) })));
    for (const r of results) {
      expect(r.ok, `${name(r)} reported success while the server was down`).to.equal(false);
      expect(r.code, `${name(r)} failed with ${r.code}`).to.equal('ERR_STORAGE_CONNECTION');
    }
    expect(Date.now() - t0).to.be.below(operations.length * (SELECTION_MS + SLACK_MS));
  }
  const name = (r: { name: string }) => r.name;

  it('stop: every operation fails within the timeout with ERR_STORAGE_CONNECTION; after restart the same store works', async () => {
    store = newStore();
    await store.set('a', 'before');
    await store.set({ id: 1 }, 'one');
    await store.setStream('big', twoChunks());
    await server.stop();
    await expectAllFailFast(store);
    await expectAllFailTogether(store); // and again, all at once, once the pool has noticed
    await server.restart();
    expect(await store.getOne('a')).to.equal('before');
    expect(await store.get({ id: 1 })).to.deep.equal(['one']);
    expect(((await store.getOne('big')) as Buffer).length).to.equal(2000);
    await store.set('after', 'restart');
    expect(await store.getOne('after')).to.equal('restart');
  });

  it('kill -9: the same, and the store reconnects by itself', async () => {
    store = store ?? newStore();
    await store.set('k', 1);
    await server.kill();
    await expectAllFailTogether(store);
    await server.restart();
    await store.set('k', 2);
    expect(await store.getOne('k')).to.equal(2);
  });

  it('a store created while the server is down fails to connect fast, then connects once it is back', async () => {
    await server.stop();
    const late = newStore();
    try {
      const first = await outcome(late.getOne('a'));
      expect(first.ok).to.equal(false);
      expect(first.code).to.equal('ERR_STORAGE_CONNECTION');
      expect(first.ms).to.be.below(SELECTION_MS + SLACK_MS);
      await server.restart();
      expect(await late.getOne('a')).to.equal('before');
    } finally {
      await late.close();
    }
  });

  it('mid-run: under a steady load across a stop and restart, no write that reported success is lost and none hangs', async () => {
    store = store ?? newStore();
    const acknowledged = new Map<string, number>();
    const failures: string[] = [];
    let running = true;
    let i = 0;
    const worker = async () => {
      while (running) {
        const n = i++;
        const key = `load:${n}`;
        const r = await outcome(store.set(key, n));
        if (r.ok) acknowledged.set(key, n);
        else {
          failures.push(r.code ?? 'none');
          expect(r.ms).to.be.below(SELECTION_MS + SLACK_MS);
        }
        const g = await outcome(store.getOne(key));
        if (!g.ok) failures.push(g.code ?? 'none');
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    await new Promise((r) => setTimeout(r, 300));
    await server.stop();
    await new Promise((r) => setTimeout(r, 1500));
    await server.restart();
    await new Promise((r) => setTimeout(r, 500));
    running = false;
    await Promise.all(workers);
    expect(failures.length).to.be.above(0);
    expect(new Set(failures)).to.deep.equal(new Set(['ERR_STORAGE_CONNECTION']));
    expect(acknowledged.size).to.be.above(10);
    for (const [key, value] of acknowledged) expect(await store.getOne(key), key).to.equal(value);
  });
});
