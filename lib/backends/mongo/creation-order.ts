/**
 * Reading a query's matches in creation order (SPEC §14) without reading the whole namespace.
 *
 * A find sorted `{ s: 1 }` lets MongoDB's planner choose creation order's index n_1_s_1: it
 * needs no SORT stage, so it returns matches from the first documents it reads and wins the
 * plan trial against every index that would read only the matches but sort them afterwards —
 * and then it reads every document of the namespace. `{ age: { $gt: 80 } }` over 100,000
 * entries examined 100,000 documents for 18,900 matches (the raw driver, unsorted, 18,900
 * through `k.age`); `{ city: { $in: [2 cities] }, age: { $lte: 10 } }` merged two city runs
 * in creation order, 24,974 documents, where `k.age` reads 10,909.
 *
 * So when an index could serve the filter and the matches are few, they are read by an
 * aggregation whose `$match` is planned alone, as an unsorted find would be (the planner picks
 * the index that reads the fewest documents), and whose `$sort` then orders just the matches
 * by `s` (a server that pushed the sort back into the find would answer the same, with the
 * find's plan: the plan test in test/mongo-indexed-queries.test.ts would say so).
 *
 * But that sort holds every match (~1 KB each) before the first one comes back, so for a broad
 * query the find through n_1_s_1 is the better plan. Plans sent by the raw driver over those
 * 100,000 entries, mongod CPU (all its threads' /proc schedstat), load 5-8: 95,024 matches
 * (`{ age: { $gte: 5 } }`), the aggregation 3.1 s before its first document and 5.2 s in all,
 * the find 43 ms and 2.7 s; 69,986 matches, 0.9-1.4 s and 1.9-2.3 s against 15-19 ms and
 * 1.1-1.4 s; 18,900 matches, about even in all (0.40-0.75 s against 0.45-0.86 s, noisy).
 * Sorting only `{ _id, s }` and fetching the documents by `_id` in batches of 1,000 cost as
 * much in all as the aggregation at 18,900 and 69,986 matches, and its first document still
 * came after 0.4-0.7 s. Hence `fewMatches`: the matches are counted on an index's keys (no
 * document read: ~0.6 µs a key here, and no further than a quarter of the collection) and the
 * aggregation is taken only below a quarter of the namespace; the find otherwise, as before
 * this file existed (commit 5d8221e^). The same conditions (values included) in the same
 * namespace are counted once per collection shape (5 s): a repeated query takes the answer
 * again instead of a command (CollectionShape.choices).
 *
 * A find stays where it is as good: an index that yields the matches in creation order by
 * itself, a limit (the plan trial weighs reading n_1_s_1 until enough match against sorting
 * every match), a query no index serves (n_1_s_1 is then the plan anyway, and needs no sort),
 * every entry, a glob.
 */
import type { Document } from 'mongodb';
import type { FindOptions } from '../../backend';
import type { Selector } from '../../query';
import type { MongoScope } from './connection';
import { ORDER_INDEX } from './layout';
import { IndexFields, equalityPaths, indexName } from './sort';

/** The share of the namespace below which the matches are read through the aggregation (see the file comment). */
const FEW_MATCHES_SHARE = 0.25;

/** Whether the matches of `selector` are better read through `creationOrderPipeline` (see the file comment). */
export async function sortsMatchesAfterPlanning(scope: MongoScope, selector: Selector, options: FindOptions): Promise<boolean> {
  const indexes = scope.shared.indexFields;
  if (selector.kind !== 'query' || (options.sort ?? []).length > 0 || options.limit !== undefined) return false;
  const filter = selector.filter as Record<string, unknown>;
  const constrained = constrainedPaths(filter, new Set());
  if (!indexes.some((index) => constrained.has(index[0][0]))) return false;
  if (creationOrderServed(selector, indexes)) return false;
  return fewMatches(scope, countableConditions(filter, indexes));
}

/**
 * Whether fewer than FEW_MATCHES_SHARE of the namespace's entries match, told by counting index
 * keys only: `counted` are conditions on indexes' leading paths (countableConditions), each
 * holding every match, so one counted below the share is enough. Counted one at a time, each no
 * further than a quarter of the collection. Without any, true: the aggregation, as before.
 */
async function fewMatches(scope: MongoScope, counted: Array<{ index: string; query: Document }>): Promise<boolean> {
  if (counted.length === 0) return true;
  try {
    const shape = await collectionShape(scope);
    // The same conditions counted since the shape was taken: that answer again (see CollectionShape.choices).
    const memo = scope.namespace + '\u0000' + JSON.stringify(counted);
    const known = shape.choices.get(memo);
    if (known !== undefined) return known;
    const few = await countedFew(scope, counted, shape.total, shape.otherNamespaces);
    if (shape.choices.size >= MAX_CHOICES) shape.choices.delete(shape.choices.keys().next().value!);
    shape.choices.set(memo, few);
    return few;
  } catch {
    // Only an estimate: a count the server refuses (the test engine refuses some plans, code
    // 224) leaves the plan as it was; a lost connection fails the read that follows.
    return true;
  }
}

/** fewMatches's count: whether the first of `counted` below the share says the namespace's matches are few. */
async function countedFew(scope: MongoScope, counted: Array<{ index: string; query: Document }>, total: number, otherNamespaces: boolean): Promise<boolean> {
  // At least a quarter of the collection match: at least a quarter of the namespace.
  const cap = Math.ceil(total * FEW_MATCHES_SHARE);
  if (cap === 0) return false;
  for (const { index, query } of counted) {
    const matches = await countKeys(scope, { n: scope.namespace, ...query }, index, cap);
    if (matches >= cap) continue;
    // The namespace is the collection (but for what expired and the TTL monitor has not removed yet).
    if (!otherNamespaces) return true;
    const share = Math.ceil(matches / FEW_MATCHES_SHARE) + 1;
    return (await countKeys(scope, { n: scope.namespace }, ORDER_INDEX, share)) >= share;
  }
  return false;
}

/** How long the collection's size and namespaces (collectionShape) are taken as known, in ms of the store's clock (a test steps it). */
const SHAPE_TTL_MS = 5_000;
/** Most count answers a collection shape remembers (CollectionShape.choices); the oldest makes room. */
const MAX_CHOICES = 1_000;

interface CollectionShape {
  taken: number;
  /** The collection's documents (estimatedDocumentCount: its metadata, nothing read). */
  total: number;
  /** By namespace: whether documents of another namespace are there too. */
  others: Map<string, Promise<boolean>>;
  /**
   * fewMatches's answers while this shape is fresh, by namespace and counted conditions, values
   * included (a plan cache for repeated queries: the count is one more command, ~1 ms of client
   * and ~2 ms of server CPU under load — 61 -> 71 ms a call for 1,655 matches of 100,000 in
   * bench/queries-mongo). The same conditions with other values are counted afresh: `age >= 5`
   * and `age >= 90` share a form but not an answer. A stale answer (writes since the count) can
   * only pick the slower of two complete reads, never change a result, as a stale total can.
   */
  choices: Map<string, boolean>;
}

const shapes = new WeakMap<object, Promise<CollectionShape>>();

/**
 * The collection's size, and whether a namespace shares it, each taken at most every
 * SHAPE_TTL_MS: two commands a query cost an indexed query of 1,655 matches ~10% more CPU (load
 * 9-11), one count ~4%. A stale figure can only choose the slower plan, never change an answer.
 */
async function collectionShape(scope: MongoScope): Promise<{ total: number; otherNamespaces: boolean; choices: Map<string, boolean> }> {
  const { collection } = scope.shared;
  let pending = shapes.get(collection);
  const now = scope.clock.now();
  const fresh = pending && (await pending.catch(() => undefined));
  if (!fresh || now - fresh.taken > SHAPE_TTL_MS || now < fresh.taken) {
    pending = collection.estimatedDocumentCount().then((total) => ({ taken: now, total, others: new Map(), choices: new Map() }));
    shapes.set(collection, pending);
  }
  const shape = await pending!;
  let others = shape.others.get(scope.namespace);
  if (others === undefined) {
    // One key of n_1_s_1 outside the namespace's run answers it.
    others = collection.findOne({ n: { $ne: scope.namespace } }, { projection: { _id: 0, n: 1 }, hint: ORDER_INDEX }).then((doc) => doc !== null);
    shape.others.set(scope.namespace, others);
    others.catch(() => shape.others.delete(scope.namespace));
  }
  return { total: shape.total, otherNamespaces: await others, choices: shape.choices };
}

/** How many documents of `index` match `query` (index keys only), counting no further than `limit`. */
async function countKeys(scope: MongoScope, query: Document, index: string, limit: number): Promise<number> {
  const { collection } = scope.shared;
  const out = await collection.db.command({ count: collection.collectionName, query, hint: index, limit });
  return out.n as number;
}

/**
 * For each configured index whose leading paths the query bounds at its top level by scalar
 * comparisons (an equality, `$eq`, `$in`, `$gt`, `$gte`, `$lt`, `$lte`: what an index scan
 * answers from its keys alone), those conditions: the indexes bounding the most paths first
 * (`{ kind, age }` before `age` for `{ kind: 'person', age: { $lt: 25 } }`), then in the
 * setting's order. Each counts a superset of the matches.
 */
function countableConditions(filter: Record<string, unknown>, indexes: readonly IndexFields[]): Array<{ index: string; query: Document }> {
  const conditions = new Map<string, unknown>();
  collectScalarBounds(filter, conditions);
  const out: Array<{ index: string; query: Document; length: number }> = [];
  for (const index of indexes) {
    const query: Document = {};
    let length = 0;
    while (length < index.length && conditions.has(index[length][0])) {
      query['k.' + index[length][0]] = conditions.get(index[length][0]);
      length++;
    }
    if (length > 0) out.push({ index: indexName(index), query, length });
  }
  return out.sort((a, b) => b.length - a.length);
}

/** The first scalar bound of each top-level path of `filter` and of its `$and` members. */
function collectScalarBounds(filter: Record<string, unknown>, out: Map<string, unknown>): void {
  for (const path of Object.keys(filter)) {
    const cond = filter[path];
    if (path === '$and') for (const member of cond as Array<Record<string, unknown>>) collectScalarBounds(member, out);
    else if (!path.startsWith('$') && !out.has(path) && isScalarBound(cond)) out.set(path, cond);
  }
}

const BOUND_OPERATORS = new Set(['$eq', '$gt', '$gte', '$lt', '$lte']);

function isScalarBound(cond: unknown): boolean {
  if (isScalar(cond)) return true;
  if (cond === null || typeof cond !== 'object' || Array.isArray(cond)) return false;
  const ops = Object.entries(cond as Record<string, unknown>);
  return ops.length > 0 && ops.every(([op, arg]) => (op === '$in' ? Array.isArray(arg) && arg.length > 0 && arg.every(isScalar) : BOUND_OPERATORS.has(op) && isScalar(arg)));
}

function isScalar(value: unknown): boolean {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * The aggregation reading the matches of `filter` in creation order, the first `skip` left
 * out, each document projected. The `$project` (which keeps `s`) stands between the `$match` and the
 * `$sort`, so the server plans the `$match` alone and sorts in the pipeline; `s` is dropped after
 * the sort. Over 18,900 matches this cost 310 ms of server and 179 ms of client CPU, against
 * 330 + 212 ms with the sort on a computed copy of `s` (`$addFields`, which rebuilds every
 * document) and 280 + 275 ms for the raw driver's unsorted find (one run, load 15).
 */
export function creationOrderPipeline(filter: Document, projection: Document, skip: number): Document[] {
  const pipeline: Document[] = [{ $match: filter }, { $project: { ...projection, s: 1 } }, { $sort: { s: 1 } }];
  if (skip > 0) pipeline.push({ $skip: skip });
  pipeline.push({ $unset: 's' });
  return pipeline;
}

/**
 * Whether a configured index yields the matches of `selector` in creation order by itself: the
 * query pins every one of its key paths to one value, so its scan runs in `s` order and the
 * server's sort `{ s: 1 }` needs no SORT stage (`{ kind: 'a' }` over the index `kind`).
 */
function creationOrderServed(selector: Selector, indexes: readonly IndexFields[]): boolean {
  const bound = equalityPaths(selector);
  return indexes.some((index) => index.every(([path]) => bound.has(path)));
}

/** Key paths every match must satisfy a condition on: the query's top-level paths and those of its `$and` members. */
function constrainedPaths(filter: Record<string, unknown>, out: Set<string>): Set<string> {
  for (const path of Object.keys(filter)) {
    if (path === '$and') for (const member of filter[path] as Array<Record<string, unknown>>) constrainedPaths(member, out);
    else if (!path.startsWith('$')) out.add(path);
  }
  return out;
}
