/**
 * Backend drivers (`ioredis`, `mongodb`, `better-sqlite3`) are optional peer dependencies
 * (SPEC §13): a memory-only install has none of them. Every driver is loaded here, on the first
 * use of its store type, so a missing one is a StoreConfigError that says what to install
 * instead of a bare MODULE_NOT_FOUND from deep inside a backend.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import { StoreConfigError } from './errors';

/**
 * The major version of each built-in driver the stores are written for, as package.json's
 * peerDependencies say (a test keeps the two equal): the install command names it, since the
 * newest major may not work (better-sqlite3 13 needs Node 22).
 */
export const DRIVER_MAJORS: Readonly<Record<string, number>> = { 'better-sqlite3': 12, ioredis: 6, mongodb: 7 };

const loaded = new Map<string, unknown>();

function isMissingModule(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'MODULE_NOT_FOUND';
}

/**
 * The driver package `name`, needed by the `storeType` store; a StoreConfigError naming the
 * package to install when it is not installed. `purpose` (e.g. 'with invalidation.redis as a
 * URL') completes the message when the store needs the driver for one feature only.
 *
 * A driver that is installed but fails to load (a module missing inside it, a broken build) is
 * a StoreConfigError too, carrying the real error as `cause`: installing it again is not
 * necessarily the fix, so the message does not say so.
 */
export function loadDriver<T>(name: string, storeType: string, purpose?: string): T {
  const known = loaded.get(name);
  if (known !== undefined) return known as T;
  const user = `the ${storeType} store${purpose ? ` ${purpose}` : ''}`;
  const install = Object.hasOwn(DRIVER_MAJORS, name) ? `${name}@${DRIVER_MAJORS[name]}` : name;
  let file: string;
  try {
    // Resolving first tells "the package is not installed" apart from "a module inside it is missing".
    file = require.resolve(name);
  } catch (err) {
    if (isMissingModule(err)) throw new StoreConfigError(`${user} needs the ${name} package: npm install ${install}`, { cause: err });
    throw new StoreConfigError(`${user} cannot find the ${name} package: ${(err as Error)?.message ?? err}`, { cause: err });
  }
  let driver: T;
  try {
    driver = require(file) as T;
  } catch (err) {
    throw new StoreConfigError(`${user} cannot load the ${name} package (${file}): ${(err as Error)?.message ?? err}`, { cause: err });
  }
  loaded.set(name, driver);
  return driver;
}
