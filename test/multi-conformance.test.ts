import { runConformance } from '../conformance';
import { MultiStore } from '../lib/multi/multi-store';
import { sharedMongo } from './support/mongo-server';
import { sharedRedis } from './support/redis-server';

let redis = '';
let mongo = '';
before(async function () {
  this.timeout(120_000);
  ({ url: redis } = await sharedRedis());
  ({ url: mongo } = await sharedMongo());
});

const memory = () => ({ type: 'memory', settings: { maxKeys: 10_000 } });
const redisTier = () => ({ type: 'redis', settings: { url: redis } });
const mongoTier = () => ({ type: 'mongo', settings: { url: mongo, db: 'multi_conformance' } });

runConformance('multi [memory, redis, mongo]', (settings) => new MultiStore({ ...settings, stores: [memory(), redisTier(), mongoTier()] }));
runConformance('multi [memory, mongo]', (settings) => new MultiStore({ ...settings, stores: [memory(), mongoTier()] }));
runConformance('multi [redis, mongo]', (settings) => new MultiStore({ ...settings, stores: [redisTier(), mongoTier()] }));
runConformance("multi memstorage's cache: true over [mongo]", (settings) => new MultiStore({ ...settings, cache: true, store: [mongoTier()] }));
const parents: MultiStore[] = [];
after(async () => {
  for (const parent of parents.splice(0)) await parent.close();
});
runConformance('multi [memory, redis, mongo] through scope()', (settings) => {
  const parent = new MultiStore({ ...settings, namespace: undefined, stores: [memory(), redisTier(), mongoTier()] });
  parents.push(parent);
  return parent.scope(settings.namespace);
}, { throughScope: false }); // a scope already: runConformance need not scope it again
