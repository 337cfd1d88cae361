/**
 * getMeta on the memory store (SPEC §16), where its layout matters: a plain string-key entry
 * lives in columns (lib/backends/memory/bare-entries.ts) until a TTL or a bound makes it a Slot,
 * and its times must survive every move between the two; reading metadata is not a use for LRU;
 * size is the default serialized form's bytes. The behaviour every backend shares is in the
 * conformance suite (lib/conformance/meta.ts). Mount stores route getMeta to the owning mount.
 */
import { expect } from 'chai';
import * as Store from '../index';
import { MemoryStore } from '../lib/backends/memory';
import { BareEntries } from '../lib/backends/memory/bare-entries';
import { MountStore } from '../lib/backends/mount';
import { serializedSize } from '../lib/serializer';

const { ManualClock } = Store;

/** A memory store on a ManualClock (no sweep timer). */
function memory(settings: Record<string, unknown> = {}): { store: MemoryStore; clock: InstanceType<typeof ManualClock> } {
  const clock = new ManualClock(1_700_000_000_000);
  return { store: new MemoryStore({ clock, sweepInterval: 0, ...settings }), clock };
}

async function* chunks(...parts: Buffer[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield part;
}

describe('memory getMeta', () => {
  const open: MemoryStore[] = [];
  const make = (settings?: Record<string, unknown>) => {
    const made = memory(settings);
    open.push(made.store);
    return made;
  };
  afterEach(async () => {
    while (open.length > 0) await open.pop()!.close();
  });

  it('a plain entry keeps its times when a TTL makes it a Slot (touch or set) and when the TTL goes again', async () => {
    const { store, clock } = make();
    await store.set('first', 0); // the keyspace's time base: later times are not 0 after it
    clock.advance(1_000);
    const t0 = clock.now();
    await store.set('plain', 1);
    await store.set('other', 2);
    clock.advance(100);
    expect(await store.touch('plain', 10_000)).to.equal(true); // column entry → Slot
    expect(await store.getMeta('plain')).to.deep.equal({ size: 1, createdAt: t0, updatedAt: t0, expiresAt: t0 + 10_100, tags: [] });
    clock.advance(100);
    await store.set('other', 22, { ttl: 5_000 }); // column entry → Slot by a set
    expect(await store.getMeta('other')).to.deep.equal({ size: 2, createdAt: t0, updatedAt: t0 + 200, expiresAt: t0 + 5_200, tags: [] });
    expect(await store.touch('plain', null)).to.equal(true);
    await store.set('other', 222); // no timed entry is left: the fast path meets a Slot and updates it
    clock.advance(100);
    await store.set('plain', 'again');
    expect(await store.getMeta('plain')).to.deep.equal({ size: 7, createdAt: t0, updatedAt: t0 + 300, expiresAt: null, tags: [] });
    expect(await store.getMeta('other')).to.deep.equal({ size: 3, createdAt: t0, updatedAt: t0 + 200, expiresAt: null, tags: [] });
    expect(await store.getMany(['plain', 'other'])).to.deep.equal(['again', 222]);
  });

  it('a freed column ordinal is reused without mixing entries up; clear() forgets them all', async () => {
    const { store, clock } = make();
    for (let i = 0; i < 40; i++) await store.set(`k${i}`, { i });
    for (let i = 0; i < 40; i += 2) await store.del(`k${i}`);
    clock.advance(50);
    for (let i = 0; i < 30; i++) await store.set(`n${i}`, { n: i });
    for (let i = 1; i < 40; i += 2) {
      expect(await store.getOne(`k${i}`)).to.deep.equal({ i });
      expect((await store.getMeta(`k${i}`))!.createdAt).to.equal(clock.now() - 50);
    }
    for (let i = 0; i < 30; i++) {
      expect(await store.getOne(`n${i}`)).to.deep.equal({ n: i });
      expect((await store.getMeta(`n${i}`))!.createdAt).to.equal(clock.now());
    }
    expect(await store.getMeta('k0')).to.equal(undefined);
    expect((await store.keys()).slice(0, 3)).to.deep.equal(['k1', 'k3', 'k5']); // creation order kept
    await store.clear();
    expect(await store.getMeta('k1')).to.equal(undefined);
    await store.set('k1', 'fresh');
    expect(await store.getOne('k1')).to.equal('fresh');
    expect((await store.getMeta('k1'))!.createdAt).to.equal(clock.now());
  });

  it('size is the byte length of the default serialized form; a streamed value\'s, its bytes', async () => {
    const { store } = make();
    const values: unknown[] = ['é', { a: [1, 'x'], d: new Date(5) }, Buffer.from([1, 2, 3]), [null, true, 1.5]];
    for (let i = 0; i < values.length; i++) await store.set({ i }, values[i]);
    for (let i = 0; i < values.length; i++) expect((await store.getMeta({ i }))!.size, String(i)).to.equal(serializedSize(values[i]));
    await store.setStream('file', chunks(Buffer.alloc(1000, 1), Buffer.alloc(234, 2)));
    expect((await store.getMeta('file'))!.size).to.equal(1234);
    expect((await store.getOne('file')) as Buffer).to.have.length(1234); // joined now
    expect((await store.getMeta('file'))!.size).to.equal(1234);
  });

  it('with clone, the copy held is what is measured', async () => {
    const { store } = make({ clone: true });
    const value = { big: 'x'.repeat(100) };
    await store.set('k', value);
    value.big = '';
    expect((await store.getMeta('k'))!.size).to.equal(serializedSize({ big: 'x'.repeat(100) }));
  });

  it('reading metadata is not a use: LRU order stays (maxKeys), and bounded stores record times too (maxBytes)', async () => {
    for (const bound of [{ maxKeys: 2 }, { maxBytes: 100_000 }]) {
      const { store, clock } = make(bound);
      const t0 = clock.now();
      await store.set('a', 1);
      clock.advance(10);
      await store.set({ id: 'b' }, 2);
      expect(await store.getMeta('a'), JSON.stringify(bound)).to.deep.include({ createdAt: t0, updatedAt: t0 });
      expect(await store.getMeta({ id: 'b' }), JSON.stringify(bound)).to.deep.include({ createdAt: t0 + 10, updatedAt: t0 + 10 });
      if (bound.maxKeys !== undefined) {
        await store.set('c', 3); // 'a' is still the least recently used: getMeta did not touch it
        expect(await store.getMeta('a')).to.equal(undefined);
        expect(await store.has({ id: 'b' })).to.equal(true);
      }
    }
  });

  it('an expired entry read by getMeta is freed then and reported expired', async () => {
    const { store, clock } = make();
    const expired: unknown[] = [];
    store.on('expire', (e: { key: unknown }) => expired.push(e.key));
    await store.set({ id: 1 }, 'v', { ttl: 100 });
    clock.advance(100);
    expect(store.internals.size).to.equal(1);
    expect(await store.getMeta({ id: 1 })).to.equal(undefined);
    expect(store.internals.size).to.equal(0);
    expect(expired).to.deep.equal([{ id: 1 }]);
  });

  it('times far from the keyspace\'s first clock reading (past a small integer\'s range) are still exact', async () => {
    const { store, clock } = make();
    await store.set({ id: 'early' }, 1);
    const t0 = clock.now();
    clock.advance(40 * 24 * 3600 * 1000); // 40 days: 2^31 ms is about 24.9
    const t1 = clock.now();
    await store.set({ id: 'late' }, 2);
    await store.set({ id: 'early' }, 3);
    await store.set('plain', 4);
    expect(await store.getMeta({ id: 'early' })).to.deep.include({ createdAt: t0, updatedAt: t1 });
    expect(await store.getMeta({ id: 'late' })).to.deep.include({ createdAt: t1, updatedAt: t1 });
    expect(await store.getMeta('plain')).to.deep.include({ createdAt: t1, updatedAt: t1 });
  });

  it('a page walk over ids reads column entries; entries written after it keep their times', async () => {
    const { store, clock } = make();
    const t0 = clock.now();
    await store.set('s1', 's');
    await store.set({ kind: 'x', n: 2 }, 'two');
    await store.set({ kind: 'x', n: 1 }, 'one');
    const page = await store.page({ kind: 'x' }, { limit: 10 }); // no sort: walks ids in order (the id order is built now)
    expect(page.items).to.deep.equal(['one', 'two']);
    clock.advance(5);
    await store.set('s2', 's2'); // with an id order, a plain key takes the general path
    await store.set('s1', 's1');
    expect(await store.getMeta('s2')).to.deep.include({ createdAt: t0 + 5, updatedAt: t0 + 5 });
    expect(await store.getMeta('s1')).to.deep.include({ createdAt: t0, updatedAt: t0 + 5 });
    expect(await store.getMany(['s1', 's2'])).to.deep.equal(['s1', 's2']);
    expect((await store.page({ kind: 'x' }, { limit: 10 })).items).to.deep.equal(['one', 'two']);
  });

  it('an entry written again keeps its creation time and reports the write, in every kind of Slot (the update time is kept only once it differs)', async () => {
    // Default (parsed keys), listed indexes (no parse), TTL (timed Slots), maxBytes (sized Slots).
    for (const settings of [{}, { indexes: ['n'] }, { maxBytes: 100_000 }]) {
      for (const ttl of [undefined, 60_000]) {
        const label = JSON.stringify({ settings, ttl });
        const { store, clock } = make(settings);
        const t0 = clock.now();
        const opts = ttl === undefined ? undefined : { ttl };
        await store.set({ n: 1 }, 'a', opts);
        await store.set({ n: 1 }, 'b', opts); // written again in the same ms: still one time
        await store.set('s', 'a', opts);
        expect(await store.getMeta({ n: 1 }), label).to.deep.include({ createdAt: t0, updatedAt: t0 });
        clock.advance(7);
        await store.set({ n: 1 }, 'c', opts);
        await store.set('s', 'b', opts);
        await store.set({ n: 2 }, 'd', opts);
        clock.advance(5);
        await store.set({ n: 1 }, 'e', opts);
        expect(await store.getMeta({ n: 1 }), label).to.deep.include({ createdAt: t0, updatedAt: t0 + 12 });
        expect(await store.getMeta('s'), label).to.deep.include({ createdAt: t0, updatedAt: t0 + 7 });
        expect(await store.getMeta({ n: 2 }), label).to.deep.include({ createdAt: t0 + 7, updatedAt: t0 + 7 });
        expect(await store.touch({ n: 2 }, 1_000), label).to.equal(true); // a touch is not a write
        expect(await store.getMeta({ n: 2 }), label).to.deep.include({ createdAt: t0 + 7, updatedAt: t0 + 7 });
        expect(await store.get({ n: { $gte: 1 } }), label).to.deep.equal(['e', 'd']);
      }
    }
  });

  it('scopes keep their own entries and times', async () => {
    const { store, clock } = make();
    const t0 = clock.now();
    await store.set('k', 1);
    clock.advance(10);
    const scoped = store.scope('s');
    await scoped.set('k', 'scoped');
    expect(await store.getMeta('k')).to.deep.include({ createdAt: t0, size: 1 });
    expect(await scoped.getMeta('k')).to.deep.include({ createdAt: t0 + 10, size: serializedSize('scoped') });
  });
});

describe('memory column entries (bare-entries.ts)', () => {
  it('hands a freed ordinal out again, last freed first, and keeps every other entry', () => {
    const bare = new BareEntries();
    const ords = Array.from({ length: 40 }, (_, i) => bare.add(`v${i}`, i)); // past the first growth
    expect(ords).to.deep.equal(Array.from({ length: 40 }, (_, i) => i));
    bare.free(3);
    bare.free(17);
    expect(bare.value(17)).to.equal(undefined); // released at once
    expect(bare.add('x', 100)).to.equal(17);
    expect(bare.add('y', 101)).to.equal(3);
    expect(bare.add('z', 102)).to.equal(40);
    bare.update(3, 'y2', 105);
    expect([bare.value(3), bare.createdAt(3), bare.updatedAt(3)]).to.deep.equal(['y2', 101, 105]);
    expect([bare.value(17), bare.createdAt(17), bare.updatedAt(17)]).to.deep.equal(['x', 100, 100]);
    for (const i of [0, 16, 18, 39]) expect([bare.value(i), bare.createdAt(i)]).to.deep.equal([`v${i}`, i]);
    bare.clear();
    expect(bare.add('after', 1)).to.equal(0);
  });
  it('keeps times in 32-bit columns until one does not fit (later than 2^32 ms, before the base, fractional), then exactly in 64-bit ones', () => {
    const bare = new BareEntries();
    const ords = Array.from({ length: 20 }, (_, i) => bare.add(`v${i}`, i * 1_000)); // past the first growth
    bare.free(5); // a free list across the change
    const late = 2 ** 32 + 7;
    bare.update(ords[1], 'v1b', late);
    expect([bare.createdAt(ords[1]), bare.updatedAt(ords[1])]).to.deep.equal([1_000, late]);
    const early = bare.add('early', -3); // the free ordinal again
    expect(early).to.equal(5);
    const fraction = bare.add('fraction', 12.5);
    for (let i = 0; i < 40; i++) bare.add(`w${i}`, 2 ** 40 + i); // grows the widened columns
    expect([bare.createdAt(early), bare.updatedAt(early), bare.value(early)]).to.deep.equal([-3, -3, 'early']);
    expect([bare.createdAt(fraction), bare.value(fraction)]).to.deep.equal([12.5, 'fraction']);
    for (const i of [0, 2, 19]) expect([bare.value(i), bare.createdAt(i), bare.updatedAt(i)]).to.deep.equal([`v${i}`, i * 1_000, i * 1_000]);
    expect(bare.createdAt(fraction + 40)).to.equal(2 ** 40 + 39);
  });

  it('a store whose clock goes back before its first reading, or past 49 days, reports exact times on plain entries', async () => {
    const { store, clock } = memory();
    await store.set('first', 0);
    const t0 = clock.now();
    clock.advance(50 * 24 * 3600 * 1000); // past 2^32 ms
    await store.set('late', 1);
    await store.set('first', 2);
    const t1 = clock.now();
    expect(await store.getMeta('first')).to.deep.include({ createdAt: t0, updatedAt: t1 });
    expect(await store.getMeta('late')).to.deep.include({ createdAt: t1, updatedAt: t1 });
    await store.close();
  });
});

describe('mount getMeta', () => {
  it('answers from the mount owning the key, with that mount\'s own clock, TTLs and tags', async () => {
    const sessionsClock = new ManualClock(1_000_000);
    const defaultClock = new ManualClock(5_000_000);
    const sessions = new MemoryStore({ clock: sessionsClock, sweepInterval: 0 });
    const rest = new MemoryStore({ clock: defaultClock, sweepInterval: 0 });
    // TTLs become expiry times on the mount store's clock; each mount reads its own to expire them and to stamp writes.
    const store = new MountStore({ clock: sessionsClock, field: 'route', mounts: { 'sess:': sessions, sessions }, default: rest });
    try {
      await store.set('sess:1', 'a', { ttl: 1_000, tags: ['t'] });
      await store.set({ route: 'sessions', id: 2 }, 'b');
      await store.set('other', 'c');
      expect(await store.getMeta('sess:1')).to.deep.equal({ size: 3, createdAt: 1_000_000, updatedAt: 1_000_000, expiresAt: 1_001_000, tags: ['t'] });
      expect(await store.getMeta({ route: 'sessions', id: 2 })).to.deep.include({ createdAt: 1_000_000 });
      expect(await store.getMeta('other')).to.deep.include({ createdAt: 5_000_000, expiresAt: null });
      expect(await store.getMeta('sess:absent')).to.equal(undefined);
      expect(await sessions.getMeta('other')).to.equal(undefined); // it went to the default mount only
      sessionsClock.advance(1_000);
      expect(await store.getMeta('sess:1')).to.equal(undefined);
      expect(await store.getMeta('other')).to.not.equal(undefined);
    } finally {
      await store.close();
      await sessions.close();
      await rest.close();
    }
  });
});
