import type { experimental, ServiceConfig } from "@grpc/grpc-js";
import { InvalidArgumentError } from "../../errors.js";

/** The name the hash-by-metadata policy is registered under in grpc-js. */
export const CONCLAVE_HASH_POLICY = "conclave_hash";

/** The placements the policy can hash with (both from `conclave/hashring`). */
export type HashAlgorithm = "maglev" | "ring";

/** The policy's settings, as written in a service config under `conclave_hash`. */
export interface ConclaveHashOptions {
  /** The call metadata key whose (first) value is hashed; lowercase, as gRPC sends keys. */
  readonly metadataKey: string;
  /** Default "maglev": even load and one table read per pick. */
  readonly algorithm?: HashAlgorithm;
}

// gRPC metadata keys: lowercase ASCII letters, digits, '-', '_' and '.'.
// `grpc-` keys are reserved for the transport itself.
const METADATA_KEY = /^[0-9a-z_.-]{1,256}$/;

export function validateHashOptions(value: unknown): Required<ConclaveHashOptions> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`${CONCLAVE_HASH_POLICY} config must be an object`);
  }
  const { metadataKey, algorithm = "maglev", ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      `${CONCLAVE_HASH_POLICY} config has unknown field ${JSON.stringify(unknown[0])}`,
    );
  }
  if (
    typeof metadataKey !== "string" ||
    !METADATA_KEY.test(metadataKey) ||
    metadataKey.startsWith("grpc-")
  ) {
    throw new InvalidArgumentError(
      `${CONCLAVE_HASH_POLICY}.metadataKey must be a lowercase gRPC metadata key (0-9 a-z _ . -, not grpc-*), got ${JSON.stringify(metadataKey)}`,
    );
  }
  if (algorithm !== "maglev" && algorithm !== "ring") {
    throw new InvalidArgumentError(
      `${CONCLAVE_HASH_POLICY}.algorithm must be "maglev" or "ring", got ${JSON.stringify(algorithm)}`,
    );
  }
  return { metadataKey, algorithm };
}

/** The parsed `conclave_hash` entry of a service config's `loadBalancingConfig`. */
export class ConclaveHashConfig implements experimental.TypedLoadBalancingConfig {
  readonly metadataKey: string;
  readonly algorithm: HashAlgorithm;

  constructor(options: ConclaveHashOptions) {
    const valid = validateHashOptions(options);
    this.metadataKey = valid.metadataKey;
    this.algorithm = valid.algorithm;
  }

  getLoadBalancerName(): string {
    return CONCLAVE_HASH_POLICY;
  }

  toJsonObject(): object {
    return {
      [CONCLAVE_HASH_POLICY]: { metadataKey: this.metadataKey, algorithm: this.algorithm },
    };
  }

  /** grpc-js calls this with the entry's value; a throw makes grpc-js try the next entry. */
  static createFromJson(value: unknown): ConclaveHashConfig {
    return new ConclaveHashConfig(value as ConclaveHashOptions);
  }
}

/**
 * A service config selecting the hash policy, for the resolver to report or
 * for a channel's `grpc.service_config` option (as JSON).
 */
export function conclaveHashServiceConfig(options: ConclaveHashOptions): ServiceConfig {
  const valid = validateHashOptions(options);
  return { loadBalancingConfig: [{ [CONCLAVE_HASH_POLICY]: valid }], methodConfig: [] };
}
