/**
 * The SQLite backend, written to the backend contract (lib/backend.ts): every primitive is a
 * few synchronous statements on the shared connection (connection.ts), so exact calls keep
 * issue order by themselves (`ordersExactCalls`) and reads are also offered synchronously.
 * Layout in layout.ts, query translation in query.ts, scans in scans.ts, value streams in
 * streams.ts, the per-tick write transaction in tick-transaction.ts; tags are rows of a side
 * table that triggers keep no longer than their entries (layout.ts). Values go through the
 * store's value codec (lib/compression.ts): TEXT, or a compressed BLOB with `compress`.
 */
import type { Backend, BackendContext, EntryMeta } from '../../backend';
import { EncodedValue, createValueCodec, isPromiseLike } from '../../compression';
import type { Selector } from '../../query';
import type { BackendStats, Capabilities, EntryWithExpiry, FindOptions, StoredEntry } from '../../store';
import type { SqliteConnection } from './connection';
import { corruptEntry, tablesFor, toStoreError } from './layout';
import { EntryRow, deserialize, expiryOf, isLive, valueOf } from './rows';
import { ScannedEntry, createScans, isBadKeyColumn } from './scans';
import { StreamScope, chunkSetOf, expiredAt, keyColumns, setStream, valueStream } from './streams';

/** The SQLite backend: the contract plus what its own tests and tools use. */
export interface SqliteBackend extends Backend {
  /** The shared connection (tests read EXPLAIN QUERY PLAN and write raw rows through it). */
  readonly connection: SqliteConnection;
  /** Deletes expired rows now, as the periodic sweep does; resolves how many. */
  sweep(): Promise<number>;
  scope(namespace: string, context: BackendContext): SqliteBackend;
}

/** Builds the backend of one namespace over `connection` (shared with its scopes). */
export function sqliteBackend(connection: SqliteConnection, context: BackendContext): SqliteBackend {
  const { namespace: ns, clock } = context;
  // Synchronous unless the serializer is declared asynchronous: then this backend stops keeping
  // issue order by itself (its writes wait for the serializer) and offers no synchronous reads.
  const codec = createValueCodec(context.serializer, connection.settings.compress);
  const table = tablesFor(connection.settings.table).entries;
  const streams: StreamScope = { connection, namespace: ns, clock, codec };
  const file = connection.isFile;
  const supports: Capabilities = {
    nativeQueries: true,
    valueStreams: true,
    ttl: true,
    shared: file,
    evicts: false,
    persistent: file,
    nativeSort: true,
    nativePage: true,
    tags: true,
  };
  let attached = false;

  const rowOf = (id: string): EntryRow | undefined => connection.stmt.row.get(ns, id) as EntryRow | undefined;

  /** The live row of `id`, or undefined. */
  const liveRow = (id: string): EntryRow | undefined => {
    const row = rowOf(id);
    return row && isLive(row, id, clock.now()) ? row : undefined;
  };

  const getSync = (id: string): unknown => {
    try {
      const read = connection.stmt.read.get(ns, id) as [unknown, unknown, unknown] | undefined;
      if (read === undefined) return undefined;
      const [v, e, s] = read;
      if ((typeof v === 'string' || Buffer.isBuffer(v)) && s === null && (e === null || (typeof e === 'number' && e > clock.now()))) return deserialize(v, id, codec);
      // Expired, streamed or unreadable: the full row says which.
      const row = liveRow(id);
      return row === undefined ? undefined : valueOf(row, id, codec, connection);
    } catch (err) {
      throw toStoreError(err, 'get');
    }
  };

  /**
   * The write of `set` (`v` the value's stored form): one upsert; a tagged write, or one over an
   * expired, streamed or tagged row, goes down the slow path, where setting `t` drops the old
   * tag rows (layout.ts). Overwriting a live entry keeps its creation position and time.
   */
  const write = (id: string, v: EncodedValue, expiresAt: number | null, tags: readonly string[] | undefined): void => {
    const { k, a } = keyColumns(id);
    const now = clock.now();
    const stmt = connection.stmt;
    if (tags === undefined && stmt.upsert.run(ns, id, k, a, v, expiresAt, now, now, now).changes > 0) return;
    const t = tags === undefined ? null : 1;
    connection.transaction(() => {
      const old = rowOf(id);
      let seq: number;
      if (old && !expiredAt(old, now)) {
        stmt.update.run(v, expiresAt, null, null, t, now, old.seq); // overwriting keeps the creation position
        seq = old.seq;
      } else {
        if (old) stmt.deleteBySeq.run(old.seq); // an expired entry set again is a new one, at the end
        seq = Number(stmt.insert.run(ns, id, k, a, v, expiresAt, null, null, t, now, now).lastInsertRowid);
      }
      if (old) connection.dropChunks(chunkSetOf(old));
      if (tags !== undefined) for (let n = 0; n < tags.length; n++) stmt.insertTag.run(ns, tags[n], seq, n);
    });
  };

  /** getMeta's answer from its one statement (statements.ts `meta`), or undefined when absent or expired. */
  const metaOf = (id: string): EntryMeta | undefined => {
    const row = connection.stmt.meta.get(ns, id) as [unknown, unknown, unknown, unknown, unknown] | undefined;
    if (row === undefined) return undefined;
    const [e, cr, up, size, tags] = row;
    const expiresAt = expiryOf({ seq: 0, e }, id);
    if (expiresAt !== null && expiresAt <= clock.now()) return undefined;
    if (typeof size !== 'number') throw corruptEntry(id, 'it has neither a value nor a streamed value');
    return {
      size,
      createdAt: typeof cr === 'number' ? cr : null,
      updatedAt: typeof up === 'number' ? up : null,
      expiresAt,
      tags: typeof tags === 'string' ? (JSON.parse(tags) as string[]) : [],
    };
  };


  const { scan, findSync, valuesSync } = createScans({ connection, namespace: ns, clock, codec, table });

  const deleteOne = (id: string): boolean =>
    connection.transaction(() => {
      const row = connection.stmt.deleteById.get(ns, id) as EntryRow | undefined;
      if (!row) return false;
      connection.dropChunks(chunkSetOf(row));
      return !expiredAt(row, clock.now());
    });

  const countSync = (selector: Selector): number => {
    if (selector.kind === 'all') return connection.stmt.countLive.get(ns, clock.now()) as number;
    let n = 0;
    for (const _ of scan(selector, false)) n++;
    return n;
  };

  const backend: SqliteBackend = {
    supports,
    ordersExactCalls: codec.sync,
    connection,

    async connect() {
      if (attached) return;
      connection.attach();
      attached = true;
    },
    async close() {
      if (!attached) return;
      attached = false;
      await connection.detach();
    },

    // No setSync: a write resolves when its tick's transaction commits (tick-transaction.ts),
    // which a synchronous return could not wait for.
    set(id, _key, value, expiresAt, tags) {
      if (codec.sync) return connection.write(() => write(id, codec.encode(value) as EncodedValue, expiresAt, tags), 'set');
      // The core's order gate keeps this id's later calls waiting meanwhile (ordersExactCalls is false).
      return (async () => {
        const v = await codec.encode(value);
        return connection.write(() => write(id, v, expiresAt, tags), 'set');
      })();
    },
    // touch and deleteByTags are one statement each, run now in this tick's transaction like
    // set and delete: later calls see them, and other connections see all or nothing.
    async touch(id, expiresAt) {
      let touched = false;
      await connection.write(() => void (touched = connection.stmt.touch.run(expiresAt, ns, id, clock.now()).changes > 0), 'touch');
      return touched;
    },
    async deleteByTags(tags) {
      let removed = 0;
      await connection.write(
        () =>
          connection.transaction(() => {
            // A tagged row holds no chunk set (a streamed write drops the tags), unless another program wrote it.
            const chunkSets = connection.stmt.deleteTagged.all(ns, JSON.stringify(tags), clock.now()) as unknown[];
            for (const sid of chunkSets) connection.dropChunks(typeof sid === 'number' ? sid : null);
            removed = chunkSets.length;
          }),
        'delByTags',
      );
      return removed;
    },
    get(id) {
      try {
        return Promise.resolve(getSync(id));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    getSync: codec.sync ? getSync : undefined,
    async delete(id) {
      let existed = false;
      await connection.write(() => void (existed = deleteOne(id)), 'delete');
      return existed;
    },
    async expiresAt(id) {
      try {
        const row = connection.stmt.expiry.get(ns, id) as EntryRow | undefined;
        return row && isLive(row, id, clock.now()) ? expiryOf(row, id) : undefined;
      } catch (err) {
        throw toStoreError(err, 'ttl');
      }
    },
    async getEntry(id) {
      try {
        const row = liveRow(id);
        if (row === undefined) return undefined;
        const value = valueOf(row, id, codec, connection);
        return { value: isPromiseLike(value) ? await value : value, expiresAt: expiryOf(row, id) };
      } catch (err) {
        throw toStoreError(err, 'get');
      }
    },
    async getMeta(id) {
      try {
        return metaOf(id);
      } catch (err) {
        throw toStoreError(err, 'getMeta');
      }
    },
    async getEntries(ids) {
      return Promise.all(ids.map((id) => backend.getEntry!(id).catch((err: Error) => err))) as Promise<Array<EntryWithExpiry | undefined | Error>>;
    },
    async has(id) {
      try {
        const row = connection.stmt.expiry.get(ns, id) as EntryRow | undefined;
        return row !== undefined && isLive(row, id, clock.now());
      } catch (err) {
        throw toStoreError(err, 'has');
      }
    },

    findSync: codec.sync ? findSync : undefined,
    valuesSync: codec.sync ? valuesSync : undefined,
    async *find(selector: Selector, options: FindOptions): AsyncIterable<StoredEntry> {
      if (codec.sync) return yield* findSync(selector, options);
      for (const entry of findSync(selector, options)) {
        if (isPromiseLike(entry.value)) entry.value = await entry.value;
        yield entry;
      }
    },
    async count(selector) {
      try {
        return countSync(selector);
      } catch (err) {
        throw toStoreError(err, 'count');
      }
    },
    async deleteMatching(selector) {
      let removed = 0;
      await connection.write(() => {
        if (selector.kind === 'exact') removed = deleteOne(selector.id) ? 1 : 0;
        else removed = connection.transaction(() => deleteMatchingSync(selector));
      }, 'del');
      return removed;
    },
    clear() {
      return connection.write(() => connection.transaction(clearSync), 'clear');
    },
    async stats(): Promise<BackendStats> {
      try {
        return { items: countSync({ kind: 'all' }), expirations: connection.expirations.get(ns) ?? 0 };
      } catch (err) {
        throw toStoreError(err, 'stats');
      }
    },

    setStream(id, _key, source, expiresAt) {
      return setStream(streams, id, source, expiresAt);
    },
    async valueStream(id) {
      try {
        return await valueStream(streams, id);
      } catch (err) {
        throw toStoreError(err, 'valueStream');
      }
    },

    async sweep() {
      return connection.sweepNow();
    },
    scope(namespace, scopeContext) {
      return sqliteBackend(connection, { ...scopeContext, namespace });
    },
  };

  /** Deletes the live matches (skipping rows whose key cannot be read: they match nothing); returns how many. */
  function deleteMatchingSync(selector: Selector): number {
    if (selector.kind === 'all') {
      const live = countSync(selector);
      clearSync();
      return live;
    }
    let matches: ScannedEntry[];
    try {
      matches = [...scan(selector, false, true)];
    } catch (err) {
      // A delete succeeds over corrupt rows (SPEC §12): keys come from the ids, so a scan by ids still decides.
      if (!isBadKeyColumn(err)) throw err;
      matches = [...scan(selector, false, true, false)];
    }
    for (const match of matches) {
      connection.stmt.deleteBySeq.run(match.seq);
      connection.dropChunks(typeof match.s === 'number' ? match.s : null);
    }
    return matches.length;
  }

  function clearSync(): void {
    for (const sid of connection.stmt.streamedIn.all(ns) as number[]) connection.dropChunks(typeof sid === 'number' ? sid : null);
    connection.stmt.clear.run(ns);
  }

  return backend;
}
