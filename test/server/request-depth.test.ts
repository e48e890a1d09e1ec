import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MAX_REQUEST_DEPTH, nestsDeeperThan } from "../../src/server/request-depth.js";
import { b64 } from "./cluster.js";
import { registeredRoutes } from "./routes.js";
import { type SingleMember, startSingleMember } from "./single-member.js";

let member: SingleMember;

beforeAll(async () => {
  // Room for a 100,000-level txn (2.8 MB of brackets), so the depth check, not the size, refuses it.
  member = await startSingleMember({ bodyLimitBytes: 4 * 1024 * 1024 });
});
afterAll(async () => {
  await member.stop();
});

/** A txn with `levels` txns nested in its success branch, a put at the bottom. */
function nestedTxn(levels: number, inner = "{}"): string {
  return `${'{"success":[{"request_txn":'.repeat(levels)}${inner}${"}]}".repeat(levels)}`;
}

const post = (url: string, payload: string) =>
  member.app.inject({
    method: "POST",
    url,
    payload,
    headers: { "content-type": "application/json" },
  });

describe("request nesting depth", () => {
  it("refuses txns nested 600 and 100,000 levels deep with REQUEST_TOO_DEEP, not a 500", async () => {
    for (const levels of [600, 100_000]) {
      const res = await post("/v3/kv/txn", nestedTxn(levels));
      expect(res.statusCode, `${levels} levels`).toBe(400);
      expect(res.json()).toEqual({
        code: "REQUEST_TOO_DEEP",
        message: `request body nests objects and arrays more than ${DEFAULT_MAX_REQUEST_DEPTH} levels deep`,
      });
    }
  });

  it("refuses deep arrays on every POST route before its schema runs", async () => {
    const deep = `{"key":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    const posts = registeredRoutes(member.app).filter((r) => r.method === "POST");
    expect(posts.length).toBeGreaterThan(10);
    for (const route of posts) {
      const res = await post(route.url, deep);
      expect(res.statusCode, route.url).toBe(400);
      expect(res.json().code, route.url).toBe("REQUEST_TOO_DEEP");
    }
  });

  it("still serves the deepest txn the store accepts", async () => {
    const put = `{"request_put":{"key":"${b64("depth/k")}","value":"${b64("v")}"}}`;
    const res = await post("/v3/kv/txn", nestedTxn(15, `{"success":[${put}]}`));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().succeeded).toBe(true);
  });

  it("counts the body as level 1 and every object or array inside it as one more", () => {
    const nest = (levels: number): unknown => {
      let v: unknown = "leaf";
      for (let i = 0; i < levels; i++) v = i % 2 === 0 ? [v] : { k: v };
      return v;
    };
    expect(nestsDeeperThan(nest(3), 3)).toBe(false);
    expect(nestsDeeperThan(nest(4), 3)).toBe(true);
    expect(nestsDeeperThan({ a: 1, b: [2, { c: [] }], d: {} }, 4)).toBe(false);
    expect(nestsDeeperThan({ a: 1, b: [2, { c: [[]] }], d: {} }, 4)).toBe(true);
    expect(nestsDeeperThan(undefined, 1)).toBe(false);
    expect(nestsDeeperThan(nest(1_000_000), 64)).toBe(true);
    // A raw value's bytes are a leaf, not an object of as many fields as bytes.
    expect(nestsDeeperThan(new Uint8Array(8), 0)).toBe(false);
    expect(nestsDeeperThan({}, 0)).toBe(true);
  });
});
