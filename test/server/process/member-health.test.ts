/**
 * A member started with another cluster secret must not look healthy: its
 * status names the peers that refuse its handshake, `conclave status` and
 * `conclave endpoint health` exit 1 and say why, while the two members that
 * share the secret keep a quorum and answer healthy.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../cli/run-cli.js";
import {
  eventually,
  initialCluster,
  type MemberPlan,
  planMembers,
  ServeProcess,
  tempRoot,
  untilWritable,
} from "./serve-process.js";

const root = tempRoot();
let plans: MemberPlan[] = [];
const procs: ServeProcess[] = [];

interface StatusJson {
  leader: number | null;
  errors: string[];
  warnings: string[];
}

beforeAll(async () => {
  plans = await planMembers(root.path, ["n1", "n2", "n3"]);
  const cluster = ["--initial-cluster", initialCluster(plans)];
  const [n1, n2, n3] = plans as [MemberPlan, MemberPlan, MemberPlan];
  procs.push(
    ...(await Promise.all([ServeProcess.start(n1, cluster), ServeProcess.start(n2, cluster)])),
  );
  // The third founder holds a secret of its own: every handshake with the others fails.
  const otherSecret = randomBytes(32).toString("hex");
  procs.push(await ServeProcess.start(n3, cluster, { CONCLAVE_CLUSTER_SECRET: otherSecret }));
  await untilWritable(n1.clientUrl);
}, 120_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.terminate()));
  root.remove();
});

const endpoints = () => plans.map((m) => m.clientUrl).join(",");

describe("a member with another cluster secret", () => {
  it("reports no leader and the peers it cannot authenticate with in its status", async () => {
    const n3 = plans[2]!;
    const st = await eventually(async () => {
      const s = (await (await fetch(`${n3.clientUrl}/status`)).json()) as StatusJson;
      return s.errors.some((e) => e.startsWith("cannot authenticate with peer 1")) &&
        s.errors.some((e) => e.startsWith("cannot authenticate with peer 2"))
        ? s
        : undefined;
    }, "n3 to report both handshake failures");
    expect(st.leader).toBeNull();
    expect(st.errors).toContain("etcdserver: no leader");
    // The members that share the secret keep a leader: for them the stranger is a warning.
    for (const m of plans.slice(0, 2)) {
      const s = await eventually(async () => {
        const seen = (await (await fetch(`${m.clientUrl}/status`)).json()) as StatusJson;
        return seen.warnings.some((w) => w.startsWith("cannot authenticate with peer 3"))
          ? seen
          : undefined;
      }, `${m.name} to warn of peer 3`);
      expect(s.leader).not.toBeNull();
      expect(s.errors).toEqual([]);
    }
  });

  it("makes `conclave status` exit 1 with the reason in its row", async () => {
    const r = await runCli(["status", "--endpoints", endpoints()]);
    expect(r.code, r.stderr).toBe(1);
    const rows = r.stdout.split("\n");
    const n3Row = rows.find((l) => l.startsWith(plans[2]!.clientUrl));
    expect(n3Row).toMatch(/etcdserver: no leader; cannot authenticate with peer/);
    for (const m of plans.slice(0, 2)) {
      const row = rows.find((l) => l.startsWith(m.clientUrl));
      expect(row).toBeDefined();
      expect(row).not.toMatch(/no leader|lagging/);
    }
    const json = await runCli(["status", "--endpoints", endpoints(), "--json"]);
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as { endpoints: { problems: string[] }[] };
    expect(parsed.endpoints.map((e) => e.problems.length > 0)).toEqual([false, false, true]);
  });

  it("makes `conclave endpoint health` call it unhealthy and the others healthy", async () => {
    const r = await runCli(["endpoint", "health", "--endpoints", endpoints(), "--timeout", "3000"]);
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^${plans[0]!.clientUrl} is healthy`));
    expect(lines[1]).toMatch(new RegExp(`^${plans[1]!.clientUrl} is healthy`));
    expect(lines[2]).toMatch(new RegExp(`^${plans[2]!.clientUrl} is unhealthy`));

    const healthy = await runCli([
      "endpoint",
      "health",
      "--endpoints",
      plans
        .slice(0, 2)
        .map((m) => m.clientUrl)
        .join(","),
      "--json",
    ]);
    expect(healthy.code, healthy.stderr).toBe(0);
    const parsed = JSON.parse(healthy.stdout) as { endpoints: { health: boolean }[] };
    expect(parsed.endpoints.map((e) => e.health)).toEqual([true, true]);
  });
});
