import { afterEach, describe, expect, it } from "vitest";
import type { ServerOptions } from "../../src/server/index.js";
import { watchRegistryOf, watchStatsOf } from "../../src/server/index.js";
import { b64, type Member, waitFor } from "./cluster.js";
import { type HttpCluster, startHttpCluster } from "./http-cluster.js";
import { openRawWatch, type RawWatch, sseMessages } from "./raw-watch.js";
import { openWatch } from "./sse-client.js";

const KiB = 1024;
let cluster: HttpCluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

async function start(options: Omit<ServerOptions, "node" | "store" | "clientUrls">) {
  cluster = await startHttpCluster(options);
  const leader = await cluster.leader();
  const url = cluster.urlOf(leader.id);
  return { leader, url, port: Number(new URL(url).port) };
}

async function post(url: string, path: string, body: unknown): Promise<Response> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  return res;
}

const statsOf = (m: Member) => watchStatsOf(m.app)!;

/** The revisions of a stream's `events` messages and its closing error's code, if any. */
function outcome(raw: string): { revisions: number[]; error: string | undefined } {
  const messages = sseMessages(raw);
  const revisions = messages
    .filter((m) => m.event === "events")
    .map((m) => Number((JSON.parse(m.data) as { header: { revision: string } }).header.revision));
  const last = messages.at(-1);
  const error =
    last?.event === "error" ? (JSON.parse(last.data) as { code: string }).code : undefined;
  return { revisions, error };
}

describe("watch streams share one encoding per revision", () => {
  it("encodes a revision once for all streams whose filters pick the same events", async () => {
    const { leader, url } = await start({});
    const plain = await Promise.all(
      Array.from({ length: 8 }, () => openWatch(url, { key: b64("enc") })),
    );
    const withPrev = await Promise.all(
      Array.from({ length: 4 }, () => openWatch(url, { key: b64("enc"), prev_kv: true })),
    );
    const streams = [...plain, ...withPrev].map((o) => o.stream!);
    for (const s of streams) expect((await s.next())?.event).toBe("created");
    await waitFor(() => leader.store.watcherCount === 12, "12 watchers registered");
    const before = statsOf(leader).eventFramesEncoded;
    const encodedMetric = async () =>
      Number(/^conclave_watch_frames_encoded_total (\d+)$/m.exec(await leader.metrics.text())?.[1]);
    const metricBefore = await encodedMetric();
    expect((await post(url, "/v3/kv/put", { key: b64("enc"), value: b64("x") })).status).toBe(200);
    for (const s of streams) expect((await s.next())?.event).toBe("events");
    // One encoding with prev_kv, one without, for twelve streams.
    expect(statsOf(leader).eventFramesEncoded - before).toBe(2);
    expect((await encodedMetric()) - metricBefore).toBe(2);
    for (const s of streams) s.close();
  });
});

describe("watchers per client", () => {
  it("counts streams from 127.0.0.2 and 127.0.0.3 against one loopback quota", async () => {
    const { leader, url, port } = await start({ maxWatchersPerClient: 2 });
    const a = await openRawWatch(port, { key: b64("k") }, "127.0.0.2");
    const b = await openRawWatch(port, { key: b64("k") }, "127.0.0.3");
    await waitFor(() => watchRegistryOf(leader.app)?.activeCount === 2, "two streams open");
    const refused = await openWatch(url, { key: b64("k") });
    expect(refused.status).toBe(429);
    expect(refused.json?.code).toBe("TOO_MANY_WATCHERS");
    a.socket.destroy();
    b.socket.destroy();
  });
});

describe("slow watchers", () => {
  it("tells readers that never read WATCH_TOO_SLOW, cuts them, and keeps serving", async () => {
    const maxWatchBufferBytes = 1024 * KiB;
    const { leader, url, port } = await start({
      maxWatchBufferBytes,
      maxTotalWatchBytes: 2 * maxWatchBufferBytes,
      // Long enough for the test to read each stream once every one was cut.
      watchEndGraceMs: 60_000,
    });
    const watchers: RawWatch[] = [];
    for (let i = 0; i < 10; i++) watchers.push(await openRawWatch(port, { key: b64("big") }));
    await waitFor(() => leader.store.watcherCount === 10, "10 watchers registered");
    const value = b64("v".repeat(512 * KiB));
    let maxHeldBytes = 0;
    // Bounded: the kernel's socket buffers absorb a few MB per stream at most before the budget bites.
    for (let i = 0; i < 100 && leader.store.watcherCount > 0; i++) {
      expect((await post(url, "/v3/kv/put", { key: b64("big"), value })).status).toBe(200);
      maxHeldBytes = Math.max(maxHeldBytes, statsOf(leader).heldBytes);
      const status = await fetch(`${url}/status`, { signal: AbortSignal.timeout(10_000) });
      expect(status.status).toBe(200);
    }
    expect(leader.store.watcherCount).toBe(0);
    expect(watchRegistryOf(leader.app)?.activeCount).toBe(0);
    // One frame is shared by all ten streams: what they hold is about one stream's worth.
    expect(maxHeldBytes).toBeLessThanOrEqual(2 * maxWatchBufferBytes);
    for (const raw of await Promise.all(watchers.map((w) => w.readToEnd()))) {
      const { revisions, error } = outcome(raw);
      expect(error).toBe("WATCH_TOO_SLOW");
      // What arrived before the error is an unbroken run: queued events were dropped only at the tail.
      expect(revisions.length).toBeGreaterThan(0);
      expect(revisions).toEqual(revisions.map((_, i) => revisions[0]! + i));
    }
    await waitFor(() => statsOf(leader).heldBytes === 0, "every stream's bytes freed");
    const cuts = await leader.metrics.text();
    expect(cuts).toMatch(/^conclave_watch_streams_cut_total\{budget="stream"\} 10$/m);
  });

  it("cuts the streams furthest behind when all together hold more than the total budget", async () => {
    const { leader, url, port } = await start({
      maxWatchBufferBytes: 2 * 1024 * KiB,
      maxTotalWatchBytes: 2 * 1024 * KiB,
      bodyLimitBytes: 4 * 1024 * KiB,
      watchEndGraceMs: 60_000,
    });
    // Each stalled stream watches its own key, so no two share a frame.
    const stalled: RawWatch[] = [];
    for (let i = 0; i < 6; i++) stalled.push(await openRawWatch(port, { key: b64(`s${i}`) }));
    const reader = (await openWatch(url, { key: b64("r") })).stream!;
    expect((await reader.next())?.event).toBe("created");
    await waitFor(() => leader.store.watcherCount === 7, "7 watchers registered");
    const value = b64("v".repeat(256 * KiB));
    const written: number[] = [];
    for (let i = 0; i < 100 && leader.store.watcherCount > 1; i++) {
      const puts = ["r", ...stalled.map((_, j) => `s${j}`)].map((key) => ({
        request_put: { key: b64(key), value },
      }));
      const res = await fetch(`${url}/v3/kv/txn`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ success: puts }),
        signal: AbortSignal.timeout(10_000),
      });
      expect(res.status).toBe(200);
      written.push(
        Number(((await res.json()) as { header: { revision: string } }).header.revision),
      );
      // The reader keeps up, so it is never the one furthest behind.
      const got = await reader.next();
      expect(got?.event).toBe("events");
      expect(JSON.parse(got!.data).header.revision).toBe(String(written.at(-1)));
    }
    expect(leader.store.watcherCount).toBe(1);
    expect(statsOf(leader).cutOverTotalBudget).toBeGreaterThan(0);
    for (const w of stalled) expect(outcome(await w.readToEnd()).error).toBe("WATCH_TOO_SLOW");
    reader.close();
  });
});
