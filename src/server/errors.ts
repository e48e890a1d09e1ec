import { ConclaveError } from "../errors.js";

/** An error the HTTP API answers with a fixed status; `code` is stable. */
export class HttpApiError extends ConclaveError {
  readonly statusCode: number;
  constructor(statusCode: number, code: string, message: string) {
    super(code, message);
    this.statusCode = statusCode;
  }
}

/** A request field was malformed: bad base64, an out-of-range integer, a wrong shape. */
export class BadRequestError extends HttpApiError {
  constructor(message: string) {
    super(400, "INVALID_ARGUMENT", message);
  }
}

/** A key, value or body exceeds a configured size limit. */
export class TooLargeError extends HttpApiError {
  constructor(code: "KEY_TOO_LARGE" | "VALUE_TOO_LARGE", message: string) {
    super(413, code, message);
  }
}

/** A txn carries more operations than the server accepts. */
export class TooManyOpsError extends HttpApiError {
  constructor(count: number, limit: number) {
    super(400, "TOO_MANY_OPS", `txn has ${count} operations; the limit is ${limit}`);
  }
}
