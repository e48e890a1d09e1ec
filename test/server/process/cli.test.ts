import { spawn, spawnSync } from "node:child_process";
import { chmodSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../../support/free-port.js";
import { eventually, post, tempRoot } from "./serve-process.js";

const MAIN = new URL("../../../src/cli/main.ts", import.meta.url).pathname;

function conclave(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
}

describe("conclave serve and start on the command line", () => {
  it("prints help for serve and start", () => {
    const serve = conclave(["serve", "--help"]);
    expect(serve.status).toBe(0);
    expect(serve.stdout).toContain("--initial-cluster");
    expect(serve.stdout).toContain("CONCLAVE_CLUSTER_SECRET");
    const start = conclave(["start", "--help"]);
    expect(start.status).toBe(0);
    expect(start.stdout).toContain("--nodes");
  }, 60_000);

  it("answers bad flags with what was wrong, the usage and exit code 2", () => {
    const unknown = conclave(["serve", "--bogus"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("--bogus");
    expect(unknown.stderr).toContain("Usage: conclave serve");
    const bad = conclave(["serve", "--election-ms", "soon"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("electionMs (flag --election-ms)");
    const nodes = conclave(["start", "--nodes", "12"]);
    expect(nodes.status).toBe(2);
    expect(nodes.stderr).toContain("--nodes must be 1..9");
    expect(nodes.stderr).toContain("Usage: conclave start");
  }, 60_000);

  it("start runs a cluster, reports its endpoints and leader, and stops it on SIGINT", async () => {
    const root = tempRoot();
    const clientPort = await freePort();
    const peerPort = await freePort();
    const grpcPort = await freePort();
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        MAIN,
        "start",
        "--nodes",
        "1",
        "--data-dir",
        root.path,
        "--client-port",
        String(clientPort),
        "--peer-port",
        String(peerPort),
        "--grpc-port",
        String(grpcPort),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      const url = `http://127.0.0.1:${clientPort}`;
      await eventually(
        async () => (out.includes("leader: n1") ? true : undefined),
        "the leader line",
        60_000,
      );
      expect(out).toContain(`n1 (id 1)  ${url}`);
      const put = await post(url, "/v3/kv/put", { key: "YQ==", value: "Yg==" });
      expect(put.status).toBe(200);
      // The dashboard it points at answers.
      await eventually(
        async () => (out.includes("dashboard: ") ? true : undefined),
        "dashboard line",
      );
      expect(out).toContain(`dashboard: ${url}/ui`);
      const page = await fetch(`${url}/ui`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("<html");
      // etcd's own client reads it through the member's etcd gRPC API.
      expect(out).toContain(`etcd gRPC 127.0.0.1:${grpcPort}`);
      const etcdctl = spawnSync(
        "/usr/bin/etcdctl",
        [`--endpoints=127.0.0.1:${grpcPort}`, "--command-timeout=10s", "get", "a"],
        { encoding: "utf8", timeout: 30_000 },
      );
      expect(etcdctl.stdout).toBe("a\nb\n");
      const second = conclave([
        "start",
        "--nodes",
        "1",
        "--data-dir",
        root.path,
        "--client-port",
        String(await freePort()),
        "--peer-port",
        String(await freePort()),
        "--grpc-port",
        "0",
      ]);
      expect(second.status).toBe(1);
      expect(second.stderr).toContain(
        `data directory ${root.path} is in use by another process (PID ${child.pid})`,
      );
      process.kill(child.pid!, "SIGINT");
      expect(await exited).toBe(0);
      await expect(fetch(`${url}/health`)).rejects.toThrow();
      // The members shared a generated secret, kept private in the data root.
      const secretPath = join(root.path, "cluster-secret");
      expect(statSync(secretPath).mode & 0o777).toBe(0o600);
      const secret = readFileSync(secretPath, "utf8");
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
      expect(out).toContain(`new cluster secret in ${secretPath}`);
      // The next start reads that file rather than making another, and refuses it once others can read it.
      chmodSync(secretPath, 0o644);
      const again = conclave(["start", "--nodes", "1", "--data-dir", root.path]);
      expect(again.status).toBe(1);
      expect(again.stderr).toContain(`${secretPath} is readable or writable by group or others`);
      expect(readFileSync(secretPath, "utf8")).toBe(secret);
    } finally {
      if (child.exitCode === null) process.kill(child.pid!, "SIGKILL");
      root.remove();
    }
  }, 90_000);
});
