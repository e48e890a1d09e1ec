import { afterEach, describe, expect, it } from "vitest";
import { watchStatsOf } from "../../src/server/index.js";
import { type HttpCluster, startHttpCluster } from "../server/http-cluster.js";

let cluster: HttpCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe("an SDK watch cut with WATCH_TOO_SLOW", () => {
  it("resumes from the next revision with nothing lost or repeated", async () => {
    cluster = await startHttpCluster({ maxWatchBufferBytes: 1024 * 1024, watchEndGraceMs: 60_000 });
    const leader = await cluster.leader();
    // Only the leader serves, so the cut and the resumed streams are all on it.
    const client = cluster.client({ endpoints: [cluster.urlOf(leader.id)] });
    const watch = client.watch("slow");
    await watch.ready;
    const first = await client.put("slow", "first");
    expect((await watch.next()).value?.revision).toBe(first.revision);
    // The consumer stops calling next(): the stream stalls until the server cuts it.
    const value = "v".repeat(512 * 1024);
    let last = first.revision;
    for (let i = 0; i < 100 && watchStatsOf(leader.app)!.cutOverStreamBudget === 0; i++) {
      last = (await client.put("slow", value)).revision;
    }
    expect(watchStatsOf(leader.app)!.cutOverStreamBudget).toBeGreaterThan(0);
    const seen: number[] = [];
    while (seen.at(-1) !== last) {
      const batch = await watch.next();
      if (batch.done === true) throw new Error("the watch ended");
      seen.push(batch.value.revision);
    }
    expect(seen).toEqual(
      Array.from({ length: last - first.revision }, (_, i) => first.revision + 1 + i),
    );
    await watch.return();
  });

  it("catches up on a history larger than its stream budget, one cut stream at a time", async () => {
    cluster = await startHttpCluster({ maxWatchBufferBytes: 1024 * 1024 });
    const leader = await cluster.leader();
    const client = cluster.client({ endpoints: [cluster.urlOf(leader.id)] });
    const value = "v".repeat(512 * 1024);
    const written: number[] = [];
    for (let i = 0; i < 6; i++) written.push((await client.put("history", value)).revision);
    // The replay of six ~700 kB revisions is queued at once: over the 1 MiB budget.
    const watch = client.watch("history", { startRevision: written[0]! });
    const seen: number[] = [];
    while (seen.length < written.length) {
      const batch = await watch.next();
      if (batch.done === true) throw new Error("the watch ended");
      seen.push(batch.value.revision);
    }
    expect(seen).toEqual(written);
    expect(watchStatsOf(leader.app)!.cutOverStreamBudget).toBeGreaterThan(0);
    await watch.return();
  });
});
