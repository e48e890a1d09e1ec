import { ConclaveError } from "../../errors.js";

/** A `conclave serve` setting was missing, malformed or contradicts another; names field and source. */
export class ServeConfigError extends ConclaveError {
  readonly field: string;
  readonly source: string;
  constructor(field: string, source: string, message: string) {
    super("INVALID_CONFIG", `${field} (${source}): ${message}`);
    this.field = field;
    this.source = source;
  }
}
