/**
 * Why a storage call was refused. The HTTP layer maps `invalid_query` and `too_many_points` to 400,
 * `invalid_batch` to a rejected batch, the rest to 500. `busy` (the writer's queue is full) and
 * `unavailable` (a write failed: disk full, read-only file, I/O error) are retryable: nothing of the
 * batch was acked, and the same batch sent again later can succeed.
 */
export type StorageErrorCode =
  | "invalid_batch"
  | "invalid_query"
  | "too_many_points"
  | "closed"
  | "newer_schema"
  | "invalid_argument"
  | "busy"
  | "unavailable"
  /** A unique name is taken (an API alert rule). */
  | "conflict";

/** A refusal by the catalog or a storage engine; `message` says exactly what was wrong. */
export class StorageError extends Error {
  override readonly name = "StorageError";
  readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Narrows a caught value to a `StorageError`. */
export function isStorageError(value: unknown): value is StorageError {
  return value instanceof Error && value.name === "StorageError" && "code" in value;
}

/** Whether the call can succeed if made again later (`busy`, `unavailable`): the caller keeps the batch. */
export function isRetryableStorageError(value: unknown): value is StorageError {
  return isStorageError(value) && (value.code === "busy" || value.code === "unavailable");
}
