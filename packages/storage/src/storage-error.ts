/**
 * Why a storage call was refused. The HTTP layer maps `invalid_query` and `too_many_points` to 400,
 * `invalid_batch` to a rejected batch, the rest to 500.
 */
export type StorageErrorCode =
  | "invalid_batch"
  | "invalid_query"
  | "too_many_points"
  | "closed"
  | "newer_schema"
  | "invalid_argument";

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
