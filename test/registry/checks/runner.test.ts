import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { InvalidArgumentError } from "../../../src/errors.js";
import type { CustomCheck } from "../../../src/registry/checks/check.js";
import { CheckRunner } from "../../../src/registry/checks/runner.js";
import type { HealthStatus } from "../../../src/registry/instance.js";

type Verdict = boolean | HealthStatus;

/** A custom check whose next verdicts the test sets; counts its runs. */
function scripted(name: string, timing: Partial<CustomCheck> = {}) {
  const state = { verdict: true as Verdict, runs: 0 };
  const check: CustomCheck = {
    kind: "custom",
    name,
    intervalMs: 1000,
    timeoutMs: 500,
    passThreshold: 1,
    failThreshold: 1,
    ...timing,
    async check() {
      state.runs += 1;
      return state.verdict;
    },
  };
  return { check, state };
}

function recorder() {
  const seen: HealthStatus[] = [];
  return { seen, onStatus: (status: HealthStatus) => seen.push(status) };
}

describe("CheckRunner", () => {
  it("starts critical by default and passes after the first passing run", async () => {
    const clock = new ManualClock();
    const a = scripted("a");
    const { seen, onStatus } = recorder();
    await using runner = new CheckRunner([a.check], onStatus, { clock });
    expect(runner.status).toBe("critical");
    await clock.advance(0);
    expect(a.state.runs).toBe(1);
    expect(runner.status).toBe("passing");
    expect(seen).toEqual(["passing"]);
  });

  it("runs every intervalMs and flips only after the thresholds", async () => {
    const clock = new ManualClock();
    const a = scripted("a", { passThreshold: 2, failThreshold: 3 });
    const { seen, onStatus } = recorder();
    await using runner = new CheckRunner([a.check], onStatus, { clock, initialStatus: "passing" });
    await clock.advance(0);
    expect(a.state.runs).toBe(1);
    a.state.verdict = false;
    await clock.advance(1000);
    await clock.advance(1000);
    expect(a.state.runs).toBe(3);
    expect(runner.status).toBe("passing");
    await clock.advance(1000);
    expect(runner.status).toBe("critical");
    expect(seen).toEqual(["critical"]);
    a.state.verdict = true;
    await clock.advance(1000);
    expect(runner.status).toBe("critical");
    // A failure in between resets the count of passes.
    a.state.verdict = false;
    await clock.advance(1000);
    a.state.verdict = true;
    await clock.advance(1000);
    expect(runner.status).toBe("critical");
    await clock.advance(1000);
    expect(runner.status).toBe("passing");
    expect(seen).toEqual(["critical", "passing"]);
    expect(a.state.runs).toBe(8);
  });

  it("aggregates to the worst check and reports changes of the aggregate only", async () => {
    const clock = new ManualClock();
    const a = scripted("a");
    const b = scripted("b");
    const { seen, onStatus } = recorder();
    await using runner = new CheckRunner([a.check, b.check], onStatus, { clock });
    await clock.advance(0);
    expect(seen).toEqual(["passing"]);
    b.state.verdict = "warning";
    await clock.advance(1000);
    expect(runner.status).toBe("warning");
    a.state.verdict = false;
    await clock.advance(1000);
    expect(runner.status).toBe("critical");
    // b recovers, but a still fails: the aggregate does not change, nothing is reported.
    b.state.verdict = true;
    await clock.advance(1000);
    expect(seen).toEqual(["passing", "warning", "critical"]);
    expect(runner.checks.map((c) => [c.label, c.status])).toEqual([
      ["custom a", "critical"],
      ["custom b", "passing"],
    ]);
    a.state.verdict = true;
    await clock.advance(1000);
    expect(seen).toEqual(["passing", "warning", "critical", "passing"]);
  });

  it("counts a throw and a timeout as failures", async () => {
    const clock = new ManualClock();
    let mode: "throw" | "hang" | "pass" = "pass";
    const check: CustomCheck = {
      kind: "custom",
      name: "moody",
      intervalMs: 1000,
      timeoutMs: 300,
      failThreshold: 1,
      check: async () => {
        if (mode === "throw") throw new Error("boom");
        if (mode === "hang") return new Promise<boolean>(() => {});
        return true;
      },
    };
    const { seen, onStatus } = recorder();
    await using runner = new CheckRunner([check], onStatus, { clock });
    await clock.advance(0);
    mode = "throw";
    await clock.advance(1000);
    expect(runner.status).toBe("critical");
    expect(runner.checks[0]?.last?.output).toBe("boom");
    mode = "pass";
    await clock.advance(1000);
    mode = "hang";
    await clock.advance(1000);
    expect(runner.status).toBe("passing");
    await clock.advance(300);
    expect(runner.status).toBe("critical");
    expect(runner.checks[0]?.last?.output).toContain("did not finish within 300 ms");
    expect(seen).toEqual(["passing", "critical", "passing", "critical"]);
  });

  it("never overlaps runs of one check: a slow run delays the next", async () => {
    const clock = new ManualClock();
    let inFlight = 0;
    let maxInFlight = 0;
    const starts: number[] = [];
    const release: (() => void)[] = [];
    const check: CustomCheck = {
      kind: "custom",
      name: "slow",
      intervalMs: 100,
      timeoutMs: 10_000,
      check: () => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        starts.push(clock.now());
        return new Promise<boolean>((resolve) =>
          release.push(() => {
            inFlight -= 1;
            resolve(true);
          }),
        );
      },
    };
    await using runner = new CheckRunner([check], () => {}, { clock });
    await clock.advance(0);
    await clock.advance(350);
    expect(starts).toEqual([0]);
    release.shift()?.();
    await clock.advance(0);
    // The run took longer than the interval: the next starts as soon as it ended.
    expect(starts).toEqual([0, 350]);
    release.shift()?.();
    await clock.advance(0);
    await clock.advance(100);
    expect(starts).toEqual([0, 350, 450]);
    expect(maxInFlight).toBe(1);
    expect(runner.status).toBe("passing");
  });

  it("dispose stops the timers and aborts a running check", async () => {
    const clock = new ManualClock();
    let signal: AbortSignal | undefined;
    let runs = 0;
    const check: CustomCheck = {
      kind: "custom",
      name: "held",
      intervalMs: 100,
      timeoutMs: 10_000,
      check: (s) => {
        runs += 1;
        signal = s;
        return new Promise<boolean>(() => {});
      },
    };
    const { seen, onStatus } = recorder();
    const runner = new CheckRunner([check], onStatus, { clock });
    await clock.advance(0);
    expect(runs).toBe(1);
    await runner[Symbol.asyncDispose]();
    expect(signal?.aborted).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(10_000);
    expect(runs).toBe(1);
    expect(seen).toEqual([]);
  });

  it("rejects bad arguments with InvalidArgumentError", () => {
    expect(() => new CheckRunner([], () => {})).toThrow(InvalidArgumentError);
    expect(
      () =>
        new CheckRunner([{ kind: "tcp", host: "127.0.0.1", port: 70_000 }], () => {}, {
          clock: new ManualClock(),
        }),
    ).toThrow(InvalidArgumentError);
    expect(
      () =>
        new CheckRunner([scripted("a").check], () => {}, {
          clock: new ManualClock(),
          initialStatus: "bad" as HealthStatus,
        }),
    ).toThrow(InvalidArgumentError);
  });
});
