/**
 * The optional primitives of the backend contract (lib/backend.ts), derived from the required
 * ones when a backend leaves them out: written once here, for every backend. The store calls
 * its backend through `completeBackend(backend)`, so it never asks whether a primitive exists.
 */
import type { Backend, BackendStats, EntryMeta, EntryWithExpiry, FindOptions, StoredEntry } from '../backend';
import { Key, keyFromId } from '../keys';
import type { Selector } from '../query';
import { chunksOf, toAsync, valueBytes } from './bytes';
import { serializedSize } from '../serializer';
import { asError } from './promises';

/** The optional primitives the core can derive from the required ones. */
export type Derived = 'getEntry' | 'getEntries' | 'has' | 'deleteMatching' | 'count' | 'setStream' | 'valueStream' | 'stats' | 'touch' | 'getMeta';

/** A backend with every derivable primitive present (the synchronous ones stay optional: they cannot be derived). */
export interface CompleteBackend extends Omit<Backend, Derived>, Required<Pick<Backend, Derived>> {
  /**
   * True when `touch` is derived here (a read, then a write): two steps, which the store must
   * order as such even on a backend that orders its single-step exact calls by itself.
   */
  readonly touchTakesSteps: boolean;
}

/**
 * `backend` with its own primitives bound (one call per operation, no wrapper) and the
 * missing ones derived from the required ones.
 */
export function completeBackend(backend: Backend): CompleteBackend {
  const b = backend;
  const get = b.get.bind(b);
  const expiresAt = b.expiresAt.bind(b);
  const find = b.find.bind(b);
  const set = b.set.bind(b);
  const del = b.delete.bind(b);
  const getEntry = b.getEntry ? b.getEntry.bind(b) : (id: string) => entryFrom(get, expiresAt, id);
  const count = b.count ? b.count.bind(b) : (selector: Selector) => countFound(find, selector);
  return {
    supports: b.supports,
    ordersExactCalls: b.ordersExactCalls,
    connect: b.connect.bind(b),
    close: b.close.bind(b),
    set,
    get,
    delete: del,
    expiresAt,
    find,
    clear: b.clear.bind(b),
    scope: b.scope.bind(b),
    getEntry,
    getEntries: b.getEntries ? b.getEntries.bind(b) : (ids: string[]) => Promise.all(ids.map((id) => getEntry(id).catch(asError))),
    has: b.has ? b.has.bind(b) : async (id: string) => (await get(id)) !== undefined,
    deleteMatching: b.deleteMatching ? b.deleteMatching.bind(b) : (selector: Selector) => deleteFound(find, del, selector),
    count,
    setStream: b.setStream ? b.setStream.bind(b) : (id: string, key: Key, source: AsyncIterable<Buffer>, at: number | null) => setBuffered(set, id, key, source, at),
    valueStream: b.valueStream ? b.valueStream.bind(b) : (id: string) => chunksOfValue(get, id),
    // A backend that keeps no counters still has a size: count its live entries.
    stats: b.stats ? b.stats.bind(b) : (): Promise<BackendStats> => count({ kind: 'all' }).then((items) => ({ items })),
    touch: b.touch ? b.touch.bind(b) : (id: string, at: number | null) => touchBySet(getEntry, set, id, at),
    touchTakesSteps: b.touch === undefined,
    getMeta: b.getMeta ? b.getMeta.bind(b) : (id: string) => metaFromEntry(getEntry, id),
    // Not derivable: without `supports.tags` the store refuses tags before a backend sees them.
    deleteByTags: b.deleteByTags?.bind(b),
    lockRedis: b.lockRedis?.bind(b),
    getSync: b.getSync?.bind(b),
    setSync: b.setSync?.bind(b),
    findSync: b.findSync?.bind(b),
    findBatches: b.findBatches?.bind(b),
    valuesSync: b.valuesSync?.bind(b),
  };
}

type Find = (selector: Selector, options: FindOptions) => AsyncIterable<StoredEntry>;

/** The live value with its expiry, from two reads. */
async function entryFrom(get: Backend['get'], expiresAt: Backend['expiresAt'], id: string): Promise<EntryWithExpiry | undefined> {
  const [value, at] = await Promise.all([get(id), expiresAt(id)]);
  return value === undefined || at === undefined ? undefined : { value, expiresAt: at };
}

/**
 * `touch` from a read and a write: exact within this process (the store orders calls on one
 * id), not across processes — which is why shared backends implement `touch` themselves.
 */
async function touchBySet(
  getEntry: (id: string) => Promise<EntryWithExpiry | undefined>,
  set: Backend['set'],
  id: string,
  at: number | null,
): Promise<boolean> {
  const entry = await getEntry(id);
  if (entry === undefined) return false;
  await set(id, keyFromId(id), entry.value, at);
  return true;
}

/** Metadata from a read of the whole entry: what any backend can tell without recording more. */
async function metaFromEntry(getEntry: (id: string) => Promise<EntryWithExpiry | undefined>, id: string): Promise<EntryMeta | undefined> {
  const entry = await getEntry(id);
  if (entry === undefined) return undefined;
  return { size: serializedSize(entry.value), createdAt: null, updatedAt: null, expiresAt: entry.expiresAt, tags: [] };
}

/** Counts what `find` yields, without values. */
async function countFound(find: Find, selector: Selector): Promise<number> {
  let n = 0;
  for await (const entry of find(selector, { values: false })) if (entry) n++;
  return n;
}

/** Deletes what `find` yields, one by one (listed first: the backend's iteration must not see its own deletes). */
async function deleteFound(find: Find, del: Backend['delete'], selector: Selector): Promise<number> {
  const ids: string[] = [];
  for await (const entry of find(selector, { values: false })) ids.push(entry.id);
  let removed = 0;
  for (const id of ids) if (await del(id)) removed++;
  return removed;
}

/** Stores a byte stream as one Buffer value (a backend without value streams holds it whole). */
async function setBuffered(set: Backend['set'], id: string, key: Key, source: AsyncIterable<Buffer>, at: number | null): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(chunk);
  await set(id, key, Buffer.concat(chunks), at);
}

/** A value's bytes as chunks, or undefined when absent. */
async function chunksOfValue(get: Backend['get'], id: string): Promise<AsyncIterable<Buffer> | undefined> {
  const value = await get(id);
  return value === undefined ? undefined : toAsync(chunksOf(valueBytes(value)));
}
