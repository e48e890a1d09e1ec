/** Scenarios with several holders that behave like separate machines: contention and crashes. */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { BackendGuarantees, LockClient, TokenType } from "../../../src/lock/index.js";
import type { SuiteContext } from "../conformance.js";
import { spawnWorker } from "../support/spawn-worker.js";
import {
  acquireAndHold,
  type CounterState,
  type IncrementResult,
  runIncrements,
  wallNowMs,
} from "../support/tasks.js";

const WORKERS = 4;
const INCREMENTS_PER_WORKER = 25;

export function registerProcessScenarios<TToken extends TokenType>(
  ctx: SuiteContext<TToken>,
  guarantees: BackendGuarantees,
): void {
  const where = ctx.inProcess ? "separate clients in one process" : "separate processes";

  it(`keeps ${WORKERS}x${INCREMENTS_PER_WORKER} read-modify-write increments from ${where} free of lost updates`, async () => {
    const dir = await mkdtemp(join(tmpdir(), "conclave-lock-"));
    try {
      const counterFile = join(dir, "counter.json");
      const initial: CounterState = { count: 0, lastToken: "" };
      await writeFile(counterFile, JSON.stringify(initial));
      const task = {
        task: "increment" as const,
        name: ctx.uniqueName("exclusion"),
        counterFile,
        iterations: INCREMENTS_PER_WORKER,
        ttlMs: ctx.target.ttlMs * 5,
      };
      let results: IncrementResult[];
      const worker = ctx.target.worker;
      if (worker === undefined) {
        const clients = await Promise.all(
          Array.from({ length: WORKERS }, () => ctx.client() as Promise<LockClient<TokenType>>),
        );
        results = await Promise.all(clients.map((c) => runIncrements(c, task)));
      } else {
        const workers = Array.from({ length: WORKERS }, () => spawnWorker(worker, task));
        const reports = await Promise.all(workers.map((w) => w.next("done")));
        results = reports.map((r) => ({ fencingViolations: Number(r["fencingViolations"]) }));
        expect(await Promise.all(workers.map((w) => w.exited))).toEqual(
          Array.from({ length: WORKERS }, () => 0),
        );
      }
      const final = JSON.parse(await readFile(counterFile, "utf8")) as CounterState;
      expect(final.count).toBe(WORKERS * INCREMENTS_PER_WORKER);
      expect(results.map((r) => r.fencingViolations)).toEqual(results.map(() => 0));
      if (guarantees.fencing === "strict") expect(final.lastToken).not.toBe("");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const crashTitle =
    guarantees.onHolderCrash === "expires-after-ttl"
      ? "frees the lock of a holder killed with SIGKILL after the TTL, and not before"
      : "frees the lock of a holder killed with SIGKILL when its connection drops";
  it(crashTitle, async () => {
    const ttlMs = ctx.target.ttlMs;
    const name = ctx.uniqueName("crash");
    const task = { task: "hold" as const, name, ttlMs };
    const worker = ctx.target.worker;
    let requestedAtMs: number;
    if (worker === undefined) {
      const doomed = await ctx.client();
      const report = await acquireAndHold(doomed as LockClient<TokenType>, task);
      requestedAtMs = report.requestedAtMs;
      await doomed.destroy();
    } else {
      const holder = spawnWorker(worker, task);
      const report = await holder.next("acquired");
      requestedAtMs = Number(report["requestedAtMs"]);
      holder.child.kill("SIGKILL");
      expect(await holder.exited).toBe("SIGKILL");
    }
    const contender = await ctx.client();
    // Whenever the contender is granted the lock, the holder's lease must have run out.
    const early = await contender.tryAcquire(name);
    const earlyAtMs = wallNowMs();
    if (early !== undefined) {
      if (guarantees.onHolderCrash === "expires-after-ttl") {
        expect(earlyAtMs).toBeGreaterThanOrEqual(requestedAtMs + ttlMs);
      }
      await early.release();
      return;
    }
    const lock = await contender.acquire(name, { waitMs: ttlMs * 10 });
    const grantedAtMs = wallNowMs();
    if (guarantees.onHolderCrash === "expires-after-ttl") {
      expect(grantedAtMs).toBeGreaterThanOrEqual(requestedAtMs + ttlMs);
    }
    await lock.release();
  });
}
