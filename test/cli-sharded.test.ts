/**
 * The command over sharded Redis namespaces (RedisSettings.shards, docs/cli.md): a namespace
 * written with `shards` > 1 is refused by a store opened with another count, so its URL has to
 * say `shards`; and a Redis Cluster is named by `redis-cluster://` with its startup nodes.
 * Against the harness's real local cluster and standalone server.
 */
import { expect } from 'chai';
import { createStore } from '../lib/factory';
import type { BaseStore } from '../lib/store';
import type { Key } from '../lib/keys';
import { ExitCodes } from '../lib/cli/exit-codes';
import { sharedRedis, sharedRedisCluster } from './support/redis-server';
import { freshNamespace } from './support/store-configs';
import { cliInProcess, expectExit } from './support/cli-runs';

const SHARDS = 3;

/** Entries of string and object keys, some with a TTL: enough of them to reach every shard. */
const SEED: Array<{ key: Key; value: unknown; ttl?: number }> = Array.from({ length: 30 }, (_, i) => ({
  key: i % 2 === 0 ? `user:${i}` : { kind: i % 3 === 0 ? 'person' : 'robot', n: i },
  value: { i, at: new Date(Date.UTC(2026, 0, 1 + i)) },
  ttl: i % 5 === 0 ? 600_000 : undefined,
}));

/** Every entry of `store` with whether it has a TTL, in key order. */
async function contents(store: BaseStore): Promise<Array<{ key: Key; value: unknown; expires: boolean }>> {
  const out = [];
  for await (const { key, value } of store.entries()) out.push({ key, value, expires: typeof (await store.ttl(key)) === 'number' });
  return out.sort((a, b) => (JSON.stringify(a.key) < JSON.stringify(b.key) ? -1 : 1));
}

describe('memstorage-next command: sharded Redis namespaces', function () {
  this.timeout(60_000);
  const opened: BaseStore[] = [];
  const open = (settings: Record<string, unknown>) => {
    const store = createStore({ type: 'redis', settings }) as BaseStore;
    opened.push(store);
    return store;
  };
  after(async function () {
    for (const store of opened) {
      await store.clear().catch(() => undefined); // a store refused by design has nothing to clear
      await store.close();
    }
  });

  it('export and import a sharded namespace on a Redis Cluster (redis-cluster://…?shards=S): every entry, value and TTL equal', async function () {
    const { nodes } = await sharedRedisCluster();
    const seeds = nodes.map((n) => `${n.host}:${n.port}`).join(',');
    const [from, to] = [freshNamespace('clish'), freshNamespace('clish')];
    const source = open({ cluster: nodes, namespace: from, shards: SHARDS });
    for (const { key, value, ttl } of SEED) await source.set(key, value, { ttl });

    const exported = await cliInProcess(['export', `redis-cluster://${seeds}?namespace=${from}&shards=${SHARDS}`]);
    expectExit(exported, ExitCodes.OK);
    expect(exported.stdout.trim().split('\n')).to.have.length(SEED.length);
    const imported = await cliInProcess(['import', `redis-cluster://${seeds}?namespace=${to}&shards=${SHARDS}`], exported.stdout);
    expectExit(imported, ExitCodes.OK);

    const target = open({ cluster: nodes, namespace: to, shards: SHARDS });
    const expected = SEED.map(({ key, value, ttl }) => ({ key, value, expires: ttl !== undefined })).sort((a, b) =>
      JSON.stringify(a.key) < JSON.stringify(b.key) ? -1 : 1,
    );
    expect(await contents(source)).to.deep.equal(expected);
    expect(await contents(target)).to.deep.equal(expected);
    // The import wrote a namespace of SHARDS shards: a store of one shard is refused there.
    const unsharded = open({ cluster: nodes, namespace: to });
    const refused = await unsharded.has('user:0').then(
      () => undefined,
      (err: { code?: string }) => err,
    );
    expect(refused?.code).to.equal('ERR_STORE_CONFIG');
  });

  it('a sharded namespace named without its shard count: the store refuses it and the command says the count to use (exit 3)', async function () {
    const { url } = await sharedRedis();
    const namespace = freshNamespace('clish');
    const store = open({ url, namespace, shards: SHARDS });
    await store.set('a', 1);

    const without = await cliInProcess(['export', `${url}?namespace=${namespace}`]);
    expectExit(without, ExitCodes.BAD_URL);
    expect(without.stdout).to.equal('');
    expect(without.stderr).to.include(`shards: ${SHARDS}`);
    const withCount = await cliInProcess(['export', `${url}?namespace=${namespace}&shards=${SHARDS}`]);
    expectExit(withCount, ExitCodes.OK);
    expect(withCount.stdout.trim().split('\n')).to.have.length(1);
  });
});
