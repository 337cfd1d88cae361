/**
 * The command's pieces, in process: store URLs, the NDJSON record codec, line splitting and the
 * exit codes of errors. The command itself runs end to end in test/cli.test.ts.
 */
import { expect } from 'chai';
import { Readable } from 'node:stream';
import { CliError, ExitCodes, exitCodeOf } from '../lib/cli/exit-codes';
import { readLines } from '../lib/cli/lines';
import { decodeRecord, encodeRecord } from '../lib/cli/ndjson';
import { parseStoreUrl } from '../lib/cli/store-url';
import { parseLimit, parseQueryArg, parseSort } from '../lib/cli/arguments';
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

  it('a URL it cannot read is BAD_URL', function () {
    for (const url of ['', 'nothing', 'foo://x', 'memory:x', 'redis://', 'redis://h/abc', 'redis://h?db=1', 'redis://h?prefix=', 'redis://h?prefix=a&prefix=b', 'mongodb://', 'sqlite:', 'sqlite:x.db?path=y']) {
      expect(exitCodeThrown(() => parseStoreUrl(url)), url).to.equal(ExitCodes.BAD_URL);
    }
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
  it('round-trip keys, Dates, Buffers, Uint8Arrays, NUL fields and TTLs', function () {
    const records = [
      { key: 'plain', value: { a: [1, 'x', null, true] }, ttl: null },
      { key: { user: 1, tags: ['a'] }, value: new Date(1_700_000_000_123), ttl: 5000 },
      { key: 'bytes', value: { b: Buffer.from([0, 255, 10]), u: new Uint8Array([1, 2]), d: [new Date(0)] }, ttl: 1 },
      { key: 'nul', value: { '\u0000t': 1, '\u0000d': 2 }, ttl: null },
      { key: 'scalar', value: 'text\nwith a newline', ttl: null },
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

  it('a plain value stays plain JSON; ttl is absent for get output and rounded up to a whole ms', function () {
    expect(encodeRecord({ key: 'k', value: { a: 1 } })).to.equal('{"key":"k","value":{"a":1}}');
    expect(encodeRecord({ key: 'k', value: 1, ttl: 0.2 })).to.equal('{"key":"k","value":1,"ttl":1}');
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
