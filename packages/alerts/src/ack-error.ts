/** Why an acknowledgement was refused. */
export type AckErrorCode = "unknown_alert" | "not_firing" | "not_acknowledged" | "invalid_argument";

/** A refused `acknowledge` / `unacknowledge`; `code` maps to an HTTP status at the API. */
export class AckError extends Error {
  override readonly name = "AckError";
  readonly code: AckErrorCode;
  constructor(code: AckErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function isAckError(value: unknown): value is AckError {
  return value instanceof Error && value.name === "AckError";
}
