import { ConclaveError } from "../../errors.js";

/** A history handed to the checker is malformed, so no verdict could be given. */
export class InvalidHistoryError extends ConclaveError {
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_HISTORY", message, options);
  }
}

/** A model broke its contract (for example a partition that loses operations). */
export class InvalidModelError extends ConclaveError {
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_MODEL", message, options);
  }
}

/** A check option (step bound, timeout) is out of range. */
export class InvalidCheckOptionError extends ConclaveError {
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_CHECK_OPTION", message, options);
  }
}

/** The checker's own bookkeeping contradicted itself: a bug here, never a verdict. */
export class LincheckInvariantError extends ConclaveError {
  constructor(message: string) {
    super("LINCHECK_INVARIANT", message);
  }
}
