import { InvalidArgumentError } from "../errors.js";
import { MAX_TIMER_DELAY_MS } from "./clock.js";
import type { AcquireOptions } from "./types.js";

/** Longest lock name, in UTF-16 code units. Keeps keys, rows and znode paths small on every backend. */
export const MAX_LOCK_NAME_LENGTH = 256;
/** Shortest lease: below this the safety margin and one round trip leave nothing to hold. */
export const MIN_TTL_MS = 10;
/** Longest lease: the largest delay a Node timer honours. */
export const MAX_TTL_MS = MAX_TIMER_DELAY_MS;
/** Most permits a semaphore may have. */
export const MAX_PERMITS = 1_000_000;
/** Longest value a leader may proclaim, in UTF-16 code units. */
export const MAX_LEADER_VALUE_LENGTH = 65_536;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is rejected
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
/** A UTF-16 surrogate without its partner: not encodable as UTF-8, so no backend could store it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function validateLockName(name: unknown): string {
  if (typeof name !== "string") {
    throw new InvalidArgumentError(`lock name must be a string, got ${describe(name)}`);
  }
  if (name.length === 0) throw new InvalidArgumentError("lock name must not be empty");
  if (name.length > MAX_LOCK_NAME_LENGTH) {
    throw new InvalidArgumentError(
      `lock name is ${name.length} characters long; the limit is ${MAX_LOCK_NAME_LENGTH}`,
    );
  }
  if (CONTROL_CHARACTER.test(name)) {
    throw new InvalidArgumentError(
      `lock name ${JSON.stringify(name)} contains a control character`,
    );
  }
  if (LONE_SURROGATE.test(name)) {
    throw new InvalidArgumentError(`lock name ${JSON.stringify(name)} is not well-formed Unicode`);
  }
  return name;
}

export function validateTtlMs(ttlMs: unknown, what = "ttlMs"): number {
  if (typeof ttlMs !== "number" || !Number.isInteger(ttlMs)) {
    throw new InvalidArgumentError(
      `${what} must be an integer number of ms, got ${describe(ttlMs)}`,
    );
  }
  if (ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS) {
    throw new InvalidArgumentError(
      `${what} must be between ${MIN_TTL_MS} and ${MAX_TTL_MS} ms, got ${ttlMs}`,
    );
  }
  return ttlMs;
}

export function validateWaitMs(waitMs: unknown): number {
  if (typeof waitMs !== "number" || Number.isNaN(waitMs)) {
    throw new InvalidArgumentError(`waitMs must be a number of ms, got ${describe(waitMs)}`);
  }
  if (waitMs < 0) throw new InvalidArgumentError(`waitMs must not be negative, got ${waitMs}`);
  return waitMs;
}

export function validatePermits(permits: unknown): number {
  if (typeof permits !== "number" || !Number.isInteger(permits)) {
    throw new InvalidArgumentError(`permits must be an integer, got ${describe(permits)}`);
  }
  if (permits < 1 || permits > MAX_PERMITS) {
    throw new InvalidArgumentError(`permits must be between 1 and ${MAX_PERMITS}, got ${permits}`);
  }
  return permits;
}

export function validateLeaderValue(value: unknown): string {
  if (typeof value !== "string") {
    throw new InvalidArgumentError(`leader value must be a string, got ${describe(value)}`);
  }
  if (value.length > MAX_LEADER_VALUE_LENGTH) {
    throw new InvalidArgumentError(
      `leader value is ${value.length} characters long; the limit is ${MAX_LEADER_VALUE_LENGTH}`,
    );
  }
  if (LONE_SURROGATE.test(value)) {
    throw new InvalidArgumentError("leader value is not well-formed Unicode");
  }
  return value;
}

export function validateSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(`signal must be an AbortSignal, got ${describe(signal)}`);
  }
  return signal;
}

export interface ValidAcquireOptions {
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly signal: AbortSignal | undefined;
  readonly autoRenew: boolean;
  readonly onQueued: (() => void) | undefined;
}

/** Checks acquire options, filling in defaults; throws InvalidArgumentError naming the bad field. */
export function validateAcquireOptions(
  options: AcquireOptions | undefined,
  defaultTtlMs: number,
  defaultWaitMs: number,
): ValidAcquireOptions {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new InvalidArgumentError(`acquire options must be an object, got ${describe(options)}`);
  }
  const autoRenew = options?.autoRenew ?? true;
  if (typeof autoRenew !== "boolean") {
    throw new InvalidArgumentError(`autoRenew must be a boolean, got ${describe(autoRenew)}`);
  }
  const onQueued = options?.onQueued;
  if (onQueued !== undefined && typeof onQueued !== "function") {
    throw new InvalidArgumentError(`onQueued must be a function, got ${describe(onQueued)}`);
  }
  return {
    ttlMs: validateTtlMs(options?.ttlMs ?? defaultTtlMs),
    waitMs: validateWaitMs(options?.waitMs ?? defaultWaitMs),
    signal: validateSignal(options?.signal),
    autoRenew,
    onQueued,
  };
}

/** A backend option that must be a positive integer (a timeout, an interval). */
export function positiveInteger(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new InvalidArgumentError(`${what} must be a positive integer, got ${describe(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40));
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return String(value);
  }
  return value === null ? "null" : typeof value;
}
