/** Helpers of the native-page tests: a whole page() walk, and the order it must give (SPEC §14). */
import { comparePositions } from '../../lib/core/page-cursor';
import { Key, keyId } from '../../lib/keys';
import { compileSort, sortKeysOf } from '../../lib/query-sort';

/** Anything with `page()`. */
interface Pages {
  page(query: never, options: { sort: Record<string, 1 | -1>; limit: number; includeKey: true; cursor?: string }): Promise<{ items: unknown[]; cursor: string | null }>;
}

/** Every item of a walk of `query` by `sort` in pages of `limit`, as keys (fails after 1,000 pages). */
export async function walkPages(store: Pages, query: object, sort: Record<string, 1 | -1>, limit: number): Promise<Key[]> {
  const out: Key[] = [];
  let cursor: string | undefined;
  for (let n = 0; n < 1000; n++) {
    const page = await store.page(query as never, { sort, limit, includeKey: true, ...(cursor === undefined ? {} : { cursor }) });
    out.push(...(page.items as Array<{ key: Key }>).map((item) => item.key));
    if (page.cursor === null) return out;
    cursor = page.cursor;
  }
  throw new Error('the walk did not end');
}

/** `keys` in page order: sort keys (lib/query-sort.ts) then id in code point order. */
export function pageOrder(keys: Key[], sort: Record<string, 1 | -1>): Key[] {
  const spec = compileSort(sort, 'page');
  const ranked = keys.map((key) => ({ key, position: { keys: sortKeysOf(key, spec), id: keyId(key) } }));
  return ranked.sort((a, b) => comparePositions(a.position, b.position, spec)).map((r) => r.key);
}
