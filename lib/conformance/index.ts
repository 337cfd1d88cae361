/**
 * The conformance suite (SPEC §11): every behaviour of §3–§7 written against the store
 * interface only. Each backend, the multi store over several tier stacks, and third-party
 * backends run it with a few lines:
 *
 *     import { runConformance } from 'memstorage-next/conformance';
 *     runConformance('my store', (settings) => new MyStore({ ...settings, url }));
 *
 * The factory receives `namespace` (unique per test) and a ManualClock in `clock`; it must
 * pass both on. What a backend cannot do is read from its `supports` flags, never its name.
 */
import { api } from './api';
import { bulk } from './bulk';
import { entries } from './entries';
import { ConformanceOptions, StoreFactory, makeContext } from './context';
import { keysAndValues } from './keys-values';
import { meta } from './meta';
import { queries } from './queries';
import { queryOptions } from './query-options';
import { streams } from './streams';
import { ttl } from './ttl';
import { sharing } from './sharing';

export type { StoreFactory, ConformanceOptions } from './context';

/**
 * Registers the whole suite as a mocha `describe` block, and (unless `throughScope: false`)
 * once more on a scope of each store, since a scope must behave as a store in every respect.
 */
export function runConformance(name: string, factory: StoreFactory, options: ConformanceOptions = {}): void {
  suite(`conformance: ${name}`, factory, options);
  if (options.throughScope !== false) {
    suite(`conformance: ${name} through scope()`, async (settings) => (await factory(settings)).scope('scoped'), options);
  }
}

function suite(title: string, factory: StoreFactory, options: ConformanceOptions): void {
  describe(title, () => {
    const ctx = makeContext(factory, options);
    keysAndValues(ctx);
    queries(ctx);
    queryOptions(ctx);
    ttl(ctx);
    api(ctx);
    bulk(ctx);
    entries(ctx);
    meta(ctx);
    streams(ctx);
    sharing(ctx);
  });
}
