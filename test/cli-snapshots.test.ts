/**
 * The `memstorage-next` command end to end, second part: what snapshots and copies carry besides
 * keys and values (expiries, tags), a copy interrupted by killing its process and run again,
 * and memstorage 0.5.3 collections as a copy source. Real servers (redis-server, mongod) and
 * SQLite files; the interrupted copy runs as a child process, the rest calls main() in process
 * (a child costs seconds of CPU to load TypeScript on a shared machine).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import type { Document } from 'mongodb';
import { MongoClient } from 'mongodb';
import { BackendStore } from '../lib/backend-store';
import { copyInto } from '../lib/cli/commands/copy';
import { exportFrom } from '../lib/cli/commands/export';
import { importInto } from '../lib/cli/commands/import';
import { CliError, ExitCodes } from '../lib/cli/exit-codes';
import { DecodedRecord, decodeRecord } from '../lib/cli/ndjson';
import { storeSource } from '../lib/cli/source';
import { parseStoreUrl } from '../lib/cli/store-url';
import { createStore } from '../lib/factory';
import type { BaseStore } from '../lib/store';
import { createMapBackend } from './fixtures/map-backend';
import { sharedMongo } from './support/mongo-server';
import { sharedRedis } from './support/redis-server';
import { freshSqlitePath } from './support/sqlite-files';
import { freshNamespace } from './support/store-configs';
import { MAIN, ROOT, captured, cliInProcess, expectExit } from './support/cli-runs';

/** The records of an export, by key. */
function records(ndjson: string): DecodedRecord[] {
  return ndjson
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => decodeRecord(line))
    .sort((a, b) => (JSON.stringify(a.key) < JSON.stringify(b.key) ? -1 : 1));
}

/** `got` holds the same entries as `want`: keys, values, tags (as sets), expiries within 1 s. */
function expectSameRecords(got: DecodedRecord[], want: DecodedRecord[]): void {
  expect(got.map((r) => r.key)).to.deep.equal(want.map((r) => r.key));
  for (let i = 0; i < want.length; i++) {
    const what = JSON.stringify(want[i].key);
    expect(got[i].value, what).to.deep.equal(want[i].value);
    expect([...(got[i].tags ?? [])].sort(), what).to.deep.equal([...(want[i].tags ?? [])].sort());
    if (want[i].expiresAt === null) expect(got[i].expiresAt, what).to.equal(null);
    else expect(got[i].expiresAt, what).to.be.within(want[i].expiresAt! - 1_000, want[i].expiresAt! + 1_000);
  }
}

/** Entries with and without tags and TTLs; a Date and bytes among the values. */
const TAGGED = [
  { key: 'a:1', value: { n: 1, at: new Date(5) }, tags: ['red', 'blue'], ttl: 600_000 },
  { key: 'a:2', value: 'two', tags: ['red'] },
  { key: { kind: 'k', n: 3 }, value: Buffer.from([1, 2]), ttl: 300_000 },
  { key: { kind: 'k', n: 4 }, value: [4], tags: ['blue'] },
  { key: 'a:5', value: null },
];

/** Each entry of TAGGED has its tags in `store` (read with getMeta). */
async function expectTags(store: BaseStore): Promise<void> {
  for (const { key, tags } of TAGGED) {
    const meta = await store.getMeta(key);
    expect(meta, JSON.stringify(key)).not.to.equal(undefined);
    expect([...meta!.tags].sort(), JSON.stringify(key)).to.deep.equal([...(tags ?? [])].sort());
  }
}

describe('memstorage-next: expiries and tags, resumable copy, memstorage 0.5.3 (end to end)', function () {
  this.timeout(120_000);
  let redisBase: string;
  let mongoBase: string;
  const opened: BaseStore[] = [];
  const files: string[] = [];

  /** A store on `url`, closed after the tests. */
  const open = (url: string): BaseStore => {
    const store = createStore(parseStoreUrl(url)) as BaseStore;
    opened.push(store);
    return store;
  };
  const mongoUrl = (collection: string, namespace?: string): string => {
    const url = new URL(mongoBase);
    url.pathname = '/memstorage_cli';
    url.searchParams.set('collection', collection);
    if (namespace !== undefined) url.searchParams.set('namespace', namespace);
    return url.toString();
  };
  const sqliteUrl = (name: string): string => {
    const file = freshSqlitePath(name);
    files.push(file);
    return `sqlite:${file}`;
  };
  const urlsOf: Record<string, () => string> = {
    redis: () => `${redisBase}?namespace=${freshNamespace('cli-tags')}`,
    mongo: () => mongoUrl('cli_tags', freshNamespace('cli-tags')),
    sqlite: () => sqliteUrl('cli-tags'),
  };

  before(async function () {
    redisBase = (await sharedRedis()).url;
    mongoBase = (await sharedMongo()).url;
  });
  after(async function () {
    for (const store of opened) {
      await store.clear().catch(() => undefined);
      await store.close().catch(() => undefined);
    }
    for (const file of files) fs.rmSync(file, { force: true });
  });

  describe('tags and expiries survive export → import', function () {
    for (const kind of Object.keys(urlsOf)) {
      it(`on ${kind}`, async function () {
        const from = urlsOf[kind]();
        const to = urlsOf[kind]();
        await open(from).setMany(TAGGED);
        const exported = await cliInProcess(['export', from]);
        expectExit(exported, ExitCodes.OK);
        const written = records(exported.stdout);
        // The export itself carries them (getMeta), not only the import.
        expect(written.find((r) => r.key === 'a:1')?.tags?.sort()).to.deep.equal(['blue', 'red']);
        expect(written.find((r) => r.key === 'a:1')?.expiresAt).to.be.within(Date.now() + 590_000, Date.now() + 600_000);
        expect(written.find((r) => r.key === 'a:5')).to.deep.equal({ key: 'a:5', value: null, expiresAt: null });
        const imported = await cliInProcess(['import', to], exported.stdout);
        expectExit(imported, ExitCodes.OK);
        expect(imported.stderr).to.equal(`imported ${TAGGED.length} entries; 0 expired before their write, skipped\n`);
        const back = await cliInProcess(['export', to]);
        expectSameRecords(records(back.stdout), written);
        await expectTags(open(to));
      });
    }

    it('on memory (in process: a memory: URL is a fresh store each time)', async function () {
      const from = createStore({ type: 'memory' }) as BaseStore;
      const to = createStore({ type: 'memory' }) as BaseStore;
      await from.setMany(TAGGED);
      const exporting = captured();
      expect(await exportFrom(storeSource(from, undefined), {}, exporting.io)).to.equal(TAGGED.length);
      const importing = captured(exporting.out());
      expect(await importInto(to, 'memory:', {}, importing.io)).to.deep.equal({ imported: TAGGED.length, expired: 0 });
      await expectTags(to);
      const back = captured();
      await exportFrom(storeSource(to, undefined), {}, back.io);
      expectSameRecords(records(back.out()), records(exporting.out()));
    });
  });

  it('import skips entries whose expiresAt has passed, and counts them; a ttl (older files) counts from the import', async function () {
    const url = sqliteUrl('cli-expired');
    const now = Date.now();
    const input = [
      `{"key":"gone","value":1,"expiresAt":${now - 1_000}}`,
      `{"key":"later","value":2,"expiresAt":${now + 60_000}}`,
      '{"key":"relative","value":3,"ttl":60000}',
      '{"key":"forever","value":4,"expiresAt":null}',
    ].join('\n');
    const run = await cliInProcess(['import', url], input);
    expectExit(run, ExitCodes.OK);
    expect(run.stderr).to.equal('imported 3 entries; 1 expired before their write, skipped\n');
    const store = open(url);
    expect((await store.keys()).sort()).to.deep.equal(['forever', 'later', 'relative']);
    expect((await store.getMeta('later'))!.expiresAt).to.be.within(now + 59_000, now + 61_000);
    expect(await store.ttl('relative')).to.be.within(50_000, 60_000);
    expect(await store.ttl('forever')).to.equal(null);
  });

  it('a corrupt tags field is reported with its line number; nothing of that line (or after) is written', async function () {
    const url = sqliteUrl('cli-badtags');
    const input = ['{"key":"ok","value":1,"tags":["t"]}', '{"key":"bad","value":2,"tags":["t",""]}', '{"key":"after","value":3}'].join('\n');
    const run = await cliInProcess(['import', url], input);
    expectExit(run, ExitCodes.BAD_INPUT);
    expect(run.stderr).to.include('line 2: ');
    expect(run.stderr).to.include('1 entries imported from the lines before it, nothing from line 2 on');
    const store = open(url);
    expect(await store.keys()).to.deep.equal(['ok']);
    expect((await store.getMeta('ok'))!.tags).to.deep.equal(['t']);
  });

  it('entries with tags into a store that keeps none: exit code 7 naming the entry; --drop-tags writes them without', async function () {
    const tagless = () => new BackendStore({}, (_settings, context) => createMapBackend(context)) as unknown as BaseStore;
    expect(tagless().supports.tags).not.to.equal(true);
    const input = '{"key":"plain","value":1}\n{"key":"tagged","value":2,"tags":["t"]}\n';

    const refusing = tagless();
    const run = captured(input);
    const err = await importInto(refusing, 'map:', {}, run.io).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(CliError);
    expect((err as CliError).exitCode).to.equal(ExitCodes.TAGS_REFUSED);
    expect((err as CliError).message).to.include('line 2: the entry "tagged" has tags').and.include('--drop-tags');
    expect(await refusing.keys()).to.deep.equal(['plain']);

    const dropping = tagless();
    expect(await importInto(dropping, 'map:', { dropTags: true }, captured(input).io)).to.deep.equal({ imported: 2, expired: 0 });
    expect(await dropping.getOne('tagged')).to.equal(2);

    // copy checks the same before writing the window.
    const source = createStore({ type: 'memory' }) as BaseStore;
    await source.setMany(TAGGED);
    const copyTarget = tagless();
    const copyErr = await copyInto(storeSource(source, undefined), copyTarget, 'map:', {}, captured().io).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((copyErr as CliError).exitCode).to.equal(ExitCodes.TAGS_REFUSED);
    expect(await copyTarget.keys()).to.deep.equal([]);
    const copied = await copyInto(storeSource(source, undefined), tagless(), 'map:', { dropTags: true }, captured().io);
    expect(copied).to.deep.equal({ copied: TAGGED.length, equal: 0, expired: 0 });
  });

  it('copy killed mid-way and run again: it writes only what is missing, and every entry ends equal (value, expiry, tags)', async function () {
    const total = 3_000;
    const from = mongoUrl('cli_resume', freshNamespace('from'));
    const to = mongoUrl('cli_resume', freshNamespace('to'));
    const source = open(from);
    const target = open(to);
    const items = [];
    for (let i = 0; i < total; i++) {
      items.push({ key: i % 5 === 0 ? { n: i } : `k:${i}`, value: { i, at: new Date(i) }, ...(i % 3 === 0 && { ttl: 600_000 }), ...(i % 4 === 0 && { tags: [`t${i % 7}`] }) });
    }
    for (let i = 0; i < total; i += 500) await source.setMany(items.slice(i, i + 500));

    // Small windows so the copy takes long enough to be caught half-way.
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', MAIN, 'copy', '--from', from, '--to', to, '--batch', '20'], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let childErr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (childErr += s));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    let running = true;
    void exited.then(() => (running = false));
    while (running && (await target.count({ n: { $gte: 0 } })) + (await target.keys('k:*')).length < total / 5) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await exited;
    expect(running, `the copy ended before it was killed: ${childErr}`).to.equal(false);
    // A write sent just before the kill may still be applied: wait until the count holds.
    let before = -1;
    for (let now = (await target.stats()).items; now !== before; now = (await target.stats()).items) {
      before = now;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(before, 'killed half-way').to.be.within(1, total - 1);

    const resumed = await cliInProcess(['copy', '--from', from, '--to', to]);
    expectExit(resumed, ExitCodes.OK);
    expect(resumed.stderr).to.equal(`copied ${total - before} entries; ${before} already equal at the destination, 0 expired before their write\n`);
    const again = await cliInProcess(['copy', '--from', from, '--to', to]);
    expect(again.stderr).to.equal(`copied 0 entries; ${total} already equal at the destination, 0 expired before their write\n`);

    const [a, b] = await Promise.all([cliInProcess(['export', from]), cliInProcess(['export', to])]);
    const want = records(a.stdout);
    expect(want).to.have.length(total);
    expectSameRecords(records(b.stdout), want);
  });

  describe('memstorage 0.5.3 collections', function () {
    let raw: MongoClient;
    before(async function () {
      raw = new MongoClient(mongoBase);
      await raw.connect();
    });
    after(async function () {
      await raw?.close();
    });

    /** Writes documents as memstorage 0.5.3 did ({ _id: key, val }); resolves the collection's name. */
    async function writeLegacy(extra: Document[] = []): Promise<string> {
      const name = freshNamespace('legacy').replace(/[^a-z0-9_]/gi, '_');
      const coll = raw.db('memstorage_cli').collection<Document>(name);
      const docs: Array<[unknown, unknown]> = [
        ['greeting', 'hello'],
        [{ name: { first: 'Ann', last: 'Apple' }, age: 20 }, { id: 1, at: new Date(1000) }],
        [{ age: 31, name: { last: 'Apple', first: 'Bob' } }, [1, 2, 3]],
        ['bytes', Buffer.from('bytes')],
      ];
      for (const [key, val] of docs) await coll.updateOne({ _id: key } as Document, { $set: { val } }, { upsert: true });
      if (extra.length > 0) await coll.insertMany(extra);
      return name;
    }
    const legacyUrl = (collection: string) => `memstorage-0.5.3+${mongoUrl(collection)}`;

    it('copy reads one into another store without changing it; a document that cannot be an entry: exit code 8, listed, the others copied', async function () {
      const name = await writeLegacy([{ _id: 42 as unknown as string, val: 'numeric key' }]);
      const to = sqliteUrl('cli-legacy');
      const run = await cliInProcess(['copy', '--from', legacyUrl(name), '--to', to]);
      expectExit(run, ExitCodes.INCOMPLETE);
      expect(run.stderr).to.include('copied 4 entries; 0 already equal');
      expect(run.stderr).to.include('_id 42: the _id 42 is not a string or object key');
      const store = open(to);
      expect(await store.getOne('greeting')).to.equal('hello');
      expect(await store.getOne({ age: 20, name: { last: 'Apple', first: 'Ann' } })).to.deep.equal({ id: 1, at: new Date(1000) });
      expect(await store.get({ name: { last: 'Apple' } })).to.deep.equal([{ id: 1, at: new Date(1000) }, [1, 2, 3]]);
      expect(Buffer.isBuffer(await store.getOne('bytes'))).to.equal(true);
      expect(await store.ttl('greeting')).to.equal(null);
      // The source is untouched: still memstorage's five documents.
      const coll = raw.db('memstorage_cli').collection<Document>(name);
      expect(await coll.countDocuments({ val: { $exists: true } })).to.equal(5);
      expect(await coll.countDocuments({ legacyError: { $exists: true } })).to.equal(0);
      // Run again: nothing to write.
      const again = await cliInProcess(['copy', '--from', legacyUrl(name), '--to', to]);
      expect(again.stderr).to.include('copied 0 entries; 4 already equal');
    });

    it('export reads one too; a key or query is refused (a legacy collection is read whole)', async function () {
      const name = await writeLegacy();
      const run = await cliInProcess(['export', legacyUrl(name)]);
      expectExit(run, ExitCodes.OK);
      expect(records(run.stdout).map((r) => r.key)).to.deep.equal(['bytes', 'greeting', { age: 20, name: { first: 'Ann', last: 'Apple' } }, { age: 31, name: { first: 'Bob', last: 'Apple' } }]);
      expectExit(await cliInProcess(['export', legacyUrl(name), 'greeting']), ExitCodes.USAGE);
      expectExit(await cliInProcess(['stats', legacyUrl(name)]), ExitCodes.BAD_URL);
    });

    it('copied into its own collection it is converted in place (what memstorage-migrate does), and a run again finds nothing', async function () {
      const name = await writeLegacy();
      const run = await cliInProcess(['copy', '--from', legacyUrl(name), '--to', mongoUrl(name)]);
      expectExit(run, ExitCodes.OK);
      expect(run.stderr).to.equal('copied 4 entries; 0 already equal at the destination, 0 expired before their write\n');
      const store = open(mongoUrl(name));
      expect(await store.getOne('greeting')).to.equal('hello');
      expect(await store.count({ name: { last: 'Apple' } })).to.equal(2);
      expect(await raw.db('memstorage_cli').collection(name).countDocuments({ val: { $exists: true } })).to.equal(0);
      const again = await cliInProcess(['copy', '--from', legacyUrl(name), '--to', mongoUrl(name)]);
      expect(again.stderr).to.equal('copied 0 entries; 0 already equal at the destination, 0 expired before their write\n');
    });
  });
});
