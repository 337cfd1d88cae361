/**
 * bench/compress (issue #14 item 3): bytes stored and getOne/set rates for 1 KB, 10 KB and
 * 100 KB JSON values, with and without `compress`, on every byte-storing store kind listed in
 * STORE_KINDS (SQLite today; the Redis and MongoDB backends add an entry each), against Keyv +
 * @keyv/compress-gzip on the same backend kind.
 *
 *   node --expose-gc -r ts-node/register/transpile-only bench/compress.ts [sqlite] [1kb 10kb 100kb]
 *
 * Method:
 * - Values are bench/common makeValue(i, bytes): a record with a bio of random words from a small
 *   vocabulary (text that compresses about as well as typical JSON documents). N keys per size.
 * - Bytes stored: the sum over the keys of `getMeta(key).size` (the stored bytes: compressed
 *   BLOB, or text; SPEC §16) divided by N; Keyv's from its own table (length of the value
 *   column, as SQLite stores it).
 * - Keyv + @keyv/compress-gzip (pako deflate) compresses only strings: given an object it throws
 *   inside pako. So its contender stores `JSON.stringify(value)` and parses what it reads, which
 *   is what a Keyv user with compression must do; Keyv then serializes the deflated Uint8Array
 *   with @keyv/serialize, which writes it as a JSON object of byte indexes ({"0":120,...}).
 *   That is the adapter's stock behaviour; the bytes column shows its cost.
 * - getOne reads key i % N; set writes key i % N with value (i + 1) % N, so every write changes
 *   the row (SQLite skips rewriting a page whose bytes do not change).
 * - One call at a time, contenders round-robin (measureInterleaved), median of ROUNDS runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import Keyv from 'keyv';
import KeyvSqlite from '@keyv/sqlite';
import KeyvGzip from '@keyv/compress-gzip';
import KeyvMongo from '@keyv/mongo';
import KeyvRedis from '@keyv/redis';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { MongoHandle, startMongo } from '../test/support/mongo-server';
import { RedisServer, startRedis } from '../test/support/redis-server';
import type { CompressSetting } from '../lib/compression';
import { createStore } from '../lib/factory';
import type { BaseStore } from '../lib/store';
import {
  Result,
  Target,
  byName,
  fill,
  fmtNum,
  fmtRatio,
  makeStringKeys,
  makeValue,
  markdownTable,
  measureInterleaved,
  printEnvironment,
  printTable,
  printTargets,
  ratio,
  reexecWithGc,
} from './common';

const ROUNDS = 3;

/** The value sizes: name, bytes of JSON, keys, ops per measured pass. */
const SIZES = [
  { name: '1kb', label: '1 KB', bytes: 1024, n: 2_000, ops: 10_000 },
  { name: '10kb', label: '10 KB', bytes: 10 * 1024, n: 1_000, ops: 4_000 },
  { name: '100kb', label: '100 KB', bytes: 100 * 1024, n: 200, ops: 1_000 },
] as const;

/** A store under test and what the bench needs besides its API. */
interface Opened {
  store: BaseStore;
  close(): Promise<void>;
}

/** One contender: a way to write and read a value, and how many bytes a key's value takes. */
interface Contender {
  name: string;
  set(key: string, value: unknown): Promise<unknown>;
  get(key: string): Promise<unknown>;
  storedBytes(keys: string[]): Promise<number>;
  close(): Promise<void>;
}

/**
 * A byte-storing store kind: how to open a fresh store (with or without `compress`), and Keyv +
 * @keyv/compress-gzip over the same kind of backend. Redis and MongoDB add theirs here.
 */
interface StoreKind {
  name: string;
  open(tag: string, compress: CompressSetting | undefined): Promise<Opened>;
  keyvGzip(tag: string): Promise<Contender>;
}

const dir = mkdtempSync(path.join(tmpdir(), 'memstorage-bench-compress-'));
const file = (name: string) => path.join(dir, `${name}.sqlite`);

const SQLITE: StoreKind = {
  name: 'sqlite',
  async open(tag, compress) {
    const store = createStore({ type: 'sqlite', settings: { path: file(tag), compress } }) as BaseStore;
    return { store, close: () => store.close() };
  },
  async keyvGzip(tag) {
    const keyv = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${file(tag)}` }), compression: new KeyvGzip() });
    keyv.on('error', (err) => {
      throw err;
    });
    return {
      name: 'Keyv + @keyv/sqlite + @keyv/compress-gzip',
      set: (key, value) => keyv.set(key, JSON.stringify(value)),
      get: async (key) => {
        const text = await keyv.get<string>(key);
        return text === undefined ? undefined : JSON.parse(text);
      },
      async storedBytes() {
        const db = new Database(file(tag), { readonly: true });
        try {
          return db.prepare(`SELECT total(length(CAST(value AS BLOB))) FROM keyv`).pluck().get() as number;
        } finally {
          db.close();
        }
      },
      close: () => keyv.disconnect(),
    };
  },
};

/** One mongod for the MongoDB kind, started on first use (test/support/mongo-server.ts) and stopped when the bench ends. */
let mongod: Promise<MongoHandle> | undefined;
const mongoUrl = async (): Promise<string> => (await (mongod ??= startMongo())).url;

const MONGO: StoreKind = {
  name: 'mongo',
  async open(tag, compress) {
    const store = createStore({ type: 'mongo', settings: { url: await mongoUrl(), db: 'bench_compress', collectionName: tag, compress } }) as BaseStore;
    await store.clear();
    return { store, close: () => store.close() };
  },
  async keyvGzip(tag) {
    const url = await mongoUrl();
    const collection = `keyv-${tag}`;
    const keyv = new Keyv({ store: new KeyvMongo(url, { db: 'bench_compress', collection }), compression: new KeyvGzip() });
    keyv.on('error', (err) => {
      throw err;
    });
    await keyv.clear();
    return {
      name: 'Keyv + @keyv/mongo + @keyv/compress-gzip',
      set: (key, value) => keyv.set(key, JSON.stringify(value)),
      get: async (key) => {
        const text = await keyv.get<string>(key);
        return text === undefined ? undefined : JSON.parse(text);
      },
      async storedBytes() {
        // @keyv/mongo keeps { key, value, expiresAt }, the value a string: its UTF-8 bytes, counted on the server.
        const client = await new MongoClient(url).connect();
        try {
          const [row] = await client.db('bench_compress').collection(collection).aggregate([{ $group: { _id: null, bytes: { $sum: { $binarySize: '$value' } } } }]).toArray();
          return (row?.bytes as number | undefined) ?? 0;
        } finally {
          await client.close();
        }
      },
      close: () => keyv.disconnect(),
    };
  },
};

/** One redis-server for the Redis kind, started on first use (test/support/redis-server.ts, no persistence) and stopped when the bench ends. */
let redisServer: Promise<RedisServer> | undefined;
const redisUrl = async (): Promise<string> => (await (redisServer ??= startRedis())).url;

/** Bytes of the string values of the keys matching `pattern` (STRLEN), scanned with a client of its own. */
async function redisStringBytes(url: string, pattern: string): Promise<number> {
  const client = new Redis(url);
  try {
    let total = 0;
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000, 'TYPE', 'string');
      cursor = next;
      for (const key of keys) total += await client.strlen(key);
    } while (cursor !== '0');
    return total;
  } finally {
    client.disconnect();
  }
}

const REDIS: StoreKind = {
  name: 'redis',
  async open(tag, compress) {
    const store = createStore({ type: 'redis', settings: { url: await redisUrl(), namespace: tag, compress } }) as BaseStore;
    await store.clear();
    return { store, close: () => store.close() };
  },
  async keyvGzip(tag) {
    const url = await redisUrl();
    const keyv = new Keyv({ store: new KeyvRedis(url), namespace: `keyv-${tag}`, compression: new KeyvGzip() });
    keyv.on('error', (err) => {
      throw err;
    });
    await keyv.clear();
    return {
      name: 'Keyv + @keyv/redis + @keyv/compress-gzip',
      set: (key, value) => keyv.set(key, JSON.stringify(value)),
      get: async (key) => {
        const text = await keyv.get<string>(key);
        return text === undefined ? undefined : JSON.parse(text);
      },
      // @keyv/redis keeps each value as a string under a key holding the namespace.
      storedBytes: () => redisStringBytes(url, `*keyv-${tag}*`),
      close: () => keyv.disconnect(),
    };
  },
};

/** The store kinds this bench knows; pick some by name on the command line. */
const STORE_KINDS: StoreKind[] = [SQLITE, MONGO, REDIS];

/** memstorage-next over `kind`, as a contender. */
async function ours(kind: StoreKind, tag: string, name: string, compress: CompressSetting | undefined): Promise<Contender> {
  const { store, close } = await kind.open(tag, compress);
  return {
    name,
    set: (key, value) => store.set(key, value),
    get: (key) => store.getOne(key),
    async storedBytes(keys) {
      let total = 0;
      for (const key of keys) total += (await store.getMeta(key))!.size;
      return total;
    },
    close,
  };
}

async function runSize(kind: StoreKind, size: (typeof SIZES)[number]): Promise<Target[]> {
  const keys = makeStringKeys(size.n);
  const values = Array.from({ length: size.n }, (_, i) => makeValue(i, size.bytes));
  const plainName = `memstorage-next ${kind.name}`;
  const gzipName = `memstorage-next ${kind.name}, compress gzip`;
  const brotliName = `memstorage-next ${kind.name}, compress brotli`;
  const contenders = [
    await ours(kind, `plain-${size.name}`, plainName, undefined),
    await ours(kind, `gzip-${size.name}`, gzipName, { algorithm: 'gzip' }),
    await ours(kind, `brotli-${size.name}`, brotliName, { algorithm: 'brotli' }),
    await kind.keyvGzip(`keyv-${size.name}`),
  ];
  try {
    for (const c of contenders) {
      await fill(size.n, 20, (i) => c.set(keys[i], values[i]));
      if (JSON.stringify(await c.get(keys[7])) !== JSON.stringify(values[7])) throw new Error(`${c.name} returned a wrong value`);
    }
    const jsonBytes = values.reduce((sum, v) => sum + Buffer.byteLength(JSON.stringify(v)), 0) / size.n;
    const bytes = new Map<string, number>();
    for (const c of contenders) bytes.set(c.name, (await c.storedBytes(keys)) / size.n);
    console.log(
      `### Bytes stored per value, ${size.label} JSON (${fmtNum(jsonBytes)} bytes as JSON), ${kind.name}\n\n` +
        markdownTable(
          ['contender', 'bytes per value', 'JSON ÷ stored'],
          contenders.map((c) => [c.name, fmtNum(bytes.get(c.name)!), fmtRatio(jsonBytes / bytes.get(c.name)!)]),
        ) +
        '\n',
    );
    const options = { ops: size.ops, warmup: Math.ceil(size.ops / 5), latencyOps: Math.ceil(size.ops / 2) };
    const get: Result[] = await measureInterleaved(contenders.map((c) => ({ name: c.name, op: (i) => c.get(keys[i % size.n]) })), options, ROUNDS);
    printTable(`getOne, ${size.label} JSON values, one at a time, ${kind.name}`, get, gzipName);
    const set: Result[] = await measureInterleaved(contenders.map((c) => ({ name: c.name, op: (i) => c.set(keys[i % size.n], values[(i + 1) % size.n]) })), options, ROUNDS);
    printTable(`set (overwrite with another value), ${size.label} JSON values, one at a time, ${kind.name}`, set, gzipName);
    const keyvName = contenders[3].name;
    const targets: Target[] = [
      { label: `${kind.name} ${size.label}: bytes, plain ÷ gzip`, actual: bytes.get(plainName)! / bytes.get(gzipName)!, min: size.bytes >= 10 * 1024 ? 3 : undefined },
      { label: `${kind.name} ${size.label}: bytes, Keyv + compress-gzip ÷ gzip`, actual: bytes.get(keyvName)! / bytes.get(gzipName)! },
      {
        label: `${kind.name} ${size.label}: getOne, gzip vs ${keyvName}`,
        actual: ratio(byName(get, gzipName), byName(get, keyvName)),
        min: size.bytes >= 100 * 1024 ? 1.5 : undefined,
      },
      { label: `${kind.name} ${size.label}: getOne, gzip vs no compression`, actual: ratio(byName(get, gzipName), byName(get, plainName)) },
      { label: `${kind.name} ${size.label}: set, gzip vs ${keyvName}`, actual: ratio(byName(set, gzipName), byName(set, keyvName)) },
      { label: `${kind.name} ${size.label}: set, gzip vs no compression`, actual: ratio(byName(set, gzipName), byName(set, plainName)) },
    ];
    return targets;
  } finally {
    for (const c of contenders) await c.close();
  }
}

async function main(): Promise<void> {
  reexecWithGc(__filename);
  const args = process.argv.slice(2);
  const kinds = STORE_KINDS.filter((k) => !args.some((a) => STORE_KINDS.some((s) => s.name === a)) || args.includes(k.name));
  const sizes = SIZES.filter((s) => !args.some((a) => SIZES.some((z) => z.name === a)) || args.includes(s.name));
  printEnvironment('bench/compress: compressed values vs plain, and vs Keyv + @keyv/compress-gzip');
  const targets: Target[] = [];
  try {
    for (const kind of kinds) for (const size of sizes) targets.push(...(await runSize(kind, size)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (mongod) await (await mongod).dispose();
    if (redisServer) await (await redisServer).stop();
  }
  process.exitCode = printTargets(targets) > 0 ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
