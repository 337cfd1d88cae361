/**
 * A map of derived things (prepared statements, translated queries) that keeps at most `limit`
 * entries, the oldest inserted going first. Insertion order, not recency: the entries are cheap
 * to rebuild and a read must not pay for reordering (a Map's delete + set) on every hit. Written
 * here rather than taken from lru-cache: the twelve lines below are the whole need.
 */
export class BoundedCache<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly limit: number) {}

  /** The entry of `key`, built by `build` (and kept) the first time it is asked for. */
  getOrBuild(key: K, build: () => V): V {
    let found = this.map.get(key);
    if (found !== undefined) return found;
    found = build();
    if (this.map.size >= this.limit) this.map.delete(this.map.keys().next().value as K);
    this.map.set(key, found);
    return found;
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
