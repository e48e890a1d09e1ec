import { once } from "node:events";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { watchRegistryOf } from "../../src/server/index.js";
import { b64, type Member, text, waitFor } from "./cluster.js";
import { type HttpCluster, startHttpCluster } from "./http-cluster.js";
import { eventsOf, openWatch } from "./sse-client.js";

let cluster: HttpCluster;
let leader: Member;
let url: string;

beforeAll(async () => {
  cluster = await startHttpCluster({ watchKeepAliveMs: 50, watchProgressIntervalMs: 50 });
  leader = await cluster.leader();
  url = cluster.urlOf(leader.id);
});
afterAll(async () => {
  await cluster.stop();
});

async function post(path: string, payload: unknown, base = url) {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
  });
  return (await res.json()) as { header: { revision: string } };
}
const put = async (key: string, value: string) =>
  Number((await post("/v3/kv/put", { key: b64(key), value: b64(value) })).header.revision);
const del = async (key: string) =>
  Number((await post("/v3/kv/deleterange", { key: b64(key) })).header.revision);

async function watch(body: object, base = url) {
  const opened = await openWatch(base, body);
  expect(opened.status).toBe(200);
  const stream = opened.stream!;
  const created = await stream.next();
  expect(created?.event).toBe("created");
  return { stream, createdRevision: Number(JSON.parse(created!.data).header.revision) };
}

/** Reads `events` messages (skipping pings' absence and progress) until `count` arrived. */
async function events(stream: Awaited<ReturnType<typeof watch>>["stream"], count: number) {
  const out: ReturnType<typeof eventsOf>[] = [];
  while (out.length < count) {
    const m = await stream.next();
    if (m === undefined) throw new Error("the stream ended early");
    if (m.event !== "events") continue;
    expect(m.id).toBe(String(eventsOf(m).revision));
    out.push(eventsOf(m));
  }
  return out;
}

const noWatchers = () =>
  waitFor(
    () =>
      cluster.members.every(
        (m) => m.store.watcherCount === 0 && watchRegistryOf(m.app)?.activeCount === 0,
      ),
    "every watcher unregistered",
  );

describe("POST /v3/watch", () => {
  it("streams one message per revision, in order, across many revisions", async () => {
    const { stream, createdRevision } = await watch({ key: b64("w1/"), range_end: b64("w10") });
    const written: number[] = [];
    for (let i = 0; i < 40; i++) {
      written.push(i % 5 === 4 ? await del(`w1/${i - 1}`) : await put(`w1/${i}`, `v${i}`));
    }
    // A txn writing two keys is one revision with two events.
    const txn = await post("/v3/kv/txn", {
      success: [
        { request_put: { key: b64("w1/x"), value: b64("x") } },
        { request_put: { key: b64("w1/y"), value: b64("y") } },
      ],
    });
    written.push(Number(txn.header.revision));
    const got = await events(stream, written.length);
    expect(got.map((g) => g.revision)).toEqual(written);
    expect(createdRevision).toBe(written[0]! - 1);
    expect(got[0]!.events).toEqual([
      expect.objectContaining({ type: "PUT", kv: expect.objectContaining({ key: b64("w1/0") }) }),
    ]);
    expect(got[4]!.events[0]!.type).toBe("DELETE");
    expect(text(got[4]!.events[0]!.kv.key)).toBe("w1/3");
    expect(got.at(-1)!.events.map((e) => text(e.kv.key))).toEqual(["w1/x", "w1/y"]);
    stream.close();
    await noWatchers();
  });

  it("replays history from start_revision, with prev_kv", async () => {
    const r1 = await put("w2/k", "a");
    const r2 = await put("w2/k", "b");
    await put("w2/other", "z");
    const { stream } = await watch({ key: b64("w2/k"), start_revision: r1, prev_kv: true });
    const got = await events(stream, 2);
    expect(got.map((g) => g.revision)).toEqual([r1, r2]);
    expect(got[0]!.events[0]!.prev_kv).toBeUndefined();
    expect(text(got[1]!.events[0]!.prev_kv!.value)).toBe("a");
    const r3 = await del("w2/k");
    const [deleted] = await events(stream, 1);
    expect(deleted!.revision).toBe(r3);
    expect(text(deleted!.events[0]!.prev_kv!.value)).toBe("b");
    stream.close();
    await noWatchers();
  });

  it("filters out puts or deletes", async () => {
    const start = (await put("w3/seed", "s")) + 1;
    const puts = await watch({ key: b64("w3/"), range_end: b64("w30"), filters: ["NODELETE"] });
    const dels = await watch({ key: b64("w3/"), range_end: b64("w30"), filters: ["NOPUT"] });
    const p1 = await put("w3/a", "1");
    const d1 = await del("w3/a");
    const p2 = await put("w3/b", "2");
    expect((await events(puts.stream, 2)).map((g) => g.revision)).toEqual([p1, p2]);
    expect((await events(dels.stream, 1)).map((g) => g.revision)).toEqual([d1]);
    expect(p1).toBe(start);
    puts.stream.close();
    dels.stream.close();
    await noWatchers();
  });

  it("watches every key >= key with range_end AA==", async () => {
    const { stream } = await watch({ key: b64("w4/m"), range_end: "AA==" });
    await put("w4/a", "below");
    const r = await put("w4/z", "above");
    expect((await events(stream, 1))[0]!.revision).toBe(r);
    stream.close();
    await noWatchers();
  });

  it("answers a compacted start_revision with an error event carrying compact_revision, then ends", async () => {
    const r1 = await put("w5/k", "1");
    await put("w5/k", "2");
    await post("/v3/kv/compaction", { revision: r1 + 1 });
    const { stream } = await watch({ key: b64("w5/k"), start_revision: r1 });
    const rest = await stream.rest();
    expect(rest.map((m) => m.event)).toEqual(["error"]);
    expect(JSON.parse(rest[0]!.data)).toMatchObject({
      code: "KV_COMPACTED",
      compact_revision: String(r1 + 1),
    });
    await noWatchers();
  });

  it("refuses a bad body with a JSON error before any stream", async () => {
    for (const body of [
      {},
      { key: "!!" },
      { key: b64("k"), filters: ["NOPE"] },
      { key: b64("k"), start_revision: -1 },
      { key: b64("k"), extra: true },
      { key: "" },
    ]) {
      const opened = await openWatch(url, body);
      expect(opened.status, JSON.stringify(body)).toBe(400);
      expect(opened.json?.code).toMatch(/INVALID_ARGUMENT|KV_INVALID_COMMAND/);
    }
    await noWatchers();
  });

  it("sends progress notices when asked, pings when idle", async () => {
    const { stream } = await watch({ key: b64("w6/k"), progress_notify: true });
    const r = await put("w6/other", "x");
    for (;;) {
      const m = await stream.next();
      if (m?.event !== "progress") continue;
      if (Number(JSON.parse(m.data).header.revision) >= r) break;
    }
    stream.close();
    // Pings are comments, invisible to a parser; read the raw bytes.
    const res = await fetch(`${url}/v3/watch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: b64("w6/k") }),
    });
    const reader = res.body!.getReader();
    let raw = "";
    while (!raw.includes(": ping\n\n")) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error("stream ended");
      raw += Buffer.from(chunk.value).toString();
    }
    await reader.cancel();
    await noWatchers();
  });

  it("serves watches on a follower from its applied state", async () => {
    const [follower] = await cluster.followers();
    const { stream } = await watch({ key: b64("w7/k") }, cluster.urlOf(follower!.id));
    const r = await put("w7/k", "v");
    const [got] = await events(stream, 1);
    expect(got!.revision).toBe(r);
    stream.close();
    await noWatchers();
  });

  it("unregisters the store watcher when the client disconnects", async () => {
    const streams = await Promise.all([1, 2, 3].map(() => watch({ key: b64("w8/k") })));
    expect(leader.store.watcherCount).toBe(3);
    expect(watchRegistryOf(leader.app)?.activeCount).toBe(3);
    for (const s of streams) s.stream.close();
    await noWatchers();
  });
});

describe("watch limits and shutdown", () => {
  it("refuses watchers over the per-client and total limits with 429", async () => {
    const small = await startHttpCluster({ maxWatchersPerClient: 2, maxWatchers: 3 });
    try {
      const l = await small.leader();
      const base = small.urlOf(l.id);
      const a = await openWatch(base, { key: b64("k") });
      const b = await openWatch(base, { key: b64("k") });
      const refused = await openWatch(base, { key: b64("k") });
      expect(refused.status).toBe(429);
      expect(refused.json?.code).toBe("TOO_MANY_WATCHERS");
      a.stream!.close();
      await waitFor(() => watchRegistryOf(l.app)?.activeCount === 1, "a slot freed");
      const c = await openWatch(base, { key: b64("k") });
      expect(c.status).toBe(200);
      b.stream!.close();
      c.stream!.close();
    } finally {
      await small.stop();
    }
  });

  it("cuts off a reader too slow for maxWatchBufferBytes with WATCH_TOO_SLOW", async () => {
    const slow = await startHttpCluster({ maxWatchBufferBytes: 64 * 1024 });
    try {
      const l = await slow.leader();
      const port = Number(new URL(slow.urlOf(l.id)).port);
      const socket = net.connect(port, "127.0.0.1");
      await once(socket, "connect");
      const body = JSON.stringify({ key: b64("big") });
      socket.write(
        `POST /v3/watch HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      await waitFor(() => l.store.watcherCount === 1, "the watch registered");
      socket.pause();
      const value = Buffer.alloc(256 * 1024, 7).toString("base64");
      // Bounded: the kernel's socket buffers absorb a few MB at most before the cap bites.
      for (let i = 0; i < 100 && l.store.watcherCount > 0; i++) {
        await fetch(`${slow.urlOf(l.id)}/v3/kv/put`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ key: b64("big"), value }),
        }).then((r) => r.arrayBuffer());
      }
      expect(l.store.watcherCount).toBe(0);
      expect(watchRegistryOf(l.app)?.activeCount).toBe(0);
      const chunks: Buffer[] = [];
      socket.on("data", (c: Buffer) => chunks.push(c));
      socket.resume();
      await once(socket, "close");
      const raw = Buffer.concat(chunks).toString();
      expect(raw).toContain('event: error\ndata: {"code":"WATCH_TOO_SLOW"');
    } finally {
      await slow.stop();
    }
  });

  it("relays the store's own progress notifications to progress_notify streams only", async () => {
    const quiet = await startHttpCluster({ watchProgressIntervalMs: 600_000 });
    try {
      const l = await quiet.leader();
      const base = quiet.urlOf(l.id);
      const asked = (await openWatch(base, { key: b64("k"), progress_notify: true })).stream!;
      const plain = (await openWatch(base, { key: b64("k") })).stream!;
      expect((await asked.next())?.event).toBe("created");
      expect((await plain.next())?.event).toBe("created");
      await waitFor(() => l.store.watcherCount === 2, "both watches registered");
      l.store.notifyProgress();
      const progress = await asked.next();
      expect(progress?.event).toBe("progress");
      expect(JSON.parse(progress!.data).header.revision).toBe(String(l.store.revision));
      // The plain stream got nothing: its next message is the put below.
      await fetch(`${base}/v3/kv/put`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key: b64("k"), value: b64("v") }),
      }).then((r) => r.arrayBuffer());
      expect((await plain.next())?.event).toBe("events");
      asked.close();
      plain.close();
    } finally {
      await quiet.stop();
    }
  });

  it("ends open streams with SERVER_CLOSING when the server closes", async () => {
    const other = await startHttpCluster();
    try {
      const l = await other.leader();
      const opened = await openWatch(other.urlOf(l.id), { key: b64("k") });
      await opened.stream!.next();
      const closing = l.app.close();
      const rest = await opened.stream!.rest();
      l.app.server.closeAllConnections();
      await closing;
      expect(rest.map((m) => m.event)).toEqual(["error"]);
      expect(JSON.parse(rest[0]!.data).code).toBe("SERVER_CLOSING");
      expect(l.store.watcherCount).toBe(0);
    } finally {
      await other.stop();
    }
  });
});
