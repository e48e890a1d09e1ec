import { InvalidArgumentError } from "../errors.js";
import {
  type Balancer,
  type BalancerKind,
  type BalancerOptions,
  createBalancer,
  followSnapshots,
} from "./balancers/index.js";
import { intIn } from "./check-spec.js";
import { NoInstanceError, RegistryError } from "./errors.js";
import type { ServiceSnapshot } from "./instance.js";
import { instanceAddr } from "./keys.js";

/** Methods a server must be able to receive twice with the effect of once (RFC 9110, 9.2.2). */
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
/** Answers that mean "this instance could not serve it; another may". */
const RETRY_STATUSES = new Set([502, 503]);
/**
 * Error codes of a connection that never opened: nothing was sent, so any
 * request may go to another instance.
 */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
]);

export const DEFAULT_SERVICE_FETCH_RETRIES = 2;
export const MAX_SERVICE_FETCH_RETRIES = 10;
export const DEFAULT_SERVICE_FETCH_TIMEOUT_MS = 30_000;

export interface ServiceFetchOptions {
  /** A stream of the service's instances (such as `registry.watch(service)`) to follow. */
  readonly snapshots?: AsyncIterable<ServiceSnapshot>;
  /** Or a balancer kept up to date by the caller. Give exactly one of the two. */
  readonly balancer?: Balancer;
  /** With `snapshots`: the balancer to build (default "p2c"). */
  readonly kind?: BalancerKind;
  /** With `snapshots`: options for that balancer. */
  readonly balancerOptions?: BalancerOptions;
  /** Named in errors; learnt from the snapshots when omitted. */
  readonly service?: string;
  /** Further instances to try after a failed attempt (0..10, default 2). */
  readonly retries?: number;
  /** Budget of one attempt, from sending to the end of the response body (default 30000). */
  readonly timeoutMs?: number;
  /**
   * Also retry non-idempotent requests (POST, PATCH) after they may have
   * reached a server. Default false: such a request is retried only when its
   * connection never opened. A request can override with `init.idempotent`.
   */
  readonly retryNonIdempotent?: boolean;
  /** Default "http". */
  readonly scheme?: "http" | "https";
  /** Stops following the snapshots (as does disposing the fetcher). */
  readonly signal?: AbortSignal;
  /**
   * Called if the snapshot stream fails after its first snapshot; requests
   * then keep going to the last set seen. (A failure before it rejects `ready`
   * and every request waiting on it.)
   */
  readonly onStreamError?: (error: unknown) => void;
}

export interface ServiceFetchInit extends RequestInit {
  /** The key hash balancers (ring, maglev, bounded) place the request by. */
  readonly hashKey?: string;
  /** Whether this request may be sent twice; defaults from its method. */
  readonly idempotent?: boolean;
}

/** A `fetch` for one service: `(path, init)` picks an instance and retries on the next. */
export interface ServiceFetch extends AsyncDisposable {
  (path: string, init?: ServiceFetchInit): Promise<Response>;
  readonly balancer: Balancer;
  /** Resolves once the first snapshot is applied (at once with a caller's balancer). */
  ready(signal?: AbortSignal): Promise<void>;
  /** Stops following the snapshots. */
  close(): Promise<void>;
}

/** One attempt of a request that failed. */
export interface FailedAttempt {
  readonly instanceId: string;
  readonly url: string;
  /** The error, or the status of a 502/503 answer. */
  readonly failure: unknown;
}

/** A request failed on every instance it was allowed to try. `cause` is the last failure. */
export class ServiceRequestError extends RegistryError {
  readonly service: string;
  readonly attempts: readonly FailedAttempt[];
  constructor(service: string, attempts: readonly FailedAttempt[], reason: string) {
    const last = attempts.at(-1)?.failure;
    super(
      "REGISTRY_REQUEST_FAILED",
      `request to service ${JSON.stringify(service)} failed after ${attempts.length} attempt(s): ${reason}`,
      { cause: last },
    );
    this.service = service;
    this.attempts = attempts;
  }
}

/**
 * Builds a fetch for one service over Node's global fetch. Each call picks a
 * served instance, sends `<scheme>://<address>:<port><path>`, and on failure
 * tries another instance (never one already tried), at most `retries` more:
 *
 * - a connection that never opened: always retried (nothing was sent);
 * - any other failure or timeout, or a 502/503 answer: retried only for
 *   idempotent requests, since the server may have acted on it;
 * - a streamed body cannot be sent twice and is never retried.
 *
 * When every instance was tried, the last 502/503 answer is returned as is;
 * failures raise ServiceRequestError, an empty set NoInstanceError. A pick
 * counts as in flight (for p2c) until the response's headers arrive.
 */
export function createServiceFetch(options: ServiceFetchOptions): ServiceFetch {
  const settings = validate(options);
  const stop = new AbortController();
  const stopSignal =
    options.signal === undefined ? stop.signal : AbortSignal.any([stop.signal, options.signal]);
  let service = options.service ?? "";
  let balancer: Balancer;
  let ready: Promise<void>;
  let following: Promise<void> = Promise.resolve();
  if (options.balancer !== undefined) {
    balancer = options.balancer;
    ready = Promise.resolve();
  } else {
    balancer = createBalancer(options.kind ?? "p2c", {
      ...options.balancerOptions,
      ...(options.service === undefined ? {} : { service: options.service }),
    });
    let seenFirst = false;
    let firstApplied!: () => void;
    let firstFailed!: (error: unknown) => void;
    ready = new Promise<void>((resolve, reject) => {
      firstApplied = resolve;
      firstFailed = reject;
    });
    ready.catch(() => {});
    following = followSnapshots(balancer, options.snapshots!, stopSignal, {
      onUpdate: (_report, snapshot) => {
        if (service === "") service = snapshot.service;
        seenFirst = true;
        firstApplied();
      },
    }).then(
      // A stream that ends before its first snapshot leaves nothing to pick from.
      () => firstFailed(new NoInstanceError(service, "the instance stream ended")),
      (error: unknown) => {
        if (seenFirst) options.onStreamError?.(error);
        firstFailed(error);
      },
    );
  }

  const serviceName = (): string => service || (balancer.instances()[0]?.service ?? "");

  const waitReady = (signal: AbortSignal | undefined): Promise<void> => {
    if (signal === undefined) return ready;
    signal.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      ready.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  };

  const serviceFetch = async (path: string, init: ServiceFetchInit = {}): Promise<Response> => {
    if (typeof path !== "string" || !path.startsWith("/")) {
      throw new InvalidArgumentError(`path must start with '/', got ${JSON.stringify(path)}`);
    }
    const { hashKey, idempotent, signal: callerSignal, ...request } = init;
    const method = (request.method ?? "GET").toUpperCase();
    const repeatable = idempotent ?? (IDEMPOTENT_METHODS.has(method) || settings.retryAll);
    const body: unknown = request.body;
    const replayable = !(
      body instanceof ReadableStream ||
      (typeof body === "object" && body !== null && Symbol.asyncIterator in body)
    );
    await waitReady(callerSignal ?? undefined);
    const attempts: FailedAttempt[] = [];
    const tried: string[] = [];
    let held: Response | undefined;
    for (;;) {
      let picked: ReturnType<Balancer["pick"]>;
      try {
        picked = balancer.pick({
          ...(hashKey === undefined ? {} : { key: hashKey }),
          exclude: tried,
        });
      } catch (error) {
        if (tried.length === 0 || !(error instanceof NoInstanceError)) throw error;
        if (held !== undefined) return held;
        throw new ServiceRequestError(serviceName(), attempts, "no untried instance left");
      }
      // A 502/503 answer is kept until another instance is there to try.
      await held?.body?.cancel().catch(() => {});
      held = undefined;
      const { instance } = picked;
      tried.push(instance.id);
      const url = `${settings.scheme}://${instanceAddr(instance)}${path}`;
      const signals = [AbortSignal.timeout(settings.timeoutMs)];
      if (callerSignal) signals.push(callerSignal);
      let response: Response;
      try {
        response = await fetch(url, { ...request, method, signal: AbortSignal.any(signals) });
      } catch (error) {
        if (callerSignal?.aborted) throw callerSignal.reason;
        attempts.push({ instanceId: instance.id, url, failure: error });
        const notSent = neverSent(error);
        const retry = replayable && (notSent || repeatable) && attempts.length <= settings.retries;
        if (!retry) {
          throw new ServiceRequestError(
            serviceName(),
            attempts,
            whyNotRetried(error, notSent, method, replayable, repeatable),
          );
        }
        continue;
      } finally {
        picked.release();
      }
      const retry =
        RETRY_STATUSES.has(response.status) &&
        repeatable &&
        replayable &&
        attempts.length < settings.retries;
      if (!retry) return response;
      attempts.push({ instanceId: instance.id, url, failure: response.status });
      held = response;
    }
  };

  const close = async (): Promise<void> => {
    stop.abort();
    await following;
  };
  return Object.assign(serviceFetch, {
    balancer,
    ready: waitReady,
    close,
    [Symbol.asyncDispose]: close,
  });
}

function whyNotRetried(
  error: unknown,
  notSent: boolean,
  method: string,
  replayable: boolean,
  repeatable: boolean,
): string {
  const what = describe(error);
  if (!replayable) return `${what} (a streamed body is not sent twice)`;
  if (!notSent && !repeatable) {
    return `${what} (not retried: the ${method} request may have reached the server)`;
  }
  return `${what} (no retries left)`;
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } })?.cause;
  if (typeof cause?.code === "string") return `${cause.code}: ${String(cause.message)}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Whether a fetch error shows the connection never opened, so nothing reached a server. */
export function neverSent(error: unknown): boolean {
  const cause = (error as { cause?: unknown })?.cause;
  return isNotSent(cause);
}

function isNotSent(cause: unknown): boolean {
  if (typeof cause !== "object" || cause === null) return false;
  const { code, errors } = cause as { code?: unknown; errors?: unknown };
  // Trying each address of a name fails with an AggregateError of connect errors.
  if (Array.isArray(errors) && errors.length > 0) return errors.every(isNotSent);
  return typeof code === "string" && NOT_SENT_CODES.has(code);
}

function validate(options: ServiceFetchOptions) {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError("createServiceFetch needs options");
  }
  if ((options.snapshots === undefined) === (options.balancer === undefined)) {
    throw new InvalidArgumentError("give exactly one of snapshots and balancer");
  }
  if (options.balancer !== undefined && options.kind !== undefined) {
    throw new InvalidArgumentError("kind applies only with snapshots");
  }
  const scheme = options.scheme ?? "http";
  if (scheme !== "http" && scheme !== "https") {
    throw new InvalidArgumentError(
      `scheme must be "http" or "https", got ${JSON.stringify(scheme)}`,
    );
  }
  return {
    retries: intIn(
      options.retries,
      DEFAULT_SERVICE_FETCH_RETRIES,
      0,
      MAX_SERVICE_FETCH_RETRIES,
      "retries",
    ),
    timeoutMs: intIn(
      options.timeoutMs,
      DEFAULT_SERVICE_FETCH_TIMEOUT_MS,
      1,
      3_600_000,
      "timeoutMs",
    ),
    retryAll: options.retryNonIdempotent ?? false,
    scheme,
  };
}
