/**
 * Queries over configured `indexes` read in creation order (SPEC §14): where an index could
 * serve the filter, the MongoDB store reads the matches through an aggregation whose `$match`
 * is planned alone and whose `$sort` orders them by creation (lib/backends/mongo/creation-order.ts),
 * instead of a find sorted `{ s: 1 }`, whose plan could read the whole namespace — unless a
 * quarter of the namespace or more match: that find then streams them without sorting all of
 * them first (the aggregation's sort of every match regressed broad queries). Checked here:
 * which command runs, how many documents the server examines, and — over random keys and
 * queries (the differential harness's generators) — that a store with indexes answers exactly
 * as one without (which the harness checks against the engine).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { CommandStartedEvent, Document } from 'mongodb';
import type { MongoStore } from '../lib/backends/mongo';
import { keyId } from '../lib/keys';
import { ManualClock } from '../lib/clock';
import { useMongoStores } from './support/mongo-test-stores';
import { keyArb, queryArb } from './harness/differential-arbitraries';


describe('mongo store: queries over indexes in creation order', () => {

  const mongo = useMongoStores('mongo_idxq');
  const { store, watched } = mongo;
  /** Documents the server examined for the last find or aggregate `commands` saw (explain, executionStats). */
  async function docsExamined(s: MongoStore, commands: CommandStartedEvent[]): Promise<{ command: string; examined: number; plan: string }> {
    const last = commands.filter((c) => c.commandName === 'find' || c.commandName === 'aggregate').pop()!;
    const c = last.command;
    const explain: Document = last.commandName === 'find' ? { find: c.find, filter: c.filter, sort: c.sort, projection: c.projection } : { aggregate: c.aggregate, pipeline: c.pipeline, cursor: {} };
    const out = await s.collection.db.command({ explain, verbosity: 'executionStats' });
    const stats = out.executionStats ?? out.stages?.[0]?.$cursor?.executionStats;
    return { command: last.commandName, examined: stats.totalDocsExamined as number, plan: JSON.stringify(out.queryPlanner ?? out.stages?.[0]?.$cursor?.queryPlanner) };
  }
  /** 5,000 keys `{ id, age: id % 100, kind }`, written in id order. */
  async function fill(s: MongoStore): Promise<void> {
    for (let i = 0; i < 5_000; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => s.set({ id: i + j, age: (i + j) % 100, kind: (i + j) % 3 ? 'a' : 'b' }, i + j)));
    }
  }

  it('a range over an indexed path examines its matches, not the namespace, and answers in creation order', async function () {
    this.timeout(60_000);
    const { s, commands } = watched({ indexes: ['age'] });
    await fill(s);
    commands.length = 0;
    const ids = ((await s.keys({ age: { $gte: 80 } })) as Array<{ id: number }>).map((k) => k.id);
    expect(ids).to.have.length(1_000);
    expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));
    const read = await docsExamined(s, commands);
    // A find sorted { s: 1 } chose n_1_s_1 here and examined all 5,000.
    expect(read.command).to.equal('aggregate');
    expect(read.examined).to.equal(1_000);
    expect(read.plan).to.contain('n_1_k.age_1_s_1');
    // Values, and a skip (no sort): the same order.
    const values = await s.get({ age: { $gte: 80 } }, { skip: 990 });
    expect(values).to.deep.equal(ids.slice(990));
  });

  it('a broad query over an indexed path is a find streamed through creation order, not a sort of every match', async function () {
    this.timeout(60_000);
    const { s, commands } = watched({ indexes: ['age'] });
    await fill(s);
    commands.length = 0;
    const ids = ((await s.keys({ age: { $gte: 5 } })) as Array<{ id: number }>).map((k) => k.id);
    expect(ids).to.have.length(4_750);
    expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));
    const read = await docsExamined(s, commands);
    // The aggregation sorted all 4,750 matches (1 KB each in bench/queries-mongo) before the first came back.
    expect(read.command).to.equal('find');
    const winning = JSON.stringify(JSON.parse(read.plan).winningPlan);
    expect(winning).to.contain('n_1_s_1').and.not.contain('SORT');
    // What decided it counted index keys, no further than a quarter of the collection.
    const count = commands.find((c) => c.commandName === 'count' && c.command.hint === 'n_1_k.age_1_s_1');
    expect(count?.command.limit).to.equal(1_250);
  });

  it('the share of matches is taken against the namespace, not the collection', async function () {
    this.timeout(60_000);
    const { s, commands } = watched({ indexes: ['age'] });
    await fill(s.scope('other') as MongoStore);
    const small = s.scope('small') as MongoStore;
    await Promise.all(Array.from({ length: 400 }, (_, i) => small.set({ id: i, age: i % 100 }, i)));
    for (const [query, command] of [
      [{ age: { $gte: 5 } }, 'find'], // 380 of the namespace's 400: broad, though 380 of the collection's 5,400 is few
      [{ age: { $gte: 90 } }, 'aggregate'], // 40 of 400
    ] as const) {
      commands.length = 0;
      const ids = ((await small.keys(query)) as Array<{ id: number }>).map((k) => k.id);
      expect(ids).to.deep.equal([...ids].sort((a, b) => a - b)).and.have.length(query.age.$gte === 5 ? 380 : 40);
      expect((await docsExamined(small, commands)).command, JSON.stringify(query)).to.equal(command);
    }
  });

  it('a query counted since the collection shape was taken is not counted again: the same values and namespace only', async function () {
    this.timeout(60_000);
    // The collection's shape and the answers it remembers are taken on the store's clock: held still here, then stepped.
    const clock = new ManualClock(Date.now());
    const { s, commands } = watched({ indexes: ['age'], clock });
    await fill(s);
    /** The read's command, whether a count of the age index preceded it, and the ids it gave. */
    const read = async (store: MongoStore, query: Record<string, unknown>) => {
      commands.length = 0;
      const ids = ((await store.keys(query)) as Array<{ id: number }>).map((k) => k.id);
      expect(ids, JSON.stringify(query)).to.deep.equal([...ids].sort((a, b) => a - b));
      const counted = commands.some((c) => c.commandName === 'count' && c.command.hint === 'n_1_k.age_1_s_1');
      const { command, plan } = await docsExamined(store, commands);
      return { command, counted, ids, sorts: JSON.stringify(JSON.parse(plan).winningPlan).includes('SORT') };
    };
    const narrow = { age: { $gte: 80 } };
    const broad = { age: { $gte: 5 } };
    expect(await read(s, narrow)).to.include({ command: 'aggregate', counted: true });
    expect(await read(s, narrow)).to.include({ command: 'aggregate', counted: false });
    expect(await read(s, broad)).to.include({ command: 'find', counted: true, sorts: false });
    expect(await read(s, broad)).to.include({ command: 'find', counted: false, sorts: false });
    // The same form with other values is counted: 50 of 5,000 match.
    expect(await read(s, { age: { $gte: 99 } })).to.include({ command: 'aggregate', counted: true });
    expect(await read(s, { age: { $gte: 4 } })).to.include({ command: 'find', counted: true });
    // The same query in another namespace of the collection is counted there: all 400 of it match.
    const other = s.scope('old') as MongoStore;
    await Promise.all(Array.from({ length: 400 }, (_, i) => other.set({ id: i, age: 80 + (i % 20) }, i)));
    const there = await read(other, narrow);
    expect(there).to.include({ command: 'find', counted: true });
    expect(there.ids).to.have.length(400);
    // A remembered answer gone stale only picks the read: 4,500 more matches, and the
    // aggregation it remembered still answers every one of them in creation order.
    await Promise.all(Array.from({ length: 4_500 }, (_, i) => s.set({ id: 5_000 + i, age: 90, kind: 'c' }, i)));
    const stale = await read(s, narrow);
    expect(stale).to.include({ command: 'aggregate', counted: false });
    expect(stale.ids).to.have.length(5_500);
    // Once the shape is older than 5 s it is counted again: 5,500 of the namespace's 9,500 match now, broad.
    clock.advance(5_001);
    expect(await read(s, narrow)).to.include({ command: 'find', counted: true, sorts: false });
    expect(await read(s, narrow)).to.include({ command: 'find', counted: false });
  });

  it('a find stays where it is as good: an index yielding creation order, a limit, no index on the paths', async function () {
    this.timeout(60_000);
    const { s, commands } = watched({ indexes: ['kind', 'age'] });
    await fill(s);
    for (const [query, options] of [
      [{ kind: 'b' }, {}],
      [{ age: { $gte: 80 } }, { limit: 5 }],
      [{ id: { $gte: 10 } }, {}],
    ] as const) {
      commands.length = 0;
      await s.keys(query, options);
      expect(commands.map((c) => c.commandName), JSON.stringify(query)).to.include('find').and.not.include('aggregate');
    }
    commands.length = 0;
    expect(((await s.keys({ kind: 'b' })) as unknown[]).length).to.equal(1_667);
    expect((await docsExamined(s, commands)).examined).to.equal(1_667);
  });

  it('random keys and queries: a store with indexes answers as one without (keys, values, skip)', async function () {
    this.timeout(300_000);
    const db = `mongo_idxq_${process.pid}_fuzz`;
    // Single paths: a compound index refuses a key holding arrays at two of its paths (MongoDB's parallel arrays rule).
    const indexed = store({ indexes: ['a', 'b', 'c', 'tags', 'a.a', 'tags.a', { b: -1 }] }, db);
    const plain = store({}, db);
    let round = 0;
    const outcome = async (fn: () => Promise<unknown>) => {
      try {
        return { value: await fn() };
      } catch (err) {
        return { code: (err as { code?: unknown }).code };
      }
    };
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(keyArb, { minLength: 5, maxLength: 40, selector: (key) => keyId(key) }), fc.array(queryArb, { minLength: 1, maxLength: 8 }), async (keys, queries) => {
        const ns = `r${++round}`;
        const a = indexed.scope(ns) as MongoStore;
        const b = plain.scope(ns) as MongoStore;
        mongo.closeAfterTest(a, b);
        for (const [i, key] of keys.entries()) await a.set(key, i);
        for (const query of queries) {
          expect(await outcome(() => a.keys(query)), JSON.stringify(query)).to.deep.equal(await outcome(() => b.keys(query)));
          expect(await outcome(() => a.get(query)), JSON.stringify(query)).to.deep.equal(await outcome(() => b.get(query)));
          expect(await outcome(() => a.keys(query, { skip: 2 })), JSON.stringify(query)).to.deep.equal(await outcome(() => b.keys(query, { skip: 2 })));
        }
        await a.clear();
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 25), seed: Number(process.env.FUZZ_SEED ?? 20261202) },
    );
  });
});
