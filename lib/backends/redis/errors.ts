/**
 * How the Redis backend's failures reach the caller (SPEC §10, §12): driver and server errors
 * mapped to the store's typed errors, and the errors for corrupt data and bad expiries.
 */
import './driver'; // first: a missing ioredis is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { ReplyError } from 'ioredis';
import { InvalidArgumentError, StorageConnectionError, StorageOperationError, StoreError } from '../../errors';
import { isObjectKeyId } from '../../keys';
import { MAX_EXPIRY_MS } from './layout';

const CONNECTION_REPLIES = /^(LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY)\b/;

/**
 * A driver or server failure as a store error: a reply from the server is an operation error
 * (except the replies that mean "not available now"), anything else — refused, reset, closed,
 * timed out, not connected — is a connection error.
 */
export function toStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ReplyError && !CONNECTION_REPLIES.test(message)) {
    return new StorageOperationError(`Redis replied with an error: ${message}`, { cause: err });
  }
  return new StorageConnectionError(`Redis is not reachable: ${message}`, { cause: err });
}

/** Rethrows a driver error as a store error (use as a promise rejection handler). */
export function rethrow(err: unknown): never {
  throw toStoreError(err);
}

/** Whether a command failed because its key holds another type (something else wrote it). */
export function isWrongType(err: unknown): boolean {
  return err instanceof ReplyError && String((err as Error).message).startsWith('WRONGTYPE');
}

/** A key as error messages name it: a string key as JSON, an object key as its canonical JSON. */
export function keyName(id: string): string {
  return isObjectKeyId(id) ? id.slice(1) : JSON.stringify(id);
}

/** Stored data under `id` that the store did not write, or that lost a part (SPEC §12: ERR_STORAGE_OPERATION naming the key). */
export function corrupt(id: string, what: string, cause?: unknown): StorageOperationError {
  return new StorageOperationError(`corrupt entry under key ${keyName(id)} in Redis: ${what}`, { cause });
}

/** Whether an expiry can be sent: a whole number of epoch ms that the scripts accept (see MAX_EXPIRY_MS). */
export function validExpiry(expiresAt: number): boolean {
  return expiresAt > 0 && expiresAt <= MAX_EXPIRY_MS && Number.isInteger(expiresAt);
}

/** A write's expiry that Redis cannot store, rejected before anything is sent. */
export function expiryError(expiresAt: number): InvalidArgumentError {
  return new InvalidArgumentError(`the expiry ${expiresAt} is not a whole number of epoch ms from 1 to ${MAX_EXPIRY_MS}`);
}
