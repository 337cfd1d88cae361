/**
 * Typed errors. Every error the store raises is a StoreError with a stable `code`;
 * tests and callers branch on `code`, never on message text. Codes are listed in the README.
 */

/** Stable error codes, one per failure kind. */
export const ErrorCodes = {
  CONFIG: 'ERR_STORE_CONFIG',
  CONNECTION: 'ERR_STORAGE_CONNECTION',
  OPERATION: 'ERR_STORAGE_OPERATION',
  INVALID_KEY: 'ERR_INVALID_KEY',
  INVALID_QUERY: 'ERR_INVALID_QUERY',
  INVALID_VALUE: 'ERR_INVALID_VALUE',
  INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT',
  CLOSED: 'ERR_STORE_CLOSED',
  NOT_FOUND: 'ERR_KEY_NOT_FOUND',
  COMPUTE_TIMEOUT: 'ERR_COMPUTE_TIMEOUT',
} as const;

/** One of the codes in ErrorCodes. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Base class of every error raised by a store. */
export class StoreError extends Error {
  /** Stable, documented code: assert on this, not on the message. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** A setting is missing, of the wrong type, or out of range; raised when the store is created. */
export class StoreConfigError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.CONFIG, message, options);
  }
}

/** The backend cannot be reached (down, refused, timed out). */
export class StorageConnectionError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.CONNECTION, message, options);
  }
}

/** The backend was reached but the operation failed. */
export class StorageOperationError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.OPERATION, message, options);
  }
}

/** A key is not a non-empty string or an allowed plain object. */
export class InvalidKeyError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.INVALID_KEY, message, options);
  }
}

/** A query uses a forbidden or unknown operator, or a malformed operand. */
export class InvalidQueryError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.INVALID_QUERY, message, options);
  }
}

/** A value cannot be stored (undefined, a function, a cycle, ...). */
export class InvalidValueError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.INVALID_VALUE, message, options);
  }
}

/** A method argument (options, ttl, callback) has the wrong type or range. */
export class InvalidArgumentError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.INVALID_ARGUMENT, message, options);
  }
}

/** The store was closed; it cannot be used again. */
export class StoreClosedError extends StoreError {
  constructor(message = 'the store is closed') {
    super(ErrorCodes.CLOSED, message);
  }
}

/** A value stream was asked for a key that holds no value. */
export class KeyNotFoundError extends StoreError {
  constructor(message: string) {
    super(ErrorCodes.NOT_FOUND, message);
  }
}

/** getOrSet's compute passed its hard timeout (`timeout.hard`) and no stale value in grace could stand in. */
export class ComputeTimeoutError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.COMPUTE_TIMEOUT, message, options);
  }
}
