import http from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostAllowed, hostOfHeader } from "../../src/server/host-check.js";
import { type SingleMember, startSingleMember } from "./single-member.js";

let member: SingleMember;
let port: number;

beforeAll(async () => {
  member = await startSingleMember({ allowedHosts: ["api.example.com", "*.corp.example"] });
  await member.app.listen({ host: "127.0.0.1", port: 0 });
  port = (member.app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await member.stop();
});

/** GET /health on the real socket with this Host header (fetch would not let it be set). */
function getWithHost(host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method: "GET", path: "/health", headers: { host } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("Host header check on a loopback bind (DNS rebinding)", () => {
  it("refuses a name that is not this member's with 403 HOST_NOT_ALLOWED", async () => {
    for (const host of [
      "evil.example",
      `evil.example:${port}`,
      "localhost.evil.example",
      "10.0.0.5",
    ]) {
      const res = await getWithHost(host);
      expect(res.status, host).toBe(403);
      const body = JSON.parse(res.body);
      expect(body.code).toBe("HOST_NOT_ALLOWED");
      expect(body.message).toContain("allowedHosts");
    }
  });

  it("refuses before the body is read, on POST routes as well", async () => {
    const res = await member.app.inject({
      method: "POST",
      url: "/v3/kv/put",
      headers: { host: "rebound.example" },
      payload: { key: "YQ==", value: "YQ==" },
    });
    expect(res.statusCode).toBe(403);
    expect(member.store.keyCount).toBe(0);
  });

  it("serves loopback names, the bound address and the allowed hosts", async () => {
    for (const host of [
      "localhost",
      `localhost:${port}`,
      "LOCALHOST.",
      "app.localhost",
      `127.0.0.1:${port}`,
      "127.8.9.10",
      `[::1]:${port}`,
      "api.example.com",
      `API.example.com:${port}`,
      "build.corp.example",
    ]) {
      expect((await getWithHost(host)).status, host).toBe(200);
    }
  });
});

describe("refused Host logging", () => {
  it("logs a refusal once per interval however often a page repeats it", async () => {
    const lines: string[] = [];
    const logged = await startSingleMember({
      loggerInstance: pino({ level: "warn" }, { write: (line: string) => lines.push(line) }),
    });
    try {
      for (let i = 0; i < 20; i++) {
        const res = await logged.app.inject({
          method: "GET",
          url: "/health",
          headers: { host: `rebound-${i}.example` },
        });
        expect(res.statusCode).toBe(403);
      }
      const warnings = lines
        .map((l) => JSON.parse(l) as { msg?: string; host?: string })
        .filter((l) => l.msg?.includes("DNS rebinding"));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.host).toBe("rebound-0.example");
    } finally {
      await logged.stop();
    }
  });
});

describe("hostAllowed", () => {
  it("parses Host headers: ports, brackets, case, trailing dots", () => {
    expect(hostOfHeader("Example.COM:8080")).toBe("example.com");
    expect(hostOfHeader("[::1]:7379")).toBe("::1");
    expect(hostOfHeader("example.com.")).toBe("example.com");
    expect(hostOfHeader("::1")).toBe("::1");
  });

  it("on a non-loopback bind serves allowed names and IP literals, not other names", () => {
    const allowed = ["member1.example"];
    for (const bound of ["0.0.0.0", "::", "10.0.0.5"]) {
      expect(hostAllowed("member1.example:7379", bound, allowed), bound).toBe(true);
      expect(hostAllowed("10.0.0.5:7379", bound, allowed), bound).toBe(true);
      expect(hostAllowed("[fd00::5]:7379", bound, allowed), bound).toBe(true);
      expect(hostAllowed("localhost:7379", bound, allowed), bound).toBe(true);
      expect(hostAllowed("rebound.example:7379", bound, allowed), bound).toBe(false);
    }
  });

  it("on a loopback bind (or none) serves no other IP literal and no other name", () => {
    for (const bound of ["127.0.0.1", "::1", undefined]) {
      expect(hostAllowed("10.0.0.5", bound, []), String(bound)).toBe(false);
      expect(hostAllowed("rebound.example", bound, []), String(bound)).toBe(false);
      expect(hostAllowed("localhost", bound, []), String(bound)).toBe(true);
    }
    expect(hostAllowed("anything.example", "127.0.0.1", ["*"])).toBe(true);
    expect(hostAllowed(undefined, "127.0.0.1", [])).toBe(true);
  });
});
