/**
 * Coherence across processes (SPEC §9, issue 5 §4): two real child processes, each with a
 * multi store [memory, redis, mongo] and `invalidation: { redis }`, share one Redis and one
 * MongoDB. Process A writes and deletes; process B holds the keys in its memory tier and must
 * never serve a value A overwrote or deleted once the invalidation has arrived. The delay from
 * A's write to B's drop is measured and printed (p50/p99).
 */
import { expect } from 'chai';
import { sharedMongo } from './support/mongo-server';
import { MultiChild, percentile, startMultiChild } from './support/multi-process';
import { sharedRedis } from './support/redis-server';

interface Dropped {
  op: string;
  id?: string;
  publishedAt: number;
  droppedAt: number;
}

/** Resolves with B's first drop of `id` (or of a query/clear) published at or after `since`. */
function nextDrop(child: MultiChild, match: (d: Dropped) => boolean, since: number, timeout = 5000): Promise<Dropped> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.events.off('invalidation', on);
      reject(new Error('no invalidation arrived within ' + timeout + ' ms'));
    }, timeout);
    const on = (d: Dropped) => {
      if (d.publishedAt < since || !match(d)) return;
      clearTimeout(timer);
      child.events.off('invalidation', on);
      resolve(d);
    };
    child.events.on('invalidation', on);
  });
}

describe('multi store: coherence across two processes (real Redis and MongoDB)', function () {
  this.timeout(180_000);
  let a: MultiChild;
  let b: MultiChild;

  before(async () => {
    const [{ url: redis }, { url: mongo }] = await Promise.all([sharedRedis(), sharedMongo()]);
    const config = { redis, mongo, db: 'multi_coherence', namespace: `coh${process.pid}` };
    [a, b] = await Promise.all([startMultiChild(config), startMultiChild(config)]);
    await a.request('clear');
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('B never serves a value A overwrote or deleted once the invalidation arrived; delay p50/p99 reported', async () => {
    const rounds = 300;
    const publishToDrop: number[] = [];
    const writeToDrop: number[] = [];
    let stale = 0;
    for (let i = 0; i < rounds; i++) {
      const key = `user:${i % 40}`;
      const firstDrop = nextDrop(b, (d) => d.op === 'k' && d.id === key, Date.now() - 1);
      await a.request('set', key, { round: i, gen: 1 });
      await firstDrop; // so that this invalidation cannot arrive after B cached the value below
      const first = await b.request<{ value: unknown; tier: number }>('getWithSource', key);
      expect(first.result.value).to.deep.equal({ round: i, gen: 1 });
      const cached = await b.request<{ value: unknown; tier: number }>('getWithSource', key);
      expect(cached.result.tier, 'the second read is served by B’s memory tier').to.equal(0);

      const deleting = i % 3 === 2;
      const sinceA = Date.now() - 1; // coarse lower bound for matching; exact times come from the replies
      const dropped = nextDrop(b, (d) => d.op === 'k' && d.id === key, sinceA);
      const write = deleting ? await a.request('del', key) : await a.request('set', key, { round: i, gen: 2 });
      const drop = await dropped;
      publishToDrop.push(drop.droppedAt - drop.publishedAt);
      writeToDrop.push(drop.droppedAt - write.started);

      const after = await b.request<{ value: unknown; tier: number } | undefined>('getWithSource', key);
      const expected = deleting ? undefined : { round: i, gen: 2 };
      if (JSON.stringify(after.result?.value) !== JSON.stringify(expected)) stale++;
    }
    expect(stale, 'stale reads in B after the invalidation arrived').to.equal(0);

    // A query delete drops every matching object key from B's memory tier.
    for (let n = 0; n < 20; n++) await a.request('set', { team: 'red', n }, n);
    for (let n = 0; n < 20; n++) await b.request('getOne', { team: 'red', n });
    const queryDrop = nextDrop(b, (d) => d.op === 'q', Date.now() - 1);
    expect((await a.request('del', { team: 'red' })).result).to.equal(20);
    await queryDrop;
    for (let n = 0; n < 20; n++) expect((await b.request('getOne', { team: 'red', n })).result).to.equal(undefined);

    const stats = (await b.request<{ invalidations: { received: number } }>('stats')).result;
    expect(stats.invalidations.received).to.be.greaterThan(rounds);
    const fmt = (v: number) => v.toFixed(3) + ' ms';
    console.log(
      `      invalidation delay over ${rounds} writes: publish->drop p50 ${fmt(percentile(publishToDrop, 50))}, p99 ${fmt(percentile(publishToDrop, 99))}; ` +
        `A write start->B drop p50 ${fmt(percentile(writeToDrop, 50))}, p99 ${fmt(percentile(writeToDrop, 99))}, max ${fmt(Math.max(...writeToDrop))}`,
    );
  });
});
