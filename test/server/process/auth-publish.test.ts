import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  eventually,
  initialCluster,
  type MemberPlan,
  planMembers,
  ServeProcess,
  tempRoot,
} from "./serve-process.js";

const root = tempRoot();
let plans: MemberPlan[] = [];
const procs = new Map<string, ServeProcess>();
const ENV = { CONCLAVE_CLUSTER_SECRET: "a cluster secret for the auth publish test" };
const ARGS = ["--bcrypt-cost", "4"];

async function call(url: string, path: string, body: object, token?: string) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token !== undefined && { authorization: token }),
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field in tests.
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  plans = await planMembers(root.path, ["a1", "a2"]);
  const cluster = initialCluster(plans);
  const started = await Promise.all(
    plans.map((m) => ServeProcess.start(m, ["--initial-cluster", cluster, ...ARGS], ENV)),
  );
  for (const [i, p] of started.entries()) procs.set(plans[i]!.name, p);
}, 60_000);

afterAll(async () => {
  for (const p of procs.values()) p.kill();
  await Promise.all([...procs.values()].map((p) => p.exited));
  root.remove();
});

describe("conclave serve with client auth enabled", () => {
  it("a follower restarted with a new client URL still gets it published", async () => {
    const leaderId = await eventually(async () => {
      const s = await call(plans[0]!.clientUrl, "/v3/maintenance/status", {});
      return s.body.leader === "0" ? undefined : Number(s.body.leader);
    }, "a leader");
    const leader = plans.find((m) => m.id === leaderId)!;
    const follower = plans.find((m) => m.id !== leaderId)!;
    for (const [path, body] of [
      ["/v3/auth/user/add", { name: "root", password: "root-password" }],
      ["/v3/auth/user/grant", { user: "root", role: "root" }],
      ["/v3/auth/enable", {}],
    ] as const) {
      expect((await call(leader.clientUrl, path, body)).status).toBe(200);
    }
    const auth = await call(leader.clientUrl, "/v3/auth/authenticate", {
      name: "root",
      password: "root-password",
    });
    const token = auth.body.token as string;
    expect((await call(leader.clientUrl, "/v3/cluster/member/list", {})).status).toBe(401);

    expect(await procs.get(follower.name)!.terminate()).toBe(0);
    const [moved] = await planMembers(root.path, [follower.name], follower.id);
    const restarted = { ...follower, clientPort: moved!.clientPort, clientUrl: moved!.clientUrl };
    procs.set(
      follower.name,
      await ServeProcess.start(
        { ...restarted, peer: follower.peer, peerPort: follower.peerPort },
        ["--initial-cluster", initialCluster(plans), ...ARGS],
        ENV,
      ),
    );
    await eventually(async () => {
      const list = await call(leader.clientUrl, "/v3/cluster/member/list", {}, token);
      const entry = (list.body.members as { ID: string; clientURLs: string[] }[]).find(
        (x) => x.ID === String(follower.id),
      );
      return entry?.clientURLs[0] === moved!.clientUrl ? true : undefined;
    }, `the new client URL of ${follower.name}`);
  }, 60_000);
});
