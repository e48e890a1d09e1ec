import { describe, expect, it } from "vitest";
import { metricSum } from "../../bench/kv/member-http.js";
import { LOOP_DELAY_METRIC } from "../../bench/kv/snapshot-phase.js";
import { createServerMetrics } from "../../src/server/metrics.js";

/** Keeps the event loop busy for `ms` (the stall a snapshot would cause). */
function blockLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

async function loopDelaySeconds(metrics: ReturnType<typeof createServerMetrics>) {
  return metricSum(await metrics.text(), LOOP_DELAY_METRIC);
}

describe("the server's event-loop delay gauge, as the kv bench reads it", () => {
  it("shows a stall once, as the max since the previous scrape", async () => {
    const metrics = createServerMetrics({ eventLoopDelay: true });
    try {
      // The monitor measures the gap between its own timer ticks: let it tick
      // a few times first, so the stall falls between two ticks.
      await new Promise((resolve) => setTimeout(resolve, 50));
      blockLoop(300);
      // The monitor records the delay on the loop turn after the stall.
      await new Promise((resolve) => setTimeout(resolve, 30));
      const stalled = await loopDelaySeconds(metrics);
      expect(stalled).toBeGreaterThanOrEqual(0.25);
      // The scrape reset it: the next scrape no longer sees that stall.
      const after = await loopDelaySeconds(metrics);
      expect(after).toBeLessThan(stalled);
    } finally {
      metrics.close();
    }
  });

  it("is absent unless the process asks for it", async () => {
    const metrics = createServerMetrics();
    expect(await loopDelaySeconds(metrics)).toBeNaN();
    metrics.close();
  });
});
