import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliCluster, closeNow, startCliCluster } from "./cli-cluster.js";
import { lineReader, runCli, startCli } from "./run-cli.js";

let cluster: CliCluster;

beforeAll(async () => {
  cluster = await startCliCluster();
});
afterAll(async () => {
  await cluster.stop();
});

const cli = (args: string[]) => runCli([...args, ...cluster.endpointsFlag]);

async function putRevision(key: string, value: string): Promise<number> {
  const res = await cli(["put", key, value, "--json"]);
  expect(res.stderr).toBe("");
  return (JSON.parse(res.stdout) as { revision: number }).revision;
}

async function interrupt(child: ReturnType<typeof startCli>): Promise<number | null> {
  const exited = once(child, "exit");
  process.kill(child.pid!, "SIGINT");
  const [code] = (await exited) as [number | null];
  return code;
}

describe("conclave watch against a cluster", { timeout: 120_000 }, () => {
  it("prints one JSON line per event from --rev on, then exits 0 on SIGINT", async () => {
    const first = await putRevision("watch/a", "1");
    const child = startCli([
      "watch",
      "watch/",
      "--prefix",
      "--rev",
      String(first),
      "--prev-kv",
      "--json",
      ...cluster.endpointsFlag,
    ]);
    const reader = lineReader(child);
    await putRevision("watch/b", "2");
    expect((await cli(["del", "watch/a"])).code).toBe(0);

    const events = (await reader.waitForLines(3)).map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
    expect(events).toEqual([
      expect.objectContaining({
        type: "PUT",
        revision: first,
        kv: expect.objectContaining({ key: "watch/a", value: "1" }),
      }),
      expect.objectContaining({
        type: "PUT",
        revision: first + 1,
        kv: expect.objectContaining({ key: "watch/b", value: "2" }),
      }),
      expect.objectContaining({
        type: "DELETE",
        revision: first + 2,
        kv: expect.objectContaining({ key: "watch/a" }),
        prevKv: expect.objectContaining({ key: "watch/a", value: "1" }),
      }),
    ]);
    expect(await interrupt(child)).toBe(0);
  });

  it("prints type, key and value lines for people", async () => {
    const rev = await putRevision("human/k", "hello world");
    const child = startCli(["watch", "human/k", "--rev", String(rev), ...cluster.endpointsFlag]);
    const reader = lineReader(child);
    expect(await reader.waitForLines(3)).toEqual(["PUT", "human/k", "hello world"]);
    expect(await interrupt(child)).toBe(0);
  });

  it("keeps printing after the member it watched through goes away", async () => {
    const rev = await putRevision("resume/k", "before");
    const leader = await cluster.leader();
    const [follower] = await cluster.followers();
    const followerUrl = cluster.urls[follower!.id - 1]!;
    // The watch opens on the first endpoint listed: the follower, whose API is then lost.
    const order = [followerUrl, ...cluster.urls.filter((u) => u !== followerUrl)];
    const child = startCli([
      "watch",
      "resume/k",
      "--rev",
      String(rev),
      "--json",
      "--endpoints",
      order.join(","),
    ]);
    const reader = lineReader(child);
    await reader.waitForLines(1);
    expect(follower!.store.watcherCount).toBe(1);
    await closeNow(follower!.app);
    const leaderUrl = cluster.urls[leader.id - 1]!;
    expect((await runCli(["put", "resume/k", "after", "--endpoints", leaderUrl])).stderr).toBe("");
    const lines = (await reader.waitForLines(2)).map(
      (l) => JSON.parse(l) as { kv: { value: string } },
    );
    expect(lines.map((l) => l.kv.value)).toEqual(["before", "after"]);
    expect(await interrupt(child)).toBe(0);
  });
});
