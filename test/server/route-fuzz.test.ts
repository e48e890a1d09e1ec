import http from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { b64 } from "./cluster.js";
import { type RegisteredRoute, registeredRoutes } from "./routes.js";
import { type SingleMember, startSingleMember } from "./single-member.js";

/**
 * Plausible requests rather than garbage (malformed.test.ts covers garbage):
 * every registered route, bodies built from the API's own field names with
 * values of the right and the wrong kinds, txns that nest ops, and headers a
 * client may get wrong — above all idempotency keys drawn from a small pool,
 * so one key meets puts, deletes, txns and lease grants in every order.
 */
const SEED = 20261205;
const REQUESTS = 2000;
const CONCURRENCY = 8;
const ANSWER_TIMEOUT_MS = 10_000;

let member: SingleMember;
let port: number;
let routes: RegisteredRoute[];

beforeAll(async () => {
  member = await startSingleMember({ maxTxnOps: 16 });
  await member.app.listen({ host: "127.0.0.1", port: 0 });
  port = (member.app.server.address() as AddressInfo).port;
  routes = registeredRoutes(member.app).filter((r) => r.method !== "HEAD");
});
afterAll(async () => {
  await member.stop();
});

interface FuzzRequest {
  readonly method: string;
  readonly url: string;
  readonly body: string | undefined;
  readonly headers: Record<string, string | string[]>;
}

const KEYS = ["fz/a", "fz/b", "fz/c", "fz/"].map(b64);
/** Small ids, so lease routes meet leases the fuzz itself granted. */
const SMALL_INT = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(2 ** 53, -1, 1.5));

function valueArbitrary(): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(...KEYS, "", "YQ", "!!", "AAAA".repeat(40)), weight: 4 },
    { arbitrary: SMALL_INT, weight: 3 },
    { arbitrary: SMALL_INT.map(String), weight: 2 },
    { arbitrary: fc.boolean(), weight: 2 },
    { arbitrary: fc.constantFrom("NOPUT", "NODELETE", "VALUE", "MOD", "DESCEND"), weight: 1 },
    { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 },
  );
}

/**
 * Field names of every route's body. Not `peerURLs`: a well-formed member
 * add to this one-member cluster stalls it (two voters, one alive), which the
 * membership checks refuse, not the input handling tested here.
 */
const FIELDS = [
  "key",
  "value",
  "range_end",
  "lease",
  "prev_kv",
  "ignore_value",
  "ignore_lease",
  "revision",
  "limit",
  "sort_order",
  "sort_target",
  "serializable",
  "keys_only",
  "count_only",
  "physical",
  "ID",
  "TTL",
  "keys",
  "start_revision",
  "filters",
  "progress_notify",
  "name",
  "clientURLs",
  "isLearner",
  "targetID",
];

function bodyArbitrary(): fc.Arbitrary<unknown> {
  const flat = fc.dictionary(fc.constantFrom(...FIELDS), valueArbitrary(), { maxKeys: 4 });
  const op = fc.oneof(
    flat.map((b) => ({ request_put: b })),
    flat.map((b) => ({ request_range: b })),
    flat.map((b) => ({ request_delete_range: b })),
    flat.map((b) => ({ request_txn: { success: [{ request_put: b }] } })),
    flat,
  );
  const compare = fc.record(
    {
      key: fc.constantFrom(...KEYS),
      target: fc.constantFrom("VERSION", "CREATE", "MOD", "VALUE", "LEASE", "OTHER"),
      result: fc.constantFrom("EQUAL", "GREATER", "LESS", "NOT_EQUAL"),
      version: SMALL_INT,
      value: fc.constantFrom(...KEYS),
    },
    { requiredKeys: ["key"] },
  );
  const txn = fc.record(
    {
      compare: fc.array(compare, { maxLength: 3 }),
      success: fc.array(op, { maxLength: 4 }),
      failure: fc.array(op, { maxLength: 4 }),
    },
    { requiredKeys: [] },
  );
  // Well-formed writes, so keys are first used, then reused, by every kind of write.
  const write = fc.oneof(
    fc.record({ key: fc.constantFrom(...KEYS), value: fc.constantFrom(...KEYS) }),
    fc.record({ TTL: fc.integer({ min: 1, max: 60 }) }),
    fc.record({ key: fc.constantFrom(...KEYS), prev_kv: fc.boolean() }),
    fc.record({ success: fc.constant([{ request_put: { key: KEYS[0], value: KEYS[1] } }]) }),
  );
  return fc.oneof(
    { arbitrary: write, weight: 4 },
    { arbitrary: flat, weight: 6 },
    { arbitrary: txn, weight: 3 },
    { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 1 },
  );
}

function requestArbitrary(): fc.Arbitrary<FuzzRequest> {
  const route = fc.oneof(
    { arbitrary: fc.constantFrom(...routes), weight: 9 },
    {
      arbitrary: fc.record({
        method: fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "OPTIONS"),
        url: fc.constantFrom(...routes.map((r) => r.url)),
      }),
      weight: 1,
    },
  );
  const idempotencyKey = fc.oneof(
    { arbitrary: fc.constantFrom("key-1", "key-2", "key-3"), weight: 8 },
    { arbitrary: fc.constantFrom("", "has space", "x".repeat(65), "cl\u00e9", "a,b"), weight: 1 },
    { arbitrary: fc.constant(["key-1", "key-2"] as string[]), weight: 1 },
  );
  const headers = fc.record(
    {
      "idempotency-key": idempotencyKey,
      "content-type": fc.constantFrom(
        "application/json",
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
      ),
      accept: fc.constantFrom("application/json", "text/event-stream", "*/*", "x/y;q=z"),
      host: fc.constantFrom("127.0.0.1", "localhost", "evil.example", "[::1]", "a b"),
      authorization: fc.constantFrom("Bearer x", "Basic !!", ""),
    },
    { requiredKeys: [] },
  );
  return fc.tuple(route, bodyArbitrary(), headers, fc.boolean()).map(([r, body, h, withBody]) => {
    const all: Record<string, string | string[]> = { ...h };
    if (all["content-type"] === undefined) all["content-type"] = "application/json";
    return {
      method: r.method,
      url: r.url,
      body: withBody || r.method === "POST" ? JSON.stringify(body) : undefined,
      headers: all,
    };
  });
}

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** Raw http, so Host and repeated headers go out as generated; a stream is cut at its headers. */
function send(agent: http.Agent, r: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = r.body === undefined ? undefined : Buffer.from(r.body);
    const headers: Record<string, string | string[] | number> = { ...r.headers };
    if (payload !== undefined) headers["content-length"] = payload.byteLength;
    const req = http.request(
      { host: "127.0.0.1", port, method: r.method, path: r.url, headers, agent },
      (res) => {
        const contentType = String(res.headers["content-type"] ?? "");
        const status = res.statusCode ?? 0;
        if (contentType.startsWith("text/event-stream")) {
          res.destroy();
          resolve({ status, contentType, body: "" });
          return;
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status, contentType, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.setTimeout(ANSWER_TIMEOUT_MS, () => req.destroy(new Error("no answer in time")));
    req.on("error", reject);
    req.end(payload);
  });
}

describe("every route under plausible client input", () => {
  it("answers below 500, with { code, message } on every error", async () => {
    expect(routes.map((r) => r.url)).toEqual(
      expect.arrayContaining(["/v3/kv/put", "/v3/lease/grant", "/v3/watch", "/metrics"]),
    );
    const requests = fc.sample(requestArbitrary(), { seed: SEED, numRuns: REQUESTS });
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const failures: string[] = [];
    const seen = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < requests.length; i = next++) {
        const r = requests[i]!;
        const what = `#${i} ${r.method} ${r.url} ${JSON.stringify(r.headers)} ${r.body?.slice(0, 160)}`;
        let answer: Answer;
        try {
          answer = await send(agent, r);
        } catch (err) {
          failures.push(`${what}: ${(err as Error).message}`);
          continue;
        }
        if (answer.status >= 500) {
          failures.push(`${what}: ${answer.status} ${answer.body.slice(0, 200)}`);
          continue;
        }
        if (answer.status < 400) continue;
        let parsed: { code?: unknown; message?: unknown } = {};
        try {
          parsed = JSON.parse(answer.body) ?? {};
        } catch {
          failures.push(`${what}: ${answer.status} not JSON: ${answer.body.slice(0, 200)}`);
          continue;
        }
        if (typeof parsed.code !== "string" || typeof parsed.message !== "string") {
          failures.push(`${what}: ${answer.status} not { code, message }: ${answer.body}`);
          continue;
        }
        seen.set(parsed.code, (seen.get(parsed.code) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    expect(failures.slice(0, 10)).toEqual([]);
    // The pool of keys did collide across kinds of request, and was refused for it.
    expect(seen.get("IDEMPOTENCY_KEY_REUSED") ?? 0).toBeGreaterThan(0);
    expect(member.node.status().role).toBe("leader");
  }, 120_000);
});
