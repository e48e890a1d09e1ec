import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CompactedError,
  type ConclaveClient,
  type WatchBatch,
  type WatchStream,
} from "../../src/client/index.js";
import { waitFor } from "../server/cluster.js";
import { closeNow, type HttpCluster, startHttpCluster } from "../server/http-cluster.js";

let cluster: HttpCluster;
let client: ConclaveClient;

beforeAll(async () => {
  cluster = await startHttpCluster({ watchProgressIntervalMs: 50 });
  await cluster.leader();
  client = cluster.client();
});
afterAll(async () => {
  await cluster.stop();
});

/** The next `count` batches, each within a bounded wait. */
async function take(watch: WatchStream, count: number): Promise<WatchBatch[]> {
  const out: WatchBatch[] = [];
  while (out.length < count) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      watch.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`only ${out.length} of ${count} batches`)),
          10_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    if (r.done) throw new Error("the watch ended");
    out.push(r.value);
  }
  return out;
}

const watchers = () => cluster.members.reduce((n, m) => n + m.store.watcherCount, 0);

describe("ConclaveClient.watch", () => {
  it("yields one batch per revision with typed events, and cleans up on cancel", async () => {
    const watch = client.watch("cw/", { prefix: true, prevKv: true });
    const startsAfter = await watch.ready;
    const first = await client.put("cw/a", "1");
    const r2 = await client.put("cw/a", "2");
    const r3 = await client.delete("cw/a");
    const batches = await take(watch, 3);
    expect(batches.map((b) => b.revision)).toEqual([first.revision, r2.revision, r3.revision]);
    expect(startsAfter).toBeLessThan(first.revision);
    expect(batches[1]!.events[0]!.kv.valueString).toBe("2");
    expect(batches[1]!.events[0]!.prevKv?.valueString).toBe("1");
    expect(batches[2]!.events[0]!.type).toBe("delete");
    expect(batches[2]!.events[0]!.kv.keyString).toBe("cw/a");
    watch.cancel();
    expect(await watch.next()).toEqual({ value: undefined, done: true });
    await waitFor(() => watchers() === 0, "watchers unregistered");
  });

  it("ends at once, without throwing, when the caller's signal is already aborted", async () => {
    const w = client.watch(Buffer.from("aborted-before"), { signal: AbortSignal.abort() });
    expect((await w.next()).done).toBe(true);
  });

  it("replays from startRevision and filters", async () => {
    const p1 = await client.put("cf/k", "1");
    const d1 = await client.delete("cf/k");
    const p2 = await client.put("cf/k", "2");
    await using all = client.watch("cf/k", { startRevision: p1.revision });
    expect((await take(all, 3)).map((b) => b.revision)).toEqual([
      p1.revision,
      d1.revision,
      p2.revision,
    ]);
    await using deletes = client.watch("cf/k", { startRevision: p1.revision, noPut: true });
    expect((await take(deletes, 1)).map((b) => b.revision)).toEqual([d1.revision]);
  });

  it("throws CompactedError when the start revision was compacted", async () => {
    const p1 = await client.put("cc/k", "1");
    await client.put("cc/k", "2");
    await client.compact(p1.revision + 1);
    const watch = client.watch("cc/k", { startRevision: p1.revision });
    const error = await watch.next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CompactedError);
    expect((error as CompactedError).compactRevision).toBe(p1.revision + 1);
  });

  it("yields progress notices when asked", async () => {
    const r = await client.put("cp/other", "x");
    await using watch = client.watch("cp/k", { progressNotify: true });
    for (;;) {
      const [b] = await take(watch, 1);
      expect(b!.progress).toBe(true);
      expect(b!.events).toEqual([]);
      if (b!.revision >= r.revision) break;
    }
  });

  it("ends when the caller's signal aborts", async () => {
    const controller = new AbortController();
    const watch = client.watch("ca/k", { signal: controller.signal });
    const pending = watch.next();
    controller.abort();
    expect(await pending).toEqual({ value: undefined, done: true });
    await waitFor(() => watchers() === 0, "watchers unregistered");
  });
});

describe("ConclaveClient.watch across a lost server", () => {
  it("resumes on another node and yields every revision exactly once, in order", async () => {
    const c = await startHttpCluster();
    try {
      const leader = await c.leader();
      const [follower] = await c.followers();
      // The watch opens on the follower (first endpoint); writes go through the leader.
      const watcher = c.client({
        endpoints: [c.urlOf(follower!.id), ...c.urls.filter((u) => u !== c.urlOf(follower!.id))],
      });
      const writer = c.client({ endpoints: [c.urlOf(leader.id)] });
      const start = await writer.put("rs/seed", "0");
      const watch = watcher.watch("rs/", { prefix: true, startRevision: start.revision + 1 });
      const written: number[] = [];
      const total = 60;
      const writing = (async () => {
        for (let i = 0; i < total; i++) {
          written.push((await writer.put(`rs/${i % 7}`, `v${i}`)).revision);
          // Lose the follower's server a third of the way in, while writes continue.
          if (i === 20) {
            expect(follower!.store.watcherCount).toBe(1);
            await closeNow(follower!.app);
          }
        }
      })();
      const got = await take(watch, total);
      await writing;
      expect(got.map((b) => b.revision)).toEqual(written);
      expect(got.every((b, i) => b.events[0]!.kv.valueString === `v${i}`)).toBe(true);
      expect(follower!.store.watcherCount).toBe(0);
      await watch.return();
      await waitFor(
        () => c.members.every((m) => m.store.watcherCount === 0),
        "watchers unregistered",
      );
    } finally {
      await c.stop();
    }
  });
});
