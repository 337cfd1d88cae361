/**
 * The mount store's router (lib/backends/mount/routing.ts): which mount a key goes to and which
 * mounts a glob or query can touch, checked on the router alone.
 */
import { expect } from 'chai';
import { keyId } from '../lib/keys';
import { compileGlob, compileQuery } from '../lib/query';
import { MountRouter, NO_MOUNT, literalPrefix } from '../lib/backends/mount/routing';

// Mounts: 0 'sessions:', 1 'sessions:admin:', 2 'cache:' (also named 'cache' for object keys), 3 the default.
const names = [
  { name: 'sessions:', index: 0 },
  { name: 'sessions:admin:', index: 1 },
  { name: 'cache:', index: 2 },
  { name: 'cache', index: 2 },
];
const router = new MountRouter(names, 3, 4, 'kind');
const noDefault = new MountRouter(names, NO_MOUNT, 3, 'kind');
const route = (r: MountRouter, key: string | Record<string, unknown>) => r.route(keyId(key));

describe('mount routing', () => {
  it('string keys: the longest prefix, else the default', () => {
    expect(route(router, 'sessions:1')).to.equal(0);
    expect(route(router, 'sessions:admin:1')).to.equal(1);
    expect(route(router, 'sessions:admin')).to.equal(0);
    expect(route(router, 'cache:x')).to.equal(2);
    // One table: the name 'cache', meant for object keys, is a prefix for string keys too.
    expect(route(router, 'cachex')).to.equal(2);
    expect(route(router, 'cach')).to.equal(3);
    expect(route(router, 'other')).to.equal(3);
    expect(route(noDefault, 'other')).to.equal(NO_MOUNT);
    expect(() => noDefault.mountOf(keyId('other'))).to.throw().with.property('code', 'ERR_INVALID_KEY');
  });

  it('object keys: the string value of the field names the mount, else the default', () => {
    expect(route(router, { kind: 'cache', id: 1 })).to.equal(2);
    expect(route(router, { kind: 'cache:', id: 1 })).to.equal(2);
    expect(route(router, { kind: 'sessions:' })).to.equal(0);
    expect(route(router, { kind: 'nomount' })).to.equal(3);
    expect(route(router, { kind: ['cache'] })).to.equal(3);
    expect(route(router, { kind: { cache: 1 } })).to.equal(3);
    expect(route(router, { other: 'cache' })).to.equal(3);
    expect(route(new MountRouter(names, 3, 4, undefined), { kind: 'cache' })).to.equal(3);
    expect(route(noDefault, { kind: 'x' })).to.equal(NO_MOUNT);
    expect(router.nameOf(keyId({ kind: 'cache' }))).to.equal('cache');
    expect(router.nameOf(keyId('cache:1'))).to.equal('cache:');
    expect(router.nameOf(keyId({ kind: 1 }))).to.equal('default');
    expect(noDefault.nameOf(keyId({ kind: 1 }))).to.equal(undefined);
  });

  it("a glob's literal prefix stops at its first special character", () => {
    expect(literalPrefix('sessions:*')).to.equal('sessions:');
    expect(literalPrefix('a?b')).to.equal('a');
    expect(literalPrefix('a[bc]')).to.equal('a');
    expect(literalPrefix('a\\*b')).to.equal('a');
    expect(literalPrefix('plain')).to.equal('plain');
    expect(literalPrefix('*')).to.equal('');
  });

  it('a glob touches the mounts its literal prefix can reach', () => {
    const touched = (pattern: string, r = router) => r.mountsFor(compileGlob(pattern));
    expect(touched('*')).to.deep.equal([0, 1, 2, 3]);
    expect(touched('sessions:*')).to.deep.equal([0, 1]);
    expect(touched('sessions:admin:*')).to.deep.equal([1]);
    expect(touched('sessions:a*')).to.deep.equal([0, 1]);
    expect(touched('sessions:b*')).to.deep.equal([0]);
    expect(touched('sess*')).to.deep.equal([0, 1, 3]);
    expect(touched('cache:?')).to.deep.equal([2]);
    expect(touched('c*')).to.deep.equal([2, 3]);
    expect(touched('other:*')).to.deep.equal([3]);
    expect(touched('other:*', noDefault)).to.deep.equal([]);
  });

  it('a query touches every mount, unless it has an equality or $in on the field (then those mounts and the default)', () => {
    const touched = (query: Record<string, unknown>, r = router) => r.mountsFor(compileQuery(query));
    expect(touched({ id: 1 })).to.deep.equal([0, 1, 2, 3]);
    expect(touched({ kind: 'cache' })).to.deep.equal([2, 3]);
    expect(touched({ kind: 'nomount', id: 1 })).to.deep.equal([3]);
    expect(touched({ kind: { $in: ['cache', 'sessions:'] } })).to.deep.equal([0, 2, 3]);
    expect(touched({ kind: { $ne: 'cache' } })).to.deep.equal([0, 1, 2, 3]);
    expect(touched({ $or: [{ kind: 'cache' }, { kind: 'sessions:admin:' }] })).to.deep.equal([1, 2, 3]);
    expect(touched({ $or: [{ kind: 'cache' }, { id: 1 }] })).to.deep.equal([0, 1, 2, 3]);
    expect(touched({ $and: [{ kind: 'cache' }, { id: 1 }] })).to.deep.equal([2, 3]);
    expect(touched({ kind: 'cache' }, noDefault)).to.deep.equal([2]);
    expect(touched({ kind: 'cache' }, new MountRouter(names, 3, 4, undefined))).to.deep.equal([0, 1, 2, 3]);
    expect(router.mountsFor({ kind: 'none' })).to.deep.equal([]);
    expect(router.mountsFor({ kind: 'all' })).to.deep.equal([0, 1, 2, 3]);
  });
});
