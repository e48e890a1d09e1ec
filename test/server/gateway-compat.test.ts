import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { b64 } from "./cluster.js";
import { type SingleMember, startSingleMember } from "./single-member.js";

/** What etcd's JSON gateway accepts that Conclave's own API would not, and where it stops. */
describe("etcd's JSON gateway forms", () => {
  let member: SingleMember;

  beforeAll(async () => {
    member = await startSingleMember();
  });
  afterAll(async () => {
    await member.stop();
  });

  const put = (headers: Record<string, string>) =>
    member.app.inject({
      method: "POST",
      url: "/v3/kv/put",
      headers,
      payload: JSON.stringify({ key: b64("gw/k"), value: b64("v") }),
    });

  it("reads a body without a content type as JSON, unless a browser sent it", async () => {
    expect((await put({})).statusCode).toBe(200);
    const fromPage = await put({ origin: "https://elsewhere.example" });
    expect(fromPage.statusCode).toBe(415);
    expect(fromPage.json()).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE" });
    const form = await put({ "content-type": "application/x-www-form-urlencoded" });
    expect(form.statusCode).toBe(415);
  });

  it("takes enums by number and answers the older API prefixes and lease aliases", async () => {
    const range = await member.app.inject({
      method: "POST",
      url: "/v3alpha/kv/range",
      payload: { key: b64("gw/"), range_end: b64("gw0"), sort_order: 2, sort_target: 0 },
    });
    expect(range.statusCode).toBe(200);
    expect(range.json().kvs.map((kv: { key: string }) => kv.key)).toEqual([b64("gw/k")]);
    const leases = await member.app.inject({
      method: "POST",
      url: "/v3beta/kv/lease/leases",
      payload: {},
    });
    expect(leases.statusCode).toBe(200);
  });
});
