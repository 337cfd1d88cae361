/**
 * The options of calls that read many entries (SPEC §14): `sort`, `skip`, `limit`, and
 * `includeKey` where results can carry keys. Every option a method does not know is refused
 * (ERR_INVALID_ARGUMENT): nothing is silently ignored.
 */
import { InvalidArgumentError } from '../errors';
import { isPlainObject } from '../keys';
import { SortSpec, compileSort } from '../query-sort';
import { optionField } from './arguments';

/** The options a read of many entries was given, validated. */
export interface ReadOptions {
  sort?: SortSpec;
  skip?: number;
  limit?: number;
  includeKey?: boolean;
  /** page() only: where the previous page ended. */
  cursor?: string;
}

/** The option names a method takes. */
export type ReadOptionName = keyof ReadOptions;

/**
 * Reads `options` for `method`, which takes the options named in `allowed`: an object of own
 * data fields (an undefined field counts as absent), or undefined/null for none.
 */
export function readOptions(options: unknown, method: string, allowed: readonly ReadOptionName[]): ReadOptions {
  if (options === undefined || options === null) return {};
  if (!isPlainObject(options)) throw new InvalidArgumentError(`${method}: options must be an object like { ${allowed.join(', ')} }`);
  for (const name of Object.keys(options)) {
    if (!(allowed as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`${method}: unknown option ${name} (${method} takes ${allowed.join(', ')})`);
    }
  }
  const out: ReadOptions = {};
  for (const name of allowed) {
    const value = optionField(options, name, method);
    if (value === undefined) continue;
    switch (name) {
      case 'sort':
        out.sort = compileSort(value, method);
        break;
      case 'skip':
      case 'limit':
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(`${method}: ${name} must be a non-negative integer`);
        // limit: 0 gives nothing (as get always did; MongoDB reads it as "no limit"); skip: 0 skips nothing.
        if (name === 'limit' || value > 0) out[name] = value;
        break;
      case 'includeKey':
        if (typeof value !== 'boolean') throw new InvalidArgumentError(`${method}: includeKey must be a boolean`);
        out.includeKey = value;
        break;
      case 'cursor':
        if (typeof value !== 'string') throw new InvalidArgumentError(`${method}: cursor must be the string a previous page returned`);
        out.cursor = value;
        break;
    }
  }
  return out;
}
