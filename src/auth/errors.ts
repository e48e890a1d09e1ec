import { ConclaveError } from "../errors.js";
import {
  AuthStateError,
  NotGrantedError,
  RoleExistsError,
  RoleNotFoundError,
  RootUserMissingError,
  UserExistsError,
  UserNotFoundError,
} from "../kv/index.js";

/** A request the auth layer refused; `httpStatus` is what the API answers with. */
export class AuthError extends ConclaveError {
  readonly httpStatus: number;
  constructor(httpStatus: number, code: string, message: string) {
    super(code, message);
    this.httpStatus = httpStatus;
  }
}

/** Auth is enabled and the request carries neither a token nor a client certificate. */
export class AuthRequiredError extends AuthError {
  constructor() {
    super(401, "AUTH_REQUIRED", "authentication is required: send a token in `authorization`");
  }
}

/** Bad signature, expired, malformed, or issued before a change to its user. */
export class InvalidAuthTokenError extends AuthError {
  constructor(reason: string) {
    super(401, "INVALID_AUTH_TOKEN", `the auth token is not valid: ${reason}`);
  }
}

/** Wrong name or password; which of the two is not said. */
export class AuthFailedError extends AuthError {
  constructor(message = "authentication failed: wrong name or password") {
    super(401, "AUTH_FAILED", message);
  }
}

export class PermissionDeniedError extends AuthError {
  constructor(message: string) {
    super(403, "PERMISSION_DENIED", message);
  }
}

export class AuthNotEnabledError extends AuthError {
  constructor(what: string) {
    super(400, "AUTH_NOT_ENABLED", `${what} needs auth to be enabled`);
  }
}

/** The HTTP status of an auth error, from this layer or refused by the store at apply. */
export function authErrorStatus(err: ConclaveError): number | undefined {
  if (err instanceof AuthError) return err.httpStatus;
  if (!(err instanceof AuthStateError)) return undefined;
  if (err instanceof UserNotFoundError || err instanceof RoleNotFoundError) return 404;
  if (err instanceof NotGrantedError) return 404;
  if (err instanceof UserExistsError || err instanceof RoleExistsError) return 409;
  if (err instanceof RootUserMissingError) return 412;
  return 400;
}
