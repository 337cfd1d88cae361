/**
 * Exact-key reads and writes in batches: the connection queues the calls of one tick
 * (RedisConnection.enqueue) and hands each run of same-kind calls of one namespace back to its
 * backend, which sends it here as one MGET or one write script. A batch's entries share the
 * namespace's slot, so each batch is one command on a cluster too.
 */
import { StorageOperationError } from '../../errors';
import type { Key } from '../../keys';
import type { EntryWithExpiry } from '../../store';
import type { RedisBackend } from './backend';
import type { BatchItem, BatchKind } from './connection';
import { keyName, rethrow, toStoreError } from './errors';
import type { RedisLayout } from './layout';
import { tagPrefix } from './layout';
import { sendMetas } from './meta';
import { orderedRecords } from './ordered';
import { SET_MANY_SCRIPT, SET_SCRIPT } from './set-scripts';

/** A queued write. */
export interface SetItem extends BatchItem {
  key: Key;
  text: string;
  expiresAt: number | null;
  /** The creation sequence the client assigned (a sharded namespace, sequence.ts), or 0: the server's counter. */
  seq: number;
  /** The entry's tags (checked, distinct), or undefined: the entry is left untagged. */
  tags: readonly string[] | undefined;
}

/** Sends a batch of queued reads or writes of `b`'s namespace. */
export function sendBatch(b: RedisBackend, kind: BatchKind, items: BatchItem[]): void {
  if (kind === 'set') sendSets(b, items as SetItem[]);
  else if (kind === 'meta') sendMetas(b, items);
  else sendReads(b, items, kind === 'entry');
}

/** A layered store's batch (a multi store's misses): one MGET, sent after whatever is queued; one result per id. */
export function readEntries(b: RedisBackend, ids: string[]): Promise<Array<EntryWithExpiry | undefined | Error>> {
  const keys = new Array<string>(ids.length);
  for (let i = 0; i < ids.length; i++) keys[i] = b.layout.entry(ids[i]);
  return (b.connection.batchCommand('mget', keys) as Promise<Array<string | null>>).then((reply) => {
    const now = b.clock.now();
    const out = new Array<EntryWithExpiry | undefined | Error>(ids.length);
    let streamed: Array<Promise<void>> | undefined;
    for (let i = 0; i < ids.length; i++) {
      try {
        const entry = b.entryOf(ids[i], reply[i], now);
        if (entry instanceof Promise) {
          (streamed ??= []).push(entry.then((found) => void (out[i] = found), (err: Error) => void (out[i] = err)));
        } else out[i] = entry;
      } catch (err) {
        out[i] = err as Error;
      }
    }
    return streamed ? Promise.all(streamed).then(() => out) : out;
  }, rethrow);
}

/** One MGET for a batch (the entries share a slot): values, or entries with their expiry. */
function sendReads(b: RedisBackend, items: BatchItem[], entries: boolean): void {
  const keys = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) keys[i] = b.layout.entry(items[i].id);
  (b.connection.batchCommand('mget', keys) as Promise<Array<string | null>>).then(
    (reply) => {
      const now = b.clock.now();
      for (let i = 0; i < items.length; i++) settleRead(b, items[i], reply[i], entries, now);
    },
    (err) => {
      const error = toStoreError(err);
      for (const item of items) item.reject(error);
    },
  );
}

/** Resolves one queued read from its entry string (null: absent): its value, or with `entries` the entry. */
function settleRead(b: RedisBackend, item: BatchItem, s: string | null, entries: boolean, now: number): void {
  try {
    const entry = b.entryOf(item.id, s, now);
    if (entry instanceof Promise) entry.then((found) => (entries || found === undefined ? found : found.value)).then(item.resolve, item.reject);
    else item.resolve(entries || entry === undefined ? entry : entry.value);
  } catch (err) {
    item.reject(err);
  }
}

/** One write script for a batch of writes: SET_SCRIPT for one, SET_MANY_SCRIPT for several. */
function sendSets(b: RedisBackend, items: SetItem[]): void {
  const l = b.layout;
  const graceMs = b.settings.streamGraceMs;
  const done = () => {
    for (const item of items) item.resolve(undefined);
  };
  // SET_MANY answers which writes it could not make (each left nothing behind); the others were made.
  const settle = (reply: unknown) => {
    const failures = reply as Array<number | string>;
    if (failures.length === 0) return done();
    const reasons = new Map<number, string>();
    for (let i = 0; i < failures.length; i += 2) reasons.set(Number(failures[i]), String(failures[i + 1]));
    items.forEach((item, i) => {
      const reason = reasons.get(i);
      if (reason === undefined) item.resolve(undefined);
      else item.reject(new StorageOperationError(`Redis could not write key ${keyName(item.id)}: ${reason}`));
    });
  };
  const failed = (err: unknown) => {
    const error = toStoreError(err);
    for (const item of items) item.reject(error);
  };
  if (items.length === 1) {
    const { id, key, text, expiresAt, seq, tags } = items[0];
    const e = l.entry(id);
    const keys = [e, l.chunks(id), l.order, l.expiry, l.counter, l.registry, e, l.entryTags, l.tagIndex];
    const args: Array<string | number> = [id, b.clock.now(), expiresAt === null ? '0' : expiresAt, 'v', text, '', l.gracePrefix, graceMs, seq === 0 ? '' : seq];
    pushIndexes(l, key, keys, args, tags);
    SET_SCRIPT.run(b.connection.batchCommand, keys, args).then(done, failed);
    if (expiresAt !== null) b.connection.noteDue(b.namespace, expiresAt);
    return;
  }
  const keys = [l.order, l.expiry, l.counter, l.registry, l.entryTags, l.tagIndex];
  const sequenced = b.sequenced;
  const args: Array<string | number> = [b.clock.now(), l.gracePrefix, graceMs, sequenced ? '1' : ''];
  let firstExpiry = Infinity;
  for (const { id, key, text, expiresAt, seq, tags } of items) {
    const tagCount = tags === undefined ? 0 : tags.length;
    if (typeof key === 'string') {
      keys.push(l.entry(id));
      args.push(id, expiresAt === null ? '0' : expiresAt, 0, text, 0, tagCount);
      if (sequenced) args.push(seq);
      if (tags !== undefined) for (const tag of tags) args.push(tagPrefix(tag));
    } else {
      const indexes = l.indexesOf(key);
      const ordered = orderedRecords(l, key);
      keys.push(l.entry(id), ...indexes, ...ordered.keys);
      args.push(id, expiresAt === null ? '0' : expiresAt, indexes.length, text, ordered.keys.length, tagCount);
      if (sequenced) args.push(seq);
      if (tags !== undefined) for (const tag of tags) args.push(tagPrefix(tag));
      args.push(...ordered.descriptors);
    }
    if (expiresAt !== null && expiresAt < firstExpiry) firstExpiry = expiresAt;
  }
  SET_MANY_SCRIPT.run(b.connection.batchCommand, keys, args).then(settle, failed);
  if (firstExpiry !== Infinity) b.connection.noteDue(b.namespace, firstExpiry);
}

/**
 * Appends an entry's index keys and SET_SCRIPT's index and tag arguments: the number of
 * equality index keys, the number of tags, one member prefix per tag, then one descriptor per
 * ordered index key (no index keys for a string key).
 */
export function pushIndexes(l: RedisLayout, key: Key, keys: string[], args: Array<string | number>, tags?: readonly string[]): void {
  if (typeof key === 'string') {
    args.push(0);
    pushTags(args, tags);
    return;
  }
  const indexes = l.indexesOf(key);
  const ordered = orderedRecords(l, key);
  keys.push(...indexes, ...ordered.keys);
  args.push(indexes.length);
  pushTags(args, tags);
  args.push(...ordered.descriptors);
}

/** Appends the tag count and the tags' member prefixes (tagPrefix). */
function pushTags(args: Array<string | number>, tags: readonly string[] | undefined): void {
  if (tags === undefined) {
    args.push(0);
    return;
  }
  args.push(tags.length);
  for (const tag of tags) args.push(tagPrefix(tag));
}
