import { backoffDelayMs, type RandomSource } from "../client/backoff.js";
import { LeaseLostError, LeaseNotFoundError } from "../client/index.js";
import { sleepUnlessAborted } from "../client/sleep.js";
import { InvalidArgumentError } from "../errors.js";
import { RegistryError } from "./errors.js";
import { HEALTH_STATUSES, type HealthStatus, type ServiceInstance } from "./instance.js";
import { writeOps } from "./instance-writes.js";
import { instanceKey, type RegistryLayout } from "./keys.js";
import { writeReplacing } from "./record-store.js";
import type { KeptLease, RegistryClient } from "./registry-client.js";

/** An ephemeral instance held by this process: registered while its lease is kept alive. */
export interface Registration extends AsyncDisposable {
  /** As last written (or to be written once registered again). */
  readonly instance: ServiceInstance;
  /** The lease the instance's keys are attached to now. */
  readonly leaseId: number;
  /** Where the registration stands, as far as this process knows. */
  readonly state: RegistrationState;
  /** How many times the instance registered again with a new lease after losing one. */
  readonly reregistrations: number;
  /**
   * Rewrites the record (and adds or removes the naming copy) on the current
   * lease; while the lease is lost, the status is written on registering again.
   */
  setStatus(status: HealthStatus): Promise<void>;
  /** Deletes the instance's keys by revoking its lease; idempotent. */
  deregister(): Promise<void>;
}

/**
 * `registered`: the keys are on `leaseId`. `reregistering`: the lease was
 * lost; registering again with a new one. `displaced`: another registration
 * of the same id holds the record; after a lost lease this one takes the id
 * once that one is gone. `deregistered`: done.
 */
export type RegistrationState = "registered" | "reregistering" | "displaced" | "deregistered";

/** The registration was deregistered; it writes nothing any more. */
export class RegistrationClosedError extends RegistryError {
  constructor(service: string, id: string) {
    super("REGISTRY_REGISTRATION_CLOSED", `the registration of ${service}/${id} was deregistered`);
  }
}

export interface RegistrationDeps {
  readonly client: RegistryClient;
  readonly layout: RegistryLayout;
  readonly random: RandomSource;
  readonly ttlSeconds: number;
  readonly onReregistered?: (registration: Registration) => void;
  readonly onClose: (registration: Registration) => void;
}

/**
 * Holds a leased registration. When the lease is lost (revoked by someone,
 * or expired while this process could not reach the cluster) it registers
 * again with a new lease, backing off, until deregistered. That
 * re-registration takes the id only if it is free: the old lease is revoked
 * first, so a record still there belongs to a newer registration by another
 * process, which is left alone (this one waits until it is gone). The first
 * registration, like Consul's, is last-writer-wins.
 */
export class LeasedRegistration implements Registration {
  #instance: ServiceInstance;
  #lease: KeptLease;
  /** Whether the record is ours on `#lease` as far as this process knows. */
  #holding = true;
  /** Another registration's record holds the id. */
  #displaced = false;
  #reregistrations = 0;
  readonly #closed = new AbortController();
  /** Writes in order: a status change never lands before an earlier one. */
  #writes: Promise<unknown> = Promise.resolve();
  #deregistering: Promise<void> | undefined;

  private constructor(
    private readonly deps: RegistrationDeps,
    instance: ServiceInstance,
    lease: KeptLease,
  ) {
    this.#instance = instance;
    this.#lease = lease;
    this.#follow(lease);
  }

  /** Grants the lease and writes the instance; the lease is revoked again if the write fails. */
  static async start(
    deps: RegistrationDeps,
    instance: ServiceInstance,
    signal: AbortSignal | undefined,
  ): Promise<LeasedRegistration> {
    const call = signal === undefined ? {} : { signal };
    const lease = await deps.client.lease(deps.ttlSeconds, call);
    try {
      await writeReplacing(deps.client, deps.layout, instance, lease.id, call);
    } catch (error) {
      await lease.revoke().catch(() => {});
      throw error;
    }
    return new LeasedRegistration(deps, instance, lease);
  }

  get instance(): ServiceInstance {
    return this.#instance;
  }

  get leaseId(): number {
    return this.#lease.id;
  }

  get state(): RegistrationState {
    if (this.#closed.signal.aborted) return "deregistered";
    if (this.#holding) return "registered";
    return this.#displaced ? "displaced" : "reregistering";
  }

  get reregistrations(): number {
    return this.#reregistrations;
  }

  async setStatus(status: HealthStatus): Promise<void> {
    if (!HEALTH_STATUSES.includes(status)) {
      throw new InvalidArgumentError(
        `status must be one of ${HEALTH_STATUSES.join(", ")}, got ${JSON.stringify(status)}`,
      );
    }
    if (this.#closed.signal.aborted) {
      throw new RegistrationClosedError(this.#instance.service, this.#instance.id);
    }
    this.#instance = { ...this.#instance, status };
    await this.#serialized(async () => {
      if (!this.#holding || this.#closed.signal.aborted) return;
      const instance = this.#instance;
      const key = instanceKey(this.deps.layout, instance.service, instance.id);
      // Only while the record is still on our lease: a lost lease is the
      // re-registration's to repair, a newer owner's record is not ours.
      const lease = this.#lease;
      const result = await this.deps.client.txn({
        compare: [{ key, target: "lease", value: lease.id }],
        success: writeOps(this.deps.layout, instance, lease.id),
      });
      // Another process registered the id over ours (last writer wins).
      if (!result.succeeded && lease === this.#lease && this.#holding) {
        this.#holding = false;
        this.#displaced = true;
      }
    });
  }

  deregister(): Promise<void> {
    this.#deregistering ??= (async () => {
      this.#closed.abort();
      this.deps.onClose(this);
      await this.#writes.catch(() => {});
      // Revoking deletes the record and the naming copy in one revision.
      try {
        await this.#lease.revoke();
      } catch (error) {
        if (!(error instanceof LeaseNotFoundError)) throw error;
      }
    })();
    return this.#deregistering;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.deregister();
  }

  #serialized<T>(write: () => Promise<T>): Promise<T> {
    const next = this.#writes.then(write, write);
    this.#writes = next.catch(() => {});
    return next;
  }

  #follow(lease: KeptLease): void {
    const onLost = () => {
      if (this.#closed.signal.aborted || !(lease.signal.reason instanceof LeaseLostError)) return;
      this.#holding = false;
      this.#displaced = false;
      void this.#reregister(lease.id);
    };
    if (lease.signal.aborted) onLost();
    else lease.signal.addEventListener("abort", onLost, { once: true });
  }

  async #reregister(lostLeaseId: number): Promise<void> {
    const closed = this.#closed.signal;
    const call = { signal: closed };
    let oldLeaseId: number | undefined = lostLeaseId;
    let lease: KeptLease | undefined;
    for (let attempt = 0; !closed.aborted; attempt++) {
      if (attempt > 0) {
        const maxMs = Math.max(1000, (this.deps.ttlSeconds * 1000) / 2);
        const delayMs = backoffDelayMs(attempt - 1, this.deps.random, { baseMs: 100, maxMs });
        if (!(await sleepUnlessAborted(delayMs, closed))) break;
      }
      try {
        if (oldLeaseId !== undefined) {
          // The lease may be lost only to this process (no keepalive got
          // through): revoke it so the keys left are surely someone else's.
          await this.deps.client.leaseRevoke(oldLeaseId, call).catch((error: unknown) => {
            if (!(error instanceof LeaseNotFoundError)) throw error;
          });
          oldLeaseId = undefined;
        }
        if (lease?.signal.aborted === true) lease = undefined;
        lease ??= await this.deps.client.lease(this.deps.ttlSeconds, call);
        const granted = lease;
        const registered = await this.#serialized(async () => {
          if (closed.aborted) return false;
          const instance = this.#instance;
          const key = instanceKey(this.deps.layout, instance.service, instance.id);
          const result = await this.deps.client.txn(
            {
              compare: [{ key, target: "create", value: 0 }],
              success: writeOps(this.deps.layout, instance, granted.id),
            },
            call,
          );
          if (result.succeeded) {
            this.#lease = granted;
            this.#holding = true;
          }
          this.#displaced = !result.succeeded;
          return result.succeeded;
        });
        if (registered) {
          lease = undefined;
          this.#reregistrations++;
          this.#follow(granted);
          this.deps.onReregistered?.(this);
          return;
        }
      } catch {
        // Unreachable or refused for now: try again after the backoff.
      }
    }
    // Deregistered meanwhile: a lease granted for nothing goes too.
    if (lease !== undefined) await lease.revoke().catch(() => {});
  }
}
