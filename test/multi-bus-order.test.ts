/**
 * The invalidation bus when messages go missing (SPEC §15, issue #13 item 8), on real Redis
 * servers: a subscriber that sees a gap in a publisher's numbers drops everything local, and a
 * publish that fails while Redis is away is retried, in order, once it is back.
 */
import { expect } from 'chai';
import Redis from 'ioredis';
import { MultiStore } from '../lib/multi/multi-store';
import { MemoryStore } from '../lib/backends/memory';
import { FaultyStore } from './support/multi-faulty';
import { startRedis, sharedRedis, RedisServer } from './support/redis-server';

interface Seen {
  op: string;
  id?: string;
}

/** Resolves once `store` has emitted an invalidation `match` accepts. */
function nextInvalidation(store: MultiStore, match: (d: Seen) => boolean, ms = 10_000): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching invalidation within ${ms} ms`)), ms);
    const on = (d: Seen) => {
      if (!match(d)) return;
      clearTimeout(timer);
      store.off('invalidation', on);
      resolve(d);
    };
    store.on('invalidation', on);
  });
}

describe('multi store: invalidation bus numbering and retries', function () {
  this.timeout(60_000);

  it("a gap in another publisher's numbers drops everything local; a late message moves nothing", async () => {
    const { url } = await sharedRedis();
    const channel = `test-bus-gap-${process.pid}-${Date.now()}`;
    const front = new MemoryStore();
    const store = new MultiStore({ stores: [front, new FaultyStore(new MemoryStore())], invalidation: { redis: url, channel } });
    const raw = new Redis(url);
    try {
      await store.connect();
      await store.set('a', 1);
      await store.set('b', 2);
      await store.getMany(['a', 'b']);
      await store.idle();
      const message = (s: number, id: string) => JSON.stringify({ o: 'other-process', s, ns: '', t: Date.now(), op: 'k', id });
      let seen = nextInvalidation(store, (d) => d.id === 'a');
      await raw.publish(channel, message(1, 'a'));
      await seen;
      expect(await front.getOne('b'), 'numbers 1: nothing missing, b stays').to.equal(2);
      seen = nextInvalidation(store, (d) => d.op === 'c');
      await raw.publish(channel, message(3, 'x')); // 2 never came
      await seen;
      expect(front.internals.size).to.equal(0);
      expect((await store.stats()).invalidations.gaps).to.equal(1);
      await store.getOne('b');
      await store.idle();
      seen = nextInvalidation(store, (d) => d.id === 'late');
      await raw.publish(channel, message(2, 'late')); // number 2, after 3: applied, no new gap
      await seen;
      expect((await store.stats()).invalidations.gaps).to.equal(1);
      expect(await front.getOne('b')).to.equal(2);
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it('publishes that fail while Redis is down are retried in order once it is back', async () => {
    const server: RedisServer = await startRedis();
    const channel = `test-bus-retry-${process.pid}`;
    const shared = new MemoryStore();
    const writer = new MultiStore({ stores: [new MemoryStore(), new FaultyStore(shared)], invalidation: { redis: server.url, channel } });
    const listener = new Redis(server.url, { lazyConnect: true, retryStrategy: () => 50 });
    listener.on('error', () => undefined);
    const heard: Array<{ s: number; id?: string; op: string }> = [];
    listener.on('message', (_c: string, text: string) => heard.push(JSON.parse(text)));
    writer.on('error', () => undefined); // the outage is reported once; expected here
    try {
      await writer.connect();
      await listener.connect();
      await listener.subscribe(channel);
      await writer.set('before', 0);
      while (heard.length < 1) await new Promise((r) => setTimeout(r, 10));
      await server.kill();
      for (let i = 1; i <= 5; i++) await writer.set(`down-${i}`, i); // the durable tier is in memory: the writes succeed
      let stats = await writer.stats();
      expect(stats.invalidations.publishFailures).to.be.greaterThan(0);
      expect(stats.invalidations.pendingPublishes).to.equal(5);
      await server.restart();
      const deadline = Date.now() + 20_000;
      while (heard.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(heard.map((m) => m.id)).to.deep.equal(['before', 'down-1', 'down-2', 'down-3', 'down-4', 'down-5']);
      expect(heard.map((m) => m.s)).to.deep.equal([1, 2, 3, 4, 5, 6]);
      stats = await writer.stats();
      expect(stats.invalidations.pendingPublishes).to.equal(0);
      await writer.set('after', 7);
      while (heard.length < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(heard[6]).to.deep.include({ id: 'after', s: 7 });
    } finally {
      listener.disconnect();
      await writer.close();
      await shared.close();
      await server.stop();
    }
  });
});
