/**
 * `/metrics` of `conclave serve` members after real traffic and a leader
 * change: the node's own counters and histograms move, and the process
 * metrics are there under their standard names.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleValue } from "../metric-sample.js";
import { ServeCluster } from "./serve-cluster.js";

const cluster = new ServeCluster({ size: 3 });

beforeAll(async () => {
  await cluster.start();
}, 120_000);

afterAll(async () => {
  await cluster.destroy();
});

async function scrape(id: number): Promise<string> {
  const res = await fetch(`${cluster.member(id).clientUrl}/metrics`, {
    signal: AbortSignal.timeout(5000),
  });
  expect(res.status).toBe(200);
  return res.text();
}

describe("conclave serve /metrics across a leader change", () => {
  it("counts proposals, persists, applies and leader changes, and reports the process", async () => {
    const first = await cluster.waitFor(() => cluster.leader(), "a leader", 20_000);
    const client = cluster.client();
    try {
      for (let i = 0; i < 100; i++) await client.put(`before/${i}`, "v");
      await cluster.kill(first);
      const survivors = cluster.ids.filter((id) => id !== first);
      const second = await cluster.waitFor(() => cluster.leader(survivors), "a new leader", 20_000);
      for (let i = 0; i < 50; i++) await client.put(`after/${i}`, "v");

      const text = await scrape(second);
      // The new leader proposed the writes made after the change.
      expect(
        sampleValue(text, "conclave_raft_proposals_total", { outcome: "committed" }),
      ).toBeGreaterThanOrEqual(50);
      // It saw the first leader, then none or itself: at least two changes.
      expect(sampleValue(text, "conclave_raft_leader_changes_total")).toBeGreaterThanOrEqual(2);
      expect(sampleValue(text, "conclave_raft_term")).toBeGreaterThanOrEqual(2);
      expect(sampleValue(text, "conclave_raft_is_leader")).toBe(1);
      expect(sampleValue(text, "conclave_raft_persist_duration_seconds_count")).toBeGreaterThan(0);
      expect(sampleValue(text, "conclave_raft_apply_duration_seconds_count")).toBeGreaterThan(0);
      expect(sampleValue(text, "conclave_raft_apply_duration_seconds_sum")).toBeGreaterThan(0);
      expect(sampleValue(text, "conclave_kv_revision")).toBeGreaterThanOrEqual(151);

      // The quota writes are refused past: etcd's default 2 GiB.
      expect(sampleValue(text, "conclave_kv_quota_bytes")).toBe(2 * 1024 ** 3);

      // The other survivor follows: it applied the same writes and saw the change too.
      const follower = survivors.find((id) => id !== second)!;
      // The leader reports each follower's lag; the killed one falls behind as writes go on.
      for (let i = 0; i < 20; i++) await client.put(`lag/${i}`, "v");
      const lagText = await scrape(second);
      const deadLag = sampleValue(lagText, "conclave_raft_follower_lag_entries", {
        peer: String(first),
      });
      expect(deadLag).toBeGreaterThanOrEqual(20);
      expect(
        sampleValue(lagText, "conclave_raft_follower_lag_entries", { peer: String(follower) }),
      ).toBeLessThan(deadLag!);
      const other = await scrape(follower);
      expect(sampleValue(other, "conclave_raft_is_leader")).toBe(0);
      expect(other).not.toMatch(/^conclave_raft_follower_lag_entries\{/m);
      expect(sampleValue(other, "conclave_raft_leader_changes_total")).toBeGreaterThanOrEqual(2);
      expect(sampleValue(other, "conclave_raft_apply_duration_seconds_count")).toBeGreaterThan(0);

      // The process metrics, under the names stock dashboards use.
      for (const t of [text, other]) {
        expect(sampleValue(t, "process_cpu_seconds_total")).toBeGreaterThan(0);
        expect(sampleValue(t, "process_resident_memory_bytes")).toBeGreaterThan(0);
        expect(sampleValue(t, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
        expect(t).toMatch(/^nodejs_eventloop_lag_seconds /m);
      }
    } finally {
      await client.close();
    }
  }, 120_000);
});
