/**
 * The ids of a keyspace in code point order, for pages without a sort (SPEC §14: such a page is
 * ordered by id alone). Kept only once a page has needed it: built on first use, then updated
 * by every insert and delete of the keyspace, so a store that never pages this way pays nothing,
 * and one that does pays a B+ tree insert per new key instead of a sort of every id per page.
 */
import BTree from 'sorted-btree';
import { compareValues } from '../../query-match';

/** Ids in code point order (as MongoDB orders _id strings; JavaScript's `<` is UTF-16 order). */
export const compareIds: (a: string, b: string) => number = compareValues;

/** See the file comment. */
export class IdOrder {
  private readonly tree = new BTree<string, undefined>(undefined, compareIds);

  constructor(ids: Iterable<string>) {
    // Inserting in order fills each leaf before the next, so the tree is built densely.
    for (const id of [...ids].sort(compareIds)) this.tree.set(id, undefined);
  }

  add(id: string): void {
    this.tree.set(id, undefined);
  }

  delete(id: string): void {
    this.tree.delete(id);
  }

  /** Ids strictly after `after` (all of them when undefined), in order. */
  *after(after: string | undefined): Generator<string> {
    for (const id of this.tree.keys(after)) if (id !== after) yield id;
  }

  get size(): number {
    return this.tree.size;
  }
}
