/**
 * The Redis store's batched write script (SET_MANY_SCRIPT, lib/backends/redis/set-scripts.ts):
 * writes of one tick go out as one script, which reads the creation counter once and saves it
 * once, registers each index key once, reads the old records of an id only when the order set
 * lists it, and names a streamed value's chunk key itself. Each case writes at least two
 * entries in one tick, so it runs that script and not the single-entry one.
 */
import { expect } from 'chai';
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { keyId } from '../lib/keys';
import { RedisStore } from '../lib/backends/redis';
import { orderedRecords } from '../lib/backends/redis/ordered';
import { redisTestStores } from './support/test-stores';

const stores = redisTestStores('wb');
const open = stores.open;
const admin = (): Redis => stores.admin();

/** The names of the store's keys that start with its base and `kind` (SCAN). */
async function keysOfKind(store: RedisStore, kind: string): Promise<string[]> {
  const out: string[] = [];
  const match = (store.layout.base + kind).replace(/[*?[\]\\]/g, '\\$&') + '*';
  let cursor = '0';
  do {
    const [next, keys] = await admin().scan(cursor, 'MATCH', match, 'COUNT', '1000');
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out.sort();
}

/** The error code a promise settles with (undefined when it fulfils). */
async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe('Redis store: the batched write script', () => {
  it('gives a batch consecutive creation sequences and saves the counter, so later writes come after', async () => {
    const store = open();
    const l = store.layout;
    await store.setMany([{ key: 'a', value: 1 }, { key: 'b', value: 2 }, { key: 'a', value: 3 }, { key: 'c', value: 4 }]);
    expect(await admin().zrange(l.order, '0', '-1', 'WITHSCORES')).to.deep.equal(['a', '1', 'b', '2', 'c', '3']);
    expect(await admin().get(l.counter)).to.equal('3');
    await store.set('d', 5);
    await store.setMany([{ key: 'e', value: 6 }, { key: 'b', value: 7 }, { key: 'f', value: 8 }]);
    expect(await admin().zrange(l.order, '0', '-1', 'WITHSCORES')).to.deep.equal(['a', '1', 'b', '2', 'c', '3', 'd', '4', 'e', '5', 'f', '6']);
    expect(await admin().get(l.counter)).to.equal('6');
    expect(await store.keys()).to.deep.equal(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('fails only the new entries of a batch when the counter holds no number, and leaves the counter as it was', async () => {
    const store = open();
    const l = store.layout;
    await store.set('a', 1);
    await admin().set(l.counter, 'not a number');
    const [overwrite, added] = await Promise.all([codeOf(store.set('a', 2)), codeOf(store.set('b', 1))]);
    expect(overwrite).to.equal(undefined);
    expect(added).to.equal('ERR_STORAGE_OPERATION');
    expect(await store.getOne('a')).to.equal(2);
    expect(await store.getOne('b')).to.equal(undefined);
    expect(await admin().get(l.counter)).to.equal('not a number');
    expect(await admin().zrange(l.order, '0', '-1')).to.deep.equal(['a']);
  });

  it('writes an id still listed after its entry string went (expired natively, not swept) without its old tags, expiry or ordered members', async () => {
    const store = open({ sweepInterval: 0 });
    const l = store.layout;
    const key = { kind: 'p', n: 5 };
    const id = keyId(key);
    await store.set(key, 'old', { ttl: 60_000, tags: ['old'] });
    const ordered = orderedRecords(l, key).keys;
    expect(ordered).to.have.length(2);
    const before = await Promise.all(ordered.map((k) => admin().zrange(k, '0', '-1')));
    // What Redis's own expiry does to the entry string; every record of the entry stays until a sweep.
    await admin().unlink(l.entry(id));
    await Promise.all([store.set(key, 'new'), store.set('other', 1)]);
    const meta = await store.getMeta(key);
    expect(meta?.tags).to.deep.equal([]);
    expect(meta?.expiresAt).to.equal(null);
    expect(await store.getOne(key)).to.equal('new');
    expect(await admin().zscore(l.expiry, id)).to.equal(null);
    expect(await admin().hget(l.entryTags, id)).to.equal(null);
    expect(await admin().zcard(l.tagIndex)).to.equal(0);
    expect(await store.keys({ kind: 'p' }, { sort: { n: 1 } })).to.deep.equal([key]);
    for (const [i, k] of ordered.entries()) {
      const members = await admin().zrange(k, '0', '-1');
      expect(members, k).to.have.length(1);
      expect(members[0], k).to.not.equal(before[i][0]); // built with the new sequence
      expect(members[0].endsWith(id), k).to.equal(true);
    }
  });

  it('registers every index key the batch writes, once, so clear() leaves nothing', async () => {
    const store = open();
    const l = store.layout;
    const items = [];
    for (let i = 0; i < 40; i++) items.push({ key: { kind: 'order', n: i, region: `r${i % 3}` }, value: i, ttl: i % 2 === 0 ? 60_000 : undefined, tags: i % 4 === 0 ? ['t'] : undefined });
    await store.setMany([...items, { key: 'plain', value: 0 }]);
    const written = [...(await keysOfKind(store, 'i:')), ...(await keysOfKind(store, 'n:')), ...(await keysOfKind(store, 's:')), ...(await keysOfKind(store, 'r:'))].sort();
    expect(written.length).to.be.greaterThan(40);
    expect((await admin().smembers(l.registry)).sort()).to.deep.equal(written);
    expect(await store.count({ region: 'r1' })).to.equal(13);
    await store.clear();
    expect(await keysOfKind(store, '')).to.deep.equal([l.version]);
  });

  it("retires a streamed value's chunks to a grace key when a batch writes over it", async () => {
    const store = open({ chunkSize: 1024 });
    await store.setStream('s', Readable.from([Buffer.alloc(3_000, 7)]));
    expect(await keysOfKind(store, 'k:')).to.have.length(1);
    await Promise.all([store.set('s', 'plain'), store.set('t', 1)]);
    expect(await store.getOne('s')).to.equal('plain');
    expect(await keysOfKind(store, 'k:')).to.deep.equal([]);
    const grace = await keysOfKind(store, 'o:');
    expect(grace).to.have.length(1);
    expect(await admin().hlen(grace[0])).to.equal(4); // three chunks and the generation
    expect(await admin().pttl(grace[0])).to.be.within(1, store.streamGraceMs);
  });
});
