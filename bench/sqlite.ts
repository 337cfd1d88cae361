/**
 * bench/sqlite (issue 11, item 7): the SQLite store against raw better-sqlite3 prepared
 * statements on the same table shape and against Keyv + @keyv/sqlite, in one process, each on
 * its own database file in a temporary directory (removed at the end).
 *
 *   node -r ts-node/register/transpile-only bench/sqlite.ts [kv] [query]
 *
 * Fairness:
 * - Same data for everyone: 1 KB JSON values (bench/common makeValues), string keys `user:<i>`
 *   for getOne/set, every contender filled with every key first; `set` overwrites.
 * - Raw better-sqlite3: the store's own table (layout.ts: seq, ns, id, k, a, v, e, s, c) in WAL
 *   mode with synchronous=NORMAL, as the store opens it; `get` is one prepared SELECT of v and
 *   e plus JSON.parse, `set` one prepared upsert of JSON.stringify(value) — what a user of the
 *   driver writing JSON would do, without expiry checks or namespaces. Called inside an async
 *   function, as an async store API would be.
 * - Keyv + @keyv/sqlite as its README shows it (it runs on the sqlite3 package, asynchronously).
 * - The query: 20,000 object keys `{ id, kind, age, city }` (ages 0–99, so ~200 matches) with
 *   1 KB values, `age` indexed. The store answers `get({ age: 20 })`; the raw peer runs the same
 *   indexed SQL (`json_extract(k, '$."age"') = ?` on the expression index) and parses the values.
 * - Contenders run round-robin (measureInterleaved), the median of ROUNDS runs is reported.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import Keyv from 'keyv';
import KeyvSqlite from '@keyv/sqlite';
import { createStore } from '../lib/factory';
import type { BaseStore } from '../lib/store';
import { pathIndexSql, schemaSql } from '../lib/backends/sqlite/layout';
import {
  Target,
  byName,
  fill,
  makeKeys,
  makeStringKeys,
  makeValues,
  measureGetSet,
  measureInterleaved,
  printEnvironment,
  printTable,
  printTargets,
  ratio,
  reexecWithGc,
} from './common';

const N_KV = 10_000;
const N_QUERY = 20_000;
const ROUNDS = 3;
const CONCURRENCY = 1_000;
const SUBJECT = 'memstorage-next';
const RAW = 'raw better-sqlite3 (prepared)';
const KEYV = 'Keyv + @keyv/sqlite';
const RAW_QUERY = 'raw better-sqlite3 (indexed SQL)';

const dir = mkdtempSync(path.join(tmpdir(), 'memstorage-bench-sqlite-'));
const file = (name: string) => path.join(dir, `${name}.sqlite`);

/** A raw connection on the store's table shape, opened as the store opens its file. */
function rawDatabase(name: string, indexes: string[] = []): Database.Database {
  const db = new Database(file(name));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(schemaSql('memstorage'));
  for (const index of indexes) db.exec(pathIndexSql('memstorage', index));
  return db;
}

async function runKv(): Promise<Target[]> {
  const keys = makeStringKeys(N_KV);
  const values = makeValues(N_KV);
  const store = createStore({ type: 'sqlite', settings: { path: file('store-kv') } }) as BaseStore;
  const db = rawDatabase('raw-kv');
  const rawGet = db.prepare<[string, string], { v: string; e: number | null }>('SELECT v, e FROM memstorage WHERE ns = ? AND id = ?');
  const rawSet = db.prepare('INSERT INTO memstorage (ns, id, v, e) VALUES (?, ?, ?, NULL) ON CONFLICT (ns, id) DO UPDATE SET v = excluded.v, e = excluded.e');
  const keyv = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${file('keyv-kv')}` }) });
  keyv.on('error', (err) => {
    throw err;
  });
  const raw = {
    get: async (i: number) => {
      const row = rawGet.get('', keys[i % N_KV]);
      return row === undefined ? undefined : JSON.parse(row.v);
    },
    set: async (i: number) => {
      rawSet.run('', keys[i % N_KV], JSON.stringify(values[i % N_KV]));
    },
  };
  try {
    await fill(N_KV, 100, (i) => store.set(keys[i], values[i]));
    await fill(N_KV, 100, (i) => raw.set(i));
    await fill(N_KV, 100, (i) => keyv.set(keys[i], values[i]));
    for (const [name, get] of [
      [SUBJECT, () => store.getOne(keys[7])],
      [RAW, () => raw.get(7)],
      [KEYV, () => keyv.get(keys[7])],
    ] as const) {
      if (JSON.stringify(await get()) !== JSON.stringify(values[7])) throw new Error(`${name} returned a wrong value`);
    }
    const targets: Target[] = [];
    for (const [mode, concurrency, ops] of [
      ['one at a time', 1, 20_000],
      [`${CONCURRENCY} in flight`, CONCURRENCY, 20_000],
    ] as const) {
      const options = { ops, concurrency, warmup: 5_000, latencyOps: 10_000 };
      const { get, set } = await measureGetSet(
        mode,
        [
          { name: SUBJECT, get: (i) => store.getOne(keys[i % N_KV]), set: (i) => store.set(keys[i % N_KV], values[i % N_KV]) },
          { name: RAW, get: raw.get, set: raw.set },
          { name: KEYV, get: (i) => keyv.get(keys[i % N_KV]), set: (i) => keyv.set(keys[i % N_KV], values[i % N_KV]) },
        ],
        options,
        ROUNDS,
        SUBJECT,
      );
      for (const [op, results] of [['getOne', get], ['set', set]] as const) {
        targets.push(
          { label: `${op}, ${mode}: vs ${RAW}`, actual: ratio(byName(results, SUBJECT), byName(results, RAW)), min: 0.7 },
          { label: `${op}, ${mode}: vs ${KEYV}`, actual: ratio(byName(results, SUBJECT), byName(results, KEYV)), min: 3 },
        );
      }
    }
    return targets;
  } finally {
    await store.close();
    db.close();
    await keyv.disconnect();
  }
}

async function runQuery(): Promise<Target[]> {
  const keys = makeKeys(N_QUERY);
  const values = makeValues(1_000);
  const store = createStore({ type: 'sqlite', settings: { path: file('store-query'), indexes: ['age'] } }) as BaseStore;
  const db = rawDatabase('raw-query', ['age']);
  const rawInsert = db.prepare('INSERT INTO memstorage (ns, id, k, v) VALUES (?, ?, ?, ?)');
  const rawQuery = db.prepare<[string, number], string>(`SELECT v FROM memstorage WHERE ns = ? AND json_extract(k, '$."age"') = ? ORDER BY seq`).pluck();
  try {
    await fill(N_QUERY, 100, (i) => store.set(keys[i], values[i % 1_000]));
    db.transaction(() => {
      for (let i = 0; i < N_QUERY; i++) {
        const k = JSON.stringify(keys[i]);
        rawInsert.run('', k, k, JSON.stringify(values[i % 1_000]));
      }
    })();
    const raw = async (age: number) => rawQuery.all('', age).map((v) => JSON.parse(v) as unknown);
    const expected = JSON.stringify(await raw(20));
    if (JSON.stringify(await store.get({ age: 20 })) !== expected) throw new Error(`${SUBJECT} returned other values than ${RAW_QUERY}`);
    const results = await measureInterleaved(
      [
        { name: SUBJECT, op: () => store.get({ age: 20 }) },
        { name: RAW_QUERY, op: () => raw(20) },
      ],
      { ops: 2_000, warmup: 200, latencyOps: 1_000 },
      ROUNDS,
    );
    printTable(`get({ age: 20 }), ${N_QUERY.toLocaleString('en-US')} object keys, ~${JSON.parse(expected).length} matches, age indexed`, results, SUBJECT);
    return [{ label: `{ age: 20 }: vs ${RAW_QUERY}`, actual: ratio(byName(results, SUBJECT), byName(results, RAW_QUERY)), min: 0.7 }];
  } finally {
    await store.close();
    db.close();
  }
}

async function main(): Promise<void> {
  reexecWithGc(__filename);
  const only = process.argv.slice(2);
  const want = (part: string) => only.length === 0 || only.includes(part);
  printEnvironment('bench/sqlite: the SQLite store vs raw better-sqlite3 and Keyv + @keyv/sqlite');
  const targets: Target[] = [];
  try {
    if (want('kv')) targets.push(...(await runKv()));
    if (want('query')) targets.push(...(await runQuery()));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = printTargets(targets) > 0 ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
