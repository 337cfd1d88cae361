/**
 * Native keyset paging (SPEC §14, FindOptions.page): the server sorts on `k.<path>` for each
 * sort field and then on `_id` — the key id behind the namespace's common prefix (layout.ts
 * docId), compared as BSON strings are without a collation, by UTF-8 bytes, i.e. in code point
 * order — and a keyset filter keeps what comes after the cursor, with `limit`.
 *
 * The keyset filter is `$or` of prefixes: field 0 after the cursor's key, or field 0 equal and
 * field 1 after, ..., or every field equal and `_id` after. MongoDB's comparison operators are
 * type-bracketed and match an array by ANY element, while its sort key is the SMALLEST element
 * ascending (largest descending), so each "after" is spelled per type (`$gt`, plus `$type` of
 * every type that sorts later, plus `null`/`[]` for what sorts earlier when descending) and
 * each "equal" as equality. For a key without arrays at the sort paths that is exact; for one
 * with arrays it is a superset (the sort key after the cursor implies some element after it).
 * A cursor key that is an object or an array, and a path with a position (`tags.0`, which the
 * sort and queries read differently), put no condition on their field (a superset too).
 *
 * Decision (correctness first): every document read is checked against the cursor with
 * lib/core/page-cursor.ts comparePositions, and those before it are dropped. When a drop left
 * a page short while the server returned `limit` documents, the page is read again without
 * the server's limit, until `limit` documents pass. Keys without arrays at the sort paths
 * never take that path. A sort MongoDB refuses (parallel arrays) pages by reading every match.
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import type { Document, FindCursor } from 'mongodb';
import type { PagePosition, StoredEntry } from '../../backend';
import { comparePositions } from '../../core/page-cursor';
import type { Selector } from '../../query';
import { SortSpec, isEmptyArrayKey, sortKeyBracket, sortKeysOf } from '../../query-sort';
import type { MongoScope } from './connection';
import { EntryDoc, docId, toStoreError } from './layout';
import { selectorFilter } from './query';
import { KEYS_PROJECTION, SortRefusedError, VALUES_PROJECTION, entryOf, findEntries, nextDoc, sortRefusable } from './scans';

/** The hint of a collection scan (no index). */
const NATURAL_ORDER: Document = { $natural: 1 };

/** BSON types (as `$type` names them) of the values a JSON key holds, in sort order after null. */
const TYPE_ORDER = ['number', 'string', 'object', 'array', 'bool'] as const;

/** The place of a sort key in TYPE_ORDER: -2 for an empty array, -1 for null (lib/query-sort.ts brackets, one lower). */
function typeRank(key: unknown): number {
  return sortKeyBracket(key) - 1;
}

/** The filter of documents whose sort key at `field` (`k.<path>`) equals `key`; undefined: no condition (a superset). */
function equalFilter(field: string, key: unknown): Document | undefined {
  if (isEmptyArrayKey(key)) return { [field]: [] };
  const rank = typeRank(key);
  if (rank === 2 || rank === 3) return undefined;
  return { [field]: key };
}

/**
 * The alternatives (any one suffices) for a document's sort key at `field` to come strictly
 * after `key` in `direction`; undefined: no condition; an empty list: none can.
 */
function afterFilters(field: string, key: unknown, direction: 1 | -1): Document[] | undefined {
  const rank = typeRank(key);
  if (rank === 2 || rank === 3) return undefined;
  const branches: Document[] = [];
  if (direction === 1) {
    if (rank === -2) return undefined; // everything but another empty array, which the id tie decides
    // Not `$ne: null`: mongod 9.0.0-alpha0 simplifies `$or: [{ f: { $ne: null } }, { f: null, ... }, ...]`
    // wrongly (it returned only the documents with f null); any type after null says the same here.
    if (rank === -1) return [{ [field]: { $type: [...TYPE_ORDER] } }];
    branches.push({ [field]: { $gt: key } });
    const later = TYPE_ORDER.slice(rank + 1);
    if (later.length > 0) branches.push({ [field]: { $type: [...later] } });
  } else {
    if (rank === -2) return [];
    if (rank >= 0) {
      branches.push({ [field]: { $lt: key } });
      const earlier = TYPE_ORDER.slice(0, rank);
      if (earlier.length > 0) branches.push({ [field]: { $type: [...earlier] } });
      branches.push({ [field]: null });
    }
    branches.push({ [field]: [] });
  }
  return branches;
}

/**
 * The keyset condition "strictly after `after`" (see the file comment) as alternatives, each a
 * conjunction of conditions: a superset where arrays are involved.
 */
export function keysetBranches(spec: SortSpec, after: PagePosition, namespace: string): Document[][] {
  const branches: Document[][] = [];
  const equal: Document[] = [];
  for (let i = 0; i < spec.length; i++) {
    // A position in the path (`tags.0`): the sort takes that element alone, a query also every
    // element's field `0` — no condition on such a field (a superset; the check drops the rest).
    if (spec[i].parts.some((part) => /^\d+$/.test(part))) {
      branches.push([...equal]);
      continue;
    }
    const field = 'k.' + spec[i].path;
    const later = afterFilters(field, after.keys[i], spec[i].direction);
    if (later === undefined) branches.push([...equal]);
    else for (const alternative of later) branches.push([...equal, alternative]);
    const same = equalFilter(field, after.keys[i]);
    if (same !== undefined) equal.push(same);
  }
  branches.push([...equal, { _id: { $gt: docId(namespace, after.id) } }]);
  return branches;
}

/** Every filter of `filters` at once (none: every document). */
function and(filters: Document[]): Document {
  if (filters.length === 0) return {};
  return filters.length === 1 ? filters[0] : { $and: filters };
}

/** Up to `limit` live matches of `selector` in page order strictly after `after`. */
export async function* findPage(
  scope: MongoScope,
  selector: Selector,
  spec: SortSpec,
  after: PagePosition | undefined,
  limit: number,
  values: boolean,
): AsyncGenerator<StoredEntry> {
  if (limit <= 0) return;
  const base = selectorFilter(selector, scope.namespace, scope.clock.now());
  const filter = after === undefined ? base : { $and: [base, { $or: keysetBranches(spec, after, scope.namespace).map(and) }] };
  const sort: Document = {};
  for (const field of spec) sort['k.' + field.path] = field.direction;
  sort._id = 1;
  let page: StoredEntry[];
  const read = async (hint: Document | undefined) => {
    const first = await readPage(scope, filter, sort, spec, after, limit, values, true, hint);
    return first.short ? (await readPage(scope, filter, sort, spec, after, limit, values, false, hint)).page : first.page;
  };
  // The server refuses plans by the shape of the find, not by its values: once refused, a
  // shape goes straight to the collection scan (a real mongod never refuses, and never gets here).
  const shape = JSON.stringify(sort) + (after === undefined ? '' : ' after');
  const refused = refusedShapes(scope);
  try {
    if (refused.has(shape)) page = await read(NATURAL_ORDER);
    else {
      try {
        page = await read(undefined);
      } catch (err) {
        // mongod 9.0.0-alpha0 (the test engine) refuses the plans of a sort ending in `_id` over
        // an `$or` that read a k.<path> index ("the slot-based execution engine is not part of this
        // build"), even when that index is named: the same find as a collection scan, which it
        // runs (every document read in storage order, sorted with the limit): on 30k keys a page
        // walk took ~1.2 s so against ~1.7 s through creation order's index n_1_s_1.
        if (!isPlanRefused(err)) throw err;
        refused.add(shape);
        page = await read(NATURAL_ORDER);
      }
    }
  } catch (err) {
    if (!(err instanceof SortRefusedError)) throw err;
    page = await pageHere(scope, selector, spec, after, limit, values);
  }
  for (const entry of page) {
    if (entry.expiresAt != null && entry.expiresAt <= scope.clock.now()) continue; // expired since it was read (SPEC §12)
    yield entry;
  }
}

/**
 * One read of a page: with the server's `limit` (`limited`), or without it, reading batches
 * until `limit` documents pass. `short`: a limited read dropped a document and may have missed
 * some after it.
 */
async function readPage(
  scope: MongoScope,
  filter: Document,
  sort: Document,
  spec: SortSpec,
  after: PagePosition | undefined,
  limit: number,
  values: boolean,
  limited: boolean,
  hint: Document | undefined,
): Promise<{ page: StoredEntry[]; short: boolean }> {
  const projection = values ? VALUES_PROJECTION : KEYS_PROJECTION;
  let cursor: FindCursor<EntryDoc>;
  try {
    cursor = scope.shared.collection.find(filter, { projection, sort, allowDiskUse: true, ...(hint === undefined ? {} : { hint }) }) as FindCursor<EntryDoc>;
    if (limit !== Infinity) {
      if (limited) cursor.limit(limit);
      else cursor.batchSize(Math.min(limit, 1000));
    }
  } catch (err) {
    throw toStoreError(err, 'page');
  }
  const page: StoredEntry[] = [];
  let read = 0;
  let dropped = false;
  try {
    for (let first = true; page.length < limit; first = false) {
      const doc = await nextDoc(cursor, first && sortRefusable(spec));
      if (doc === null) break;
      for (const next of [doc, ...cursor.readBufferedDocuments()] as EntryDoc[]) {
        read++;
        if (page.length >= limit) break;
        let entry = entryOf(scope, next, values);
        if (entry instanceof Promise) entry = await entry;
        if (entry === undefined || (after !== undefined && comparePositions({ keys: sortKeysOf(entry.key, spec), id: entry.id }, after, spec) <= 0)) {
          dropped = true;
          continue;
        }
        page.push(entry);
      }
    }
  } finally {
    await cursor.close().catch(() => undefined);
  }
  return { page, short: limited && dropped && page.length < limit && read >= limit };
}

/** Find shapes (sort, and whether a keyset filter is there) the server refused, per connection. */
const REFUSED = new WeakMap<object, Set<string>>();

function refusedShapes(scope: MongoScope): Set<string> {
  let set = REFUSED.get(scope.shared);
  if (set === undefined) REFUSED.set(scope.shared, (set = new Set()));
  return set;
}

/** Whether the server refused the plan of a find (QueryFeatureNotAllowed), as the test engine does for some. */
function isPlanRefused(err: unknown): boolean {
  return (err as { cause?: { code?: unknown } })?.cause?.code === 224;
}

/** A page over a sort the server refuses: every match read, those after the position kept and ordered. */
async function pageHere(scope: MongoScope, selector: Selector, spec: SortSpec, after: PagePosition | undefined, limit: number, values: boolean): Promise<StoredEntry[]> {
  const ranked: Array<{ entry: StoredEntry; position: PagePosition }> = [];
  for await (const entry of findEntries(scope, selector, { values })) {
    const position = { keys: sortKeysOf(entry.key, spec), id: entry.id };
    if (after === undefined || comparePositions(position, after, spec) > 0) ranked.push({ entry, position });
  }
  ranked.sort((a, b) => comparePositions(a.position, b.position, spec));
  return ranked.slice(0, limit).map((r) => r.entry);
}
