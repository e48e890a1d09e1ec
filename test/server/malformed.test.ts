import http from "node:http";
import type { AddressInfo } from "node:net";
import v8 from "node:v8";
import vm from "node:vm";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { b64, type Member, startCluster, type TestCluster, text } from "./cluster.js";
import { type RegisteredRoute, registeredRoutes } from "./routes.js";

const LIMITS = { bodyLimitBytes: 16 * 1024, maxKeyBytes: 64, maxValueBytes: 4096, maxTxnOps: 16 };
const REQUESTS = 10_000;
const CONCURRENCY = 16;
const SEED = 20261127;
/** Heap growth allowed across the whole run, measured after forced collections. */
const MAX_HEAP_GROWTH_BYTES = 64 * 1024 * 1024;
const ANSWER_TIMEOUT_MS = 15_000;
const FIELDS = ["key", "value", "range_end", "lease", "revision", "limit", "ID", "TTL", "compare"];
/** Statuses a bad request may get; 500 is never one of them. */
// 401, 403 and 412 are the auth routes' answers (a wrong password, enable without a root user).
const ALLOWED = new Set([200, 400, 401, 403, 404, 409, 412, 413, 415, 421, 429, 503, 504]);

let cluster: TestCluster;
let ports: number[];
/** Every route fastify registered (this module's and any other's), HEAD aside. */
let routes: RegisteredRoute[];

beforeAll(async () => {
  cluster = await startCluster(LIMITS);
  ports = [];
  for (const m of cluster.members) {
    await m.app.listen({ host: "127.0.0.1", port: 0 });
    ports.push((m.app.server.address() as AddressInfo).port);
  }
  routes = registeredRoutes(cluster.members[0]!.app).filter((r) => r.method !== "HEAD");
});
afterAll(async () => {
  await cluster.stop();
});

interface BadRequest {
  readonly method: string;
  readonly url: string;
  readonly payload?: string | Uint8Array;
  readonly contentType?: string;
  /** A body past the limit: the server may close the socket while it is still being sent. */
  readonly oversized?: boolean;
  /** Sends `{"key":"AAAA…"}` of this many bytes instead of `payload`, built only when sent. */
  readonly hugeKeyBytes?: number;
}

function requestArbitrary(): fc.Arbitrary<BadRequest> {
  const urls = [...new Set(routes.map((r) => r.url))];
  const postUrls = [...new Set(routes.filter((r) => r.method === "POST").map((r) => r.url))];
  const route = fc.constantFrom(...urls);
  const postRoute = fc.constantFrom(...postUrls);
  const json = "application/json";
  const badBase64 = fc.oneof(
    fc.string({ minLength: 1, maxLength: 12 }).map((s) => `${s}!`),
    fc.constantFrom("a", "abcde", "====", "a=b=", "YQ", "YR==", "%%%", " YQ==", "YQ==\n", "YQ=="),
  );
  const int64Garbage = fc.constantFrom(
    '"99999999999999999999"',
    '"18446744073709551616"',
    '"9223372036854775808"',
    "9007199254740993",
    "1e400",
    "-1",
    '"-1"',
    '"1e3"',
    '"0x10"',
    "1.5",
    '""',
    '"00000000000000000001"',
    "true",
    "null",
    "[]",
    "{}",
  );
  const anyJson = fc.jsonValue({ maxDepth: 3 });
  const post = (url: fc.Arbitrary<string>, payload: fc.Arbitrary<string | Uint8Array>) =>
    fc.record({ method: fc.constant("POST"), url, payload, contentType: fc.constant(json) });

  // Bodies far past the limit (up to 2 MiB), rare: the server must stop reading, not buffer them.
  const huge = fc.tuple(postRoute, fc.constantFrom(64 * 1024, 256 * 1024, 2 * 1024 * 1024)).map(
    ([url, bytes]): BadRequest => ({
      method: "POST",
      url,
      hugeKeyBytes: bytes,
      contentType: json,
      oversized: true,
    }),
  );

  // About 1 request in 60 is huge; the other families share the rest evenly.
  const common = fc.oneof(
    // Not JSON, truncated JSON, broken bytes.
    post(
      route,
      fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.constantFrom("{", '{"key":', "[1,2", "nul", '{"key":"YQ=="', "\u0000", "", " "),
        fc.uint8Array({ maxLength: 64 }),
        fc.constant(Uint8Array.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d])), // BOM + {}
        fc.constant(Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])),
      ),
    ),
    // Well-formed JSON of the wrong shape: wrong types, unknown and missing fields.
    post(
      route,
      fc
        .oneof(
          anyJson,
          fc.dictionary(fc.constantFrom(...FIELDS), anyJson, { maxKeys: 4 }),
          fc.constant({}),
        )
        .map((v) => JSON.stringify(v)),
    ),
    // Bad base64 in key, value, range_end or compare.
    post(
      fc.constantFrom("/v3/kv/range", "/v3/kv/put", "/v3/kv/deleterange", "/v3/kv/txn"),
      fc
        .tuple(badBase64, fc.constantFrom("key", "value", "range_end", "compare"))
        .map(([bad, field]) =>
          JSON.stringify(
            field === "compare"
              ? { compare: [{ key: bad, target: "VALUE", value: bad }] }
              : { key: field === "key" ? bad : "YQ==", [field]: bad },
          ),
        ),
    ),
    // int64 fields past 2^53, negative, fractional, in exponent or hex form, of the wrong type.
    post(
      postRoute,
      fc
        .tuple(fc.constantFrom("revision", "limit", "lease", "ID", "TTL", "version"), int64Garbage)
        .map(([field, raw]) => `{"key":"YQ==","${field}":${raw}}`),
    ),
    // Keys, values, bodies and txns past the limits.
    fc
      .tuple(
        fc.constantFrom("value", "key", "body", "ops"),
        fc.integer({ min: 1, max: 4 }),
        postRoute,
      )
      .map(([what, k, url]): BadRequest => {
        const put = (payload: string, oversized = false) => ({
          method: "POST",
          url: what === "body" ? url : "/v3/kv/put",
          payload,
          contentType: json,
          oversized,
        });
        if (what === "value")
          return put(JSON.stringify({ key: "YQ==", value: "QUFB".repeat(1400 * k) }));
        if (what === "key") return put(JSON.stringify({ key: "QUFB".repeat(30 * k), value: "" }));
        if (what === "body")
          return put(JSON.stringify({ key: "YQ==", pad: "x".repeat(20_000 * k) }), true);
        const op = { request_put: { key: "YQ==", value: "" } };
        return {
          method: "POST",
          url: "/v3/kv/txn",
          payload: JSON.stringify({ success: Array.from({ length: 17 * k }, () => op) }),
          contentType: json,
        };
      }),
    // Deep nesting: plain arrays, and txns inside txns.
    post(
      postRoute,
      fc.tuple(fc.integer({ min: 10, max: 7000 }), fc.boolean()).map(([depth, asTxn]) => {
        if (!asTxn) return `{"key":${"[".repeat(depth)}${"]".repeat(depth)}}`;
        const levels = Math.min(depth, 300);
        return `${'{"success":[{"request_txn":'.repeat(levels)}{}${"}]}".repeat(levels)}`;
      }),
    ),
    // Unknown routes, wrong methods, wrong content types.
    fc.record({
      method: fc.constantFrom("GET", "PUT", "DELETE", "POST", "PATCH", "OPTIONS"),
      url: fc.oneof(
        route,
        route.map((u) => `${u}?x=1&y=%zz`),
        fc.webPath().map((p) => encodeURI(`/x${p}`)),
        fc.constantFrom(
          "/v3/kv",
          "/v2/keys",
          "/",
          "/health/x",
          "//v3/kv/put",
          `/${"a".repeat(4000)}`,
        ),
      ),
      payload: fc.constant('{"key":"YQ=="}'),
      contentType: fc.constantFrom(
        json,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=utf-16",
        "application/octet-stream",
        "}{",
      ),
    }),
  );
  return fc.oneof({ arbitrary: huge, weight: 1 }, { arbitrary: common, weight: 60 });
}

interface Answer {
  readonly status?: number;
  readonly body?: string;
  readonly error?: Error;
}

function send(agent: http.Agent, port: number, r: BadRequest): Promise<Answer> {
  return new Promise((resolve) => {
    const body =
      r.hugeKeyBytes !== undefined
        ? Buffer.concat([
            Buffer.from('{"key":"'),
            Buffer.alloc(r.hugeKeyBytes, "A"),
            Buffer.from('"}'),
          ])
        : r.payload === undefined
          ? undefined
          : Buffer.from(r.payload);
    const headers: Record<string, string | number> = {};
    if (r.contentType !== undefined) headers["content-type"] = r.contentType;
    if (body !== undefined) headers["content-length"] = body.byteLength;
    let status: number | undefined;
    const req = http.request(
      { host: "127.0.0.1", port, method: r.method, path: r.url, headers, agent },
      (res) => {
        status = res.statusCode;
        // A stream (a watch that the fuzz happened to open correctly) never ends by itself.
        if (status === 200 && /event-stream/.test(String(res.headers["content-type"]))) {
          res.destroy();
          resolve({ status });
          return;
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", (error) => resolve({ status, error }));
      },
    );
    req.setTimeout(ANSWER_TIMEOUT_MS, () => req.destroy(new Error("no answer in time")));
    req.on("error", (error) => resolve(status === undefined ? { error } : { status, error }));
    req.end(body);
  });
}

function forceGc(): void {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  gc();
  gc();
}

describe("malformed requests over HTTP", () => {
  it("answers ten thousand bad requests with JSON { code, message }, never a 500 or a crash", async () => {
    expect(routes.map((r) => `${r.method} ${r.url}`)).toEqual(
      expect.arrayContaining(["POST /v3/kv/put", "POST /v3/lease/timetolive", "GET /metrics"]),
    );
    const requests = fc.sample(requestArbitrary(), { seed: SEED, numRuns: REQUESTS });
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    forceGc();
    const heapBefore = process.memoryUsage().heapUsed;

    const seen = new Map<number, number>();
    const failures: string[] = [];
    let resetsOnOversized = 0;
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < requests.length; i = next++) {
        const r = requests[i]!;
        const answer = await send(agent, ports[i % ports.length]!, r);
        const what = `#${i} ${r.method} ${r.url.slice(0, 80)} ${String(r.payload).slice(0, 80)}`;
        if (answer.status === undefined) {
          // Only a body past the limit may see its socket closed before the answer arrives.
          if (r.oversized === true) resetsOnOversized++;
          else failures.push(`${what}: no answer: ${answer.error?.message}`);
          continue;
        }
        seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
        if (!ALLOWED.has(answer.status)) {
          failures.push(`${what}: status ${answer.status} ${answer.body?.slice(0, 200)}`);
          continue;
        }
        if (answer.status === 200 || answer.body === undefined || r.method === "HEAD") continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(answer.body);
        } catch {
          failures.push(`${what}: not JSON: ${answer.body.slice(0, 200)}`);
          continue;
        }
        const { code, message } = (parsed ?? {}) as { code?: unknown; message?: unknown };
        if (typeof code !== "string" || typeof message !== "string") {
          failures.push(`${what}: not { code, message }: ${answer.body.slice(0, 200)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();

    expect(failures.slice(0, 20)).toEqual([]);
    // Each family of bad input reached its own answer.
    for (const status of [400, 404, 413, 415]) expect(seen.get(status) ?? 0).toBeGreaterThan(0);
    const answered = [...seen.values()].reduce((a, b) => a + b, 0);
    expect(answered + resetsOnOversized).toBe(REQUESTS);

    // Still serving, over the same sockets' servers (leadership may have moved under the load).
    const leader = await cluster.leader();
    const fresh = new http.Agent();
    const at = (m: Member) => ports[cluster.members.indexOf(m)]!;
    const put = await send(fresh, at(leader), {
      method: "POST",
      url: "/v3/kv/put",
      payload: JSON.stringify({ key: b64("after"), value: b64("ok") }),
      contentType: "application/json",
    });
    expect(put.status, put.body).toBe(200);
    const [follower] = await cluster.followers();
    const range = await send(fresh, at(follower!), {
      method: "POST",
      url: "/v3/kv/range",
      payload: JSON.stringify({ key: b64("after") }),
      contentType: "application/json",
    });
    expect(range.status).toBe(200);
    expect(text(JSON.parse(range.body!).kvs[0].value)).toBe("ok");
    const ready = await send(fresh, at(leader), { method: "GET", url: "/ready" });
    expect(ready.status).toBe(200);
    fresh.destroy();

    forceGc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    expect(growth, `heap grew by ${(growth / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(
      MAX_HEAP_GROWTH_BYTES,
    );
  }, 120_000);

  it("names the failing field and status for each kind of bad input", async () => {
    const leader = await cluster.leader();
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
