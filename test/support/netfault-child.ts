/**
 * One "process" of the network fault test (test/multi-netfault.test.ts): a child holding a
 * multi store [memory, redis (in the test's network namespace), mongo (127.0.0.1)] with the
 * invalidation bus on that Redis, running a paced mixed load (getOrSet, getOne, set, del) until
 * told to stop, and logging every call with its times (epoch ms, comparable across processes).
 *
 * Each key has one writer: this process writes only the keys in `own` (one call at a time per
 * key, so its versions are ordered) and reads every key. A value written is `{ k, n }`, n the
 * key's version; a delete is a version too. The parent judges every read against the writers'
 * logs (stale or not) and MongoDB against the last resolved write of each key (writes lost).
 *
 * Settings come as JSON in argv[2] (NetfaultChildConfig). IPC: the parent sends
 * { cmd: 'start' | 'stop' | 'marker' | 'close' }; the child answers { event: 'ready', grace },
 * { event: 'log', calls, invalidations } after 'stop' once every call has settled, { event: 'marker-seen', from, at }
 * when another process's marker write reaches it through the bus, and { event: 'tier', state, at }
 * when its Redis tier goes down or up.
 */
import { MultiStore } from '../../lib/multi/multi-store';
import { preciseNow } from '../../lib/multi/invalidation';
import { keyId } from '../../lib/keys';
import { StoreError } from '../../lib/errors';

/** What the parent passes. */
export interface NetfaultChildConfig {
  name: string;
  redis: string;
  mongo: string;
  db: string;
  namespace: string;
  /** Keys are `k<i>`, i in [0, keys). */
  keys: number;
  /** The keys this process writes: [from, to). */
  own: [number, number];
  workers: number;
  /** Wait between one worker's calls, ms (paces the load). */
  paceMs: number;
  /** Per-call timeout of the Redis tier, ms. */
  redisTimeout: number;
  /** Per-call timeout of the MongoDB tier, ms. */
  mongoTimeout: number;
  /** The memory tier's TTL, ms. */
  memoryTtl: number;
  backoff: number;
  maxBackoff: number;
  /** getOrSet's `grace`, ms, when the store has it. */
  grace: number;
}

/** One call: [op, key index, start, end, version written (or -1), result (version, 0 = absent, -1 = none), error code or '' ('!' prefix: not a StoreError)]. */
export type CallRecord = [op: 'get' | 'gos' | 'set' | 'del', key: number, start: number, end: number, wrote: number, read: number, error: string];

/** An invalidation this process applied: [key index (-1: every key), published at, applied at]. */
export type InvalidationRecord = [key: number, publishedAt: number, droppedAt: number];

/** A stored value. */
interface Stored {
  k: number;
  n: number;
}

if (require.main === module) main();

function main(): void {
  const config = JSON.parse(process.argv[2]) as NetfaultChildConfig;
  const store = new MultiStore({
    namespace: config.namespace,
    stores: [
      { type: 'memory', ttl: config.memoryTtl },
      { type: 'redis', settings: { url: config.redis, commandTimeout: config.redisTimeout, connectTimeout: 2000 }, timeout: config.redisTimeout },
      { type: 'mongo', settings: { url: config.mongo, db: config.db }, timeout: config.mongoTimeout },
    ],
    backoff: config.backoff,
    maxBackoff: config.maxBackoff,
    invalidation: { redis: config.redis },
  });
  const send = (message: unknown) => {
    if (process.connected) process.send!(message);
  };
  store.on('error', () => undefined); // counted in stats
  store.on('tierDown', (info: { index: number }) => info.index === 1 && send({ event: 'tier', state: 'down', at: preciseNow() }));
  store.on('tierUp', (info: { index: number }) => info.index === 1 && send({ event: 'tier', state: 'up', at: preciseNow() }));
  const markerIds = new Map<string, string>();
  for (const other of ['A', 'B', 'C', 'D']) if (other !== config.name) markerIds.set(keyId(`marker:${other}`), other);
  const keyIndex = new Map<string, number>();
  for (let k = 0; k < config.keys; k++) keyIndex.set(keyId(`k${k}`), k);
  const invalidations: InvalidationRecord[] = [];
  store.on('invalidation', (info: { id?: string; op: string; publishedAt: number; droppedAt: number }) => {
    const from = info.id === undefined ? undefined : markerIds.get(info.id);
    if (from) send({ event: 'marker-seen', from, at: preciseNow() });
    else if (info.op !== 'k') invalidations.push([-1, info.publishedAt, info.droppedAt]);
    else if (keyIndex.has(info.id!)) invalidations.push([keyIndex.get(info.id!)!, info.publishedAt, info.droppedAt]);
  });

  const calls: CallRecord[] = [];
  const versions = new Map<number, number>();
  const busy = new Set<number>();
  let running = false;
  let workers: Promise<void>[] = [];
  let graceOption: { ttl?: number; grace?: number } = {};
  let markers = 0;
  let graceRefused = '';

  const pick = (): number => {
    for (;;) {
      const k = Math.floor(Math.random() * config.keys);
      if (!busy.has(k)) return k;
    }
  };
  const owns = (k: number) => k >= config.own[0] && k < config.own[1];
  const versionOf = (v: unknown): number => (v === undefined ? 0 : (v as Stored).n);

  const one = async (): Promise<void> => {
    const k = pick();
    const own = owns(k);
    if (own) busy.add(k);
    const key = `k${k}`;
    const r = Math.random();
    const op: CallRecord[0] = !own ? (r < 0.7 ? 'get' : 'gos') : r < 0.3 ? 'gos' : r < 0.55 ? 'get' : r < 0.85 ? 'set' : 'del';
    let wrote = -1;
    let read = -1;
    let error = '';
    const start = preciseNow();
    try {
      if (op === 'get') read = versionOf(await store.getOne(key));
      else if (op === 'set') {
        wrote = nextVersion(k);
        await store.set(key, { k, n: wrote });
      } else if (op === 'del') {
        wrote = nextVersion(k);
        await store.del(key);
      } else if (own) {
        let computed = -1;
        const value = (await store.getOrSet(key, () => ({ k, n: (computed = nextVersion(k)) }), graceOption)) as Stored;
        if (computed >= 0) wrote = computed;
        else read = versionOf(value);
      } else {
        // Another process's key: a compute here would make two writers; it is never stored
        // (the value is refused), so what is read is always the owner's.
        read = versionOf(await store.getOrSet(key, () => undefined as unknown as Stored, graceOption).catch((err: StoreError) => {
          if (err?.code === 'ERR_INVALID_VALUE') return undefined;
          throw err;
        }));
      }
    } catch (err) {
      error = err instanceof StoreError ? String(err.code) : `!${(err as Error)?.name}: ${(err as Error)?.message}`;
    }
    calls.push([op, k, start, preciseNow(), wrote, read, error]);
    if (own) busy.delete(k);
  };
  const nextVersion = (k: number): number => {
    const n = (versions.get(k) ?? 0) + 1;
    versions.set(k, n);
    return n;
  };
  const worker = async (): Promise<void> => {
    while (running) {
      await one();
      await new Promise((r) => setTimeout(r, config.paceMs)); // pacing the load, not waiting for an event
    }
  };

  process.on('message', async (message: { cmd: string }) => {
    if (message.cmd === 'start') {
      running = true;
      workers = Array.from({ length: config.workers }, worker);
    } else if (message.cmd === 'stop') {
      running = false;
      await Promise.all(workers);
      send({ event: 'log', calls, invalidations, stats: await store.stats() });
    } else if (message.cmd === 'marker') {
      const at = preciseNow();
      await store.set(`marker:${config.name}`, ++markers).then(
        () => send({ event: 'marker-set', at }),
        (err: StoreError) => send({ event: 'marker-set', at, error: err.code }),
      );
    } else if (message.cmd === 'close') {
      running = false;
      await Promise.all(workers);
      await store.close().catch(() => undefined);
      send({ event: 'closed' });
      process.disconnect();
    }
  });

  store
    .connect()
    .then(async () => {
      // getOrSet's `grace` (issue #13) where the store has it (a store without it refuses the
      // option). Its TTL outlasts the run: an entry expiring would read as a lost write here.
      const withGrace = { ttl: 600_000, grace: config.grace };
      try {
        await store.getOrSet('grace-probe', () => 1, withGrace as object);
        graceOption = withGrace;
      } catch (err) {
        graceOption = {};
        graceRefused = `${(err as StoreError).code}: ${(err as Error).message}`;
      }
      await store.del('grace-probe');
      send({ event: 'ready', grace: graceOption.grace !== undefined, graceRefused });
    })
    .catch((err: Error) => send({ event: 'failed', message: err.message }));
}
