import { afterEach, describe, expect, it } from "vitest";
import { ClientError, ConclaveClient, DeadlineExceededError } from "../../src/client/index.js";
import { type ListeningMember, startListeningMember } from "../server/single-member.js";
import { fakeCluster, json, ok, type Responder } from "./fake-server.js";

const { serve, clientOf } = fakeCluster(17);
const RAW = 64 * 1024;

/** Bytes that are not text: every byte value, zeros included. */
function binary(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7919) & 0xff);
}

const queryOf = (url: string) => new URL(url, "http://x").searchParams;

describe("puts of big values", () => {
  it("send the value as raw bytes, the key and lease in the query", async () => {
    const s = await serve(ok);
    const client = clientOf([s.url]);
    const value = binary(RAW);
    const r = await client.put("big/1", value, { lease: 42 });
    expect(r.revision).toBe(5);
    const [seen] = s.seen;
    expect(new URL(seen!.url, "http://x").pathname).toBe("/v3/kv/value");
    expect(queryOf(seen!.url).get("key")).toBe(Buffer.from("big/1").toString("base64"));
    expect(queryOf(seen!.url).get("lease")).toBe("42");
    expect(seen!.headers["content-type"]).toBe("application/octet-stream");
    expect(seen!.headers["idempotency-key"]).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.compare(seen!.body as Buffer, Buffer.from(value))).toBe(0);
  });

  it("send smaller values, previous-value puts and the JSON-only options as JSON", async () => {
    const s = await serve(ok);
    const client = clientOf([s.url]);
    await client.put("small", binary(RAW - 1));
    await client.put("prev", binary(RAW), { prevKv: true });
    await client.put("keep", new Uint8Array(0), { ignoreValue: true });
    await clientOf([s.url], { rawValueBytes: 0 }).put("off", binary(RAW * 2));
    expect(s.seen.map((r) => r.url)).toEqual(Array(4).fill("/v3/kv/put"));
    expect((s.seen[1]!.body as { prev_kv: boolean }).prev_kv).toBe(true);
  });

  for (const [status, code] of [
    [404, "ROUTE_NOT_FOUND"],
    [415, "UNSUPPORTED_MEDIA_TYPE"],
  ] as const) {
    it(`go as JSON from then on when a member refuses the raw route (${status} ${code})`, async () => {
      const s = await serve(json(status, { code, message: "no" }), ok);
      const client = clientOf([s.url]);
      expect((await client.put("a", binary(RAW))).revision).toBe(5);
      expect((await client.put("b", binary(RAW))).revision).toBe(5);
      expect(s.seen.map((r) => new URL(r.url, "http://x").pathname)).toEqual([
        "/v3/kv/value",
        "/v3/kv/put",
        "/v3/kv/put",
      ]);
      const body = s.seen[1]!.body as { key: string; value: string };
      expect(Buffer.from(body.value, "base64").equals(Buffer.from(binary(RAW)))).toBe(true);
    });
  }

  it("give the JSON put only what is left of the call's budget", async () => {
    const late =
      (status: number, body: object, ms: number): Responder =>
      (res, req) =>
        setTimeout(() => json(status, body)(res, req), ms);
    const s = await serve(
      late(404, { code: "ROUTE_NOT_FOUND", message: "no" }, 300),
      late(200, { header: { revision: "5" } }, 300),
    );
    const client = clientOf([s.url]);
    await expect(client.put("a", binary(RAW), { timeoutMs: 450 })).rejects.toBeInstanceOf(
      DeadlineExceededError,
    );
    expect(s.seen).toHaveLength(2);
  });

  it("fail as the route answers anything else, and keep sending raw", async () => {
    const s = await serve(json(413, { code: "VALUE_TOO_LARGE", message: "too big" }), ok);
    const client = clientOf([s.url]);
    await expect(client.put("a", binary(RAW))).rejects.toMatchObject({ code: "VALUE_TOO_LARGE" });
    await client.put("b", binary(RAW));
    expect(s.seen.map((r) => new URL(r.url, "http://x").pathname)).toEqual([
      "/v3/kv/value",
      "/v3/kv/value",
    ]);
  });

  it("refuse a bad rawValueBytes option", () => {
    for (const rawValueBytes of [-1, 1.5, Number.NaN]) {
      expect(
        () => new ConclaveClient({ endpoints: ["http://127.0.0.1:1"], rawValueBytes }),
      ).toThrow(ClientError);
    }
  });
});

describe("puts of big values against a member", () => {
  let member: ListeningMember | undefined;
  afterEach(async () => {
    await member?.stop();
    member = undefined;
  });

  it("store the bytes exactly, at the revision answered", async () => {
    member = await startListeningMember();
    const client = new ConclaveClient({ endpoints: [member.url] });
    try {
      const value = binary(300_000);
      const put = await client.put("big/e2e", value);
      // It went as raw bytes: the member counts the route's answer.
      const counted = (await (await fetch(`${member.url}/metrics`)).text())
        .split("\n")
        .find(
          (l) => l.startsWith("conclave_http_requests_total") && l.includes('route="/v3/kv/value"'),
        );
      expect(counted).toMatch(/status_code="200"} 1$/);
      const got = await client.get("big/e2e");
      expect(got?.modRevision).toBe(put.revision);
      expect(Buffer.compare(Buffer.from(got!.value), Buffer.from(value))).toBe(0);
    } finally {
      await client.close();
    }
  });
});
