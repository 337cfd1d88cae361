import { expect } from 'chai';
import { BoundedCache } from '../lib/bounded-cache';

describe('BoundedCache', () => {
  it('builds an entry once and keeps at most its limit, the oldest inserted going first', () => {
    const cache = new BoundedCache<string, number>(2);
    let builds = 0;
    const build = (n: number) => () => (builds++, n);
    expect(cache.getOrBuild('a', build(1))).to.equal(1);
    expect(cache.getOrBuild('a', build(9))).to.equal(1); // kept: not rebuilt
    expect(cache.getOrBuild('b', build(2))).to.equal(2);
    expect(cache.getOrBuild('a', build(9))).to.equal(1); // a hit does not make 'a' younger
    expect(cache.getOrBuild('c', build(3))).to.equal(3); // pushes out 'a', the oldest inserted
    expect(cache.size).to.equal(2);
    expect(cache.getOrBuild('b', build(9))).to.equal(2);
    expect(cache.getOrBuild('a', build(4))).to.equal(4); // rebuilt
    expect(builds).to.equal(4);
    cache.clear();
    expect(cache.size).to.equal(0);
  });
});
