import { runConformance } from '../conformance';
import { MongoStore } from '../lib/backends/mongo';
import { sharedMongo } from './support/mongo-server';

describe('mongo store (real MongoDB through mongodb-memory-server-core, or MONGODB_URL)', () => {
  let url = '';
  before(async function () {
    this.timeout(120_000);
    ({ url } = await sharedMongo());
  });
  runConformance('mongo', (settings) => new MongoStore({ ...settings, url, db: 'conformance' }));
});
