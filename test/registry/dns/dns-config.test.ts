import { describe, expect, it } from "vitest";
import { configFailure, resolveTestConfig } from "../../server/serve-config.js";

describe("conclave serve's DNS settings", () => {
  it("are off by default, with Consul-like defaults once on", () => {
    const off = resolveTestConfig([]);
    expect(off.listenDns).toBeUndefined();
    expect(off.dnsDomain).toBe("conclave.");
    expect(off.dnsTtlSeconds).toBe(0);
    expect(off.dnsRegistryRoot).toBe("/conclave/registry/");

    const on = resolveTestConfig(
      ["--listen-dns", "127.0.0.1:8600", "--dns-domain", "svc.example.", "--dns-ttl", "30"],
      { CONCLAVE_DNS_REGISTRY_ROOT: "/apps/registry/" },
    );
    expect(on.listenDns).toBe("127.0.0.1:8600");
    expect(on.dnsDomain).toBe("svc.example.");
    expect(on.dnsTtlSeconds).toBe(30);
    expect(on.dnsRegistryRoot).toBe("/apps/registry/");
  });

  it("name the flag of a bad value", () => {
    expect(configFailure(() => resolveTestConfig(["--listen-dns", "8600"])).message).toContain(
      "--listen-dns",
    );
    const domain = configFailure(() => resolveTestConfig(["--dns-domain", "bad domain"]));
    expect(domain.message).toMatch(/dnsDomain \(flag --dns-domain\).*DNS domain/);
    expect(configFailure(() => resolveTestConfig(["--dns-ttl", "soon"])).message).toContain(
      "--dns-ttl",
    );
    expect(
      configFailure(() => resolveTestConfig(["--dns-registry-root", "/no/slash"])).message,
    ).toContain("must end with '/'");
  });
});
