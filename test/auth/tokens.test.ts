import { describe, expect, it } from "vitest";
import {
  memberTokenKey,
  resolveIdentity,
  signMemberToken,
  signUserToken,
  verifyMemberToken,
  verifyUserToken,
} from "../../src/auth/index.js";
import { KvStore } from "../../src/kv/index.js";

const KEY = new Uint8Array(32).fill(1);
const OTHER = new Uint8Array(32).fill(2);
const NOW = Date.UTC(2026, 0, 1);

describe("tokens", () => {
  it("carry the user and revision, and hold until they expire", async () => {
    const token = await signUserToken({ user: "u", revision: 4 }, KEY, NOW, 300_000);
    expect(await verifyUserToken(token, KEY, NOW + 299_000)).toEqual({ user: "u", revision: 4 });
    await expect(verifyUserToken(token, KEY, NOW + 300_000)).rejects.toMatchObject({
      code: "INVALID_AUTH_TOKEN",
      message: expect.stringContaining("expired"),
    });
    await expect(verifyUserToken(token, OTHER, NOW)).rejects.toMatchObject({
      code: "INVALID_AUTH_TOKEN",
      message: expect.stringContaining("signature"),
    });
  });

  it("keep member credentials and user tokens apart", async () => {
    const key = memberTokenKey("a cluster secret of thirty-two bytes!!");
    const member = await signMemberToken(3, key, NOW);
    expect(await verifyMemberToken(member, key, NOW)).toBe(3);
    // Signed with the same key, a member credential is still no user token, and back.
    await expect(verifyUserToken(member, key, NOW)).rejects.toMatchObject({
      code: "INVALID_AUTH_TOKEN",
    });
    const user = await signUserToken({ user: "3", revision: 1 }, key, NOW, 300_000);
    await expect(verifyMemberToken(user, key, NOW)).rejects.toMatchObject({
      code: "INVALID_AUTH_TOKEN",
    });
  });

  it("resolve to nobody without credentials, and refuse a member credential nobody can check", async () => {
    const view = new KvStore().auth;
    expect(await resolveIdentity(view, {}, NOW, undefined)).toBeUndefined();
    const member = await signMemberToken(3, KEY, NOW);
    await expect(
      resolveIdentity(view, { authorization: `Member ${member}` }, NOW, undefined),
    ).rejects.toMatchObject({ code: "INVALID_AUTH_TOKEN" });
    expect(await resolveIdentity(view, { authorization: `Member ${member}` }, NOW, KEY)).toEqual({
      kind: "member",
      id: 3,
    });
  });
});
