/**
 * Removing entries with their records (`drop`, `clearNamespace`) and the expiry sweep of one
 * namespace (`Sweeper`): Redis frees an expired entry's string itself (PEXPIREAT), the sweep
 * frees the order, expiry, index and tag records that point at it, without reading values, and
 * emits 'expire' for each entry it frees when the store has a listener for it. The
 * connection's timer sweeps every open namespace (and a few due ones nobody here has open,
 * see due-namespaces.ts); with `sweepInterval: 0`, writes of TTL'd entries sweep instead.
 */
import type { KeyObject } from '../../keys';
import type { RedisBackend } from './backend';
import { isWrongType, rethrow, toStoreError } from './errors';
import { Candidate, objectKeyOf } from './ids';
import { OrderedRecords, orderedRecords } from './ordered';
import { DROP_SCRIPT } from './scripts';
import { scored } from './walk';

/**
 * How DROP_SCRIPT picks what it removes: 'd' every id given (a delete), 'x' only ids still
 * expired (the sweep), 't' only ids still carrying one of the given tags (deleteByTags).
 */
export type DropMode = 'd' | 'x' | 't';

/**
 * Removes entries and their order, expiry, index and tag records, atomically per batch;
 * resolves how many were there. `mode` says which of `ids` go (see DropMode; for 't',
 * `tagPrefixes` are the tags' member prefixes). `known` gives the ids' keys when the caller
 * has them already.
 */
export function drop(b: RedisBackend, ids: string[], mode: DropMode, known?: Candidate[], tagPrefixes: readonly string[] = []): Promise<number> {
  const { keys, args } = dropCommand(b, ids, mode, known, tagPrefixes, false);
  return DROP_SCRIPT.run(b.pipedSend, keys, args).then((n) => Number(n), rethrow);
}

/** The sweep's drop when someone listens to 'expire': resolves how many expired entries went, and their ids. */
export async function dropExpiredReporting(b: RedisBackend, ids: string[]): Promise<{ count: number; ids: string[] }> {
  const { keys, args } = dropCommand(b, ids, 'x', undefined, [], true);
  const reply = (await DROP_SCRIPT.run(b.pipedSend, keys, args).catch(rethrow)) as Array<number | string>;
  return { count: Number(reply[0]), ids: reply.slice(1).map(String) };
}

/** DROP_SCRIPT's keys and arguments (see there). */
function dropCommand(
  b: RedisBackend,
  ids: string[],
  mode: DropMode,
  known: Candidate[] | undefined,
  tagPrefixes: readonly string[],
  report: boolean,
): { keys: string[]; args: Array<string | number> } {
  const l = b.layout;
  const keys = [l.order, l.expiry, l.registry, l.entryTags, l.tagIndex];
  const args: Array<string | number> = [b.clock.now(), mode, l.gracePrefix, b.settings.streamGraceMs, report ? '1' : '', tagPrefixes.length, ...tagPrefixes];
  ids.forEach((id, i) => {
    // An id that is not an object key (garbage in a set) has no index records to compute.
    const key = known ? known[i].key : objectKeyOf(id);
    const { indexes, ordered } = key === undefined || typeof key === 'string' ? NO_RECORDS : recordsOf(b, key);
    keys.push(l.entry(id), l.chunks(id), ...indexes, ...ordered.keys);
    args.push(id, indexes.length, ordered.keys.length, ...ordered.descriptors);
  });
  return { keys, args };
}

const NO_RECORDS = { indexes: [] as string[], ordered: { keys: [] as string[], descriptors: [] as string[] } };

/** The equality and ordered index records of an object key read back from the store (none if it cannot be indexed). */
function recordsOf(b: RedisBackend, key: KeyObject): { indexes: string[]; ordered: OrderedRecords } {
  try {
    return { indexes: b.layout.indexesOf(key), ordered: orderedRecords(b.layout, key) };
  } catch {
    return NO_RECORDS; // garbage that parses but is no key the store writes: nothing was indexed
  }
}

/** Removes everything in the namespace, records of another type (written by something else) included. */
export async function clearNamespace(b: RedisBackend): Promise<void> {
  const l = b.layout;
  const batchSize = b.settings.batchSize;
  // Records of another type (written by something else) cannot be walked: they are just removed.
  const orNone = (err: unknown): string[] => {
    if (isWrongType(err)) return [];
    throw toStoreError(err);
  };
  for (;;) {
    // Each DROP takes its ids out of the order set whatever they point at, so this ends.
    const ids = (await b.piped((c) => c.zrange(l.order, 0, String(batchSize - 1))).catch(orNone)) as string[];
    if (ids.length === 0) break;
    await drop(b, ids, 'd');
  }
  const leftovers = await b.piped((c) => c.smembers(l.registry)).catch(orNone);
  // The layout version record stays: what is written next follows this layout. Tag records of
  // ids the order set did not hold (written by something else) go with the rest.
  await b.piped((c) => c.unlink(l.order, l.expiry, l.registry, l.counter, l.entryTags, l.tagIndex, ...leftovers)).catch(rethrow);
}

/** The expiry sweep of one namespace, with the count of what it freed (stats' `expirations`). */
export class Sweeper {
  /** Entries this namespace's sweeps freed, as seen by this backend. */
  expirations = 0;
  private lastSweep = 0;

  constructor(private readonly b: RedisBackend) {}

  /**
   * Frees every entry of this namespace that has expired by the store's clock, with its order,
   * expiry and index records, without reading values. Redis has usually freed the entry itself
   * already (PEXPIREAT); this removes what points at it. Resolves how many were freed.
   */
  async sweep(): Promise<number> {
    const b = this.b;
    const batchSize = b.settings.batchSize;
    this.lastSweep = Date.now();
    let total = 0;
    for (;;) {
      const now = b.clock.now();
      const ids = (await b.piped((c) => c.zrange(b.layout.expiry, '-inf', String(now), 'BYSCORE', 'LIMIT', 0, batchSize)).catch(rethrow)) as string[];
      if (ids.length === 0) break;
      total += b.wantsExpireEvents() ? await this.dropReporting(ids) : await drop(b, ids, 'x');
      if (ids.length < batchSize) break;
    }
    this.expirations += total;
    return total;
  }

  /** Drops expired ids and emits 'expire' for each entry that went (someone listens). */
  private async dropReporting(ids: string[]): Promise<number> {
    const { count, ids: removed } = await dropExpiredReporting(this.b, ids);
    for (const id of removed) this.b.emitExpired(id);
    return count;
  }

  /** Writes sweep when no timer does (sweepInterval 0), at most once a second. */
  sweepIfDue(): void {
    if (this.b.settings.sweepInterval > 0 || Date.now() - this.lastSweep < 1000) return;
    this.lastSweep = Date.now();
    // The backend's sweep: this namespace's, or every shard's (shards.ts).
    this.b.sweep().catch((err) => {
      if (err?.code !== 'ERR_STORAGE_CONNECTION') this.b.reportError(err);
    });
    this.b.connection.visitDue();
  }

  /** The earliest expiry recorded in this namespace, if any (for the due-namespace list). */
  async nextDue(): Promise<number | undefined> {
    const first = scored(await this.b.piped((c) => c.zrange(this.b.layout.expiry, '0', '0', 'WITHSCORES')).catch(rethrow));
    return first.length === 1 ? first[0][1] : undefined;
  }
}
