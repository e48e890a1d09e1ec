import type { RandomSource } from "../client/index.js";
import { InvalidArgumentError } from "../errors.js";
import type { CheckSpec } from "./check-spec.js";
import { type CustomCheck, type ResolvedCheck, validateCheck } from "./checks/check.js";
import { CheckRunner } from "./checks/runner.js";
import {
  type DiscoveryContext,
  type DiscoveryOptions,
  listServices,
  resolveService,
  type ServiceSummary,
  watchService,
} from "./discovery.js";
import { type MalformedRegistrationError, RegistryError } from "./errors.js";
import {
  type HealthStatus,
  type InstanceInput,
  type ServiceInstance,
  type ServiceSnapshot,
  validateInstance,
  validateInstanceId,
  validateServiceName,
} from "./instance.js";
import { type RegistryLayout, validateLayout } from "./keys.js";
import { deleteRecord, writeReplacing } from "./record-store.js";
import { LeasedRegistration, type Registration } from "./registration.js";
import type { RegistryClient } from "./registry-client.js";

export interface RegistryOptions {
  readonly layout?: Partial<RegistryLayout>;
  /** Jitter for re-registration and re-listing backoff; seed it in tests. Default Math.random. */
  readonly random?: RandomSource;
  /** Told about each stored record discovery skipped because it is not a registration. */
  readonly onMalformed?: (error: MalformedRegistrationError) => void;
}

export interface RegisterOptions extends Omit<InstanceInput, "checks"> {
  /**
   * Health checks this process runs for the instance. Until the first run
   * passes the instance is registered `critical` (withheld from discovery),
   * as Consul starts a checked service; then its status follows the worst
   * check, past each check's pass/fail thresholds. Stored kinds (http, tcp,
   * grpc) are also written into the record for operators to see.
   */
  readonly checks?: readonly (CheckSpec | CustomCheck)[];
  /**
   * What a failing check does: `withdraw` (default) marks the instance
   * `critical`, withheld from discovery, DNS and the naming format; `mark`
   * marks it `warning`, still served but flagged.
   */
  readonly whileFailing?: "withdraw" | "mark";
  /**
   * The lease's TTL: the instance disappears this long after its process
   * stops keeping it alive. Default 10000, at least 2000; rounded up to
   * whole seconds (the server's lease unit).
   */
  readonly ttlMs?: number;
  /** Cancels the registering call (not the registration once made). */
  readonly signal?: AbortSignal;
  /** Called each time the instance registered again with a new lease after losing one. */
  readonly onReregistered?: (registration: Registration) => void;
}

export const DEFAULT_TTL_MS = 10_000;
/** A checked instance is not served before its first passing run. */
const STARTING_STATUS: HealthStatus = "critical";
export const MIN_TTL_MS = 2_000;
const MAX_TTL_MS = 24 * 3600 * 1000;

/** Whole seconds of lease for a TTL in milliseconds, rounded up. */
export function leaseTtlSeconds(ttlMs: number): number {
  if (!Number.isInteger(ttlMs) || ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS) {
    throw new InvalidArgumentError(
      `ttlMs must be an integer in [${MIN_TTL_MS}, ${MAX_TTL_MS}], got ${JSON.stringify(ttlMs)}`,
    );
  }
  return Math.ceil(ttlMs / 1000);
}

/**
 * Service registration and discovery on a Conclave (or etcd-shaped) key
 * space. Ephemeral instances live on a kept-alive lease; persistent ones
 * stay until deregistered. Disposing deregisters every instance this
 * registry registered and ends its watches.
 */
export class Registry implements AsyncDisposable {
  readonly layout: RegistryLayout;
  readonly #client: RegistryClient;
  readonly #random: RandomSource;
  readonly #registrations = new Set<Registration>();
  readonly #closed = new AbortController();
  readonly #discovery: DiscoveryContext;
  #malformedRecords = 0;

  constructor(client: RegistryClient, options: RegistryOptions = {}) {
    this.#client = client;
    this.layout = validateLayout(options.layout);
    this.#random = options.random ?? Math.random;
    this.#discovery = {
      client,
      layout: this.layout,
      random: this.#random,
      onMalformed: (error) => {
        this.#malformedRecords++;
        options.onMalformed?.(error);
      },
    };
  }

  /** Records skipped by discovery so far because they were not registrations. */
  get malformedRecords(): number {
    return this.#malformedRecords;
  }

  /** Registers an ephemeral instance on a lease this process keeps alive. */
  async register(options: RegisterOptions): Promise<Registration> {
    const {
      ttlMs = DEFAULT_TTL_MS,
      signal,
      onReregistered,
      checks = [],
      whileFailing = "withdraw",
      ...input
    } = options;
    if ((input as InstanceInput).persistent === true) {
      throw new InvalidArgumentError(
        "register() is for ephemeral instances; use registerPersistent()",
      );
    }
    if (whileFailing !== "withdraw" && whileFailing !== "mark") {
      throw new InvalidArgumentError(
        `whileFailing must be "withdraw" or "mark", got ${JSON.stringify(whileFailing)}`,
      );
    }
    if (!Array.isArray(checks)) throw new InvalidArgumentError("checks must be an array");
    const resolved = checks.map((check, i) => validateCheck(check, `checks[${i}]`));
    const shown = (status: HealthStatus): HealthStatus =>
      whileFailing === "mark" && status === "critical" ? "warning" : status;
    const instance = validateInstance({
      ...input,
      persistent: false,
      checks: resolved.filter(
        (check): check is ResolvedCheck & CheckSpec => check.kind !== "custom",
      ),
      ...(resolved.length > 0 && { status: shown(STARTING_STATUS) }),
    });
    const ttlSeconds = leaseTtlSeconds(ttlMs);
    this.#assertOpen();
    let runner: CheckRunner | undefined;
    const registration = await LeasedRegistration.start(
      {
        client: this.#client,
        layout: this.layout,
        random: this.#random,
        ttlSeconds,
        ...(onReregistered !== undefined && { onReregistered }),
        onClose: (r) => {
          this.#registrations.delete(r);
          void runner?.[Symbol.asyncDispose]();
        },
      },
      instance,
      signal,
    );
    if (resolved.length > 0) {
      runner = new CheckRunner(
        resolved,
        (status) => {
          // A failed write is repaired by the next change or re-registration.
          registration.setStatus(shown(status)).catch(() => {});
        },
        { initialStatus: STARTING_STATUS },
      );
    }
    this.#registrations.add(registration);
    return registration;
  }

  /**
   * Registers an instance with no lease: it stays until deregistered, and the
   * elected health checker runs its `checks`. Replaces any record of the id.
   */
  async registerPersistent(
    input: InstanceInput,
    options: { signal?: AbortSignal } = {},
  ): Promise<ServiceInstance> {
    const instance = validateInstance({ ...input, persistent: true });
    this.#assertOpen();
    await writeReplacing(this.#client, this.layout, instance, 0, callOf(options.signal));
    return instance;
  }

  /**
   * Deletes an instance's record and naming copy, whoever registered it;
   * false when it was not registered. (A process holding that instance on a
   * lease keeps its lease and does not register it again.)
   */
  async deregister(
    service: string,
    id: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<boolean> {
    validateServiceName(service);
    validateInstanceId(id);
    return deleteRecord(this.#client, this.layout, service, id, callOf(options.signal));
  }

  /** The service's instances now, from one linearizable read. */
  resolve(service: string, options: DiscoveryOptions = {}): Promise<ServiceSnapshot> {
    validateServiceName(service);
    return resolveService(this.#discovery, service, options);
  }

  /**
   * The service's instances now, then again after every change to them,
   * until `signal` aborts, the loop stops, or the registry is disposed.
   */
  watch(service: string, options: DiscoveryOptions = {}): AsyncIterable<ServiceSnapshot> {
    validateServiceName(service);
    const signal =
      options.signal === undefined
        ? this.#closed.signal
        : AbortSignal.any([options.signal, this.#closed.signal]);
    return watchService(this.#discovery, service, { ...options, signal });
  }

  /** Every service with at least one record, by name, with its instance counts. */
  services(options: { signal?: AbortSignal } = {}): Promise<ServiceSummary[]> {
    return listServices(this.#discovery, options);
  }

  /** Deregisters every instance this registry registered and ends its watches. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed.abort();
    const results = await Promise.allSettled([...this.#registrations].map((r) => r.deregister()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  #assertOpen(): void {
    if (this.#closed.signal.aborted) throw new RegistryClosedError();
  }
}

/** The registry was disposed: it registers nothing more. */
export class RegistryClosedError extends RegistryError {
  constructor() {
    super("REGISTRY_CLOSED", "the registry was disposed");
  }
}

function callOf(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}
