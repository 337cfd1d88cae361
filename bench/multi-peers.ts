/**
 * The multi-tier peers of bench/multi as their READMEs set them up, so every bench file and
 * child process builds them the same way:
 * - BentoCache 1.6: `bentostore().useL1Layer(memoryDriver(...)).useL2Layer(redisDriver(...))`,
 *   its documented two-level cache (L1 in process, L2 Redis), defaults otherwise — L1 entries are
 *   serialized unless `serialize: false` (the option its docs offer for speed; the value is then
 *   shared by reference, as this project's memory tier does by default). No bus: one process
 *   needs none, and the cross-process bench counts computes, not coherence.
 */
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';

/** A BentoCache with a memory L1 and a Redis L2. */
export function makeBento(options: { host: string; port: number; prefix: string; maxItems: number; serialize?: boolean }) {
  return new BentoCache({
    default: 'tiered',
    stores: {
      tiered: bentostore()
        .useL1Layer(memoryDriver({ maxItems: options.maxItems, serialize: options.serialize ?? true }))
        .useL2Layer(redisDriver({ connection: { host: options.host, port: options.port }, prefix: options.prefix })),
    },
  });
}

/** The BentoCache instance type. */
export type Bento = ReturnType<typeof makeBento>;
