/**
 * The multi store as a backend over its tiers' backends (SPEC §13): ids and selectors validated
 * once at the top reach the tiers as they are (never through a tier's public API), a scope's
 * tiers keep every setting of the store, and a scope's tier events are the scope's own.
 */
import { expect } from 'chai';
import { ManualClock } from '../lib/clock';
import { MultiStore } from '../lib/multi/multi-store';
import { BaseStore } from '../lib/store';
import { MemoryStore } from '../lib/backends/memory';
import { FaultyStore, faultControl } from './support/multi-faulty';

const open: BaseStore[] = [];

/** The public data methods of a store: a tier must never be called through them. */
const PUBLIC_DATA_METHODS = [
  'set', 'setex', 'get', 'getOne', 'has', 'del', 'count', 'keys', 'ttl', 'clear', 'copy',
  'entries', 'createReadStream', 'setStream', 'createValueStream', 'getOrSet',
] as const;

/** Makes every public data method of `store` throw, so a test fails if the multi store calls one. */
function forbidPublicCalls(store: BaseStore): string[] {
  const called: string[] = [];
  for (const name of PUBLIC_DATA_METHODS) {
    Object.defineProperty(store, name, {
      configurable: true,
      value: () => {
        called.push(name);
        throw new Error(`the multi store called ${name}() on a tier`);
      },
    });
  }
  return called;
}

async function* bytes(...parts: string[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield Buffer.from(part);
}

async function collect(stream: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

describe('multi store over tier backends', () => {
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
  });

  it('reaches its tiers by id and selector only: every call works with the tiers’ public data methods gone', async () => {
    const front = new MemoryStore();
    const middle = new MemoryStore();
    const durable = new MemoryStore();
    const multi = new MultiStore({ stores: [front, middle, durable] });
    open.push(multi, front, middle, durable);
    const called = [front, middle, durable].flatMap((tier) => forbidPublicCalls(tier));

    await multi.set({ user: 1, age: 20 }, 'a', { ttl: 60_000 });
    await multi.set({ user: 2, age: 30 }, 'b');
    await multi.set('user:3', 'c');
    expect(await multi.getOne({ user: 1, age: 20 })).to.equal('a');
    expect(await multi.get({ age: { $gte: 20 } })).to.deep.equal(['a', 'b']);
    expect(await multi.count({ age: 30 })).to.equal(1);
    expect(await multi.keys('user:*')).to.deep.equal(['user:3']);
    expect(await multi.has('user:3')).to.equal(true);
    expect(await multi.ttl({ user: 1, age: 20 })).to.be.within(1, 60_000);
    await multi.setStream('blob', bytes('he', 'llo'));
    expect(await collect(multi.createValueStream('blob'))).to.equal('hello');
    expect(await multi.del({ age: 20 })).to.equal(1);
    expect(await multi.del('user:3')).to.equal(1);
    const entries: unknown[] = [];
    for await (const entry of multi.entries({ age: { $exists: true } })) entries.push(entry.value);
    expect(entries).to.deep.equal(['b']);
    await multi.clear();
    expect(await multi.count({})).to.equal(0);
    expect(called).to.deep.equal([]);
  });

  it('a scope of a scope keeps the store’s tier settings (a long backoff keeps a failed tier down)', async () => {
    const clock = new ManualClock();
    const control = faultControl();
    const inner = new MemoryStore({ clock });
    const multi = new MultiStore({
      clock,
      timeout: 100,
      backoff: 60_000,
      maxBackoff: 60_000,
      stores: [{ type: 'memory' }, { store: new FaultyStore(inner, control, { clock }), name: 'middle' }, { type: 'memory' }],
    });
    open.push(multi, inner);
    const nested = multi.scope('a').scope('b');
    nested.on('error', () => undefined); // the tier going down is reported; not what this test checks
    await nested.set('k', 1);
    control.mode = 'fail';
    await nested.set('k', 2); // the middle cache tier fails: it goes down for the backoff
    control.mode = 'ok';
    await new Promise((resolve) => setTimeout(resolve, 150)); // past the default backoff (100 ms), far from 60 s
    await nested.getOne('other'); // would start a probe once the backoff has passed
    await (nested as MultiStore).idle();
    const middle = (await (nested as MultiStore).stats()).tiers[1];
    expect(middle).to.include({ state: 'down', recoveries: 0 });
  });

  it('a scope’s tier going down is reported on that scope', async () => {
    const control = faultControl();
    const inner = new MemoryStore();
    const multi = new MultiStore({ timeout: 100, backoff: 60_000, stores: [{ type: 'memory' }, { store: new FaultyStore(inner, control), name: 'middle' }, { type: 'memory' }] });
    open.push(multi, inner);
    const scope = multi.scope('s');
    const onScope: unknown[] = [];
    const onRoot: unknown[] = [];
    scope.on('tierDown', (event) => onScope.push(event));
    scope.on('error', () => undefined);
    multi.on('tierDown', (event) => onRoot.push(event));
    multi.on('error', () => undefined);
    await scope.set('k', 1);
    control.mode = 'fail';
    await scope.set('k', 2);
    expect(onScope).to.have.length(1);
    expect(onScope[0]).to.include({ index: 1, name: 'middle' });
    expect(onRoot).to.deep.equal([]);
  });

  it('the warm-up of `cache: { ttl }` copies entries within the cache tier’s TTL cap', async () => {
    const clock = new ManualClock();
    const durable = new MemoryStore({ clock });
    await durable.set('forever', 1);
    await durable.set('soon', 2, { ttl: 500 });
    const multi = new MultiStore({ clock, cache: { ttl: 1000 }, stores: [durable] });
    open.push(multi, durable);
    await multi.connect();
    const cache = multi.tiers[0].store;
    expect(await cache.ttl('forever')).to.equal(1000);
    expect(await cache.ttl('soon')).to.equal(500);
    clock.advance(1001);
    expect(await cache.getOne('forever')).to.equal(undefined);
    expect(await multi.getOne('forever')).to.equal(1); // read from the durable tier again
  });
});
