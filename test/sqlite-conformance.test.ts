import { runConformance } from '../conformance';
import { createStore } from '../lib/factory';
import { freshSqlitePath } from './support/sqlite-files';

// One file for the whole run: every conformance test has its own namespace in it. runConformance
// repeats each suite through scope() by itself; the explicit scope run below covers a store that
// is a scope from the start (opened, used and closed only through the scope).
const file = freshSqlitePath('conformance');

runConformance('sqlite (file)', (settings) => createStore({ type: 'sqlite', settings: { ...settings, path: file } }));
runConformance('sqlite :memory:', (settings) => createStore({ type: 'sqlite', settings: { ...settings, path: ':memory:' } }));
// Compression (SPEC §16) on every value the suite writes: threshold 0 compresses whatever shrinks.
runConformance('sqlite through scope(), compressed (brotli)', (settings) => createStore({ type: 'sqlite', settings: { ...settings, path: file, compress: { threshold: 0, algorithm: 'brotli' } } }).scope('scoped'), {
  throughScope: false,
});
