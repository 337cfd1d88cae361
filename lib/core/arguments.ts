/**
 * Reading a call's arguments: where the callback is, the options objects (own data fields
 * only, never a getter), and what a result-first callback receives on failure.
 */
import { Callback } from '../callbacks';
import { InvalidArgumentError } from '../errors';
import { isPlainObject } from '../keys';
import { MAX_TTL_MS } from '../limits';
import { checkTags } from '../tags';
import { isTtl } from './settings';

/** What result-first callbacks receive on failure, per method (memstorage's values). */
export function failureValue(method: string, nullOnMiss: boolean): unknown {
  switch (method) {
    case 'get':
      return nullOnMiss ? null : [];
    case 'getOne':
    case 'ttl':
    case 'getMeta':
      return undefined;
    case 'keys':
    case 'getMany':
      return [];
    case 'count':
    case 'del':
    case 'copy':
    case 'delMany':
    case 'delKeys':
    case 'delByTags':
      return 0;
    default:
      return false;
  }
}

/**
 * Splits `(fixed..., [options], [callback])`: the callback is the last argument when it is a
 * function; anything else past the fixed arguments and options is an error.
 */
export function splitArgs(args: unknown[], fixed: number, method: string): { options: unknown; cb: Callback | undefined } {
  let cb: Callback | undefined;
  let end = args.length;
  while (end > fixed && args[end - 1] === undefined) end--; // trailing undefined: an omitted argument
  if (end > fixed && typeof args[end - 1] === 'function') {
    cb = args[end - 1] as Callback;
    end--;
  }
  if (end > fixed + 1) {
    throw new InvalidArgumentError(`${method}: argument ${end} is in the callback position but is a ${typeof args[end - 1]}, not a function`);
  }
  return { options: end > fixed ? args[fixed] : undefined, cb };
}

export function callbackError(method: string, cb: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${method}: the callback must be a function, got ${typeof cb}`);
}

/**
 * An option's own data value, read once without running anything: a getter on an options
 * object is refused (it could answer differently each time it is read), and nothing inherited
 * is read (a polluted Object.prototype cannot inject an option).
 */
export function optionField(options: Record<string, unknown>, name: string, method: string): unknown {
  const field = Object.getOwnPropertyDescriptor(options, name);
  if (field === undefined) return undefined;
  if (!('value' in field)) throw new InvalidArgumentError(`${method}: option ${name} must be a plain data field, not a getter`);
  return field.value;
}

export function readTtlOption(options: unknown, method: string): number | null | undefined {
  if (options === undefined || options === null) return undefined;
  if (!isPlainObject(options)) throw new InvalidArgumentError(`${method}: options must be an object like { ttl }`);
  for (const name of Object.keys(options)) {
    if (name !== 'ttl') throw new InvalidArgumentError(`${method}: unknown option ${name} (${method} takes ttl)`);
  }
  const ttl = optionField(options, 'ttl', method);
  if (ttl === undefined || ttl === null) return ttl as undefined | null;
  if (!isTtl(ttl)) throw new InvalidArgumentError(`${method}: ttl must be a number of milliseconds from 0 to ${MAX_TTL_MS} (100 years)`);
  return ttl;
}

/** A write's options: `{ ttl?, tags? }` (`set`, each `setMany` item), checked before anything is written. */
export interface WriteOptions {
  ttl: number | null | undefined;
  /** Checked and deduplicated; undefined when none were given. */
  tags: string[] | undefined;
}

/** `{ ttl?, tags? }` read and checked; `extra` names further options the method takes (read by the method itself). */
export function readSetOptions(options: unknown, method: string, extra: readonly string[] = []): WriteOptions {
  if (options === undefined || options === null) return { ttl: undefined, tags: undefined };
  if (!isPlainObject(options)) throw new InvalidArgumentError(`${method}: options must be an object like { ttl, tags }`);
  for (const name of Object.keys(options)) {
    if (name !== 'ttl' && name !== 'tags' && !extra.includes(name)) {
      throw new InvalidArgumentError(`${method}: unknown option ${name} (${method} takes ${['ttl', 'tags', ...extra].join(', ')})`);
    }
  }
  const ttl = optionField(options, 'ttl', method);
  const tags = optionField(options, 'tags', method);
  return { ttl: readTtlOption(ttl === undefined ? undefined : { ttl }, method), tags: checkTags(tags, method) };
}
