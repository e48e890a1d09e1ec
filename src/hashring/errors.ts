import { ConclaveError } from "../errors.js";

/**
 * Root of every error `conclave/hashring` throws on purpose, so callers can
 * catch the whole family with one `instanceof` and still switch on `code`.
 */
export class HashringError extends ConclaveError {}

/** A lookup was made on a placement that holds no nodes. */
export class EmptyRingError extends HashringError {
  constructor(operation: string) {
    super("HASHRING_EMPTY", `cannot ${operation}: the placement has no nodes`);
  }
}

/** A node id that is not in the placement was named. */
export class UnknownNodeError extends HashringError {
  readonly nodeId: string;
  constructor(nodeId: string) {
    super("HASHRING_UNKNOWN_NODE", `node ${JSON.stringify(nodeId)} is not in the placement`);
    this.nodeId = nodeId;
  }
}

/** A node id that is already in the placement was added again. */
export class DuplicateNodeError extends HashringError {
  readonly nodeId: string;
  constructor(nodeId: string) {
    super("HASHRING_DUPLICATE_NODE", `node ${JSON.stringify(nodeId)} is already in the placement`);
    this.nodeId = nodeId;
  }
}

/** A node id was not a non-empty string of acceptable length. */
export class InvalidNodeIdError extends HashringError {
  constructor(message: string) {
    super("HASHRING_INVALID_NODE_ID", message);
  }
}

/** A weight was zero, negative, NaN, infinite, or not allowed by the algorithm. */
export class InvalidWeightError extends HashringError {
  constructor(message: string) {
    super("HASHRING_INVALID_WEIGHT", message);
  }
}

/** A key was neither a string nor a Uint8Array. */
export class InvalidKeyError extends HashringError {
  constructor(message: string) {
    super("HASHRING_INVALID_KEY", message);
  }
}

/** getN asked for more distinct nodes than the placement can return. */
export class NotEnoughNodesError extends HashringError {
  readonly requested: number;
  readonly available: number;
  constructor(requested: number, available: number, detail = "") {
    super(
      "HASHRING_NOT_ENOUGH_NODES",
      `asked for ${requested} distinct nodes but only ${available} ${available === 1 ? "is" : "are"} available${detail}`,
    );
    this.requested = requested;
    this.available = available;
  }
}

/** An option (points per node, eps, replica count, table size, ...) was out of range. */
export class InvalidOptionError extends HashringError {
  constructor(message: string) {
    super("HASHRING_INVALID_OPTION", message);
  }
}

/** A Maglev lookup table size that is not prime was requested. */
export class TableSizeNotPrimeError extends HashringError {
  readonly tableSize: number;
  constructor(tableSize: number) {
    super(
      "HASHRING_TABLE_SIZE_NOT_PRIME",
      `maglev tableSize ${tableSize} is not prime (the permutation skip must be coprime with it)`,
    );
    this.tableSize = tableSize;
  }
}

/** The algorithm cannot perform this change without moving keys between other nodes. */
export class UnsupportedChangeError extends HashringError {
  constructor(message: string) {
    super("HASHRING_UNSUPPORTED_CHANGE", message);
  }
}

/** A configuration given to restore() was malformed; the message names the bad field. */
export class InvalidConfigurationError extends HashringError {
  constructor(message: string, options?: ErrorOptions) {
    super("HASHRING_INVALID_CONFIG", message, options);
  }
}

/** A bounded-load placement was asked about a key it does not hold. */
export class KeyNotPlacedError extends HashringError {
  constructor() {
    super("HASHRING_KEY_NOT_PLACED", "the key has not been placed (call place(key) first)");
  }
}

/** Two placements that cannot be compared arc by arc were given to a migration plan. */
export class IncompatiblePlacementsError extends HashringError {
  constructor(message: string) {
    super("HASHRING_INCOMPATIBLE_PLACEMENTS", message);
  }
}
