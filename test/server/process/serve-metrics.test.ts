import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleValue } from "../metric-sample.js";
import {
  initialCluster,
  type MemberPlan,
  planMembers,
  ServeProcess,
  tempRoot,
  untilWritable,
} from "./serve-process.js";

const root = tempRoot();
let member: MemberPlan;
let serve: ServeProcess | undefined;

beforeAll(async () => {
  [member] = (await planMembers(root.path, ["n1"])) as [MemberPlan];
  serve = await ServeProcess.start(member, ["--initial-cluster", initialCluster([member])]);
}, 120_000);

afterAll(async () => {
  await serve?.terminate();
  root.remove();
});

describe("conclave serve /metrics", () => {
  it("counts the node's own work and reads the defences' counters from its node and transport", async () => {
    await untilWritable(member.clientUrl);
    const text = await (await fetch(`${member.clientUrl}/metrics`)).text();
    // The node was started with the metrics' observer: its persists and proposals are counted.
    expect(sampleValue(text, "conclave_raft_persist_duration_seconds_count")).toBeGreaterThan(0);
    expect(
      sampleValue(text, "conclave_raft_proposals_total", { outcome: "committed" }),
    ).toBeGreaterThan(0);
    // Read at scrape time from the member's TCP transport.
    expect(sampleValue(text, "conclave_peer_messages_misaddressed_total")).toBe(0);
    expect(sampleValue(text, "conclave_peer_handshakes_displaced_total")).toBe(0);
    expect(sampleValue(text, "conclave_client_connections_open")).toBeGreaterThan(0);
    expect(sampleValue(text, "conclave_auth_refusals_total", { code: "AUTH_REQUIRED" })).toBe(0);
  });
});
