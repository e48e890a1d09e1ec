import { ConclaveError } from "../errors.js";

/**
 * Root of every error `conclave/registry` throws on purpose. Bad arguments
 * raise `InvalidArgumentError` from `conclave/errors`.
 */
export class RegistryError extends ConclaveError {}

/** A stored registration could not be read: the key space holds something that is not one. */
export class MalformedRegistrationError extends RegistryError {
  readonly key: string;
  constructor(key: string, reason: string) {
    super(
      "REGISTRY_MALFORMED_RECORD",
      `registration at ${JSON.stringify(key)} is malformed: ${reason}`,
    );
    this.key = key;
  }
}

/** No healthy instance of the service is known. */
export class NoInstanceError extends RegistryError {
  readonly service: string;
  constructor(service: string, detail = "") {
    super(
      "REGISTRY_NO_INSTANCE",
      `no healthy instance of service ${JSON.stringify(service)}${detail === "" ? "" : `: ${detail}`}`,
    );
    this.service = service;
  }
}
