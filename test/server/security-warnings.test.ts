import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { printStatus } from "../../src/cli/commands/status.js";
import { createOutput } from "../../src/cli/output.js";
import { ConclaveClient } from "../../src/client/index.js";
import {
  type ExposureFacts,
  securityWarnings,
  serverWarnings,
} from "../../src/server/security-warnings.js";
import { type SingleMember, startSingleMember } from "./single-member.js";

const SAFE: ExposureFacts = {
  clientAddress: { host: "10.0.0.5", port: 7379 },
  clientTls: true,
  clientCertificates: false,
  authEnabled: true,
  peer: { listenHost: "10.0.0.5", tls: true, unauthenticated: false },
};

describe("securityWarnings", () => {
  it("is silent for TLS and authentication beyond loopback, and for anything on loopback", () => {
    expect(securityWarnings(SAFE)).toEqual([]);
    expect(
      securityWarnings({
        clientAddress: { host: "127.0.0.1", port: 7379 },
        clientTls: false,
        clientCertificates: false,
        authEnabled: false,
        peer: { listenHost: "::1", tls: false, unauthenticated: false },
      }),
    ).toEqual([]);
  });

  it("names plaintext and unauthenticated client APIs beyond loopback, wildcards included", () => {
    for (const host of ["0.0.0.0", "::", "192.168.1.9"]) {
      const warnings = securityWarnings({
        ...SAFE,
        clientAddress: { host, port: 7379 },
        clientTls: false,
        authEnabled: false,
      });
      expect(warnings, host).toHaveLength(2);
      expect(warnings[0]).toMatch(/plaintext HTTP.*clientCertFile/);
      expect(warnings[1]).toMatch(/unauthenticated.*add and remove members.*enable auth/);
      expect(warnings.join()).toContain(host.includes(":") ? `[${host}]:7379` : `${host}:7379`);
    }
    // Client certificates authenticate clients too.
    expect(securityWarnings({ ...SAFE, authEnabled: false, clientCertificates: true })).toEqual([]);
  });

  it("names a peer transport without TLS beyond loopback, and unauthenticated peers anywhere", () => {
    const peer = { listenHost: "0.0.0.0", tls: false, unauthenticated: false };
    expect(securityWarnings({ ...SAFE, peer })).toEqual([
      expect.stringMatching(/peer transport on 0\.0\.0\.0 runs without TLS.*peerCertFile/),
    ]);
    const dev = { listenHost: "127.0.0.1", tls: false, unauthenticated: true };
    expect(securityWarnings({ ...SAFE, peer: dev })).toEqual([
      expect.stringMatching(/peers are not authenticated.*clusterSecretFile/),
    ]);
  });
});

describe("serverWarnings", () => {
  it("reads the bound address and the auth flag each time it is asked", () => {
    let enabled = false;
    const app = {
      server: { address: () => ({ address: "0.0.0.0", port: 7379, family: "IPv4" }) },
    } as unknown as FastifyInstance;
    const store = {
      auth: {
        get enabled() {
          return enabled;
        },
      },
    };
    const warnings = serverWarnings(app, { store });
    expect(warnings()).toEqual([
      expect.stringContaining("plaintext HTTP"),
      expect.stringContaining("unauthenticated"),
    ]);
    enabled = true;
    expect(warnings()).toEqual([expect.stringContaining("plaintext HTTP")]);
  });
});

describe("warnings in status", () => {
  let member: SingleMember;
  let url: string;

  beforeAll(async () => {
    member = await startSingleMember({
      peerExposure: { listenHost: "0.0.0.0", tls: false, unauthenticated: true },
    });
    await member.app.listen({ host: "127.0.0.1", port: 0 });
    url = `http://127.0.0.1:${(member.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await member.stop();
  });

  it("lists them in /v3/maintenance/status and /status, and the SDK and CLI show them", async () => {
    const status = await member.app.inject({ method: "POST", url: "/v3/maintenance/status" });
    const warnings: string[] = status.json().warnings;
    expect(warnings).toEqual([
      expect.stringContaining("peer transport on 0.0.0.0 runs without TLS"),
      expect.stringContaining("peers are not authenticated"),
    ]);
    const nodeStatus = await member.app.inject({ method: "GET", url: "/status" });
    expect(nodeStatus.json().warnings).toEqual(warnings);

    const client = new ConclaveClient({ endpoints: [url] });
    try {
      const seen = await client.status(url);
      expect(seen.warnings).toEqual(warnings);
      let text = "";
      const out = createOutput(false, (t) => {
        text += t;
      });
      printStatus(out, [{ endpoint: url, status: seen, name: "n1" }]);
      expect(text).toContain(`WARNING ${url}: ${warnings[0]}`);
      expect(text).toContain(`WARNING ${url}: ${warnings[1]}`);
    } finally {
      await client.close();
    }
  });
});
