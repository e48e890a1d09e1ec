import { describe, expect, it } from "vitest";
import { clientIdentity, hostKey } from "../../src/server/client-identity.js";

describe("clientIdentity", () => {
  it("counts an authenticated request under its user", () => {
    expect(clientIdentity("alice", "10.0.0.1")).toBe("user:alice");
  });

  it("counts every loopback source address as one host", () => {
    for (const address of ["127.0.0.1", "127.0.3.9", "::ffff:127.1.2.3", "::1"]) {
      expect(clientIdentity(undefined, address)).toBe("host:loopback");
    }
  });

  it("counts an IPv6 client by its /64 and an IPv4 client by its address", () => {
    expect(hostKey("2001:db8:0:1::5")).toBe(hostKey("2001:0db8:0000:0001:ffff::9"));
    expect(hostKey("2001:db8:0:1::5")).not.toBe(hostKey("2001:db8:0:2::5"));
    expect(hostKey("::ffff:10.1.2.3")).toBe("10.1.2.3");
    expect(hostKey(undefined)).toBe("unknown");
  });
});
