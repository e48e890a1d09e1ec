import { hostname } from "node:os";
import { InvalidArgumentError } from "../errors.js";
import type { LockClient } from "./client.js";
import { sleep } from "./clock.js";
import { LockClientClosedError, UnsupportedByBackendError } from "./errors.js";
import type { LeaderHandle, TokenType } from "./types.js";
import { validateLeaderValue, validateSignal, validateTtlMs } from "./validate.js";

/** Where a reported error came from. */
export type LeaderRunPhase =
  /** Campaigning failed (the backend was unreachable, ...); the next try follows after retryDelayMs. */
  | "campaign"
  /** The work function threw (other than by giving up on its aborted signal). */
  | "lead"
  /** Resigning after the work ended failed; the lease runs out on its own. */
  | "resign";

export interface RunWhileLeaderOptions {
  /** The value proclaimed while leading. Default `HOSTNAME:PID`. */
  value?: string;
  /** Leadership lease, renewed while held. Default: the lock client's `defaultTtlMs`. */
  ttlMs?: number;
  /** Aborting stops the runner, as `stop()` does. */
  signal?: AbortSignal;
  /**
   * Wait before campaigning again after a failed campaign or after the work
   * function threw, so a persistent failure does not spin. Default 1000.
   */
  retryDelayMs?: number;
  /**
   * Called with every error the runner survives. Default: a process warning.
   * Must not throw.
   */
  onError?: (error: unknown, phase: LeaderRunPhase) => void;
}

/** A running {@link runWhileLeader}: stop it (or dispose it) to resign and wait for the work. */
export interface LeaderRunner<TToken extends TokenType> extends AsyncDisposable {
  /** The current leadership while the work function runs, else undefined. */
  readonly leadership: LeaderHandle<TToken> | undefined;
  /** How many times this runner has been elected. */
  readonly terms: number;
  /** Resolves once the runner has stopped: by stop(), its signal, or the lock client closing. */
  readonly stopped: Promise<void>;
  /** Stops campaigning, aborts the work's signal, waits for the work to settle, then resigns. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_RETRY_DELAY_MS = 1000;

/**
 * Campaigns for leadership of `name` and runs `fn` while leader, over and
 * over (ZooKeeper Curator's LeaderSelector with automatic requeue):
 *
 * 1. campaign with {@link Election.campaign} until elected;
 * 2. run `fn(signal, leadership)`; `signal` aborts when leadership may be
 *    lost (the handle's loss signal, which fires a safety margin before the
 *    lease could pass to anyone else) or the runner is stopped;
 * 3. when `fn` returns or throws, resign, and campaign again (after
 *    `retryDelayMs` if it threw; a throw is reported to `onError`).
 *
 * `fn` must stop promptly once `signal` aborts: the runner does not campaign
 * again until it has settled, but a backend can hand leadership to another
 * process meanwhile. Protect shared resources with `leadership.fencingToken`.
 *
 * ```ts
 * await using runner = runWhileLeader(locks, "scheduler", async (signal, leadership) => {
 *   while (!signal.aborted) await runJobs({ fencingToken: leadership.fencingToken, signal });
 * });
 * ```
 */
export function runWhileLeader<TToken extends TokenType>(
  locks: LockClient<TToken>,
  name: string,
  fn: (signal: AbortSignal, leadership: LeaderHandle<TToken>) => Promise<void>,
  options: RunWhileLeaderOptions = {},
): LeaderRunner<TToken> {
  if (typeof fn !== "function") {
    throw new InvalidArgumentError(`runWhileLeader needs a function, got ${typeof fn}`);
  }
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError("runWhileLeader options must be an object");
  }
  if (!locks.guarantees.kinds.includes("leader")) {
    throw new UnsupportedByBackendError(locks.guarantees.backend, "elections", "see docs/locks.md");
  }
  const election = locks.election(name);
  const value = validateLeaderValue(options.value ?? `${hostname()}:${process.pid}`);
  const ttlMs = options.ttlMs === undefined ? undefined : validateTtlMs(options.ttlMs);
  const signal = validateSignal(options.signal);
  const retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  if (!Number.isFinite(retryDelayMs) || retryDelayMs < 0) {
    throw new InvalidArgumentError(
      `retryDelayMs must be a finite number >= 0, got ${String(retryDelayMs)}`,
    );
  }
  const onError = options.onError ?? warn;
  if (typeof onError !== "function") {
    throw new InvalidArgumentError("onError must be a function");
  }
  return new Runner(locks, election.name, fn, {
    value,
    retryDelayMs,
    onError,
    ...(ttlMs === undefined ? {} : { ttlMs }),
    ...(signal === undefined ? {} : { signal }),
  });
}

interface RunnerSettings {
  readonly value: string;
  readonly ttlMs?: number;
  readonly signal?: AbortSignal;
  readonly retryDelayMs: number;
  readonly onError: (error: unknown, phase: LeaderRunPhase) => void;
}

class Runner<TToken extends TokenType> implements LeaderRunner<TToken> {
  readonly stopped: Promise<void>;
  readonly #locks: LockClient<TToken>;
  readonly #name: string;
  readonly #fn: (signal: AbortSignal, leadership: LeaderHandle<TToken>) => Promise<void>;
  readonly #settings: RunnerSettings;
  readonly #stop = new AbortController();
  readonly #detachCaller: () => void;
  #leadership: LeaderHandle<TToken> | undefined;
  #terms = 0;

  constructor(
    locks: LockClient<TToken>,
    name: string,
    fn: (signal: AbortSignal, leadership: LeaderHandle<TToken>) => Promise<void>,
    settings: RunnerSettings,
  ) {
    this.#locks = locks;
    this.#name = name;
    this.#fn = fn;
    this.#settings = settings;
    const caller = settings.signal;
    const onCallerAbort = () => this.#stop.abort(caller?.reason);
    if (caller?.aborted) this.#stop.abort(caller.reason);
    else caller?.addEventListener("abort", onCallerAbort, { once: true });
    this.#detachCaller = () => caller?.removeEventListener("abort", onCallerAbort);
    this.stopped = this.#loop().finally(() => this.#detachCaller());
  }

  get leadership(): LeaderHandle<TToken> | undefined {
    return this.#leadership;
  }

  get terms(): number {
    return this.#terms;
  }

  stop(): Promise<void> {
    if (!this.#stop.signal.aborted) this.#stop.abort(new Error("the leader runner was stopped"));
    return this.stopped;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #loop(): Promise<void> {
    const stop = this.#stop.signal;
    const { value, ttlMs, retryDelayMs } = this.#settings;
    const election = this.#locks.election(this.#name);
    const clock = this.#locks.backend.clock;
    while (!stop.aborted) {
      let leadership: LeaderHandle<TToken>;
      try {
        leadership = await election.campaign(value, {
          signal: stop,
          ...(ttlMs === undefined ? {} : { ttlMs }),
        });
      } catch (error) {
        if (stop.aborted || error instanceof LockClientClosedError) return;
        this.#report(error, "campaign");
        await sleep(clock, retryDelayMs, stop);
        continue;
      }
      const threw = await this.#lead(leadership);
      if (threw) await sleep(clock, retryDelayMs, stop);
    }
  }

  /** Runs one term: the work, then resigning. Returns whether the work threw. */
  async #lead(leadership: LeaderHandle<TToken>): Promise<boolean> {
    this.#terms += 1;
    this.#leadership = leadership;
    // Built before resigning: the handle's signal also aborts on release.
    const workSignal = AbortSignal.any([leadership.signal, this.#stop.signal]);
    let threw = false;
    try {
      await this.#fn(workSignal, leadership);
    } catch (error) {
      // Giving up by rethrowing the aborted signal's reason is the expected way out.
      const gaveUp = workSignal.aborted && (error === workSignal.reason || isAbortError(error));
      if (!gaveUp) {
        threw = true;
        this.#report(error, "lead");
      }
    } finally {
      this.#leadership = undefined;
    }
    const lost = leadership.signal.aborted;
    try {
      await leadership.resign();
    } catch (error) {
      // Once lost there is nothing to give up: the backend may say the lease is no
      // longer ours, or be unreachable (the usual cause of the loss).
      if (!lost && !(error instanceof LockClientClosedError)) this.#report(error, "resign");
    }
    return threw;
  }

  #report(error: unknown, phase: LeaderRunPhase): void {
    try {
      this.#settings.onError(error, phase);
    } catch {
      // A throwing reporter must not end the runner.
    }
  }
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === "AbortError";
}

function warn(error: unknown, phase: LeaderRunPhase): void {
  const message = error instanceof Error ? error.message : String(error);
  process.emitWarning(`runWhileLeader (${phase}): ${message}`, "ConclaveLeaderRunnerWarning");
}
