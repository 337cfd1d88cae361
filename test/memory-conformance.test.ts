import { runConformance } from '../conformance';
import { MemoryStore } from '../lib/backends/memory';

runConformance('memory', (settings) => new MemoryStore(settings));
runConformance('memory with maxKeys', (settings) => new MemoryStore({ ...settings, maxKeys: 100_000 }));
runConformance('memory with clone', (settings) => new MemoryStore({ ...settings, clone: true }));
