import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpCluster, startHttpCluster } from "../server/http-cluster.js";

/** Debian's Python with its python3-etcd3gw package (installed by .ci/services.sh). */
const PYTHON = "/usr/bin/python3";
const SCRIPT = new URL("./python/etcd3gw_smoke.py", import.meta.url).pathname;

function runSmoke(url: string, prefix: string): Promise<{ code: number; output: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    execFile(
      PYTHON,
      [SCRIPT, hostname, port, prefix],
      { timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
        resolve({ code, output: stdout + stderr });
      },
    );
  });
}

describe("Python etcd3gw (etcd's JSON gateway client) against the HTTP API", () => {
  let cluster: HttpCluster;

  beforeAll(async () => {
    cluster = await startHttpCluster();
    await cluster.leader();
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it("puts, gets, runs txns, leases and watches through a follower", async () => {
    const [follower] = await cluster.followers();
    const r = await runSmoke(cluster.urlOf(follower!.id), "py/gw/");
    expect(r.output).toContain("ok watch_once");
    expect(r.code, r.output).toBe(0);
    expect(r.output.trim().endsWith("done")).toBe(true);
  });
});
