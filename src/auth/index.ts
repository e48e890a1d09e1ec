export { commandAccess, type KeyAccess, requireAccess } from "./access.js";
export {
  AuthError,
  AuthFailedError,
  AuthNotEnabledError,
  AuthRequiredError,
  authErrorStatus,
  InvalidAuthTokenError,
  PermissionDeniedError,
} from "./errors.js";
export {
  AuthFailureLimiter,
  type AuthFailureLimits,
  AuthLockedOutError,
  DEFAULT_AUTH_FAILURE_LIMITS,
  type Lockout,
  validateAuthFailureLimits,
} from "./failure-limiter.js";
export { type AuthIdentity, type Credentials, resolveIdentity } from "./identity.js";
export { PasswordGate, TooManyPasswordChecksError } from "./password-gate.js";
export {
  DEFAULT_BCRYPT_COST,
  hashPassword,
  MAX_PASSWORD_BYTES,
  verifyPassword,
} from "./passwords.js";
export { type AccessMode, canAccess, canRead, canWrite, isRoot } from "./permissions.js";
export {
  DEFAULT_TOKEN_TTL_MS,
  memberTokenKey,
  signMemberToken,
  signUserToken,
  verifyMemberToken,
  verifyUserToken,
} from "./tokens.js";
