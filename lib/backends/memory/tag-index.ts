/**
 * The tags of one memory keyspace (SPEC §15): which entries carry which tag, kept apart from
 * the entries so that an untagged store pays nothing per entry. A tag's record goes with its
 * last entry (delete, overwrite, expiry, eviction, clear): the index never outgrows the tagged
 * entries it describes.
 */
export class TagIndex {
  /** Tag → ids of the entries carrying it. */
  private readonly byTag = new Map<string, Set<string>>();
  /** Id → its tags, for tagged entries only. */
  private readonly byId = new Map<string, readonly string[]>();

  /** Number of tagged entries. */
  get size(): number {
    return this.byId.size;
  }

  /** Number of distinct tags recorded; tests use it to prove cleanup. */
  get tagCount(): number {
    return this.byTag.size;
  }

  /** Gives `id` exactly `tags` (none: untagged). */
  replace(id: string, tags: readonly string[] | undefined): void {
    this.drop(id);
    if (tags === undefined) return;
    this.byId.set(id, tags);
    for (const tag of tags) {
      let ids = this.byTag.get(tag);
      if (ids === undefined) this.byTag.set(tag, (ids = new Set()));
      ids.add(id);
    }
  }

  /** `id`'s tags in the order given (a copy), or an empty array. */
  tagsOf(id: string): string[] {
    const tags = this.byId.get(id);
    return tags === undefined ? [] : [...tags];
  }

  /** Forgets `id`'s tags (it was removed). */
  drop(id: string): void {
    const tags = this.byId.get(id);
    if (tags === undefined) return;
    this.byId.delete(id);
    for (const tag of tags) {
      const ids = this.byTag.get(tag)!;
      ids.delete(id);
      if (ids.size === 0) this.byTag.delete(tag);
    }
  }

  /** The ids carrying at least one of `tags`, each once (a fresh array: the caller deletes while reading it). */
  idsWithAny(tags: readonly string[]): string[] {
    const found = new Set<string>();
    for (const tag of tags) for (const id of this.byTag.get(tag) ?? []) found.add(id);
    return [...found];
  }

  clear(): void {
    this.byTag.clear();
    this.byId.clear();
  }
}
