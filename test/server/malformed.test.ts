import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { b64, type Member, startCluster, type TestCluster, text } from "./cluster.js";

const LIMITS = { bodyLimitBytes: 16 * 1024, maxKeyBytes: 64, maxValueBytes: 4096, maxTxnOps: 16 };
const ROUTES = [
  "/v3/kv/range",
  "/v3/kv/put",
  "/v3/kv/deleterange",
  "/v3/kv/txn",
  "/v3/kv/compaction",
  "/v3/lease/grant",
  "/v3/lease/revoke",
  "/v3/lease/keepalive",
  "/v3/lease/timetolive",
  "/v3/lease/leases",
];
const FIELDS = ["key", "value", "range_end", "lease", "revision", "limit", "ID", "TTL", "compare"];
/** Statuses a bad request may get; 500 is never one of them. */
const ALLOWED = new Set([200, 400, 404, 409, 413, 415, 421, 503, 504]);

let cluster: TestCluster;
let leader: Member;

beforeAll(async () => {
  cluster = await startCluster(LIMITS);
  leader = await cluster.leader();
});
afterAll(async () => {
  await cluster.stop();
});

interface BadRequest {
  method: "GET" | "POST" | "PUT" | "DELETE";
  url: string;
  payload?: string;
  contentType?: string;
}

const route = fc.constantFrom(...ROUTES);
const badBase64 = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }).map((s) => `${s}!`),
  fc.constantFrom("a", "abcde", "====", "a=b=", "YQ", "YR==", "%%%", " YQ==", "YQ==\n"),
);
const anyJson = fc.jsonValue({ maxDepth: 3 });

const requests: fc.Arbitrary<BadRequest> = fc.oneof(
  // Not JSON at all, or truncated JSON.
  fc.record({
    method: fc.constant("POST" as const),
    url: route,
    payload: fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom("{", '{"key":', "[1,2", "nul", '{"key":"YQ=="', "\u0000"),
    ),
    contentType: fc.constant("application/json"),
  }),
  // Well-formed JSON of the wrong shape: wrong types, unknown and missing fields.
  fc.record({
    method: fc.constant("POST" as const),
    url: route,
    payload: fc
      .oneof(
        anyJson,
        fc.dictionary(fc.constantFrom(...FIELDS), anyJson, { maxKeys: 4 }),
        fc.constant({}),
      )
      .map((v) => JSON.stringify(v)),
    contentType: fc.constant("application/json"),
  }),
  // Bad base64 in key, value, range_end or compare.
  fc.record({
    method: fc.constant("POST" as const),
    url: fc.constantFrom("/v3/kv/range", "/v3/kv/put", "/v3/kv/deleterange", "/v3/kv/txn"),
    payload: fc
      .tuple(badBase64, fc.constantFrom("key", "value", "range_end", "compare"))
      .map(([bad, field]) =>
        JSON.stringify(
          field === "compare"
            ? { compare: [{ key: bad, target: "VALUE", value: bad }] }
            : { key: field === "key" ? bad : "YQ==", [field]: bad },
        ),
      ),
    contentType: fc.constant("application/json"),
  }),
  // Values, keys, bodies and txns past the limits.
  fc.record({
    method: fc.constant("POST" as const),
    url: fc.constantFrom("/v3/kv/put", "/v3/kv/txn"),
    payload: fc
      .tuple(fc.constantFrom("value", "key", "body", "ops"), fc.integer({ min: 1, max: 4 }))
      .map(([what, k]) => {
        if (what === "value")
          return JSON.stringify({ key: "YQ==", value: "QUFB".repeat(1400 * k) });
        if (what === "key") return JSON.stringify({ key: "QUFB".repeat(30 * k), value: "" });
        if (what === "body") return JSON.stringify({ key: "YQ==", pad: "x".repeat(20_000 * k) });
        const put = { request_put: { key: "YQ==", value: "" } };
        return JSON.stringify({ success: Array.from({ length: 17 * k }, () => put) });
      }),
    contentType: fc.constant("application/json"),
  }),
  // Unknown routes, wrong methods, wrong content types.
  fc.record({
    method: fc.constantFrom("GET" as const, "PUT" as const, "DELETE" as const, "POST" as const),
    url: fc.oneof(
      route,
      fc.webPath().map((p) => `/x${p}`),
      fc.constantFrom("/v3/kv", "/v2/keys", "/", "/health/x"),
    ),
    payload: fc.constant('{"key":"YQ=="}'),
    contentType: fc.constantFrom(
      "application/json",
      "text/plain",
      "application/x-www-form-urlencoded",
    ),
  }),
);

describe("malformed requests", () => {
  it("answers thousands of bad requests with JSON { code, message } and a non-500 status", async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requests, async (r) => {
        const target = cluster.members[(r.url.length + (r.payload?.length ?? 0)) % 3]!;
        const res = await target.app.inject({
          method: r.method,
          url: r.url,
          ...(r.payload !== undefined && { payload: r.payload }),
          headers: r.contentType === undefined ? {} : { "content-type": r.contentType },
        });
        seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
        expect(ALLOWED.has(res.statusCode), `status ${res.statusCode}: ${res.body}`).toBe(true);
        const body = res.json();
        if (res.statusCode !== 200) {
          expect(typeof body.code).toBe("string");
          expect(typeof body.message).toBe("string");
        }
      }),
      { seed: 20261127, numRuns: 3000 },
    );
    // Each family of bad input reached its own answer.
    for (const status of [400, 404, 413, 415]) expect(seen.get(status) ?? 0).toBeGreaterThan(0);

    // The cluster is still serving normal traffic (leadership may have moved under the load).
    leader = await cluster.leader();
    const put = await leader.app.inject({
      method: "POST",
      url: "/v3/kv/put",
      payload: { key: b64("after"), value: b64("ok") },
    });
    expect(put.statusCode).toBe(200);
    const [follower] = await cluster.followers();
    const range = await follower!.app.inject({
      method: "POST",
      url: "/v3/kv/range",
      payload: { key: b64("after") },
    });
    expect(text(range.json().kvs[0].value)).toBe("ok");
    const health = await leader.app.inject({ method: "GET", url: "/ready" });
    expect(health.statusCode).toBe(200);
  }, 60_000);

  it("names the failing field and status for each kind of bad input", async () => {
    leader = await cluster.leader();
    const cases: [string, unknown, number, string][] = [
      ["/v3/kv/put", { key: "YQ=", value: "@@" }, 400, "value is not valid base64"],
      ["/v3/kv/put", { key: "QUFB".repeat(30) }, 413, "KEY_TOO_LARGE"],
      ["/v3/kv/put", { key: "YQ==", value: "QUFB".repeat(1400) }, 413, "VALUE_TOO_LARGE"],
      ["/v3/kv/put", { value: "YQ==" }, 400, "key"],
      ["/v3/kv/put", { key: "YQ==", lease: -1 }, 400, "lease"],
      ["/v3/kv/put", { key: "YQ==", extra: 1 }, 400, "additional"],
      ["/v3/kv/range", { key: "YQ==", limit: "1e3" }, 400, "limit"],
      ["/v3/kv/range", { key: "YQ==", serializable: "yes" }, 400, "serializable"],
      ["/v3/kv/put", { key: "" }, 400, "KV_INVALID_COMMAND"],
      ["/v3/kv/txn", { success: [{}] }, 400, "INVALID_ARGUMENT"],
      ["/v3/kv/range", { key: "YQ==", revision: "99999999999999999999" }, 400, "revision"],
    ];
    for (const [url, payload, status, mention] of cases) {
      const res = await leader.app.inject({ method: "POST", url, payload: payload as object });
      expect(res.statusCode, `${url} ${JSON.stringify(payload)}`).toBe(status);
      const body = res.json();
      expect(`${body.code} ${body.message}`).toContain(mention);
    }
    const unknown = await leader.app.inject({ method: "POST", url: "/v3/nope", payload: {} });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe("ROUTE_NOT_FOUND");
  });
});
