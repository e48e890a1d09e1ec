import { InvalidArgumentError } from "../errors.js";

/**
 * A health check that can be written down: stored in a persistent
 * registration so an elected checker can run it for an instance that cannot
 * check itself, or passed to `register` to be run by the instance. (A custom
 * function check exists only in the registering process and is never stored.)
 */
export type CheckSpec = HttpCheckSpec | TcpCheckSpec | GrpcCheckSpec;

interface CheckTiming {
  /** Between two runs. Default 10000. */
  readonly intervalMs?: number;
  /** One run's budget; a run that takes longer fails. Default 2000. */
  readonly timeoutMs?: number;
  /** Consecutive passes that turn a failing instance passing. Default 1. */
  readonly passThreshold?: number;
  /** Consecutive failures that turn a passing instance critical. Default 3. */
  readonly failThreshold?: number;
}

/** Passes on a 2xx answer to GET `url`; 429 counts as warning, as Consul does. */
export interface HttpCheckSpec extends CheckTiming {
  readonly kind: "http";
  readonly url: string;
}

/** Passes when a TCP connection to host:port opens. */
export interface TcpCheckSpec extends CheckTiming {
  readonly kind: "tcp";
  readonly host: string;
  readonly port: number;
}

/** The gRPC health protocol (`grpc.health.v1.Health/Check`); passes on SERVING. */
export interface GrpcCheckSpec extends CheckTiming {
  readonly kind: "grpc";
  /** host:port */
  readonly target: string;
  /** The service name asked about; "" (default) is the whole server. */
  readonly service?: string;
}

export const CHECK_DEFAULTS = {
  intervalMs: 10_000,
  timeoutMs: 2_000,
  passThreshold: 1,
  failThreshold: 3,
} as const;

const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 24 * 3600 * 1000;
const MAX_THRESHOLD = 100;
const MAX_URL_LENGTH = 2048;

/** Validates a check written by a caller or read from the key space; returns it with defaults filled. */
export function validateCheckSpec(
  value: unknown,
  where = "check",
): Required<CheckTiming> & CheckSpec {
  if (typeof value !== "object" || value === null) {
    throw new InvalidArgumentError(`${where} must be an object`);
  }
  const spec = value as Record<string, unknown>;
  const timing = {
    intervalMs: intIn(
      spec.intervalMs,
      CHECK_DEFAULTS.intervalMs,
      MIN_INTERVAL_MS,
      MAX_INTERVAL_MS,
      `${where}.intervalMs`,
    ),
    timeoutMs: intIn(
      spec.timeoutMs,
      CHECK_DEFAULTS.timeoutMs,
      1,
      MAX_INTERVAL_MS,
      `${where}.timeoutMs`,
    ),
    passThreshold: intIn(
      spec.passThreshold,
      CHECK_DEFAULTS.passThreshold,
      1,
      MAX_THRESHOLD,
      `${where}.passThreshold`,
    ),
    failThreshold: intIn(
      spec.failThreshold,
      CHECK_DEFAULTS.failThreshold,
      1,
      MAX_THRESHOLD,
      `${where}.failThreshold`,
    ),
  };
  switch (spec.kind) {
    case "http": {
      if (typeof spec.url !== "string" || spec.url.length > MAX_URL_LENGTH) {
        throw new InvalidArgumentError(
          `${where}.url must be a string of at most ${MAX_URL_LENGTH} characters`,
        );
      }
      let url: URL;
      try {
        url = new URL(spec.url);
      } catch {
        throw new InvalidArgumentError(`${where}.url is not a URL: ${JSON.stringify(spec.url)}`);
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new InvalidArgumentError(`${where}.url must be http or https, got ${url.protocol}`);
      }
      return { kind: "http", url: spec.url, ...timing };
    }
    case "tcp":
      return {
        kind: "tcp",
        host: hostName(spec.host, `${where}.host`),
        port: portNumber(spec.port, `${where}.port`),
        ...timing,
      };
    case "grpc": {
      if (typeof spec.target !== "string" || !/^[^\s/]{1,253}:\d{1,5}$/.test(spec.target)) {
        throw new InvalidArgumentError(
          `${where}.target must be host:port, got ${JSON.stringify(spec.target)}`,
        );
      }
      const service = spec.service ?? "";
      if (typeof service !== "string" || service.length > 256) {
        throw new InvalidArgumentError(
          `${where}.service must be a string of at most 256 characters`,
        );
      }
      return { kind: "grpc", target: spec.target, service, ...timing };
    }
    default:
      throw new InvalidArgumentError(
        `${where}.kind must be "http", "tcp" or "grpc", got ${JSON.stringify(spec.kind)}`,
      );
  }
}

/** An optional integer option: `fallback` when absent, else within [min, max]. */
export function intIn(
  value: unknown,
  fallback: number,
  min: number,
  max: number,
  name: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      `${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** A DNS name or an IP literal, as an address to connect to. */
export function hostName(value: unknown, name: string): string {
  if (
    typeof value !== "string" ||
    value.length === 0 ||
    value.length > 253 ||
    /[\s/]/.test(value)
  ) {
    throw new InvalidArgumentError(
      `${name} must be a host name or IP address, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function portNumber(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new InvalidArgumentError(
      `${name} must be a port in [1, 65535], got ${JSON.stringify(value)}`,
    );
  }
  return value;
}
