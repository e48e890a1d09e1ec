import { describe, expect, it } from "vitest";
import { heldId } from "../../src/server/grpc/held-id.js";
import {
  grantBody,
  LeaseIdUnsupportedError,
  LeaseTtlTooLargeError,
  minLeaseTtlSeconds,
} from "../../src/server/grpc/lease-ids.js";
import { MAX_TTL_SECONDS } from "../../src/server/lease-routes.js";

describe("lease ids and TTLs at the gRPC boundary", () => {
  it("holds ids in [1, 2^53) only", () => {
    expect(heldId("1")).toBe("1");
    expect(heldId("9007199254740991")).toBe("9007199254740991");
    expect(heldId(42)).toBe("42");
    for (const id of [
      "0",
      "-1",
      "9007199254740992",
      "18446744073709551615",
      "",
      "0x1",
      undefined,
    ]) {
      expect(heldId(id)).toBeUndefined();
    }
  });

  it("computes etcd's minimum TTL from the election timeout", () => {
    expect(minLeaseTtlSeconds(1000)).toBe(2);
    expect(minLeaseTtlSeconds(500)).toBe(1);
    expect(minLeaseTtlSeconds(100)).toBe(1);
    expect(minLeaseTtlSeconds(3000)).toBe(5);
  });

  it("raises short TTLs, refuses huge ones and ids Conclave cannot hold", () => {
    expect(grantBody({ TTL: "60" }, 2)).toEqual({ TTL: "60" });
    expect(grantBody({ TTL: "1" }, 2)).toEqual({ TTL: "2" });
    expect(grantBody({}, 2)).toEqual({ TTL: "2" });
    expect(grantBody({ TTL: "-7" }, 2)).toEqual({ TTL: "2" });
    expect(grantBody({ TTL: String(MAX_TTL_SECONDS), ID: "77" }, 2)).toEqual({
      TTL: String(MAX_TTL_SECONDS),
      ID: "77",
    });
    expect(grantBody({ TTL: "5", ID: "0" }, 2)).toEqual({ TTL: "5" });
    expect(() => grantBody({ TTL: String(MAX_TTL_SECONDS + 1) }, 2)).toThrow(LeaseTtlTooLargeError);
    expect(() => grantBody({ TTL: "99999999999999999999999" }, 2)).toThrow(LeaseTtlTooLargeError);
    const big = () => grantBody({ TTL: "5", ID: "9007199254740993" }, 2);
    expect(big).toThrow(LeaseIdUnsupportedError);
    expect(big).toThrow("etcdserver: lease ID 9007199254740993 is not supported");
    expect(() => grantBody({ TTL: "5", ID: "-3" }, 2)).toThrow(LeaseIdUnsupportedError);
  });
});
