import { type Clock, systemClock } from "../../clock.js";
import { InvalidArgumentError } from "../../errors.js";
import type { CheckSpec } from "../check-spec.js";
import { RegistryError } from "../errors.js";
import { HEALTH_STATUSES, type HealthStatus } from "../instance.js";
import {
  type CheckResult,
  type CustomCheck,
  checkLabel,
  type Probe,
  type ResolvedCheck,
  validateCheck,
} from "./check.js";
import { createProbe, runProbeOnce } from "./probe.js";

export interface CheckRunnerOptions {
  /** Timers and timeouts run on this clock. Default: the process clock. */
  readonly clock?: Clock;
  /**
   * Where every check starts, before its thresholds have been met. Default
   * "critical", as Consul starts a new check: an instance is not served until
   * a check has passed `passThreshold` times. Pass the instance's stored
   * status to carry on checking it without a flip.
   */
  readonly initialStatus?: HealthStatus;
}

/** The state of one check in a runner. */
export interface CheckState {
  /** "http http://…", "tcp host:port", "grpc host:port/service", "custom <name>". */
  readonly label: string;
  readonly status: HealthStatus;
  /** The latest run's result, undefined before the first run finished. */
  readonly last: CheckResult | undefined;
}

const RANK: Record<HealthStatus, number> = { passing: 0, warning: 1, critical: 2 };
const MAX_CHECKS = 64;

interface Slot {
  readonly check: ResolvedCheck;
  readonly probe: Probe;
  readonly label: string;
  status: HealthStatus;
  last: CheckResult | undefined;
  passes: number;
  failures: number;
  cancelTimer: () => void;
  running: Promise<void> | undefined;
}

/**
 * Runs checks on their intervals and folds their results into one status.
 *
 * Each check starts at once and then every intervalMs after its previous run
 * started (or right after it ended, if it ran longer): runs of one check
 * never overlap. A check's status flips as Consul's does: to passing after
 * `passThreshold` consecutive passes, to the failing result (warning or
 * critical) after `failThreshold` consecutive non-passing results. The
 * runner's status is the worst of its checks' statuses; `onStatus` is called
 * with it each time it changes (never for the initial status).
 *
 * Disposing stops every timer, aborts the runs in flight and waits for them.
 */
export class CheckRunner implements AsyncDisposable {
  readonly #slots: Slot[];
  readonly #clock: Clock;
  readonly #onStatus: (status: HealthStatus) => void;
  readonly #stop = new AbortController();
  #status: HealthStatus;
  #disposed: Promise<void> | undefined;

  constructor(
    checks: readonly (CheckSpec | CustomCheck)[],
    onStatus: (status: HealthStatus) => void,
    options: CheckRunnerOptions = {},
  ) {
    if (!Array.isArray(checks) || checks.length === 0 || checks.length > MAX_CHECKS) {
      throw new InvalidArgumentError(`checks must be an array of 1 to ${MAX_CHECKS} checks`);
    }
    if (typeof onStatus !== "function") {
      throw new InvalidArgumentError("onStatus must be a function");
    }
    const initial = options.initialStatus ?? "critical";
    if (!HEALTH_STATUSES.includes(initial)) {
      throw new InvalidArgumentError(
        `initialStatus must be one of ${HEALTH_STATUSES.join(", ")}, got ${JSON.stringify(initial)}`,
      );
    }
    const resolved = checks.map((check, i) => validateCheck(check, `checks[${i}]`));
    this.#clock = options.clock ?? systemClock;
    this.#onStatus = onStatus;
    this.#status = initial;
    this.#slots = resolved.map((check) => ({
      check,
      probe: createProbe(check),
      label: checkLabel(check),
      status: initial,
      last: undefined,
      passes: 0,
      failures: 0,
      cancelTimer: () => {},
      running: undefined,
    }));
    for (const slot of this.#slots) this.#arm(slot, 0);
  }

  /** The worst status among the checks. */
  get status(): HealthStatus {
    return this.#status;
  }

  /** Each check's own state, in the order given. */
  get checks(): readonly CheckState[] {
    return this.#slots.map(({ label, status, last }) => ({ label, status, last }));
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.#disposed ??= (async () => {
      this.#stop.abort(
        new RegistryError("REGISTRY_CHECKS_STOPPED", "the check runner was disposed"),
      );
      for (const slot of this.#slots) slot.cancelTimer();
      await Promise.allSettled(this.#slots.map((slot) => slot.running));
      for (const slot of this.#slots) slot.probe.close();
    })();
    return this.#disposed;
  }

  #arm(slot: Slot, delayMs: number): void {
    if (this.#stop.signal.aborted) return;
    slot.cancelTimer = this.#clock.setTimer(() => {
      slot.running = this.#runOnce(slot).finally(() => {
        slot.running = undefined;
      });
    }, delayMs);
  }

  async #runOnce(slot: Slot): Promise<void> {
    const startedMs = this.#clock.now();
    const result = await runProbeOnce(slot.check, slot.probe, this.#clock, this.#stop.signal);
    if (this.#stop.signal.aborted) return;
    this.#apply(slot, result);
    const nextInMs = Math.max(0, startedMs + slot.check.intervalMs - this.#clock.now());
    this.#arm(slot, nextInMs);
  }

  #apply(slot: Slot, result: CheckResult): void {
    slot.last = result;
    if (result.status === "passing") {
      slot.passes += 1;
      slot.failures = 0;
      if (slot.passes >= slot.check.passThreshold) slot.status = "passing";
    } else {
      slot.failures += 1;
      slot.passes = 0;
      if (slot.failures >= slot.check.failThreshold) slot.status = result.status;
    }
    let worst: HealthStatus = "passing";
    for (const s of this.#slots) if (RANK[s.status] > RANK[worst]) worst = s.status;
    if (worst === this.#status) return;
    this.#status = worst;
    try {
      this.#onStatus(worst);
    } catch {
      // The listener's failure is its own; the runner keeps checking.
    }
  }
}
