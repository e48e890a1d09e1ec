import { InvalidArgumentError } from "../../errors.js";
import { type CheckSpec, validateCheckSpec } from "../check-spec.js";
import type { HealthStatus } from "../instance.js";

/** How often and how strictly a check runs; defaults as for stored checks (CHECK_DEFAULTS). */
export interface CheckTimingOptions {
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  readonly passThreshold?: number;
  readonly failThreshold?: number;
}

/**
 * A check that exists only in the process that runs it: any function. It
 * resolves true (passing), false (critical) or a status; a throw, or not
 * settling within timeoutMs, counts as critical. `signal` aborts on timeout
 * and when the runner is disposed.
 */
export interface CustomCheck extends CheckTimingOptions {
  readonly kind: "custom";
  /** Names the check in results and errors. */
  readonly name: string;
  check(signal: AbortSignal): Promise<boolean | HealthStatus>;
}

/** One run's verdict, with a short human-readable reason. */
export interface CheckResult {
  readonly status: HealthStatus;
  /** Why, in a few words ("HTTP 503", "connection refused"); at most a few hundred characters. */
  readonly output: string;
}

/** A check and its timing, defaults filled in. */
export type ResolvedCheck = (CheckSpec | CustomCheck) & Required<CheckTimingOptions>;

/**
 * Something that runs one kind of check again and again. Runs never overlap;
 * `close` frees what the probe keeps between runs (a gRPC channel).
 */
export interface Probe {
  run(signal: AbortSignal): Promise<CheckResult>;
  close(): void;
}

const MAX_NAME_LENGTH = 128;

/** Validates a check given by a caller; returns it with defaults filled. */
export function validateCheck(value: unknown, where = "check"): ResolvedCheck {
  if (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "custom"
  ) {
    return validateCustomCheck(value as CustomCheck, where);
  }
  return validateCheckSpec(value, where);
}

function validateCustomCheck(check: CustomCheck, where: string): ResolvedCheck {
  if (typeof check.check !== "function") {
    throw new InvalidArgumentError(`${where}.check must be a function (signal) => Promise`);
  }
  if (
    typeof check.name !== "string" ||
    check.name.length === 0 ||
    check.name.length > MAX_NAME_LENGTH
  ) {
    throw new InvalidArgumentError(
      `${where}.name must be a string of 1 to ${MAX_NAME_LENGTH} characters`,
    );
  }
  // The timing rules are the stored kinds' rules: borrow their validation.
  const timing = validateCheckSpec(
    {
      kind: "tcp",
      host: "localhost",
      port: 1,
      intervalMs: check.intervalMs,
      timeoutMs: check.timeoutMs,
      passThreshold: check.passThreshold,
      failThreshold: check.failThreshold,
    },
    where,
  );
  return {
    kind: "custom",
    name: check.name,
    check: check.check,
    intervalMs: timing.intervalMs,
    timeoutMs: timing.timeoutMs,
    passThreshold: timing.passThreshold,
    failThreshold: timing.failThreshold,
  };
}

/** A check's name in results: its target, or a custom check's own name. */
export function checkLabel(check: CheckSpec | CustomCheck): string {
  switch (check.kind) {
    case "http":
      return `http ${check.url}`;
    case "tcp":
      return `tcp ${check.host}:${check.port}`;
    case "grpc":
      return `grpc ${check.target}${check.service ? `/${check.service}` : ""}`;
    case "custom":
      return `custom ${check.name}`;
  }
}

/** Short text from any thrown value, for a result's output. */
export function describeError(error: unknown): string {
  const text =
    error instanceof Error
      ? `${(error.cause as { code?: string } | undefined)?.code ?? ""} ${error.message}`.trim()
      : String(error);
  return text.length > MAX_OUTPUT_LENGTH ? `${text.slice(0, MAX_OUTPUT_LENGTH)}…` : text;
}

export const MAX_OUTPUT_LENGTH = 256;
