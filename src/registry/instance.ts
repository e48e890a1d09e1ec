import { InvalidArgumentError } from "../errors.js";
import { type CheckSpec, hostName, portNumber, validateCheckSpec } from "./check-spec.js";
import { MalformedRegistrationError } from "./errors.js";

/**
 * Health as Consul names it: `passing` instances are served; `warning` ones
 * are served but flagged; `critical` ones are kept in the registry (so
 * operators see them) and withheld from discovery, DNS and the naming format.
 */
export type HealthStatus = "passing" | "warning" | "critical";

export const HEALTH_STATUSES: readonly HealthStatus[] = ["passing", "warning", "critical"];

/** One registered instance of a service, as stored at its instance key. */
export interface ServiceInstance {
  readonly service: string;
  /** Unique within the service. */
  readonly id: string;
  /** Host name or IP literal clients connect to. */
  readonly address: string;
  readonly port: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** Relative share of traffic for weighted balancers, 1..10000. Default 1. */
  readonly weight: number;
  readonly status: HealthStatus;
  /**
   * A persistent instance is not bound to a lease: it stays registered until
   * deregistered, and an elected checker runs its `checks` and sets `status`.
   * An ephemeral one (the default) lives as long as its registering process
   * keeps its lease alive.
   */
  readonly persistent: boolean;
  /** For persistent instances: what the elected checker runs. */
  readonly checks: readonly CheckSpec[];
}

/** A service's instances at one revision of the key space. */
export interface ServiceSnapshot {
  readonly service: string;
  /** The key space revision this set was read at. */
  readonly revision: number;
  readonly instances: readonly ServiceInstance[];
}

/** Served instances: passing or warning. */
export function isServed(instance: ServiceInstance): boolean {
  return instance.status !== "critical";
}

// A service name is one DNS label so `<service>.service.<domain>` always resolves.
const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const INSTANCE_ID = /^[A-Za-z0-9._:@-]{1,128}$/;
const MAX_METADATA_ENTRIES = 64;
const MAX_METADATA_BYTES = 16 * 1024;
const MAX_CHECKS = 8;
export const MAX_WEIGHT = 10_000;

export function validateServiceName(value: unknown): string {
  if (typeof value !== "string" || !SERVICE_NAME.test(value)) {
    throw new InvalidArgumentError(
      `service name must be one lowercase DNS label (a-z, 0-9, '-', at most 63, not starting or ending with '-'), got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function validateInstanceId(value: unknown): string {
  if (typeof value !== "string" || !INSTANCE_ID.test(value)) {
    throw new InvalidArgumentError(
      `instance id must be 1..128 characters of A-Z a-z 0-9 . _ : @ -, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** What a caller gives to describe an instance; defaults filled by {@link validateInstance}. */
export interface InstanceInput {
  readonly service: string;
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly weight?: number;
  readonly status?: HealthStatus;
  readonly persistent?: boolean;
  readonly checks?: readonly CheckSpec[];
}

export function validateInstance(input: InstanceInput): ServiceInstance {
  if (typeof input !== "object" || input === null)
    throw new InvalidArgumentError("instance must be an object");
  const metadata = input.metadata ?? {};
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw new InvalidArgumentError("metadata must be an object of strings");
  }
  const entries = Object.entries(metadata);
  if (entries.length > MAX_METADATA_ENTRIES) {
    throw new InvalidArgumentError(
      `metadata may hold at most ${MAX_METADATA_ENTRIES} entries, got ${entries.length}`,
    );
  }
  let metadataBytes = 0;
  for (const [key, value] of entries) {
    if (typeof value !== "string") {
      throw new InvalidArgumentError(`metadata.${key} must be a string, got ${typeof value}`);
    }
    metadataBytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (metadataBytes > MAX_METADATA_BYTES) {
    throw new InvalidArgumentError(
      `metadata may hold at most ${MAX_METADATA_BYTES} bytes, got ${metadataBytes}`,
    );
  }
  const weight = input.weight ?? 1;
  if (!Number.isInteger(weight) || weight < 1 || weight > MAX_WEIGHT) {
    throw new InvalidArgumentError(
      `weight must be an integer in [1, ${MAX_WEIGHT}], got ${JSON.stringify(weight)}`,
    );
  }
  const status = input.status ?? "passing";
  if (!HEALTH_STATUSES.includes(status)) {
    throw new InvalidArgumentError(
      `status must be one of ${HEALTH_STATUSES.join(", ")}, got ${JSON.stringify(status)}`,
    );
  }
  const persistent = input.persistent ?? false;
  if (typeof persistent !== "boolean")
    throw new InvalidArgumentError("persistent must be a boolean");
  const checks = input.checks ?? [];
  if (!Array.isArray(checks) || checks.length > MAX_CHECKS) {
    throw new InvalidArgumentError(`checks must be an array of at most ${MAX_CHECKS}`);
  }
  return {
    service: validateServiceName(input.service),
    id: validateInstanceId(input.id),
    address: hostName(input.address, "address"),
    port: portNumber(input.port, "port"),
    metadata: Object.fromEntries(entries),
    weight,
    status,
    persistent,
    checks: checks.map((check, i) => validateCheckSpec(check, `checks[${i}]`)),
  };
}

/** The stored form: versioned JSON, so any language can read it. */
export function encodeInstance(instance: ServiceInstance): string {
  return JSON.stringify({ v: 1, ...instance });
}

/** Reads a stored registration; anything that is not one is a MalformedRegistrationError. */
export function decodeInstance(key: string, value: Uint8Array | string): ServiceInstance {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof value === "string" ? value : Buffer.from(value).toString("utf8"));
  } catch {
    throw new MalformedRegistrationError(key, "not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || (parsed as { v?: unknown }).v !== 1) {
    throw new MalformedRegistrationError(key, "not a version 1 registration");
  }
  try {
    return validateInstance(parsed as InstanceInput);
  } catch (error) {
    throw new MalformedRegistrationError(
      key,
      error instanceof Error ? error.message : String(error),
    );
  }
}
