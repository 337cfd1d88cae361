/**
 * The oracle of the differential query harness: the MongoDB engine itself, through the raw
 * driver, over a collection holding the same keys in creation order.
 *
 * Each key is one document `{ _id: <canonical id>, seq: <creation index>, k: <canonical key> }`
 * — the key under `k` so that key fields named `_id` or `seq` cannot collide — and a query is
 * translated by memstorage's rules (SPEC §3), written here independently of lib/query.ts:
 * nested plain objects are flattened into dotted paths (`{ name: { last: 'x' } }` means
 * `{ 'name.last': 'x' }`), every path gets the `k.` prefix, and object operands get their
 * fields in canonical order, because key identity ignores field order (lib/keys.ts) while
 * MongoDB's object equality does not.
 */
import { BSONRegExp, type Collection, type Document } from 'mongodb';
import { keyFromId, keyId, type KeyObject } from '../../lib/keys';

/** An object that is neither an array, a RegExp nor a Date. */
function isPlain(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof RegExp) && !(value instanceof Date);
}

/** A value with every object's fields in canonical (sorted, then JavaScript integer-first) order. */
export function canonicalValue(value: unknown): unknown {
  // The driver would send a RegExp's `g` flag as PCRE's `s` and drop `dotAll`: send what the regex means.
  if (value instanceof RegExp) return new BSONRegExp(value.source, (value.ignoreCase ? 'i' : '') + (value.multiline ? 'm' : '') + (value.dotAll ? 's' : ''));
  if (Array.isArray(value)) return value.map(canonicalValue);
  if (!isPlain(value)) return value;
  const out: Record<string, unknown> = {};
  for (const field of Object.keys(value).sort()) out[field] = canonicalValue(value[field]);
  return out;
}

function canonicalOperators(ops: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const op of Object.keys(ops)) {
    const arg = ops[op];
    if (op === '$not') out[op] = arg instanceof RegExp ? canonicalValue(arg) : canonicalOperators(arg as Record<string, unknown>);
    else if (op === '$elemMatch') {
      const fields = Object.keys(arg as object);
      const operatorForm = fields.length > 0 && fields.every((f) => f.startsWith('$') && f !== '$and' && f !== '$or' && f !== '$nor');
      out[op] = operatorForm ? canonicalOperators(arg as Record<string, unknown>) : flatten(arg as Record<string, unknown>, '');
    } else out[op] = canonicalValue(arg);
  }
  return out;
}

function flattenInto(path: string, value: unknown, out: Record<string, unknown>): void {
  if (isPlain(value)) {
    const fields = Object.keys(value);
    if (fields.length === 0) out[path] = {};
    else if (fields.some((f) => f.startsWith('$'))) out[path] = canonicalOperators(value);
    else for (const field of fields) flattenInto(`${path}.${field}`, value[field], out);
    return;
  }
  out[path] = canonicalValue(value);
}

/** A query in MongoDB's terms, each path prefixed with `prefix` (`'k.'` at the document's top). */
export function flatten(query: Record<string, unknown>, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of Object.keys(query)) {
    const value = query[field];
    if (field === '$and' || field === '$or' || field === '$nor') {
      out[field] = (value as Array<Record<string, unknown>>).map((sub) => flatten(sub, prefix));
    } else flattenInto(prefix + field, value, out);
  }
  return out;
}

/** What the engine answers for a query: the matching ids in creation order, or its rejection. */
export type OracleAnswer = { ids: string[] } | { rejected: string };

/** The MongoDB engine over one data set of keys. */
export class Oracle {
  constructor(private readonly collection: Collection<Document>) {}

  /** Replaces the data set: the keys, in creation order. */
  async load(keys: KeyObject[]): Promise<void> {
    await this.collection.deleteMany({});
    if (keys.length === 0) return;
    await this.collection.insertMany(
      keys.map((key, seq) => {
        const id = keyId(key);
        return { _id: id as unknown as Document['_id'], seq, k: keyFromId(id) };
      }),
    );
  }

  /** The ids of the keys matching `query`, in creation order. */
  async find(query: Record<string, unknown>): Promise<OracleAnswer> {
    try {
      const docs = await this.collection.find(flatten(query, 'k.'), { projection: { _id: 1 } }).sort({ seq: 1 }).toArray();
      return { ids: docs.map((d) => d._id as unknown as string) };
    } catch (err) {
      return { rejected: (err as Error).message };
    }
  }

  /** Deletes the keys matching `query`; how many went. */
  async del(query: Record<string, unknown>): Promise<number> {
    return (await this.collection.deleteMany(flatten(query, 'k.'))).deletedCount;
  }

  /**
   * The ids `find(query).sort({ ...sort, seq: 1 }).skip(skip).limit(limit)` gives (issue #12):
   * the sort's paths under `k.`, in the sort object's own field order, ties by creation order.
   * `limit: 0` is nothing in this store and "no limit" in MongoDB: the query still runs (so a
   * query or sort the engine rejects is still rejected) and the answer is [].
   */
  async findWindow(query: Record<string, unknown>, window: { sort?: Record<string, unknown>; skip?: number; limit?: number }, tieBreak: 'seq' | '_id' = 'seq'): Promise<OracleAnswer> {
    try {
      const sort: Array<[string, unknown]> = Object.keys(window.sort ?? {}).map((path) => [`k.${path}`, window.sort![path]]);
      sort.push([tieBreak, 1]);
      let cursor = this.collection.find(flatten(query, 'k.'), { projection: { _id: 1 } }).sort(sort as never);
      if (window.skip !== undefined) cursor = cursor.skip(window.skip);
      if (window.limit !== undefined && window.limit > 0) cursor = cursor.limit(window.limit);
      const ids = (await cursor.toArray()).map((d) => d._id as unknown as string);
      return { ids: window.limit === 0 ? [] : ids };
    } catch (err) {
      return { rejected: (err as Error).message };
    }
  }

  /** Adds a key at the end of creation order (the caller knows it is new). */
  async insert(key: KeyObject, seq: number): Promise<void> {
    const id = keyId(key);
    await this.collection.insertOne({ _id: id as unknown as Document['_id'], seq, k: keyFromId(id) });
  }

  /** Every id left, in creation order. */
  async all(): Promise<string[]> {
    return (await this.collection.find({}, { projection: { _id: 1 } }).sort({ seq: 1 }).toArray()).map((d) => d._id as unknown as string);
  }
}
