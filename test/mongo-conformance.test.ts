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
  // Compression (SPEC §16) on every value the suite writes: threshold 0 compresses whatever shrinks.
  runConformance('mongo, compressed (brotli)', (settings) => new MongoStore({ ...settings, url, db: 'conformance', compress: { threshold: 0, algorithm: 'brotli' } }));
});
