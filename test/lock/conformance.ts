/**
 * The lock conformance suite. Every backend runs the same scenarios:
 *
 * ```ts
 * // test/lock/<backend>.test.ts
 * import { runLockConformance } from "./conformance.js";
 * runLockConformance("etcd", ETCD_GUARANTEES, { inProcess: false }, async () => ({
 *   label: "etcd", ttlMs: 1000, createClient, worker, createPartitionableClient, close,
 * }));
 * ```
 *
 * A target describes how to reach ONE store under test: every `createClient`
 * call returns a client with its own connections to that store, so clients
 * contend with each other like separate machines would. Scenarios a backend's
 * guarantees rule out (FIFO for an unfair backend, fencing for Redlock) assert
 * the documented behaviour instead.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  BackendGuarantees,
  LockClient,
  LockClientOptions,
  TokenType,
} from "../../src/lock/index.js";
import { registerBasicScenarios } from "./scenarios/basic.js";
import { registerFairnessScenarios } from "./scenarios/fairness.js";
import { registerLivenessScenarios } from "./scenarios/liveness.js";
import { registerPrimitiveScenarios } from "./scenarios/primitives.js";
import { registerProcessScenarios } from "./scenarios/processes.js";

/** How a worker process builds a client to the same store (cross-process scenarios). */
export interface WorkerSpec {
  /**
   * Absolute path of a module exporting
   * `createWorkerClient(config: unknown): Promise<LockClient<TokenType>>`.
   */
  readonly module: string;
  /** JSON-serialisable; handed to createWorkerClient in the worker process. */
  readonly config: unknown;
}

/** A client whose link to the backend can be cut (a partition) and restored. */
export interface PartitionableClient<TToken extends TokenType> {
  readonly client: LockClient<TToken>;
  /** From now on the client's requests get no answer (and the backend sees no renewals). */
  cut(): Promise<void>;
  heal(): Promise<void>;
}

export interface ConformanceTarget<TToken extends TokenType> {
  /** Names the backend in test titles. */
  readonly label: string;
  /**
   * The short lease the timing scenarios use. Long enough that a renewal
   * round trip on a loaded machine fits in a third of it; 1000 is typical.
   */
  readonly ttlMs: number;
  /** A new client with its own connections to the store under test. */
  createClient(options?: LockClientOptions): Promise<LockClient<TToken>>;
  /**
   * How worker processes reach the store. Absent for in-process backends
   * (memory): the cross-process scenarios then run their workers as separate
   * clients in this process, and "kill -9" becomes `client.destroy()`.
   */
  readonly worker?: WorkerSpec;
  /** A client that can be partitioned from the backend. Every networked backend must provide it. */
  createPartitionableClient(options?: LockClientOptions): Promise<PartitionableClient<TToken>>;
  /** Stops what the target started (dedicated servers, proxies, connections). */
  close(): Promise<void>;
}

/** Shared state the scenario groups read. */
export interface SuiteContext<TToken extends TokenType> {
  readonly target: ConformanceTarget<TToken>;
  /** True when the target has no worker processes (in-process backend). */
  readonly inProcess: boolean;
  /** A lock name unique to this run of the suite (stores are shared between runs). */
  uniqueName(scenario: string): string;
  /** A client closed at the end of the suite. */
  client(options?: LockClientOptions): Promise<LockClient<TToken>>;
}

/**
 * Registers the whole suite for one backend. `guarantees` must equal what the
 * backend reports (the suite checks); it decides which scenarios apply, e.g.
 * FIFO order only where `fair` is claimed. `setup` runs once, first.
 */
export function runLockConformance<TToken extends TokenType>(
  label: string,
  guarantees: BackendGuarantees,
  options: { readonly inProcess: boolean },
  setup: () => Promise<ConformanceTarget<TToken>>,
): void {
  describe(`lock conformance: ${label}`, () => {
    let target: ConformanceTarget<TToken> | undefined;
    const clients: LockClient<TToken>[] = [];
    const runId = `${Date.now().toString(36)}-${process.pid}`;
    let counter = 0;

    beforeAll(async () => {
      target = await setup();
    });

    afterAll(async () => {
      await Promise.allSettled(clients.map((c) => c.close()));
      await target?.close();
    });

    const context: SuiteContext<TToken> = {
      get target() {
        if (target === undefined) throw new Error("conformance target is not set up");
        return target;
      },
      inProcess: options.inProcess,
      uniqueName(scenario) {
        counter += 1;
        return `conformance/${label}/${scenario}/${runId}/${counter}`;
      },
      async client(options) {
        const c = await context.target.createClient(options);
        clients.push(c);
        return c;
      },
    };

    it("reports the guarantees it is tested against", async () => {
      const client = await context.client();
      expect(client.guarantees).toEqual(guarantees);
      expect(context.target.worker === undefined).toBe(options.inProcess);
    });

    registerBasicScenarios(context);
    registerProcessScenarios(context, guarantees);
    registerLivenessScenarios(context);
    if (guarantees.fair) registerFairnessScenarios(context);
    registerPrimitiveScenarios(context, guarantees);
  });
}
