import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvStore } from "../../src/kv/index.js";
import { waitFor } from "../server/cluster.js";
import { type CliCluster, startCliCluster } from "./cli-cluster.js";
import { runCli, runInProcess } from "./run-cli.js";

let cluster: CliCluster;
let endpoints: string[];
const root = mkdtempSync(join(tmpdir(), "conclave-cli-"));

beforeAll(async () => {
  cluster = await startCliCluster();
  endpoints = cluster.endpointsFlag;
});
afterAll(async () => {
  await cluster.stop();
  rmSync(root, { recursive: true, force: true });
});

/** The `conclave` binary as a child process. */
const cli = (args: string[]) => runCli([...args, ...endpoints]);
/** The same command run in this process (no start-up cost). */
const run = (args: string[]) => runInProcess([...args, ...endpoints]);

describe("conclave member, status, move-leader and snapshot against a cluster", {
  timeout: 120_000,
}, () => {
  it("lists members as a table and as JSON", async () => {
    const table = await cli(["member", "list"]);
    expect(table.code).toBe(0);
    const [head, ...rows] = table.stdout.trimEnd().split("\n");
    expect(head?.split(/\s{2,}/)).toEqual(["ID", "NAME", "PEER URLS", "CLIENT URLS", "IS LEARNER"]);
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual(["1", "2", "3"]);
    const json = await run(["member", "list", "--json"]);
    const doc = JSON.parse(json.stdout) as { members: { id: number; isLearner: boolean }[] };
    expect(doc.members.map((m) => [m.id, m.isLearner])).toEqual([
      [1, false],
      [2, false],
      [3, false],
    ]);
  });

  it("adds a learner, refuses to promote a voter, and removes the learner", async () => {
    const add = await cli([
      "member",
      "add",
      "n9",
      "--peer-urls",
      "127.0.0.1:7199",
      "--learner",
      "--json",
    ]);
    expect(add.stderr).toBe("");
    const { member } = JSON.parse(add.stdout) as { member: { id: number; isLearner: boolean } };
    expect(member.isLearner).toBe(true);
    expect((await run(["member", "list"])).stdout).toMatch(
      new RegExp(`\\n${member.id}\\s.*true\\n`),
    );

    const voter = await run(["member", "promote", "1"]);
    expect(voter.code).toBe(1);
    expect(voter.stderr).toBe("conclave: MEMBER_ROLE: member 1 is already a voter\n");

    const removed = await cli(["member", "remove", String(member.id)]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(new RegExp(`^Removed member ${member.id} from the cluster\\n`));
    expect((await run(["member", "list", "--json"])).stdout).not.toContain(`"id":${member.id},`);
  });

  it("adds learners by default; --voter is refused, naming the numbers, once it would cost the quorum", async () => {
    const leader = await cluster.leader();
    await waitFor(
      () => leader.node.status().peers.every((p) => p.connected),
      "the leader to hear from every member",
    );
    const learner = await run(["member", "add", "g1", "--peer-urls", "127.0.0.1:7191", "--json"]);
    const added = JSON.parse(learner.stdout) as { member: { id: number; isLearner: boolean } };
    expect(added.member.isLearner).toBe(true);
    expect((await run(["member", "remove", String(added.member.id)])).code).toBe(0);

    const both = await run([
      "member",
      "add",
      "g",
      "--peer-urls",
      "127.0.0.1:7190",
      "--voter",
      "--learner",
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--voter and --learner exclude each other");

    const voters: number[] = [];
    for (const port of [7192, 7193]) {
      const r = await run([
        "member",
        "add",
        "g",
        "--peer-urls",
        `127.0.0.1:${port}`,
        "--voter",
        "--json",
      ]);
      expect(r.stderr).toBe("");
      voters.push((JSON.parse(r.stdout) as { member: { id: number } }).member.id);
    }
    const refused = await run(["member", "add", "g4", "--peer-urls", "127.0.0.1:7194", "--voter"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^conclave: UNSAFE_RECONFIGURATION: adding voter \d+ refused: it would leave 3 connected of 6 voters, fewer than the quorum of 4;/,
    );
    for (const id of voters) expect((await run(["member", "remove", String(id)])).code).toBe(0);
    const list = JSON.parse((await run(["member", "list", "--json"])).stdout) as {
      members: { id: number }[];
    };
    expect(list.members.map((m) => m.id)).toEqual([1, 2, 3]);
  });

  it("shows each endpoint's status, and exits 1 naming an endpoint that does not answer", async () => {
    const leader = await cluster.leader();
    const res = await cli(["status"]);
    expect(res.code).toBe(0);
    const rows = res.stdout
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((r) => r.split(/\s{2,}/));
    expect(rows.map((r) => r[0])).toEqual(cluster.urls);
    expect(rows.map((r) => r[1])).toEqual(["1", "2", "3"]);
    // IS LEADER is true on exactly the leader's row; every row names the same leader.
    expect(rows.map((r) => r[3])).toEqual([1, 2, 3].map((id) => String(id === leader.id)));
    expect(new Set(rows.map((r) => r[4]))).toEqual(new Set([String(leader.id)]));

    const dead = "http://127.0.0.1:9";
    const partial = await runCli([
      "status",
      "--json",
      "--timeout",
      "1000",
      "--endpoints",
      `${cluster.urls[0]},${dead}`,
    ]);
    expect(partial.code).toBe(1);
    const doc = JSON.parse(partial.stdout) as { endpoints: Record<string, unknown>[] };
    expect(doc.endpoints[0]).toMatchObject({
      endpoint: cluster.urls[0],
      memberId: 1,
      leader: leader.id,
    });
    expect(doc.endpoints[1]).toMatchObject({ endpoint: dead, error: { code: expect.any(String) } });
  });

  it("moves leadership to another member", async () => {
    const leader = await cluster.leader();
    const target = cluster.members.find((m) => m !== leader)!;
    const res = await cli(["move-leader", String(target.id)]);
    expect(res.stderr).toBe("");
    expect(res.stdout).toBe(`Leadership transferred to member ${target.id}\n`);
    await waitFor(() => target.node.status().role === "leader", "the target to lead");
  });

  it("saves a snapshot that a fresh KvStore restores", async () => {
    for (const [k, v] of [
      ["snap/a", "1"],
      ["snap/b", "2"],
      ["snap/a", "3"],
    ]) {
      expect((await run(["put", k!, v!])).code).toBe(0);
    }
    const file = join(root, "backup.snap");
    const res = await cli(["snapshot", "save", file, "--json"]);
    expect(res.stderr).toBe("");
    const report = JSON.parse(res.stdout) as { bytes: number; revision: number; keyCount: number };
    expect(report.bytes).toBe(readFileSync(file).byteLength);

    const store = new KvStore();
    await store.restore(
      (async function* () {
        yield readFileSync(file);
      })(),
    );
    expect(store.revision).toBe(report.revision);
    const snap = store.range({ key: Buffer.from("snap/"), rangeEnd: Buffer.from("snap0") });
    expect(
      snap.kvs.map((kv) => [Buffer.from(kv.key).toString(), Buffer.from(kv.value).toString()]),
    ).toEqual([
      ["snap/a", "3"],
      ["snap/b", "2"],
    ]);
  });
});
