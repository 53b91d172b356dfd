/** An error the HTTP API answers with `{"error": message, "code": code}` and `statusCode`. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function isHttpError(value: unknown): value is HttpError {
  return value instanceof Error && value.name === "HttpError";
}

export const badRequest = (message: string) => new HttpError(400, "bad_request", message);
