/** `memstorage-next/conformance`: the shared conformance suite for any store (see lib/conformance). */
export { runConformance } from './lib/conformance';
export type { StoreFactory, ConformanceOptions } from './lib/conformance';
