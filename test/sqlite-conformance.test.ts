import { runConformance } from '../conformance';
import { createStore } from '../lib/factory';
import { freshSqlitePath } from './support/sqlite-files';

// One file for the whole run: every conformance test has its own namespace in it.
const file = freshSqlitePath('conformance');

runConformance('sqlite (file)', (settings) => createStore({ type: 'sqlite', settings: { ...settings, path: file } }));
runConformance('sqlite :memory:', (settings) => createStore({ type: 'sqlite', settings: { ...settings, path: ':memory:' } }));
runConformance('sqlite through scope()', (settings) => createStore({ type: 'sqlite', settings: { ...settings, path: file } }).scope('scoped'));
