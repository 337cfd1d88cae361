import { runConformance } from '../conformance';
import { MemoryStore } from '../lib/backends/memory';

runConformance('memory', (settings) => new MemoryStore(settings));
runConformance('memory with maxKeys', (settings) => new MemoryStore({ ...settings, maxKeys: 100_000 }));
runConformance('memory with clone', (settings) => new MemoryStore({ ...settings, clone: true }));
// A store listing its indexes keeps object keys as ids only (lib/backends/memory/slot.ts).
runConformance('memory with indexes listed', (settings) => new MemoryStore({ ...settings, indexes: ['a', 'b', 'a.b', 'tags'] }));
