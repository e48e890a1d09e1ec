import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait-for.js";
import { ETCDCTL, type GrpcCluster, parseExact, startGrpcCluster } from "./grpc-cluster.js";

/** etcdctl prints lease ids as 16 hex digits. */
const hex = (id: number) => id.toString(16).padStart(16, "0");

describe("etcdctl lease commands against Conclave's gRPC API", () => {
  let cluster: GrpcCluster;

  beforeAll(async () => {
    cluster = await startGrpcCluster();
    await cluster.leader();
  });
  afterAll(async () => {
    await cluster.stop();
  });

  async function grant(ttl: number, endpoints?: readonly string[]): Promise<number> {
    const r = await cluster.etcdctl(["lease", "grant", String(ttl)], { endpoints });
    const m = /^lease ([0-9a-f]{16}) granted with TTL\((\d+)s\)\n$/.exec(r.stdout);
    expect(m, r.stderr).not.toBeNull();
    return Number.parseInt(m![1]!, 16);
  }

  it("grants, attaches keys, reports time to live and revokes (deleting the keys)", async () => {
    // Through a follower: the grant is forwarded to the leader.
    const follower = (await cluster.followers())[0]!;
    const termAtGrant = (await cluster.leader()).node.basicStatus().term;
    const id = await grant(60, [cluster.grpcAddressOf(follower.id)]);
    expect((await cluster.etcdctl(["put", "lease/a", "1", `--lease=${hex(id)}`])).stdout).toBe(
      "OK\n",
    );
    await cluster.etcdctl(["put", "lease/b", "2", `--lease=${hex(id)}`]);

    // Only the leader's clock knows what is left: a follower forwards the question.
    const ttl = await cluster.etcdctl(["lease", "timetolive", hex(id), "--keys"], {
      endpoints: [cluster.grpcAddressOf(follower.id)],
    });
    // Within the term that granted it a lease never has more than its TTL
    // left; a leader that took over since gives it up to one election
    // timeout (1 s here) more, as etcd's does.
    const sameTerm = (await cluster.leader()).node.basicStatus().term === termAtGrant;
    const remaining = sameTerm ? "59|60" : "59|60|61";
    expect(ttl.stdout).toMatch(
      new RegExp(
        `^lease ${hex(id)} granted with TTL\\(60s\\), remaining\\((${remaining})s\\), attached keys\\(\\[lease/a lease/b\\]\\)\\n$`,
      ),
    );
    const json = parseExact(
      (await cluster.etcdctl(["lease", "timetolive", hex(id), "--keys", "-w", "json"])).stdout,
    );
    expect(json).toMatchObject({
      id,
      "granted-ttl": 60,
      keys: [Buffer.from("lease/a").toString("base64"), Buffer.from("lease/b").toString("base64")],
    });
    expect(json["ttl"]).toBeGreaterThanOrEqual(59);
    expect(typeof json["cluster_id"]).toBe("string");

    const list = await cluster.etcdctl(["lease", "list"]);
    expect(list.stdout).toContain(`${hex(id)}\n`);
    expect(list.stdout).toMatch(/^found \d+ leases\n/);
    const listJson = parseExact((await cluster.etcdctl(["lease", "list", "-w", "json"])).stdout);
    expect(listJson["leases"]).toContainEqual({ id });

    expect((await cluster.etcdctl(["lease", "revoke", hex(id)])).stdout).toBe(
      `lease ${hex(id)} revoked\n`,
    );
    expect((await cluster.etcdctl(["get", "lease/", "--prefix"])).stdout).toBe("");
    expect((await cluster.etcdctl(["lease", "timetolive", hex(id)])).stdout).toBe(
      `lease ${hex(id)} already expired\n`,
    );
    const gone = parseExact(
      (await cluster.etcdctl(["lease", "timetolive", hex(id), "-w", "json"])).stdout,
    );
    expect(gone).toMatchObject({ id, ttl: -1, "granted-ttl": 0, keys: null });
  });

  it("answers an unknown lease as etcd does", async () => {
    const revoke = await cluster.etcdctl(["lease", "revoke", "1234"]);
    expect(revoke.code).not.toBe(0);
    expect(revoke.stderr).toContain("etcdserver: requested lease not found");
    const once = await cluster.etcdctl(["lease", "keep-alive", "--once", "1234"]);
    expect(once.code).not.toBe(0);
    expect(once.stderr).toContain("etcdserver: requested lease not found");
    expect((await cluster.etcdctl(["lease", "timetolive", "1234"])).stdout).toBe(
      "lease 0000000000001234 already expired\n",
    );
    // A lease id above 2^53 cannot be held here: it is unknown, not an error of its own.
    const hugeRevoke = await cluster.etcdctl(["lease", "revoke", "7fffffffffffffff"]);
    expect(hugeRevoke.stderr).toContain("etcdserver: requested lease not found");
    expect((await cluster.etcdctl(["lease", "timetolive", "7fffffffffffffff"])).stdout).toBe(
      "lease 7fffffffffffffff already expired\n",
    );
  });

  it("keeps a lease alive once, and refuses a TTL above the maximum with etcd's error", async () => {
    const id = await grant(30);
    const follower = (await cluster.followers())[0]!;
    const once = await cluster.etcdctl(["lease", "keep-alive", "--once", hex(id)], {
      endpoints: [cluster.grpcAddressOf(follower.id)],
    });
    expect(once.stdout).toBe(`lease ${hex(id)} keepalived with TTL(30)\n`);
    const json = parseExact(
      (await cluster.etcdctl(["lease", "keep-alive", "--once", hex(id), "-w", "json"])).stdout,
    );
    expect(json).toMatchObject({ ID: id, TTL: 30 });
    expect(json["member_id"]).toBeGreaterThan(0);
    expect(json["raft_term"]).toBeGreaterThan(0);
    expect(typeof json["cluster_id"]).toBe("string");

    const huge = await cluster.etcdctl(["lease", "grant", "9000000000"]);
    expect(huge.code).not.toBe(0);
    expect(huge.stderr).toContain("etcdserver: too large lease TTL");
    // Below etcd's minimum (1.5 election timeouts, rounded up to a second) is raised to it.
    expect((await cluster.etcdctl(["lease", "grant", "0"])).stdout).toMatch(
      /granted with TTL\(2s\)\n$/,
    );
  });

  it("keeps a short lease alive past its TTL over a streaming keep-alive", async () => {
    const id = await grant(2);
    await cluster.etcdctl(["put", "stream/k", "v", `--lease=${hex(id)}`]);
    const child = spawn(
      ETCDCTL,
      [`--endpoints=${cluster.grpcAddresses.join(",")}`, "lease", "keep-alive", hex(id)],
      { env: { ...process.env, ETCDCTL_API: "3" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    let exitCode: number | null | undefined;
    const exited = new Promise<void>((resolve) =>
      child.on("exit", (code) => {
        exitCode = code;
        resolve();
      }),
    );
    try {
      // etcd's client renews every TTL/3: the fourth renewal comes after the
      // lease's 2 s would have run out without them.
      await waitFor(
        () => out.split("\n").filter((l) => l.includes("keepalived with TTL(2)")).length >= 4,
        "four keep-alives",
        20_000,
      );
      expect(out.split("\n")[0]).toBe(`lease ${hex(id)} keepalived with TTL(2)`);
      expect((await cluster.etcdctl(["get", "stream/k", "--print-value-only"])).stdout).toBe("v\n");

      // Revoked elsewhere: the next renewal answers TTL 0, and etcdctl says so and stops.
      await cluster.etcdctl(["lease", "revoke", hex(id)]);
      await waitFor(() => exitCode !== undefined, "etcdctl to stop renewing", 10_000);
      expect(out).toMatch(new RegExp(`\\nlease ${hex(id)} expired or revoked\\.\\n$`));
      expect(exitCode).toBe(0);
    } finally {
      if (exitCode === undefined) child.kill();
      await exited;
    }
  });
});
