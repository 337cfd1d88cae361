/**
 * The command's pieces, in process: store URLs, the NDJSON record codec, line splitting and the
 * exit codes of errors. The command itself runs end to end in test/cli.test.ts.
 */
import { expect } from 'chai';
import { Readable } from 'node:stream';
import { CliError, ExitCodes, exitCodeOf } from '../lib/cli/exit-codes';
import { readLines } from '../lib/cli/lines';
import { decodeRecord, encodeRecord, ttlAt } from '../lib/cli/ndjson';
import { MAX_TTL_MS } from '../lib/limits';
import { parseSourceUrl, parseStoreUrl } from '../lib/cli/store-url';
import { parseBatch, parseLimit, parseQueryArg, parseSort } from '../lib/cli/arguments';
import { InvalidKeyError, InvalidValueError, StorageConnectionError, StoreConfigError, InvalidQueryError, StorageOperationError } from '../lib/errors';

/** The exit code `fn` fails with (a CliError); fails the test when it returns. */
function exitCodeThrown(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(CliError);
    return (err as CliError).exitCode;
  }
  throw new Error('expected a throw');
}

describe('cli: store URLs', function () {
  it('maps each scheme to the factory type and settings', function () {
    expect(parseStoreUrl('memory:')).to.deep.equal({ type: 'memory' });
    expect(parseStoreUrl('redis://127.0.0.1:6380/2?prefix=p:&namespace=ns')).to.deep.equal({
      type: 'redis',
      settings: { prefix: 'p:', namespace: 'ns', url: 'redis://127.0.0.1:6380/2' },
    });
    expect(parseStoreUrl('rediss://u:pw@h:1')).to.deep.equal({ type: 'redis', settings: { url: 'rediss://u:pw@h:1' } });
    expect(parseStoreUrl('mongodb://h1:1,h2:2/db?collection=c&namespace=n&replicaSet=rs')).to.deep.equal({
      type: 'mongo',
      settings: { collectionName: 'c', namespace: 'n', url: 'mongodb://h1:1,h2:2/db?replicaSet=rs' },
    });
    expect(parseStoreUrl('mongodb://h/db')).to.deep.equal({ type: 'mongo', settings: { url: 'mongodb://h/db' } });
    expect(parseStoreUrl('sqlite:./x.db?namespace=n&table=t')).to.deep.equal({ type: 'sqlite', settings: { namespace: 'n', table: 't', path: './x.db' } });
    expect(parseStoreUrl('sqlite:///abs/x.db')).to.deep.equal({ type: 'sqlite', settings: { path: '/abs/x.db' } });
  });

  it('a sharded Redis namespace: shards as a number, on redis:// and on redis-cluster:// (its startup nodes, user and password)', function () {
    expect(parseStoreUrl('redis://h:1?namespace=n&shards=4')).to.deep.equal({ type: 'redis', settings: { namespace: 'n', shards: 4, url: 'redis://h:1' } });
    expect(parseStoreUrl('redis-cluster://127.0.0.1:7000,127.0.0.1:7001?prefix=p:&shards=3')).to.deep.equal({
      type: 'redis',
      settings: { cluster: [{ host: '127.0.0.1', port: 7000 }, { host: '127.0.0.1', port: 7001 }], prefix: 'p:', shards: 3 },
    });
    expect(parseStoreUrl('redis-cluster://u:p%40w@h:1/')).to.deep.equal({ type: 'redis', settings: { cluster: [{ host: 'h', port: 1 }], username: 'u', password: 'p@w' } });
    expect(parseStoreUrl('redis-cluster://:pw@[::1]:7000,h2:7001')).to.deep.equal({
      type: 'redis',
      settings: { cluster: [{ host: '::1', port: 7000 }, { host: 'h2', port: 7001 }], password: 'pw' },
    });
  });

  it('a URL it cannot read is BAD_URL', function () {
    for (const url of ['', 'nothing', 'foo://x', 'memory:x', 'redis://', 'redis://h/abc', 'redis://h?db=1', 'redis://h?prefix=', 'redis://h?prefix=a&prefix=b', 'redis://h?shards=x', 'redis://h?shards=-1', 'redis://h?shards=', 'redis-cluster://', 'redis-cluster://h', 'redis-cluster://h:1/0', 'redis-cluster://h:1,', 'redis-cluster://a[:1', 'redis-cluster://u:%zz@h:1', 'redis-cluster://h:1?db=2', 'mongodb://', 'sqlite:', 'sqlite:x.db?path=y']) {
      expect(exitCodeThrown(() => parseStoreUrl(url)), url).to.equal(ExitCodes.BAD_URL);
    }
  });
});

describe('cli: source URLs (copy --from, export)', function () {
  it('memstorage-0.5.3+mongodb:// names a memstorage 0.5.3 collection; any store URL names the store', function () {
    expect(parseSourceUrl('memstorage-0.5.3+mongodb://h:1/app?collection=cache&replicaSet=rs')).to.deep.equal({
      kind: 'memstorage-0.5.3',
      url: 'mongodb://h:1/app?replicaSet=rs',
      collectionName: 'cache',
    });
    expect(parseSourceUrl('redis://h:1')).to.deep.equal({ kind: 'store', options: { type: 'redis', settings: { url: 'redis://h:1' } } });
  });

  it('a legacy URL without a collection, with a namespace, or over another scheme is BAD_URL; other commands refuse it', function () {
    for (const url of ['memstorage-0.5.3+mongodb://h/app', 'memstorage-0.5.3+mongodb://h/app?collection=c&namespace=n', 'memstorage-0.5.3+redis://h']) {
      expect(exitCodeThrown(() => parseSourceUrl(url)), url).to.equal(ExitCodes.BAD_URL);
    }
    expect(exitCodeThrown(() => parseStoreUrl('memstorage-0.5.3+mongodb://h/app?collection=c'))).to.equal(ExitCodes.BAD_URL);
  });

  it('--batch is a whole number from 1 to 100000', function () {
    expect(parseBatch('1')).to.equal(1);
    expect(parseBatch(undefined)).to.equal(undefined);
    for (const bad of ['0', '100001', '1.5', 'x']) expect(exitCodeThrown(() => parseBatch(bad)), bad).to.equal(ExitCodes.USAGE);
  });
});

describe('cli: arguments', function () {
  it('a { argument is JSON, anything else a string key; bad JSON is BAD_QUERY', function () {
    expect(parseQueryArg(undefined)).to.equal(undefined);
    expect(parseQueryArg('user:*')).to.equal('user:*');
    expect(parseQueryArg(' {"a":{"$gt":1}}')).to.deep.equal({ a: { $gt: 1 } });
    expect(exitCodeThrown(() => parseQueryArg('{a:1}'))).to.equal(ExitCodes.BAD_QUERY);
    // A string key that starts with { or " is named as a JSON string.
    expect(parseQueryArg('"{not json"')).to.equal('{not json');
    expect(parseQueryArg('"\\"quoted\\""')).to.equal('"quoted"');
    expect(exitCodeThrown(() => parseQueryArg('"unterminated'))).to.equal(ExitCodes.BAD_QUERY);
  });

  it('--sort takes JSON or -paths; --limit a whole number', function () {
    expect(parseSort('-age,name.last')).to.deep.equal({ age: -1, 'name.last': 1 });
    expect(parseSort('{"age":-1}')).to.deep.equal({ age: -1 });
    expect(exitCodeThrown(() => parseSort('a,,b'))).to.equal(ExitCodes.BAD_QUERY);
    expect(exitCodeThrown(() => parseSort('{'))).to.equal(ExitCodes.BAD_QUERY);
    expect(parseLimit('0')).to.equal(0);
    for (const bad of ['-1', '1.5', 'x', '']) expect(exitCodeThrown(() => parseLimit(bad)), bad).to.equal(ExitCodes.USAGE);
  });
});

describe('cli: NDJSON records', function () {
  it('round-trip keys, Dates, Buffers, Uint8Arrays, NUL fields, expiries and tags', function () {
    const records = [
      { key: 'plain', value: { a: [1, 'x', null, true] }, expiresAt: null },
      { key: { user: 1, tags: ['a'] }, value: new Date(1_700_000_000_123), expiresAt: 1_800_000_000_000, tags: ['users', 'hot'] },
      { key: 'bytes', value: { b: Buffer.from([0, 255, 10]), u: new Uint8Array([1, 2]), d: [new Date(0)] }, expiresAt: 1 },
      { key: 'nul', value: { '\u0000t': 1, '\u0000d': 2 }, expiresAt: null, tags: ['x'] },
      { key: 'scalar', value: 'text\nwith a newline', expiresAt: null },
    ];
    for (const record of records) {
      const line = encodeRecord(record);
      expect(line).not.to.include('\n');
      const back = decodeRecord(line);
      expect(back, line).to.deep.equal(record);
      if (Buffer.isBuffer(record.value)) expect(Buffer.isBuffer(back.value)).to.equal(true);
    }
    const bytes = decodeRecord(encodeRecord(records[2])).value as { b: unknown; u: unknown };
    expect(Buffer.isBuffer(bytes.b)).to.equal(true);
    expect(bytes.u).to.be.instanceOf(Uint8Array);
    expect(Buffer.isBuffer(bytes.u)).to.equal(false);
  });

  it('a plain value stays plain JSON; expiresAt is absent for get output, rounded up to a whole ms; tags only when some', function () {
    expect(encodeRecord({ key: 'k', value: { a: 1 } })).to.equal('{"key":"k","value":{"a":1}}');
    expect(encodeRecord({ key: 'k', value: 1, expiresAt: 1000.2, tags: [] })).to.equal('{"key":"k","value":1,"expiresAt":1001}');
    expect(encodeRecord({ key: 'k', value: 1, expiresAt: null, tags: ['t'] })).to.equal('{"key":"k","value":1,"expiresAt":null,"tags":["t"]}');
  });

  it('a record of an earlier version (a relative ttl) is read: its ttl counts from the write', function () {
    expect(decodeRecord('{"key":"a","value":1,"ttl":5000}')).to.deep.equal({ key: 'a', value: 1, ttl: 5000 });
    expect(decodeRecord('{"key":"a","value":1}')).to.deep.equal({ key: 'a', value: 1, ttl: null });
    expect(ttlAt({ key: 'a', value: 1, ttl: 5000 }, 1e12)).to.equal(5000);
  });

  it('ttlAt: the remaining time at the write; undefined once expired; an expiry beyond the longest TTL is an error', function () {
    expect(ttlAt({ key: 'a', value: 1, expiresAt: 10_000 }, 4_000)).to.equal(6_000);
    expect(ttlAt({ key: 'a', value: 1, expiresAt: 10_000 }, 10_000)).to.equal(undefined);
    expect(ttlAt({ key: 'a', value: 1, expiresAt: null }, 10_000)).to.equal(null);
    expect(() => ttlAt({ key: 'a', value: 1, expiresAt: MAX_TTL_MS + 10_001 }, 10_000)).to.throw(/longest TTL/);
  });

  it('a bad line is refused with the reason, before anything is written', function () {
    const bad: Array<[string, RegExp]> = [
      ['{"key":"a"', /not JSON/],
      ['[1]', /not a JSON object/],
      ['{"value":1}', /no key/],
      ['{"key":"a"}', /no value/],
      ['{"key":"a","value":1,"extra":1}', /unknown field/],
      ['{"key":"a","value":1,"ttl":0}', /ttl/],
      ['{"key":"a","value":1,"ttl":1.5}', /ttl/],
      ['{"key":"a","value":1,"ttl":"1"}', /ttl/],
      ['{"key":"a","value":1,"expiresAt":-1}', /expiresAt/],
      ['{"key":"a","value":1,"expiresAt":"2030-01-01"}', /expiresAt/],
      ['{"key":"a","value":1,"expiresAt":1,"ttl":1}', /both/],
      ['{"key":"a","value":1,"tags":"t"}', /tags/],
      ['{"key":"a","value":1,"tags":[""]}', /tag 0/],
    ];
    for (const [line, reason] of bad) expect(() => decodeRecord(line), line).to.throw(reason);
    expect(() => decodeRecord('{"key":{"$gt":1},"value":1}')).to.throw(InvalidKeyError);
    expect(() => decodeRecord('{"key":"","value":1}')).to.throw(InvalidKeyError);
    expect(() => decodeRecord('{"key":"a","value":{"\\u0000t":{"\\u0000b":7}}}')).to.throw();
  });
});

describe('cli: lines', function () {
  it('splits on \\n and \\r\\n across chunks, multi-byte characters included, numbering from 1', async function () {
    const euro = Buffer.from('€');
    const chunks = [Buffer.from('a\r\n'), Buffer.concat([Buffer.from('b'), euro.subarray(0, 1)]), Buffer.concat([euro.subarray(1), Buffer.from('\n\nlast')])];
    const lines = [];
    for await (const line of readLines(Readable.from(chunks))) lines.push(line);
    expect(lines).to.deep.equal([
      { text: 'a', number: 1 },
      { text: 'b€', number: 2 },
      { text: '', number: 3 },
      { text: 'last', number: 4 },
    ]);
  });

  it('a 32 MB line in 64 KB chunks is read in time linear in its length (it was quadratic: minutes)', async function () {
    this.timeout(5_000);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const chunks = [Buffer.from('first\n'), ...Array.from({ length: 512 }, () => chunk), Buffer.from('\r\nlast')];
    const lines = [];
    for await (const line of readLines(Readable.from(chunks))) lines.push({ length: line.text.length, number: line.number, end: line.text.slice(-1) });
    expect(lines).to.deep.equal([
      { length: 5, number: 1, end: 't' },
      { length: 512 * 64 * 1024, number: 2, end: 'x' },
      { length: 4, number: 3, end: 't' },
    ]);
  });
});

describe('cli: exit codes', function () {
  it('one per failure kind', function () {
    expect(exitCodeOf(new StoreConfigError('x'))).to.equal(ExitCodes.BAD_URL);
    expect(exitCodeOf(new StorageConnectionError('x'))).to.equal(ExitCodes.UNREACHABLE);
    expect(exitCodeOf(new InvalidQueryError('x'))).to.equal(ExitCodes.BAD_QUERY);
    expect(exitCodeOf(new InvalidKeyError('x'))).to.equal(ExitCodes.BAD_QUERY);
    expect(exitCodeOf(new StorageOperationError('x'))).to.equal(ExitCodes.FAILURE);
    expect(exitCodeOf(new InvalidValueError('x'))).to.equal(ExitCodes.FAILURE);
    expect(exitCodeOf(new Error('x'))).to.equal(ExitCodes.FAILURE);
    expect(new Set(Object.values(ExitCodes)).size).to.equal(Object.keys(ExitCodes).length);
  });
});
