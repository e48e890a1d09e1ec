import { describe, expect, it } from "vitest";
import {
  IN_PROCESS_CN_HEADER,
  InProcessIdentity,
  InProcessIdentityError,
} from "../../src/server/in-process-identity.js";

describe("in-process certificate identity", () => {
  it("reads back the CN it named, and nothing without the header", () => {
    const identity = new InProcessIdentity();
    const header = identity.headerFor("svc a/b%");
    expect(identity.certificateCn({ [IN_PROCESS_CN_HEADER]: header })).toBe("svc a/b%");
    expect(identity.certificateCn({})).toBeUndefined();
  });

  it("refuses a header made by another process, a guessed secret or a malformed value", () => {
    const identity = new InProcessIdentity();
    const other = new InProcessIdentity().headerFor("root");
    for (const value of [other, "root", ` root`, `${"A".repeat(43)} root`, ["a", "b"]]) {
      expect(() => identity.certificateCn({ [IN_PROCESS_CN_HEADER]: value })).toThrow(
        InProcessIdentityError,
      );
    }
  });
});
