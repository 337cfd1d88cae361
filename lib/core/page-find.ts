/**
 * The entries of one page (SPEC §14 keyset paging), over any backend: a backend with
 * `supports.nativePage` walks its order from the cursor itself (FindOptions.page); for any
 * other the core reads every match, keeps those after the cursor and orders them — correct,
 * but each page then costs the whole answer.
 */
import type { PagePosition, StoredEntry } from '../backend';
import type { Selector } from '../query';
import { SortSpec, sortKeysOf } from '../query-sort';
import type { CompleteBackend } from './backend-defaults';
import { comparePositions } from './page-cursor';

/** Up to `limit` matches of `selector` in page order (`sort`, then id), strictly after `after`. */
export async function* findPage(
  storage: Pick<CompleteBackend, 'supports' | 'find'>,
  selector: Selector,
  sort: SortSpec,
  after: PagePosition | undefined,
  limit: number,
): AsyncGenerator<StoredEntry> {
  if (selector.kind === 'none' || limit <= 0) return;
  if (storage.supports.nativePage) {
    yield* storage.find(selector, { values: true, sort, limit, page: { after } });
    return;
  }
  const candidates: Array<{ entry: StoredEntry; position: PagePosition }> = [];
  for await (const entry of storage.find(selector, { values: true })) {
    const position = { keys: sortKeysOf(entry.key, sort), id: entry.id };
    if (after === undefined || comparePositions(position, after, sort) > 0) candidates.push({ entry, position });
  }
  candidates.sort((a, b) => comparePositions(a.position, b.position, sort));
  for (let i = 0; i < candidates.length && i < limit; i++) yield candidates[i].entry;
}
