import { describe, expect, it } from "vitest";
import { startIdleLoopProbe } from "../../bench/support/idle-loop.js";

describe("the idle loop probe beside the kv bench's 1 MiB load", () => {
  it("reports the worst delay its own event loop saw: a process stopped for 300 ms shows it", async () => {
    const probe = await startIdleLoopProbe();
    // Let its monitor tick first, so the stop falls between two ticks.
    await new Promise((resolve) => setTimeout(resolve, 50));
    process.kill(probe.pid, "SIGSTOP");
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(probe.pid, "SIGCONT");
    // The monitor records the delay on the loop turn after the stop.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const worstMs = await probe.stop();
    expect(worstMs).toBeGreaterThanOrEqual(250);
    expect(worstMs).toBeLessThan(10_000);
  });
});
