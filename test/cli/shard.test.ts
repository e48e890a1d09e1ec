import { afterEach, describe, expect, it } from "vitest";
import { FakeShardCluster } from "../client/sharded/fake-shard-cluster.js";
import { runInProcess } from "./run-cli.js";

const clusters: FakeShardCluster[] = [];

afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.close()));
});

/** Three nodes, two shards of two replicas; node 3 is the controller. */
async function cluster(): Promise<FakeShardCluster> {
  const c = await FakeShardCluster.start({
    nodeCount: 3,
    shardCount: 2,
    replication: 2,
    placement: (g) => (g === 0 ? [1, 2, 3] : g === 1 ? [1, 2] : [2, 3]),
  });
  c.controller = 3;
  clusters.push(c);
  return c;
}

const shard = (c: FakeShardCluster, ...args: string[]) =>
  runInProcess(["shard", ...args, "--endpoints", c.url(1), "--timeout", "2000"]);

describe("conclave shard", () => {
  it("list prints one row per group; --json prints the map", async () => {
    const c = await cluster();
    c.group(2).leader = 0;
    const listed = await shard(c, "list");
    expect(listed).toMatchObject({ code: 0, stderr: "" });
    expect(listed.stdout.split("\n").map((l) => l.split(/\s{2,}/))).toEqual([
      ["GROUP", "EPOCH", "REPLICAS", "LEADER"],
      ["0 (meta)", "1", "1,2,3", "1"],
      ["1", "1", "1,2", "1"],
      ["2", "1", "2,3", "-"],
      [""],
    ]);
    const json = await shard(c, "list", "--json");
    const map = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(map).toMatchObject({ revision: 1, shardCount: 2, replication: 2 });
    expect(map["groups"]).toHaveLength(3);
    expect(map["nodes"]).toEqual(
      c.nodes.map((n) => ({
        id: n.id,
        peer: `127.0.0.1:${7000 + n.id}`,
        client: n.url,
        capacity: 1,
        draining: false,
      })),
    );
  });

  it("status prints nodes and groups from the controller and exits 0 when every group has its voters", async () => {
    const c = await cluster();
    // Node 1 is down, but every group already has two voters on the live nodes 2 and 3.
    c.live.delete(1);
    c.statusVoters.set(1, [2, 3]); // group 1 moved off node 1 already, not yet settled
    c.statusVoters.set(0, [2, 3]);
    const result = await shard(c, "status");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines[0]).toBe("controller 3, map revision 1");
    expect(lines[2]?.split(/\s{2,}/)).toEqual([
      "ID",
      "URL",
      "LIVE",
      "DRAINING",
      "REPLICAS",
      "LEADERS",
    ]);
    expect(lines[3]?.split(/\s{2,}/)).toEqual(["1", c.url(1), "false", "false", "2", "2"]);
    expect(result.stdout).toMatch(/GROUP\s+EPOCH\s+TARGET\s+VOTERS\s+LEARNERS\s+LEADER\s+SETTLED/);
    expect(result.stdout).toMatch(/\n1\s+1\s+1,2\s+2,3\s+-\s+1\s+false\n/);
    expect(result.stdout).not.toContain("UNDER-REPLICATED");
    // It asked node 1, which sent it on to the controller.
    expect(c.requests("/v3/shard/status").map((r) => r.node)).toEqual([1, 3]);
  });

  it("status exits 1 when a group has fewer voters on live nodes than the replication", async () => {
    const c = await cluster();
    c.live.delete(3);
    const result = await shard(c, "status");
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      "UNDER-REPLICATED group 2: 1 voter(s) on live nodes, replication 2",
    );
    expect(result.stdout).not.toMatch(/UNDER-REPLICATED group [01]/);
    const json = await shard(c, "status", "--json");
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(parsed["replication"]).toBe(2);
    expect(parsed["controller"]).toBe(3);
    expect(parsed["underReplicated"]).toEqual([{ group: 2, liveVoters: 1, replication: 2 }]);
  });

  it("drain marks a node draining and --undo takes the mark off", async () => {
    const c = await cluster();
    const drained = await shard(c, "drain", "2");
    expect(drained).toMatchObject({ code: 0, stdout: "Node 2 is draining\n" });
    expect(c.draining.has(2)).toBe(true);
    const undone = await shard(c, "drain", "2", "--undo", "--json");
    expect(undone.code).toBe(0);
    expect(JSON.parse(undone.stdout)).toEqual({ node: 2, draining: false });
    expect(c.draining.has(2)).toBe(false);
    expect(c.requests("/v3/shard/drain").map((r) => [r.node, r.body])).toEqual([
      [1, { node: 2, draining: true }],
      [3, { node: 2, draining: true }],
      [1, { node: 2, draining: false }],
      [3, { node: 2, draining: false }],
    ]);
  });

  it("move sends the replica move to the controller and prints the new epoch", async () => {
    const c = await cluster();
    const moved = await shard(c, "move", "1", "--from", "1", "--to", "3");
    expect(moved).toMatchObject({
      code: 0,
      stdout: "Moving group 1 from node 1 to node 3 (epoch 2)\n",
    });
    expect(c.group(1).replicas).toEqual([3, 2]);
    const refused = await shard(c, "move", "1", "--from", "1", "--to", "3");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^conclave: INVALID_ARGUMENT: cannot move group 1/);
    const json = await shard(c, "move", "2", "--from", "3", "--to", "1", "--json");
    expect(JSON.parse(json.stdout)).toEqual({ group: 2, from: 3, to: 1, epoch: 2 });
  });

  it("answers bad syntax with the usage and exit 2, before connecting", async () => {
    const c = await cluster();
    const missing = await shard(c, "move", "1", "--from", "1");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing flag --to");
    expect(missing.stderr).toContain("Usage: conclave shard move GROUP [flags]");
    const same = await shard(c, "move", "1", "--from", "2", "--to", "2");
    expect(same.code).toBe(2);
    const badNode = await shard(c, "drain", "zero");
    expect(badNode.code).toBe(2);
    expect(badNode.stderr).toContain('NODE must be an integer >= 1, got "zero"');
    expect(c.seen).toEqual([]);
    const unknown = await shard(c, "split");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown subcommand "split"');
  });

  it("documents itself: the group's usage and each command's help", async () => {
    const group = await runInProcess(["shard", "--help"]);
    expect(group.code).toBe(0);
    for (const sub of ["list", "status", "drain", "move"]) {
      expect(group.stdout).toContain(`conclave shard ${sub}`);
    }
    const status = await runInProcess(["shard", "status", "--help"]);
    expect(status.stdout).toContain("Exit status 1 when some group has fewer voters on live nodes");
  });
});
