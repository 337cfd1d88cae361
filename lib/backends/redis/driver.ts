/**
 * Imported first by every module that imports ioredis for its values: the driver is an optional
 * peer dependency, so requiring the Redis store without it throws a StoreConfigError naming the
 * package (lib/drivers.ts) before the compiled `require('ioredis')` below it would throw a bare
 * MODULE_NOT_FOUND.
 */
import { loadDriver } from '../../drivers';

loadDriver('ioredis', 'redis');
