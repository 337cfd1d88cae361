import { runConformance } from '../conformance';
import { MultiStore } from '../lib/multi/multi-store';
import { MemoryStore } from '../lib/stores/memory';
import { FaultyStore } from './support/multi-faulty';

runConformance('multi [memory, memory]', (settings) => new MultiStore({ ...settings, stores: [{ type: 'memory', settings: { maxKeys: 50 } }, { type: 'memory' }] }));
runConformance('multi cache: true over [memory]', (settings) => new MultiStore({ ...settings, cache: true, store: [{ type: 'memory' }] }));
runConformance('multi [memory, remote-like memory] through scope()', (settings) =>
  new MultiStore({
    ...settings,
    namespace: undefined,
    stores: [{ type: 'memory', settings: { clock: settings.clock } }, new FaultyStore(new MemoryStore({ clock: settings.clock }), undefined, { clock: settings.clock })],
  }).scope(settings.namespace),
);
