/**
 * Values that BSON would change or cannot hold (issue #10 finding 5, values side; SPEC §12 all
 * or nothing): BSON stores strings as UTF-8, so a lone surrogate written raw comes back as
 * U+FFFD. The default serializer's JSON escapes lone surrogates, so such values round-trip; a
 * custom serializer whose output holds one is refused with ERR_INVALID_VALUE before anything
 * is written (docs/mongo.md, "Values"). A value larger than a document is refused the same way,
 * and never fails the other writes it would have shared a command with.
 */
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import type { Serializer } from '../lib/serializer';
import { mongoTestStores } from './support/test-stores';
import { entryOf } from './support/tier-access';


/** Strings stored as they are, anything else as JSON: the kind of serializer that hands BSON a raw lone surrogate. */
const rawStrings: Serializer = {
  serialize: (value) => (typeof value === 'string' ? 's' + value : 'j' + JSON.stringify(value)),
  deserialize: (text) => (text[0] === 's' ? text.slice(1) : JSON.parse(text.slice(1))),
};

const LONE = ['\ud800', 'a\udc00b', '\udbff\ud800', 'x\ud83d'];

describe('mongo store: values BSON would fold', () => {
  const stores = mongoTestStores('mongo_values');
  const store = stores.open;

  it('the raw driver folds a lone surrogate (why this matters)', async () => {
    const client = new MongoClient(stores.url());
    try {
      const col = client.db('mongo_values').collection(`raw${process.pid}`);
      await col.insertOne({ s: '\ud800' });
      expect((await col.findOne({}))?.s).to.equal('\ufffd');
      await col.drop();
    } finally {
      await client.close();
    }
  });

  it('with the default serializer, strings with lone surrogates round-trip exactly, alone, nested and through every read', async () => {
    const s = store();
    for (const [i, text] of LONE.entries()) {
      await s.set(`k${i}`, text);
      await s.set({ n: i }, { nested: [text, { deeper: text }] });
    }
    await Promise.all(LONE.map((text, i) => s.set(`batched${i}`, text))); // one coalesced command
    for (const [i, text] of LONE.entries()) {
      expect(await s.getOne(`k${i}`)).to.equal(text);
      expect(await s.getOne(`batched${i}`)).to.equal(text);
      expect(await s.get({ n: i })).to.deep.equal([{ nested: [text, { deeper: text }] }]);
      expect((await entryOf(s, `k${i}`))?.value).to.equal(text);
    }
  });

  it('a custom serializer whose output holds a lone surrogate: ERR_INVALID_VALUE, nothing written, batch neighbours stored', async () => {
    const s = store({ serializer: rawStrings });
    await s.set('k', 'before');
    const results = await Promise.all(
      ['k', 'other'].map((key, i) =>
        s.set(key, i === 0 ? 'a\udc00b' : 'well-formed \ud83d\ude00').then(
          () => 'stored',
          (err: { code?: string }) => err.code,
        ),
      ),
    );
    expect(results).to.deep.equal(['ERR_INVALID_VALUE', 'stored']);
    expect(await s.getOne('k')).to.equal('before');
    expect(await s.getOne('other')).to.equal('well-formed \ud83d\ude00');
  });

  it('a value larger than a document (16 MiB): ERR_INVALID_VALUE before it is sent; its batch neighbours are stored', async () => {
    const s = store();
    await s.connect();
    const big = 'x'.repeat(50e6);
    const results = await Promise.all(
      [s.set('small0', 0), s.set('big', big), s.set('small1', 1), s.set('just-over', 'y'.repeat(16.8e6))].map((p) =>
        p.then(
          () => 'stored',
          (err: { code?: string }) => err.code,
        ),
      ),
    );
    expect(results).to.deep.equal(['stored', 'ERR_INVALID_VALUE', 'stored', 'ERR_INVALID_VALUE']);
    expect(await s.getOne('small1')).to.equal(1);
    expect(await s.has('big')).to.equal(false);
    // Just under the limit is stored (non-ASCII: the limit is in UTF-8 bytes).
    await s.set('under', 'é'.repeat(8e6));
    expect(((await s.getOne('under')) as string).length).to.equal(8e6);
  });

  it('a command that fails fails only the sets it carried; the next command of the batch is still sent', async () => {
    const s = store();
    await s.connect();
    // Three 3 MB values: two commands (at most 8 MB each), [a, b] then [c].
    const pad = 'z'.repeat(3e6);
    const db = (s as unknown as { backend: { shared: { db: { command: (...args: unknown[]) => Promise<unknown> } } } }).backend.shared.db;
    const command = db.command;
    let calls = 0;
    db.command = function (this: unknown, ...args: unknown[]) {
      if (calls++ === 0) return Promise.reject(Object.assign(new Error('injected server-side failure'), { name: 'MongoServerError', code: 2 }));
      return command.apply(this, args);
    };
    try {
      const results = await Promise.all(
        ['a', 'b', 'c'].map((key) =>
          s.set(key, pad).then(
            () => 'stored',
            (err: { code?: string }) => err.code,
          ),
        ),
      );
      expect(results).to.deep.equal(['ERR_STORAGE_OPERATION', 'ERR_STORAGE_OPERATION', 'stored']);
    } finally {
      db.command = command;
    }
    expect(await s.has('c')).to.equal(true);
    expect(await s.has('a')).to.equal(false);
  });
});
