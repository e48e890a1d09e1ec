import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleValue } from "../metric-sample.js";
import {
  b64,
  eventually,
  initialCluster,
  type MemberPlan,
  planMembers,
  ServeProcess,
  tempRoot,
} from "./serve-process.js";

/**
 * Members serve https and take client certificates from one CA; a user
 * signs in by a certificate whose CN is the user's name. Such a user has no
 * token a follower could pass on, so the follower vouches for it to the
 * leader with its member credential (derived from the cluster secret
 * ServeProcess sets).
 */
const root = tempRoot();
let plans: MemberPlan[] = [];
const procs: ServeProcess[] = [];
let ca: string;
const certs = new Map<string, { cert: string; key: string }>();

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: "pipe" });
}

/** A CA, and a certificate it signed for each CN (127.0.0.1 and localhost as names). */
function makeCertificates(dir: string, cns: readonly string[]): void {
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl([
    "req",
    "-x509",
    ...ecKey,
    "-keyout",
    join(dir, "ca.key"),
    "-out",
    join(dir, "ca.crt"),
    "-days",
    "2",
    "-subj",
    "/CN=conclave-test-ca",
  ]);
  ca = readFileSync(join(dir, "ca.crt"), "utf8");
  const ext = join(dir, "leaf.ext");
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const cn of cns) {
    const base = join(dir, cn);
    openssl([
      "req",
      "-new",
      ...ecKey,
      "-keyout",
      `${base}.key`,
      "-out",
      `${base}.csr`,
      "-subj",
      `/CN=${cn}`,
    ]);
    openssl([
      "x509",
      "-req",
      "-in",
      `${base}.csr`,
      "-CA",
      join(dir, "ca.crt"),
      "-CAkey",
      join(dir, "ca.key"),
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      ext,
      "-out",
      `${base}.crt`,
    ]);
    certs.set(cn, {
      cert: readFileSync(`${base}.crt`, "utf8"),
      key: readFileSync(`${base}.key`, "utf8"),
    });
  }
}

interface Reply {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field in tests.
  readonly body: any;
}

/** One POST over https presenting the certificate of `cn`. */
function post(m: MemberPlan, path: string, body: object, cn: string): Promise<Reply> {
  const id = certs.get(cn)!;
  return new Promise((resolve, reject) => {
    const req = request(
      `https://127.0.0.1:${m.clientPort}${path}`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        ca,
        cert: id.cert,
        key: id.key,
        timeout: 10_000,
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => {
          text += d.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("no answer")));
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** One GET over https (with the member's certificate), answered as text. */
function getText(m: MemberPlan, path: string): Promise<string> {
  const id = certs.get("conclave-member")!;
  return new Promise((resolve, reject) => {
    const req = request(
      `https://127.0.0.1:${m.clientPort}${path}`,
      { ca, cert: id.cert, key: id.key, timeout: 10_000 },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => {
          text += d.toString();
        });
        res.on("end", () => resolve(text));
      },
    );
    req.on("timeout", () => req.destroy(new Error("no answer")));
    req.on("error", reject);
    req.end();
  });
}

async function ok(m: MemberPlan, path: string, body: object, cn: string) {
  const r = await post(m, path, body, cn);
  if (r.status !== 200) throw new Error(`${path} answered ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

beforeAll(async () => {
  makeCertificates(root.path, ["conclave-member", "root", "alice"]);
  const member = certs.get("conclave-member")!;
  writeFileSync(join(root.path, "member.crt"), member.cert);
  writeFileSync(join(root.path, "member.key"), member.key, { mode: 0o600 });
  plans = await planMembers(root.path, ["f1", "f2"]);
  const cluster = initialCluster(plans).replaceAll("http://", "https://");
  const files = [
    ["--client-cert-file", join(root.path, "member.crt")],
    ["--client-key-file", join(root.path, "member.key")],
    ["--client-ca-file", join(root.path, "ca.crt")],
  ].flat();
  procs.push(
    ...(await Promise.all(
      plans.map((m) =>
        ServeProcess.start(m, [
          "--initial-cluster",
          cluster,
          "--bcrypt-cost",
          "4",
          // The test asserts what one follower forwards to one leader; an
          // election on a loaded machine would (rightly) turn a forward into
          // NOT_LEADER. A long election timeout keeps the roles for the test.
          "--election-ms",
          "5000",
          ...files,
        ]),
      ),
    )),
  );
}, 120_000);

afterAll(async () => {
  for (const p of procs) p.kill();
  await Promise.all(procs.map((p) => p.exited));
  root.remove();
});

describe("forwarding for a user known by a client certificate", () => {
  it("the follower vouches for the user; the leader applies that user's permissions", async () => {
    // The member that says it leads, as every member sees it (a follower's
    // view can lag an election), once it has committed the first write: two
    // members starting together may elect twice, and a leader every member
    // named can be replaced before its first write. A write refused with
    // NOT_LEADER was not applied, so it is sent again to the new leader.
    const firstWrite = ["/v3/auth/user/add", { name: "root", password: "root-password" }] as const;
    const leaderId = await eventually(async () => {
      const views = await Promise.all(
        plans.map((m) => post(m, "/v3/maintenance/status", {}, "root")),
      );
      const ids = new Set(views.map((v) => String(v.body.leader)));
      const claimed = views.find((v) => String(v.body.leader) === String(v.body.header?.member_id));
      if (ids.size !== 1 || claimed === undefined) return undefined;
      const id = Number(claimed.body.leader);
      const r = await post(plans.find((m) => m.id === id)!, ...firstWrite, "root");
      if (r.status === 421) return undefined;
      if (r.status !== 200)
        throw new Error(`${firstWrite[0]} answered ${r.status} ${JSON.stringify(r.body)}`);
      return id;
    }, "a leader every member knows, committing the first write");
    const leader = plans.find((m) => m.id === leaderId)!;
    const follower = plans.find((m) => m.id !== leaderId)!;
    for (const [path, body] of [
      ["/v3/auth/user/grant", { user: "root", role: "root" }],
      ["/v3/auth/role/add", { name: "alice-a" }],
      [
        "/v3/auth/role/grant",
        { name: "alice-a", perm: { permType: "READWRITE", key: b64("a/"), range_end: b64("a0") } },
      ],
      ["/v3/auth/user/add", { name: "alice", password: "alice-password" }],
      ["/v3/auth/user/grant", { user: "alice", role: "alice-a" }],
      ["/v3/auth/enable", {}],
    ] as const) {
      await ok(leader, path, body, "root");
    }
    await eventually(async () => {
      const r = await post(follower, "/v3/kv/range", { key: b64("a/") }, "conclave-member");
      return r.status === 401 ? true : undefined;
    }, "auth enabled on the follower");

    const put = await ok(follower, "/v3/kv/put", { key: b64("a/cert"), value: b64("c") }, "alice");
    const read = await ok(leader, "/v3/kv/range", { key: b64("a/cert") }, "alice");
    expect(read.kvs[0].mod_revision).toBe(put.header.revision);

    const outside = await post(
      follower,
      "/v3/kv/put",
      { key: b64("b/cert"), value: b64("c") },
      "alice",
    );
    expect(outside.status).toBe(403);
    const rootOnly = await post(follower, "/v3/auth/role/add", { name: "nope" }, "alice");
    expect(rootOnly.status).toBe(403);
    // Root by certificate, through the follower: a root-only change reaches the leader.
    await ok(follower, "/v3/auth/role/add", { name: "by-root" }, "root");
    await ok(leader, "/v3/auth/role/get", { role: "by-root" }, "root");
    // Both went through the follower's forwarding, not around it.
    const metrics = await getText(follower, "/metrics");
    expect(sampleValue(metrics, "conclave_leader_forwards_total", { outcome: "relayed" })).toBe(2);
  }, 60_000);
});
