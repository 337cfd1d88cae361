/**
 * The `memstorage-next` command end to end against a real redis-server and real SQLite files:
 * stdout, stderr and exit codes asserted, and an export → import round trip compared entry by
 * entry. The process-level behaviour (help, exit codes, stdin and stdout as pipes, the round
 * trip) runs the command as a child process from the sources through ts-node; the other cases
 * call the same main() in process with captured streams, because each child costs ~2 s of CPU
 * to load TypeScript on a machine shared by several runs.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import { createServer } from 'node:net';
import { createStore } from '../lib/factory';
import type { BaseStore } from '../lib/store';
import type { Key } from '../lib/keys';
import { ExitCodes } from '../lib/cli/exit-codes';
import { decodeRecord } from '../lib/cli/ndjson';
import { parseStoreUrl } from '../lib/cli/store-url';
import { sharedMongo } from './support/mongo-server';
import { sharedRedis, startRedis } from './support/redis-server';
import Redis from 'ioredis';
import { freshSqlitePath } from './support/sqlite-files';
import { freshNamespace } from './support/store-configs';
import { CliRun, cli, cliInProcess, expectExit } from './support/cli-runs';

/** A port nothing listens on (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Every entry of `store` with its TTL, by key id order, for comparing two stores. */
async function contents(store: BaseStore): Promise<Array<{ key: Key; value: unknown; ttl: number | null | undefined }>> {
  const out = [];
  for await (const { key, value } of store.entries()) out.push({ key, value, ttl: await store.ttl(key) });
  return out.sort((a, b) => (JSON.stringify(a.key) < JSON.stringify(b.key) ? -1 : 1));
}

/** The seed entries: string and object keys; Dates, Buffers, Uint8Arrays, nested values; with and without TTLs. */
const SEED: Array<{ key: Key; value: unknown; ttl?: number }> = [
  { key: 'user:1', value: { name: 'Ann', born: new Date(Date.UTC(1990, 4, 1)), avatar: Buffer.from([0, 1, 2, 255]) } },
  { key: 'user:2', value: 'two', ttl: 600_000 },
  { key: 'config:a', value: [1, 2.5, null, true, { deep: [new Date(0)] }] },
  { key: { kind: 'person', age: 30 }, value: new Uint8Array([9, 8, 7]), ttl: 300_000 },
  { key: { kind: 'person', age: 12 }, value: { note: 'line\nbreak', '\u0000x': 1 } },
  { key: { kind: 'person', age: 45 }, value: 45 },
];

describe('memstorage-next command (end to end)', function () {
  this.timeout(60_000);
  let redisBase: string;
  let seeded: BaseStore;
  let seededUrl: string;

  before(async function () {
    redisBase = (await sharedRedis()).url;
    const namespace = freshNamespace('cli');
    seededUrl = `${redisBase}?namespace=${namespace}`;
    seeded = createStore({ type: 'redis', settings: { url: redisBase, namespace } }) as BaseStore;
    for (const { key, value, ttl } of SEED) await seeded.set(key, value, { ttl });
  });
  after(async function () {
    await seeded?.clear();
    await seeded?.close();
  });

  it('--help of the program and of each command lists the commands, the URL forms and the exit codes', async function () {
    const top = await cli(['--help']);
    const [exportHelp, noCommand] = await Promise.all([cliInProcess(['export', '--help']), cliInProcess([])]);
    expectExit(top, ExitCodes.OK);
    for (const command of ['stats', 'keys', 'get', 'export', 'import', 'copy']) expect(top.stdout).to.match(new RegExp(`^  ${command} `, 'm'));
    for (const text of [top.stdout, exportHelp.stdout]) {
      expect(text).to.include('redis://host:port');
      expect(text).to.include('Exit codes:');
      expect(text).to.include('6  import: a corrupt input line');
    }
    expectExit(exportHelp, ExitCodes.OK);
    expect(exportHelp.stdout).to.match(/^Usage: memstorage-next export/m);
    expectExit(noCommand, ExitCodes.USAGE);
    expect(noCommand.stdout).to.equal('');
  });

  it('each failure has its own exit code and a message on stderr, nothing on stdout', async function () {
    const port = await closedPort();
    // The unreachable server as a child: its exit code is the process's own.
    const runs = [
      await cliInProcess(['frobnicate']),
      await cliInProcess(['get', 'memory:']),
      await cliInProcess(['stats', 'ftp://host']),
      await cliInProcess(['stats', `${redisBase}?colour=red`]),
      await cli(['stats', `redis://127.0.0.1:${port}`]),
      await cliInProcess(['get', seededUrl, '{"age":']),
      await cliInProcess(['get', seededUrl, '{"age":{"$where":"1"}}']),
      await cliInProcess(['keys', seededUrl, '--limit', 'many']),
    ];
    const [unknown, missing, scheme, param, unreachable, badJson, badQuery, badLimit] = runs;
    expectExit(unknown, ExitCodes.USAGE);
    expectExit(missing, ExitCodes.USAGE);
    expectExit(scheme, ExitCodes.BAD_URL);
    expect(scheme.stderr).to.include('bad store URL "ftp://host": unknown scheme ftp:');
    expectExit(param, ExitCodes.BAD_URL);
    expect(param.stderr).to.include('unknown parameter "colour"');
    expectExit(unreachable, ExitCodes.UNREACHABLE);
    expect(unreachable.stderr).to.include('ERR_STORAGE_CONNECTION');
    expectExit(badJson, ExitCodes.BAD_QUERY);
    expect(badJson.stderr).to.include('not JSON');
    expectExit(badQuery, ExitCodes.BAD_QUERY);
    expect(badQuery.stderr).to.include('ERR_INVALID_QUERY');
    expectExit(badLimit, ExitCodes.USAGE);
    for (const run of runs) {
      expect(run.stdout).to.equal('');
      expect(run.stderr).not.to.equal('');
    }
  });

  it('stats, keys and get read a Redis store (JSON and --ndjson, --sort, --limit)', async function () {
    const [stats, globbed, objectKeys, exact, adults, missing] = await Promise.all([
      cliInProcess(['stats', seededUrl]),
      cliInProcess(['keys', seededUrl, 'user:*']),
      cliInProcess(['keys', seededUrl, '{"kind":"person"}', '--ndjson', '--sort', '-age']),
      cliInProcess(['get', seededUrl, 'user:1']),
      cliInProcess(['get', seededUrl, '{"age":{"$gte":18}}', '--ndjson', '--sort', '{"age":1}', '--limit', '1']),
      cliInProcess(['get', seededUrl, 'nobody']),
    ]);
    for (const run of [stats, globbed, objectKeys, exact, adults, missing]) expectExit(run, ExitCodes.OK);
    expect(JSON.parse(stats.stdout)).to.include({ items: SEED.length });
    expect(JSON.parse(globbed.stdout)).to.deep.equal(['user:1', 'user:2']);
    expect(objectKeys.stdout.trim().split('\n').map((line) => JSON.parse(line))).to.deep.equal([
      { age: 45, kind: 'person' },
      { age: 30, kind: 'person' },
      { age: 12, kind: 'person' },
    ]);
    // The JSON array holds the same records as the export, so the value keeps its Date and Buffer.
    const [record] = JSON.parse(exact.stdout) as unknown[];
    expect(decodeRecord(JSON.stringify(record))).to.deep.equal({ key: 'user:1', value: SEED[0].value, ttl: null });
    expect(adults.stdout.trim().split('\n').map((line) => decodeRecord(line))).to.deep.equal([
      { key: { age: 30, kind: 'person' }, value: new Uint8Array([9, 8, 7]), ttl: null },
    ]);
    expect(missing.stdout).to.equal('[]\n');
  });

  it('export → import round trip Redis → SQLite → Redis: every key, value (Dates, Buffers) and expiry (no hop adds its delay) equal', async function () {
    const sqlitePath = freshSqlitePath('cli');
    const sqliteUrl = `sqlite:${sqlitePath}`;
    const exported = await cli(['export', seededUrl]);
    expectExit(exported, ExitCodes.OK);
    expect(exported.stderr).to.equal(`exported ${SEED.length} entries\n`);
    const lines = exported.stdout.trim().split('\n');
    expect(lines).to.have.length(SEED.length);
    // Values holding Dates or bytes are in the serializer's tagged form; plain ones stay plain JSON.
    expect(lines.find((line) => line.startsWith('{"key":"user:2"'))).to.match(/^\{"key":"user:2","value":"two","expiresAt":\d+\}$/);

    const imported = await cli(['import', sqliteUrl], exported.stdout);
    expectExit(imported, ExitCodes.OK);
    expect(imported.stderr).to.equal(`imported ${SEED.length} entries; 0 expired before their write, skipped\n`);
    const back = await cliInProcess(['export', sqliteUrl]);
    expectExit(back, ExitCodes.OK);
    const namespace = freshNamespace('cli-back');
    const reimported = await cliInProcess(['import', `${redisBase}?namespace=${namespace}`], back.stdout);
    expectExit(reimported, ExitCodes.OK);

    const sqlite = createStore({ type: 'sqlite', settings: { path: sqlitePath } }) as BaseStore;
    const redisBack = createStore({ type: 'redis', settings: { url: redisBase, namespace } }) as BaseStore;
    try {
      const expected = await contents(seeded);
      for (const store of [sqlite, redisBack]) {
        const actual = await contents(store);
        expect(actual.map(({ key, value }) => ({ key, value }))).to.deep.equal(expected.map(({ key, value }) => ({ key, value })));
        for (let i = 0; i < expected.length; i++) {
          const want = expected[i].ttl;
          if (want === null) expect(actual[i].ttl, JSON.stringify(actual[i].key)).to.equal(null);
          // The expiry is absolute in the records: no hop adds its delay to it.
          else expect(actual[i].ttl, JSON.stringify(actual[i].key)).to.be.within(want! - 5_000, want! + 1_000);
        }
        expect(Buffer.isBuffer((actual.find((e) => e.key === 'user:1')!.value as { avatar: unknown }).avatar)).to.equal(true);
      }
    } finally {
      await redisBack.clear();
      await Promise.all([sqlite.close(), redisBack.close()]);
      fs.rmSync(sqlitePath, { force: true });
    }
  });

  it('a progress bar (export, import, copy) on stderr when it is a terminal, none when it is piped (the round trip above asserts the piped stderr whole)', async function () {
    const exported = await cliInProcess(['export', seededUrl], '', true);
    expectExit(exported, ExitCodes.OK);
    expect(exported.stderr).to.include(`export [`);
    expect(exported.stderr).to.include(`${SEED.length}/${SEED.length} entries`);
    expect(exported.stdout.trim().split('\n')).to.have.length(SEED.length);
    const imported = await cliInProcess(['import', 'memory:'], exported.stdout, true);
    expectExit(imported, ExitCodes.OK);
    expect(imported.stderr).to.include(`import ${SEED.length} entries`);
    const copied = await cliInProcess(['copy', '--from', seededUrl, '--to', 'memory:'], '', true);
    expectExit(copied, ExitCodes.OK);
    expect(copied.stderr).to.include('copy [');
    expect(copied.stderr).to.include(`${SEED.length}/${SEED.length} entries`);
  });

  it('import stops at a corrupt line with its number (exit 6): the lines before it are in, nothing of it or after', async function () {
    const sqlitePath = freshSqlitePath('cli-bad');
    const input = [
      '{"key":"a","value":1}',
      '',
      '{"key":"b","value":{"\\u0000t":{"\\u0000d":5}},"ttl":60000}',
      '{"key":"c","value":3,"ttl":-5}',
      '{"key":"d","value":4}',
    ].join('\n');
    const badTtl = await cli(['import', `sqlite:${sqlitePath}`], input);
    expectExit(badTtl, ExitCodes.BAD_INPUT);
    expect(badTtl.stderr).to.include('line 4: ttl must be');
    expect(badTtl.stderr).to.include('2 entries imported');
    const badKey = await cliInProcess(['import', `sqlite:${sqlitePath}`], '{"key":"e","value":5}\n{"key":{"$gt":1},"value":6}\n');
    expectExit(badKey, ExitCodes.BAD_INPUT);
    expect(badKey.stderr).to.include('line 2: ');
    const store = createStore({ type: 'sqlite', settings: { path: sqlitePath } }) as BaseStore;
    try {
      expect(await store.keys()).to.deep.equal(['a', 'b', 'e']);
      expect(await store.getOne('b')).to.deep.equal(new Date(5));
    } finally {
      await store.close();
      fs.rmSync(sqlitePath, { force: true });
    }
  });

  it('import: a batch the server refuses ends with the store error (exit 1), naming the lines not written', async function () {
    const server = await startRedis();
    const admin = new Redis(server.port, '127.0.0.1');
    try {
      // Every write is refused once the server is over its memory limit (noeviction).
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '1');
      const run = await cliInProcess(['import', server.url], '{"key":"a","value":1}\n\n{"key":"b","value":2}\n');
      expectExit(run, ExitCodes.FAILURE);
      expect(run.stderr).to.include('import stopped: writing lines 1–3 failed; 0 entries imported');
      expect(run.stderr).to.include('ERR_STORAGE_OPERATION');
    } finally {
      admin.disconnect();
      await server.stop();
    }
  });

  it('a MongoDB URL (db in the path, collection and namespace as parameters): copy from Redis into it, then export the same records', async function () {
    const url = new URL((await sharedMongo()).url);
    url.pathname = '/memstorage_cli';
    url.searchParams.set('collection', 'cli_copy');
    url.searchParams.set('namespace', freshNamespace('cli-mongo'));
    const mongoUrl = url.toString();
    const copied = await cliInProcess(['copy', '--from', seededUrl, '--to', mongoUrl]);
    expectExit(copied, ExitCodes.OK);
    expect(copied.stderr).to.equal(`copied ${SEED.length} entries; 0 already equal at the destination, 0 expired before their write\n`);
    const [fromRedis, fromMongo] = await Promise.all([cliInProcess(['export', seededUrl]), cliInProcess(['export', mongoUrl])]);
    const records = (run: CliRun) =>
      run.stdout
        .trim()
        .split('\n')
        .map((line) => decodeRecord(line))
        .sort((a, b) => (JSON.stringify(a.key) < JSON.stringify(b.key) ? -1 : 1));
    const want = records(fromRedis);
    const got = records(fromMongo);
    expect(got.map(({ key, value }) => ({ key, value }))).to.deep.equal(want.map(({ key, value }) => ({ key, value })));
    for (let i = 0; i < want.length; i++) {
      if (want[i].expiresAt === null) expect(got[i].expiresAt).to.equal(null);
      // The copy keeps the expiry (the TTL it writes is counted from its own clock reading).
      else expect(got[i].expiresAt).to.be.within(want[i].expiresAt! - 1_000, want[i].expiresAt! + 1_000);
    }
    const mongo = createStore(parseStoreUrl(mongoUrl)) as BaseStore;
    try {
      expect(await mongo.count({ kind: 'person' })).to.equal(3);
    } finally {
      await mongo.clear();
      await mongo.close();
    }
  });

  it('copy --from --to with a query copies the matching entries and their TTLs; run again, it changes nothing', async function () {
    const sqlitePath = freshSqlitePath('cli-copy');
    const args = ['copy', '--from', seededUrl, '--to', `sqlite:${sqlitePath}`, '{"kind":"person"}'];
    const first = await cliInProcess(args);
    expectExit(first, ExitCodes.OK);
    expect(first.stderr).to.equal('copied 3 entries; 0 already equal at the destination, 0 expired before their write\n');
    const again = await cliInProcess(args);
    expectExit(again, ExitCodes.OK);
    const store = createStore({ type: 'sqlite', settings: { path: sqlitePath } }) as BaseStore;
    try {
      expect(await store.count({ kind: 'person' })).to.equal(3);
      expect(await store.keys('*')).to.deep.equal([]);
      expect(await store.getOne({ kind: 'person', age: 30 })).to.deep.equal(new Uint8Array([9, 8, 7]));
      const sourceTtl = (await seeded.ttl({ kind: 'person', age: 30 }))!;
      expect(await store.ttl({ kind: 'person', age: 30 })).to.be.within(sourceTtl - 1_000, sourceTtl + 1_000);
      expect(await store.ttl({ kind: 'person', age: 45 })).to.equal(null);
    } finally {
      await store.close();
      fs.rmSync(sqlitePath, { force: true });
    }
  });
});
