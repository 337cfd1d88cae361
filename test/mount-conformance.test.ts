/**
 * The conformance suite on mount stores (SPEC §16). The suite's keys route to the default mount
 * (no suite key starts with 'mnt:' or has a `route` field), so the suite's ordering checks hold;
 * the other mount is still connected, listed, counted and cleared with every call that spans
 * the mounts. test/mount.test.ts checks routing itself.
 */
import { runConformance } from '../conformance';
import { MountStore } from '../lib/backends/mount';
import { sharedRedis } from './support/redis-server';

let redis = '';
before(async function () {
  this.timeout(60_000);
  ({ url: redis } = await sharedRedis());
});

const memory = () => ({ type: 'memory' });
const redisMount = () => ({ type: 'redis', settings: { url: redis } });

runConformance('mount [mnt: memory, default memory]', (settings) => new MountStore({ ...settings, field: 'route', mounts: { 'mnt:': memory() }, default: memory() }));
runConformance('mount [mnt: redis, default memory]', (settings) => new MountStore({ ...settings, field: 'route', mounts: { 'mnt:': redisMount() }, default: memory() }));
runConformance('mount [mnt: memory, default redis]', (settings) => new MountStore({ ...settings, field: 'route', mounts: { 'mnt:': memory() }, default: redisMount() }));
