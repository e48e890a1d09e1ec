import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "../../src/server/index.js";
import { capturedLog } from "../support/captured-log.js";
import { b64, type Member, startCluster, type TestCluster } from "./cluster.js";

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster.stop();
});

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text format strictly enough to catch a malformed exposition. */
function parseExposition(body: string): Sample[] {
  const typed = new Set<string>();
  const samples: Sample[] = [];
  for (const line of body.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary)$/.exec(line);
    if (type) {
      typed.add(type[1]!);
      continue;
    }
    if (line.startsWith("# HELP ")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? "").split(/,(?=[a-zA-Z_])/).filter(Boolean)) {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"$/.exec(pair);
      if (!lm) throw new Error(`bad label ${pair} in ${line}`);
      labels[lm[1]!] = lm[2]!;
    }
    const value = Number(m[3]);
    if (Number.isNaN(value) && m[3] !== "NaN") throw new Error(`bad value in ${line}`);
    const family = m[1]!.replace(/_(bucket|sum|count)$/, "");
    if (!typed.has(m[1]!) && !typed.has(family)) throw new Error(`sample without TYPE: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return samples;
}

async function scrape(m: Member) {
  const res = await m.app.inject({ method: "GET", url: "/metrics" });
  expect(res.statusCode).toBe(200);
  expect(res.headers["content-type"]).toMatch(/^text\/plain/);
  const samples = parseExposition(res.body);
  /** The one sample with this name whose labels include `labels`; 0 when absent. */
  return (name: string, labels: Record<string, string> = {}) => {
    const found = samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} is ambiguous`);
    return found[0]?.value ?? 0;
  };
}

const put200 = { method: "POST", route: "/v3/kv/put", status_code: "200" };

describe("/metrics", () => {
  it("exposes node, key-space and HTTP metrics that move with writes", async () => {
    // Five puts and a grant on one leader; if leadership moves mid-way (a loaded
    // machine), the exact deltas would mix two nodes, so measure again on the new leader.
    const measure = async (attempt: number) => {
      const leader = await cluster.leader();
      const was = await scrape(leader);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await leader.app.inject({
          method: "POST",
          url: "/v3/kv/put",
          payload: { key: b64(`m/${attempt}/${i}`), value: b64("v") },
        });
        statuses.push(r.statusCode);
      }
      const grant = await leader.app.inject({
        method: "POST",
        url: "/v3/lease/grant",
        payload: { TTL: 60 },
      });
      statuses.push(grant.statusCode);
      await leader.app.inject({ method: "POST", url: "/v3/no/such/route", payload: {} });
      const now = await scrape(leader);
      return statuses.every((s) => s === 200) ? { was, now } : undefined;
    };
    let measured = await measure(0);
    for (let attempt = 1; measured === undefined && attempt < 3; attempt++) {
      measured = await measure(attempt);
    }
    expect(measured, "six writes answered 200 on one leader").toBeDefined();
    const { was, now } = measured!;

    expect(now("conclave_raft_proposals_total", { outcome: "committed" })).toBe(
      was("conclave_raft_proposals_total", { outcome: "committed" }) + 6,
    );
    expect(now("conclave_http_requests_total", put200)).toBe(
      was("conclave_http_requests_total", put200) + 5,
    );
    expect(now("conclave_http_request_duration_seconds_count", put200)).toBe(
      was("conclave_http_request_duration_seconds_count", put200) + 5,
    );
    const unmatched = { method: "POST", route: "unmatched", status_code: "404" };
    expect(now("conclave_http_requests_total", unmatched)).toBe(
      was("conclave_http_requests_total", unmatched) + 1,
    );
    expect(now("conclave_kv_revision")).toBe(was("conclave_kv_revision") + 5);
    expect(now("conclave_kv_keys")).toBe(was("conclave_kv_keys") + 5);
    expect(now("conclave_kv_leases")).toBe(was("conclave_kv_leases") + 1);
    expect(now("conclave_raft_persist_duration_seconds_count")).toBeGreaterThan(
      was("conclave_raft_persist_duration_seconds_count"),
    );
    expect(now("conclave_raft_apply_duration_seconds_count")).toBeGreaterThan(
      was("conclave_raft_apply_duration_seconds_count"),
    );
    expect(now("conclave_raft_applied_index")).toBeGreaterThanOrEqual(
      was("conclave_raft_applied_index") + 6,
    );
    expect(now("conclave_raft_commit_index")).toBeGreaterThanOrEqual(
      now("conclave_raft_applied_index"),
    );
    expect(now("conclave_raft_term")).toBeGreaterThan(0);
    expect(now("conclave_raft_leader_changes_total")).toBeGreaterThanOrEqual(1);
    expect(now("conclave_raft_snapshots_total", { kind: "created" })).toBe(0);
  });

  it("keeps one registry per server: each node reports its own role", async () => {
    const leader = await cluster.leader();
    for (const m of cluster.members) {
      const s = await scrape(m);
      expect(s("conclave_raft_is_leader")).toBe(m === leader ? 1 : 0);
      expect(s("conclave_raft_leader_id")).toBe(leader.id);
    }
  });

  it("counts a proposal refused by a follower as failed", async () => {
    const [follower] = await cluster.followers();
    const was = await scrape(follower!);
    const r = await follower!.app.inject({
      method: "POST",
      url: "/v3/kv/put",
      payload: { key: b64("m/x"), value: b64("v") },
    });
    expect(r.statusCode).toBe(421);
    const now = await scrape(follower!);
    expect(now("conclave_raft_proposals_total", { outcome: "failed" })).toBe(
      was("conclave_raft_proposals_total", { outcome: "failed" }) + 1,
    );
    const notLeader = { method: "POST", route: "/v3/kv/put", status_code: "421" };
    expect(now("conclave_http_requests_total", notLeader)).toBe(
      was("conclave_http_requests_total", notLeader) + 1,
    );
  });

  it("reports active watchers through the gauge a watch route registers", async () => {
    const leader = await cluster.leader();
    let open = 3;
    leader.app.serverMetrics.setActiveWatchers(() => open);
    expect((await scrape(leader))("conclave_watchers_active")).toBe(3);
    open = 1;
    expect((await scrape(leader))("conclave_watchers_active")).toBe(1);
  });

  it("logs requests at debug only: a member at the default level stays quiet", async () => {
    const m = cluster.members[0]!;
    for (const level of ["info", "debug"]) {
      const { logger, lines } = capturedLog(level);
      const app = createServer({ node: m.node, store: m.store, loggerInstance: logger });
      try {
        const res = await app.inject({ method: "GET", url: "/health" });
        expect(res.statusCode).toBe(200);
        const logged = lines.filter((l) => l["msg"] === "request completed");
        if (level === "info") expect(lines).toEqual([]);
        else {
          expect(logged).toHaveLength(1);
          expect(logged[0]).toMatchObject({ method: "GET", url: "/health", statusCode: 200 });
        }
      } finally {
        await app.close();
      }
    }
  });

  it("works without node hooks when createServer makes its own registry", async () => {
    const m = cluster.members[0]!;
    const app = createServer({ node: m.node, store: m.store });
    try {
      const res = await app.inject({ method: "GET", url: "/metrics" });
      const samples = parseExposition(res.body);
      const value = (name: string) => samples.find((s) => s.name === name)?.value;
      expect(value("conclave_raft_term")).toBe(m.node.status().term);
      expect(value("conclave_kv_revision")).toBe(m.store.revision);
      expect(value("conclave_raft_persist_duration_seconds_count")).toBe(0);
      expect(app.serverMetrics).not.toBe(m.metrics);
    } finally {
      await app.close();
    }
  });
});
