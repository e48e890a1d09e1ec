import { afterEach, describe, expect, it } from "vitest";
import {
  BadResponseError,
  ClientClosedError,
  type ClientOptions,
  ConclaveClient,
  DeadlineExceededError,
  IdempotencyKeyReusedError,
} from "../../src/client/index.js";
import { type ListeningMember, startListeningMember } from "../server/single-member.js";
import { type FakeServer, fakeCluster, json, ok, type Responder } from "./fake-server.js";

const { serve, clientOf } = fakeCluster(11);

interface BatchItem {
  request_put?: { key: string; value?: string };
  request_range?: { key: string };
  request_delete_range?: { key: string };
  request_id?: string;
}

/** Holds the answer to its request until `release` is called; `arrived` resolves when it came. */
function held(answer: Responder) {
  let release = () => {};
  let arrived = () => {};
  const came = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const responder: Responder = (res, req) => {
    release = () => answer(res, req);
    arrived();
  };
  return { responder, came, release: () => release() };
}

/** Answers a batch (the request the server saw last) with `answer(item, index)` for each item. */
const batchOf =
  (
    server: FakeServer,
    answer: (item: BatchItem, index: number) => { status: number; body: object },
  ): Responder =>
  (res) => {
    const body = server.seen.at(-1)?.body as { requests: BatchItem[] };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ responses: body.requests.map(answer) }));
  };

const revisionOf = (i: number) => ({
  status: 200,
  body: { header: { revision: String(100 + i) } },
});

/**
 * A server whose first answer waits for `first.release()`, whose next answers
 * are `next(server)` in turn and then `ok`, and a client that batches behind
 * a single request: calls made while the first is held wait for it.
 */
async function busyServer(
  next: (s: FakeServer) => Responder[],
  options: Partial<ClientOptions> = {},
) {
  const first = held(ok);
  const routes: Responder[] = [first.responder];
  const s = await serve((res, req) => (routes.shift() ?? ok)(res, req));
  routes.push(...next(s));
  return { s, first, c: clientOf([s.url], { batchInFlight: 1, ...options }) };
}

describe("CallBatcher", () => {
  it("sends nothing together while a request is free, then what waited as one batch", async () => {
    const { s, first, c } = await busyServer((s) => [batchOf(s, (_, i) => revisionOf(i))]);
    const calls = [c.put("k0", "v0")];
    await first.came;
    for (let i = 1; i <= 4; i++) calls.push(c.put(`k${i}`, `v${i}`));
    first.release();
    const results = await Promise.all(calls);
    expect(results.map((r) => r.revision)).toEqual([5, 100, 101, 102, 103]);
    expect(s.seen.map((r) => r.url)).toEqual(["/v3/kv/put", "/v3/kv/batch"]);
    const batch = s.seen[1]!.body as { requests: BatchItem[] };
    expect(batch.requests.map((r) => Buffer.from(r.request_put!.key, "base64").toString())).toEqual(
      ["k1", "k2", "k3", "k4"],
    );
    // Each write carries its own idempotency key, as a single request carries it in a header.
    const ids = batch.requests.map((r) => r.request_id);
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(s.seen[0]!.headers["idempotency-key"]).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it("gives each call its own answer: one refused, the others not", async () => {
    const { s, first, c } = await busyServer((s) => [
      batchOf(s, (_, i) =>
        i === 1
          ? { status: 422, body: { code: "IDEMPOTENCY_KEY_REUSED", message: "reused" } }
          : revisionOf(i),
      ),
    ]);
    const calls = [c.get("k0")];
    await first.came;
    const a = c.get("a");
    const b = c.put("b", "1");
    const d = c.delete("c");
    first.release();
    await calls[0];
    await expect(a).resolves.toBeUndefined();
    await expect(b).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    expect((await d).revision).toBe(102);
    const batch = s.seen[1]!.body as { requests: BatchItem[] };
    expect(batch.requests.map((r) => Object.keys(r)[0])).toEqual([
      "request_range",
      "request_put",
      "request_delete_range",
    ]);
    // Reads carry no request id.
    expect(batch.requests[0]!.request_id).toBeUndefined();
  });

  it("sends the calls alone when the server has no batch route, and stops batching there", async () => {
    const { s, first, c } = await busyServer(() => [
      json(404, { code: "ROUTE_NOT_FOUND", message: "no route" }),
    ]);
    const calls = [c.put("k0", "v0")];
    await first.came;
    calls.push(c.put("k1", "v1"), c.put("k2", "v2"));
    first.release();
    await Promise.all(calls);
    expect(s.seen.map((r) => r.url)).toEqual([
      "/v3/kv/put",
      "/v3/kv/batch",
      "/v3/kv/put",
      "/v3/kv/put",
    ]);
    // Later calls to that endpoint go alone even when they would have waited.
    await Promise.all([c.put("k3", "v"), c.put("k4", "v"), c.put("k5", "v")]);
    expect(s.seen.slice(4).map((r) => r.url)).toEqual(["/v3/kv/put", "/v3/kv/put", "/v3/kv/put"]);
  });

  it("ends a waiting call at its deadline without holding up the rest", async () => {
    const { s, first, c } = await busyServer(() => [json(200, revisionOf(0).body)]);
    const calls = [c.put("k0", "v0")];
    await first.came;
    const late = c.put("k1", "v1", { timeoutMs: 30 });
    calls.push(c.put("k2", "v2"));
    await expect(late).rejects.toBeInstanceOf(DeadlineExceededError);
    first.release();
    const [, k2] = await Promise.all(calls);
    expect(k2!.revision).toBe(100);
    // The call given up never went out: the batch held only the other one.
    expect(s.seen.map((r) => r.url)).toEqual(["/v3/kv/put", "/v3/kv/put"]);
  });

  it("fails the calls still waiting when the client closes, and sends nothing more", async () => {
    const { s, first, c } = await busyServer((s) => [batchOf(s, (_, i) => revisionOf(i))]);
    const held = c.put("k0", "v0");
    await first.came;
    const settled = Promise.allSettled([held, c.put("k1", "v1"), c.get("k2")]);
    // One turn of the loop: the two calls reach the batcher and wait behind the first.
    await new Promise((resolve) => setImmediate(resolve));
    await c.close();
    for (const r of await settled) {
      expect(r.status === "rejected" && r.reason).toBeInstanceOf(ClientClosedError);
    }
    first.release();
    expect(s.seen.map((r) => r.url)).toEqual(["/v3/kv/put"]);
  });

  it("reads a batch's answer up to each call's answer limit together", async () => {
    // Each answer ~150 bytes, under a 300-byte limit per call; the three together are not.
    const padded = (i: number) => ({
      status: 200,
      body: { header: { revision: String(100 + i) }, pad: "x".repeat(100) },
    });
    const { s, first, c } = await busyServer((s) => [batchOf(s, (_, i) => padded(i))], {
      maxResponseBytes: 300,
    });
    const calls = [c.put("k0", "v0")];
    await first.came;
    for (let i = 1; i <= 3; i++) calls.push(c.put(`k${i}`, "v"));
    first.release();
    const results = await Promise.all(calls);
    expect(results.map((r) => r.revision)).toEqual([5, 100, 101, 102]);
    expect(s.seen[1]!.url).toBe("/v3/kv/batch");
  });

  it("fails every call of a batch whose answer does not match it", async () => {
    const { first, c } = await busyServer(() => [json(200, { responses: [revisionOf(0)] })]);
    const calls = [c.put("k0", "v0")];
    await first.came;
    const batched = [c.put("k1", "v1"), c.put("k2", "v2")];
    first.release();
    await calls[0];
    for (const r of await Promise.allSettled(batched)) {
      expect(r.status === "rejected" && r.reason).toBeInstanceOf(BadResponseError);
    }
  });

  it("refuses a batchInFlight that is not a non-negative integer", () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(
        () => new ConclaveClient({ endpoints: ["http://127.0.0.1:1"], batchInFlight: bad }),
      ).toThrow(/batchInFlight/);
    }
  });
});

describe("CallBatcher against a member", () => {
  let member: ListeningMember | undefined;
  afterEach(async () => {
    await member?.stop();
    member = undefined;
  });

  it("puts and reads many keys at once, each write at its own revision", async () => {
    member = await startListeningMember();
    const c = clientOf([member.url], { batchInFlight: 1 });
    const keys = Array.from({ length: 40 }, (_, i) => `m/${i}`);
    const puts = await Promise.all(keys.map((k) => c.put(k, `value of ${k}`)));
    const revisions = puts.map((p) => p.revision).sort((x, y) => x - y);
    expect(new Set(revisions).size).toBe(keys.length);
    const gets = await Promise.all(keys.map((k) => c.get(k)));
    gets.forEach((kv, i) => {
      expect(kv?.valueString).toBe(`value of ${keys[i]}`);
      expect(kv?.modRevision).toBe(puts[i]!.revision);
    });
    const deleted = await Promise.all(keys.map((k) => c.delete(k)));
    expect(deleted.every((d) => d.deleted === 1)).toBe(true);
    // They shared requests: fewer batches than calls reached the member.
    const metrics = await (await fetch(`${member.url}/metrics`)).text();
    const batches = metrics
      .split("\n")
      .filter((l) => l.includes('route="/v3/kv/batch"') && !l.startsWith("#"))
      .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(keys.length * 3);
  });
});
