import { writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTlsFiles } from "../../raft/transport/helpers.js";
import {
  initialCluster,
  type MemberPlan,
  planMembers,
  ServeProcess,
  tempRoot,
} from "./serve-process.js";

const root = tempRoot();
let plans: MemberPlan[] = [];
const procs: ServeProcess[] = [];
let tls: ReturnType<typeof makeTlsFiles>;

interface HttpsReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

function httpsPost(url: string, path: string, withClientCert: boolean): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        ca: tls.cert,
        ...(withClientCert && { cert: tls.cert, key: tls.key }),
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
    req.on("error", reject);
    req.end("{}");
  });
}

beforeAll(async () => {
  tls = makeTlsFiles();
  const cert = join(root.path, "node.crt");
  const key = join(root.path, "node.key");
  writeFileSync(cert, tls.cert);
  writeFileSync(key, tls.key, { mode: 0o600 });
  plans = await planMembers(root.path, ["t1", "t2"]);
  // The client URLs in the initial cluster are https: the API serves TLS.
  const cluster = initialCluster(plans).replaceAll("http://", "https://");
  const files = [
    ["--client-cert-file", cert],
    ["--client-key-file", key],
    ["--client-ca-file", cert],
    ["--peer-cert-file", cert],
    ["--peer-key-file", key],
    ["--peer-ca-file", cert],
  ].flat();
  const started = await Promise.all(
    plans.map((m) =>
      ServeProcess.start(m, ["--initial-cluster", cluster, ...files], {
        // No secret: the members authenticate each other by certificate alone.
        CONCLAVE_CLUSTER_SECRET: "",
      }),
    ),
  );
  procs.push(...started);
}, 120_000);

afterAll(async () => {
  for (const p of procs) p.kill();
  await Promise.all(procs.map((p) => p.exited));
  root.remove();
});

describe("conclave serve with TLS", () => {
  it("serves https to clients with a certificate and replicates over mutual-TLS peers", async () => {
    const url = `https://127.0.0.1:${plans[0]!.clientPort}`;
    const deadline = Date.now() + 30_000;
    let status: HttpsReply;
    for (;;) {
      status = await httpsPost(url, "/v3/maintenance/status", true);
      if (status.body["leader"] !== "0" || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status.status).toBe(200);
    // A leader was elected: the two members talk over TLS.
    expect(["1", "2"]).toContain(status.body["leader"]);
    await expect(httpsPost(url, "/v3/maintenance/status", false)).rejects.toThrow();
  }, 60_000);

  it("exits 0 on SIGTERM", async () => {
    expect(await Promise.all(procs.map((p) => p.terminate()))).toEqual([0, 0]);
  }, 30_000);
});
