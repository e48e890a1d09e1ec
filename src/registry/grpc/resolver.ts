import {
  type ChannelOptions,
  experimental,
  Metadata,
  type ServiceConfig,
  status,
} from "@grpc/grpc-js";
import { InvalidArgumentError } from "../../errors.js";
import { type ServiceSnapshot, validateServiceName } from "../instance.js";
import { INSTANCES_ATTRIBUTE, resolveEndpoints } from "./endpoints.js";
import { registerConclaveHashPolicy } from "./hash-balancer.js";
import { type ConclaveHashOptions, conclaveHashServiceConfig } from "./hash-config.js";

/** The URI scheme the resolver answers: `conclave:///<service>`. */
export const CONCLAVE_SCHEME = "conclave";

/**
 * Where a resolver gets a service's instances: the current set first, then a
 * new snapshot after every change, until `signal` aborts. `Registry.watch`
 * fits: `(service, signal) => registry.watch(service, { signal })`.
 */
export type SnapshotSource = (
  service: string,
  signal: AbortSignal,
) => AsyncIterable<ServiceSnapshot>;

export interface ConclaveResolverOptions {
  readonly snapshots: SnapshotSource;
  /**
   * The URI authority this source answers: `conclave://<authority>/<service>`.
   * Default "" (`conclave:///<service>`). Several sources (say, two clusters)
   * can be registered under different authorities.
   */
  readonly authority?: string;
  /**
   * When given, the resolver reports a service config selecting the
   * `conclave_hash` policy with these settings; otherwise it reports none and
   * the channel's own `grpc.service_config` (or pick_first) applies.
   */
  readonly hash?: ConclaveHashOptions;
  /** First delay before a failed or ended watch is opened again; doubles per failure. Default 100. */
  readonly retryInitialMs?: number;
  /** Longest delay between attempts to open the watch. Default 5000. */
  readonly retryMaxMs?: number;
}

interface SourceEntry {
  readonly snapshots: SnapshotSource;
  readonly serviceConfig: ServiceConfig | null;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
}

/** Sources by authority. grpc-js keeps one resolver class per scheme for the whole process. */
const sources = new Map<string, SourceEntry>();

/** A registered source; disposing it (or `unregister`) makes new resolutions of its authority fail. */
export interface ConclaveResolverRegistration extends Disposable {
  readonly authority: string;
  unregister(): void;
}

// An authority is a host-like name: no '/', '?', '#' or '@'.
const AUTHORITY = /^[A-Za-z0-9._:-]{0,253}$/;

function positiveMs(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${name} must be a whole number of ms >= 1, got ${value}`);
  }
  return value;
}

/**
 * Registers the `conclave` scheme with grpc-js (and the `conclave_hash`
 * policy), serving `conclave://<authority>/<service>` from `snapshots`.
 */
export function registerConclaveResolver(
  options: ConclaveResolverOptions,
): ConclaveResolverRegistration {
  if (typeof options?.snapshots !== "function") {
    throw new InvalidArgumentError(
      "snapshots must be a function (service, signal) => AsyncIterable",
    );
  }
  const authority = options.authority ?? "";
  if (typeof authority !== "string" || !AUTHORITY.test(authority)) {
    throw new InvalidArgumentError(
      `authority must be a host name (A-Z a-z 0-9 . _ : -), got ${JSON.stringify(authority)}`,
    );
  }
  if (sources.has(authority)) {
    throw new InvalidArgumentError(
      `a snapshot source is already registered for ${CONCLAVE_SCHEME}://${authority}/`,
    );
  }
  const retryInitialMs = positiveMs(options.retryInitialMs, 100, "retryInitialMs");
  const retryMaxMs = positiveMs(options.retryMaxMs, 5000, "retryMaxMs");
  const entry: SourceEntry = {
    snapshots: options.snapshots,
    serviceConfig: options.hash === undefined ? null : conclaveHashServiceConfig(options.hash),
    retryInitialMs,
    retryMaxMs: Math.max(retryInitialMs, retryMaxMs),
  };
  registerConclaveHashPolicy();
  experimental.registerResolver(CONCLAVE_SCHEME, ConclaveResolver);
  sources.set(authority, entry);
  const unregister = (): void => {
    if (sources.get(authority) === entry) sources.delete(authority);
  };
  return { authority, unregister, [Symbol.dispose]: unregister };
}

function serviceOf(target: experimental.GrpcUri): string {
  // grpc-js gives the path without its leading '/'.
  return validateServiceName(target.path);
}

function unavailable(details: string): experimental.StatusOr<experimental.Endpoint[]> {
  return experimental.statusOrFromError({
    code: status.UNAVAILABLE,
    details,
    metadata: new Metadata(),
  });
}

/**
 * Resolves `conclave://<authority>/<service>` by watching the service:
 * every snapshot is reported as the served instances' addresses (an empty
 * list when none is served, which pick_first, round_robin and conclave_hash
 * all turn into UNAVAILABLE calls). A watch that fails or ends is reported
 * as UNAVAILABLE (policies keep the endpoints they have) and reopened after
 * a backoff. `destroy` aborts the watch.
 */
export class ConclaveResolver implements experimental.Resolver {
  private readonly service: string;
  private readonly authority: string;
  private watch: AbortController | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs = 0;
  /** The last result reported and whether grpc-js accepted it. */
  private last: { snapshot: ServiceSnapshot; accepted: boolean } | null = null;

  constructor(
    target: experimental.GrpcUri,
    private readonly listener: experimental.ResolverListener,
    _options: ChannelOptions,
  ) {
    this.service = serviceOf(target);
    this.authority = target.authority ?? "";
  }

  static getDefaultAuthority(target: experimental.GrpcUri): string {
    const service = serviceOf(target);
    if (!sources.has(target.authority ?? "")) {
      throw new InvalidArgumentError(
        `no snapshot source is registered for ${CONCLAVE_SCHEME}://${target.authority ?? ""}/ (call registerConclaveResolver first)`,
      );
    }
    return service;
  }

  updateResolution(): void {
    if (this.watch === null && this.retryTimer === null) {
      this.startWatch();
      return;
    }
    // The watch reports every change by itself; only a rejected result is worth repeating.
    const last = this.last;
    if (last !== null && !last.accepted && this.watch !== null) {
      const watch = this.watch;
      queueMicrotask(() => {
        if (this.watch === watch && this.last === last) this.report(last.snapshot);
      });
    }
  }

  destroy(): void {
    this.watch?.abort();
    this.watch = null;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryDelayMs = 0;
    this.last = null;
  }

  private startWatch(): void {
    const entry = sources.get(this.authority);
    const controller = new AbortController();
    this.watch = controller;
    if (entry === undefined) {
      queueMicrotask(() => {
        if (this.watch !== controller) return;
        this.watch = null;
        this.fail(`no snapshot source is registered for ${CONCLAVE_SCHEME}://${this.authority}/`);
      });
      return;
    }
    void this.runWatch(entry, controller);
  }

  private async runWatch(entry: SourceEntry, controller: AbortController): Promise<void> {
    const { signal } = controller;
    let reason: string;
    try {
      // Awaited first so a synchronous throw of the source is reported asynchronously too.
      await Promise.resolve();
      for await (const snapshot of entry.snapshots(this.service, signal)) {
        if (signal.aborted) return;
        this.retryDelayMs = 0;
        this.report(snapshot);
      }
      if (signal.aborted) return;
      reason = "the watch ended";
    } catch (error) {
      if (signal.aborted) return;
      reason = error instanceof Error ? error.message : String(error);
    }
    this.watch = null;
    this.fail(`watching service ${JSON.stringify(this.service)} failed: ${reason}`);
    this.retryDelayMs =
      this.retryDelayMs === 0
        ? entry.retryInitialMs
        : Math.min(this.retryDelayMs * 2, entry.retryMaxMs);
    const timer = setTimeout(() => {
      if (this.retryTimer !== timer) return;
      this.retryTimer = null;
      this.startWatch();
    }, this.retryDelayMs);
    timer.unref();
    this.retryTimer = timer;
  }

  private report(snapshot: ServiceSnapshot): void {
    if (snapshot.service !== this.service) {
      this.fail(
        `the snapshot source answered service ${JSON.stringify(snapshot.service)} for ${JSON.stringify(this.service)}`,
      );
      return;
    }
    const { endpoints, instances } = resolveEndpoints(snapshot);
    const note =
      endpoints.length === 0
        ? `service ${JSON.stringify(this.service)} has no served instance at revision ${snapshot.revision}`
        : `service ${JSON.stringify(this.service)} at revision ${snapshot.revision}`;
    const accepted = this.listener(
      experimental.statusOrFromValue(endpoints),
      { [INSTANCES_ATTRIBUTE]: instances },
      this.serviceConfig(),
      note,
    );
    this.last = { snapshot, accepted };
  }

  /**
   * Failures carry the same service config as results: with none, grpc-js
   * would fall back to the channel's default policy and drop the hash
   * policy's connections along with its endpoints.
   */
  private fail(details: string): void {
    this.listener(unavailable(details), {}, this.serviceConfig(), details);
  }

  private serviceConfig(): experimental.StatusOr<ServiceConfig> | null {
    const config = sources.get(this.authority)?.serviceConfig ?? null;
    return config === null ? null : experimental.statusOrFromValue(config);
  }
}
