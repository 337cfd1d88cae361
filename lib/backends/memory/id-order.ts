/**
 * The ids of a keyspace in code point order, for pages without a sort (SPEC §14: such a page is
 * ordered by id alone). Kept only once a page has needed it: built on first use, then updated
 * by every insert and delete of the keyspace, so a store that never pages this way pays nothing,
 * and one that does pays a B+ tree insert per new key instead of a sort of every id per page.
 *
 * The tree compares with JavaScript's `<` (native, UTF-16 code unit order) on each id's
 * `codePointSortable` form, which is the id itself unless it holds a unit ≥ U+D800: comparing
 * ids code point by code point in JavaScript made every insert ~18 slow comparisons.
 */
import BTree from 'sorted-btree';
import { compareValues } from '../../query-match';

/** Ids in code point order (as MongoDB orders _id strings; JavaScript's `<` is UTF-16 order). */
export const compareIds: (a: string, b: string) => number = compareValues;

const HIGH_UNIT = /[\ud800-\uffff]/;

/**
 * A string whose UTF-16 order is `id`'s code point order: surrogates move above U+FFFF's place
 * and U+E000–U+FFFF below them (as lib/query-match.ts ranks code units). Usually `id` itself.
 */
export function codePointSortable(id: string): string {
  if (!HIGH_UNIT.test(id)) return id;
  let out = '';
  for (let i = 0; i < id.length; i++) {
    const unit = id.charCodeAt(i);
    out += String.fromCharCode(unit >= 0xe000 ? unit - 0x800 : unit >= 0xd800 ? unit + 0x2000 : unit);
  }
  return out;
}

function byUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** See the file comment. */
export class IdOrder {
  /** Sortable form → the id when it differs (undefined when the form is the id). */
  private readonly tree = new BTree<string, string | undefined>(undefined, byUnits);

  constructor(ids: Iterable<string>) {
    const forms = [...ids].map((id) => [codePointSortable(id), id] as const).sort((a, b) => byUnits(a[0], b[0]));
    // Inserting in order fills each leaf before the next, so the tree is built densely.
    for (const [form, id] of forms) this.tree.set(form, form === id ? undefined : id);
  }

  add(id: string): void {
    const form = codePointSortable(id);
    this.tree.set(form, form === id ? undefined : id);
  }

  delete(id: string): void {
    this.tree.delete(codePointSortable(id));
  }

  /** Ids strictly after `after` (all of them when undefined), in order. */
  *after(after: string | undefined): Generator<string> {
    const start = after === undefined ? undefined : codePointSortable(after);
    for (const [form, id] of this.tree.entries(start)) if (form !== start) yield id ?? form;
  }

  get size(): number {
    return this.tree.size;
  }
}
