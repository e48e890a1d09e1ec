/**
 * The root of every error Conclave throws on purpose. Each subclass carries a
 * stable, machine-readable `code` so callers (and the HTTP API) can tell kinds
 * of failure apart without parsing messages.
 */
export class ConclaveError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An argument, flag, request field or configuration value was invalid. */
export class InvalidArgumentError extends ConclaveError {
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_ARGUMENT", message, options);
  }
}
