/**
 * Python's etcd3 module (Debian's python3-etcd3, gRPC) against a Conclave
 * member: put, get, prefix, delete, txn, lease and watch (python/etcd3_smoke.py).
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GrpcCluster, startGrpcCluster } from "./grpc-cluster.js";

const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("./python/etcd3_smoke.py", import.meta.url));

function runPython(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(PYTHON, [SCRIPT, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, out: stdout, err: stderr });
    });
  });
}

describe("Python etcd3 against Conclave's gRPC API", () => {
  let cluster: GrpcCluster;

  beforeAll(async () => {
    cluster = await startGrpcCluster();
    await cluster.leader();
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it("puts, gets, lists, deletes, runs txns, leases and watches", { timeout: 40_000 }, async () => {
    const leader = await cluster.leader();
    const [host, port] = cluster.grpcAddressOf(leader.id).split(":") as [string, string];
    const result = await runPython([host, port, "py/"]);
    // stderr names the failed step; the watch thread may also log there as the client closes.
    expect({ out: result.out, code: result.code }, result.err).toEqual({ out: "ok\n", code: 0 });
  });
});
