/**
 * The SQLite store remembers the translation and sort shape of a sorted read per query, values
 * included (lib/backends/sqlite/sorted.ts translated, query.ts filterText): a query given the
 * same values again builds no SQL; other values, other sorts and filters that are not plain data
 * get their own translation.
 */
import { expect } from 'chai';
import { filterText } from '../lib/backends/sqlite/query';
import { sqliteBackendStores } from './support/sqlite-files';

describe('sqlite store: sorted reads remember their translation per query', () => {
  const open = sqliteBackendStores();

  it('filterText names plain data exactly and refuses the rest', () => {
    const holey: number[] = [1, 2];
    delete holey[0];
    const texts = [{ a: 1 }, { a: '1' }, { a: true }, { a: null }, { a: [1, 2] }, { a: { $in: [1, 2] } }, { a: 1, b: 2 }, { b: 2, a: 1 }, { 'a"': 1 }, { a: '\u0000' }, { a: 1e21 }, { a: 0 }];
    const seen = texts.map((t) => filterText(t));
    expect(seen.every((t) => typeof t === 'string')).to.equal(true);
    expect(new Set(seen).size).to.equal(texts.length);
    for (const odd of [{ a: -0 }, { a: NaN }, { a: Infinity }, { a: /x/ }, { a: new Date(0) }, { a: holey }, { a: undefined }, { a: 1n }, { a: Buffer.from('x') }, { a: Object.create({ x: 1 }) as object }]) {
      expect(filterText(odd), String(Object.values(odd)[0])).to.equal(undefined);
    }
  });

  it('the same query with other values, another sort or window reads its own answer; a repeated one builds no SQL', async () => {
    const { store, backend } = open({ indexes: ['n'] });
    for (let i = 0; i < 30; i++) await store.set({ id: i, kind: ['a', 'b', 'c'][i % 3], n: i % 7, m: i % 5 }, i);
    const expected = (kind: string, field: 'n' | 'm', dir: 1 | -1, limit: number) =>
      Array.from({ length: 30 }, (_, i) => ({ i, kind: ['a', 'b', 'c'][i % 3], n: i % 7, m: i % 5 }))
        .filter((k) => k.kind === kind)
        .sort((x, y) => dir * (x[field] - y[field]) || x.i - y.i)
        .slice(0, limit)
        .map((k) => k.i);
    for (const round of [1, 2]) {
      for (const kind of ['a', 'b', 'c']) {
        for (const [field, dir, limit] of [['n', -1, 4], ['n', 1, 4], ['m', -1, 3], ['n', -1, 2]] as const) {
          expect(await store.get({ kind }, { sort: { [field]: dir }, limit }), `${round} ${kind} ${field} ${dir} ${limit}`).to.deep.equal(expected(kind, field, dir, limit));
        }
      }
    }
    // Repeated: the WHERE text and the shape come from the memo (no selectorWhere, no sortShape built again).
    const connection = backend.connection;
    const shape = connection.shape.bind(connection);
    let shapes = 0;
    connection.shape = <T>(key: string, build: () => T): T => {
      shapes++;
      return shape(key, build);
    };
    expect(await store.get({ kind: 'b' }, { sort: { n: -1 }, limit: 4 })).to.deep.equal(expected('b', 'n', -1, 4));
    expect(shapes).to.equal(0);
    // A filter that is not plain data is translated afresh each time, and still answers.
    expect(await store.get({ kind: { $regex: /^b$/ } }, { sort: { n: -1 }, limit: 4 })).to.deep.equal(expected('b', 'n', -1, 4));
    expect(shapes).to.equal(1);
  });

  it('sort paths that hold control characters never share a shape with other sorts', async () => {
    const { store } = open({ indexes: ['a'] });
    await store.set({ id: 1, a: 1, b: 2 }, 'one');
    await store.set({ id: 2, a: 1, b: 1 }, 'two');
    await store.set({ id: 3, a: 2, b: 0 }, 'three');
    const all = { id: { $gte: 0 } };
    expect(await store.get(all, { sort: { a: -1, b: 1 } })).to.deep.equal(['three', 'two', 'one']);
    // The two fields above joined by the shape key's separator: a field no key can hold (NUL), so every key ties: creation order.
    expect(await store.get(all, { sort: { 'a\u00001b': -1 } })).to.deep.equal(['one', 'two', 'three']);
  });
});
