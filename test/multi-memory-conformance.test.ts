import { runConformance } from '../conformance';
import { MultiStore } from '../lib/multi/multi-store';
import { MemoryStore } from '../lib/backends/memory';
import { FaultyStore } from './support/multi-faulty';
import type { ManualClock } from '../lib/clock';

runConformance('multi [memory, memory]', (settings) => new MultiStore({ ...settings, stores: [{ type: 'memory', settings: { maxKeys: 50 } }, { type: 'memory' }] }));
runConformance('multi cache: true over [memory]', (settings) => new MultiStore({ ...settings, cache: true, store: [{ type: 'memory' }] }));
// The remote-like tier says it is shared and persistent, so it must be: a store opened again on
// the same namespace finds the same data (the conformance suite's sharing and persistence groups).
const remoteData = new Map<string, MemoryStore>();
function remoteLike(namespace: string, clock: ManualClock): MemoryStore {
  let inner = remoteData.get(namespace);
  if (!inner) remoteData.set(namespace, (inner = new MemoryStore({ clock })));
  return inner;
}

runConformance('multi [memory, remote-like memory] through scope()', (settings) =>
  new MultiStore({
    ...settings,
    namespace: undefined,
    stores: [{ type: 'memory', settings: { clock: settings.clock } }, new FaultyStore(remoteLike(settings.namespace, settings.clock), undefined, { clock: settings.clock })],
  }).scope(settings.namespace),
  { throughScope: false }, // a scope already: runConformance need not scope it again
);
