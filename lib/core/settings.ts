/** The settings every store shares, checked eagerly when the store is created. */
import { StoreConfigError } from '../errors';
import { isPlainObject, isWellFormed } from '../keys';
import { MAX_TTL_MS } from '../limits';
import type { CommonSettings } from '../store-types';

/** Checks the shared settings eagerly, naming the bad one. */
export function checkCommonSettings(settings: CommonSettings): void {
  if (!isPlainObject(settings as unknown)) throw new StoreConfigError('settings must be a plain object');
  const bool = (name: keyof CommonSettings) => {
    if (settings[name] !== undefined && typeof settings[name] !== 'boolean') {
      throw new StoreConfigError(`setting ${name} must be a boolean`);
    }
  };
  bool('nullOnMiss');
  bool('includeKey');
  if (settings.defaultTtl !== undefined && settings.defaultTtl !== null && !isTtl(settings.defaultTtl)) {
    throw new StoreConfigError(`setting defaultTtl must be a number of milliseconds from 0 to ${MAX_TTL_MS} (100 years)`);
  }
  if (settings.namespace !== undefined) checkNamespace(settings.namespace, (m) => new StoreConfigError(`setting namespace ${m}`));
  if (settings.serializer !== undefined) {
    const s = settings.serializer;
    if (!s || typeof s.serialize !== 'function' || typeof s.deserialize !== 'function') {
      throw new StoreConfigError('setting serializer must have serialize and deserialize functions');
    }
  }
  if (settings.callbacks !== undefined && settings.callbacks !== 'node' && settings.callbacks !== 'result-first') {
    throw new StoreConfigError("setting callbacks must be 'node' or 'result-first'");
  }
  if (settings.clock !== undefined && (!settings.clock || typeof settings.clock.now !== 'function')) {
    throw new StoreConfigError('setting clock must have a now() function');
  }
}

/** A TTL in ms every backend can store: 0 up to MAX_TTL_MS (lib/limits.ts). */
export function isTtl(ttl: unknown): ttl is number {
  return typeof ttl === 'number' && ttl >= 0 && ttl <= MAX_TTL_MS;
}

export function checkNamespace(ns: unknown, error: (message: string) => Error): asserts ns is string {
  if (typeof ns !== 'string') throw error('must be a string');
  if (ns.includes('\u0000')) throw error('must not contain the NUL character');
  if (ns.length > 256) throw error('must be at most 256 characters');
  // Redis and BSON would fold a lone surrogate into U+FFFD, so two namespaces would become one.
  if (!isWellFormed(ns)) throw error('must be well-formed Unicode (it holds a lone surrogate)');
}
