import { describe, expect, it } from "vitest";
import { dnsWarning } from "../../../src/cli/serve-dns.js";
import { InvalidArgumentError } from "../../../src/errors.js";
import {
  addrName,
  hexOfAddress,
  normalizeDomain,
  parseQueryName,
} from "../../../src/registry/dns/names.js";

describe("DNS names", () => {
  it("writes IP literals as Consul's hex labels and reads them back", () => {
    expect(hexOfAddress("192.0.2.10")).toBe("c000020a");
    expect(hexOfAddress("::1")).toBe("00000000000000000000000000000001");
    expect(hexOfAddress("2001:db8::")).toBe("20010db8000000000000000000000000");
    expect(hexOfAddress("2001:DB8:0:0:1:0:0:1")).toBe("20010db8000000000001000000000001");
    expect(hexOfAddress("::ffff:192.0.2.1")).toBe("00000000000000000000ffffc0000201");
    expect(hexOfAddress("fe80::1%eth0")).toBeUndefined();
    expect(hexOfAddress("db.example.com")).toBeUndefined();
    expect(addrName("192.0.2.10", "conclave")).toBe("c000020a.addr.conclave");
    expect(parseQueryName("c000020a.addr.conclave.", "conclave")).toEqual({
      kind: "addr",
      address: "192.0.2.10",
      family: 4,
    });
    expect(parseQueryName("20010db8000000000001000000000001.addr.conclave", "conclave")).toEqual({
      kind: "addr",
      address: "2001:0db8:0000:0000:0001:0000:0000:0001",
      family: 6,
    });
  });

  it("parses service names in both forms, case-insensitively", () => {
    expect(parseQueryName("Orders.Service.CONCLAVE.", "conclave")).toEqual({
      kind: "service",
      service: "orders",
      rfc2782: false,
    });
    expect(parseQueryName("_orders._tcp.service.svc.example", "svc.example")).toEqual({
      kind: "service",
      service: "orders",
      rfc2782: true,
    });
    expect(parseQueryName("orders._tcp.service.conclave", "conclave").kind).toBe("nxdomain");
    expect(parseQueryName("-bad.service.conclave", "conclave").kind).toBe("nxdomain");
    expect(parseQueryName("conclave.", "conclave").kind).toBe("empty");
    expect(parseQueryName("addr.conclave.", "conclave").kind).toBe("empty");
    expect(parseQueryName("orders.service.consul", "conclave").kind).toBe("outside");
    expect(parseQueryName("xconclave", "conclave").kind).toBe("outside");
  });

  it("normalizes the domain and refuses one that is not", () => {
    expect(normalizeDomain("conclave.")).toBe("conclave");
    expect(normalizeDomain("Svc.Example.COM")).toBe("svc.example.com");
    for (const bad of ["", ".", "a..b", "-a.", "a b", "x".repeat(64), 7]) {
      expect(() => normalizeDomain(bad), String(bad)).toThrow(InvalidArgumentError);
    }
  });

  it("warns about a DNS view beyond loopback only", () => {
    expect(dnsWarning("127.0.0.1", "127.0.0.1:8600")).toBeUndefined();
    expect(dnsWarning("::1", "[::1]:8600")).toBeUndefined();
    expect(dnsWarning("0.0.0.0", "0.0.0.0:8600")).toContain("beyond loopback");
    expect(dnsWarning("10.1.2.3", "10.1.2.3:53")).toContain("10.1.2.3:53");
  });
});
