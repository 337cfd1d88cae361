/**
 * V8 settings for the command's streaming work (export, import, copy), applied by main.ts when
 * it runs as the command's process, before a store is opened (the drivers' code would grow the
 * young generation); never in a program that imports the command's functions.
 *
 * Left alone, V8 sizes the heap for throughput: semi-spaces of up to 16 MB and an old-generation
 * limit up to ~4× what survived the last full collection. An export or import holds only a few
 * windows of entries (~20 MB live, most of it the drivers' code), yet peaked at ~200 MB RSS so.
 * Both flags below are read by V8 at run time (checked in test/cli-memory.test.ts: the
 * command-line semi-space size flags are not), and neither caps the heap: a large value only
 * makes the live set, and so the next limit, larger — no out-of-memory crash.
 */
import * as v8 from 'node:v8';

/** The old generation may grow this many percent above what survived the last full collection before the next one. */
export const HEAP_GROWING_PERCENT = 200;

/**
 * Keeps the young generation at its present size (2 MB a semi-space once main.ts is loaded) and the old
 * generation within HEAP_GROWING_PERCENT of its live size. `MEMSTORAGE_NEXT_V8_TUNING=0` leaves
 * V8's defaults (to compare).
 */
export function tuneHeapForStreaming(env: NodeJS.ProcessEnv = process.env): void {
  if (env.MEMSTORAGE_NEXT_V8_TUNING === '0') return;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  v8.setFlagsFromString(`--heap-growing-percent=${env.MEMSTORAGE_NEXT_HEAP_GROWING_PERCENT ?? HEAP_GROWING_PERCENT}`);
}
