import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Xoshiro128 } from "../../../src/raft/core/prng.js";
import {
  ClusterSecretError,
  generateClusterSecret,
  loadOrCreateSecretFile,
  weakSecretProblem,
} from "../../../src/server/runtime/cluster-secret.js";
import { resolveServeConfig, type ServeConfig } from "../../../src/server/runtime/config.js";
import { configFailure } from "../serve-config.js";

const rng = new Xoshiro128(20_261_205);
const randomBytes = (n: number): Buffer =>
  Buffer.from(Array.from({ length: n }, () => rng.int(256)));

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "conclave-secret-"));
  dirs.push(d);
  return d;
}

function secretFile(text: string, mode: number): string {
  const path = join(tempDir(), "secret");
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

function resolve(argv: string[], env: Record<string, string> = {}): ServeConfig {
  const parsed = resolveServeConfig({ argv, env });
  if (parsed.config === undefined) throw new Error("expected a config");
  return parsed.config;
}

const failure = configFailure;

describe("cluster secret strength", () => {
  it.each([
    ["16 times a", "a".repeat(16), /at least 32 bytes/],
    ["64 times a (hex, 32 bytes)", "a".repeat(64), /distinct characters/],
    ["a short random secret", randomBytes(16).toString("hex"), /got 16 \(read as hex\)/],
    ["a repeated pattern", "abcdefghij".repeat(7), /repeats itself/],
    [
      "a short alphabet (256 random binary digits)",
      Array.from({ length: 256 }, () => rng.int(2)).join(""),
      /distinct characters/,
    ],
    ["one word repeated", "password".repeat(8), /distinct characters/],
    ["a phrase repeated", "Tr0ub4dor&3 horse!".repeat(4), /repeats itself/],
  ])("refuses %s", (_, secret, why) => {
    expect(weakSecretProblem(secret)).toMatch(why);
  });

  it("accepts random secrets as hex, base64 and base64url (seeded, 300 of them)", () => {
    for (let i = 0; i < 100; i++) {
      const bytes = randomBytes(32);
      for (const text of [
        bytes.toString("hex"),
        bytes.toString("base64"),
        bytes.toString("base64url"),
      ]) {
        expect(weakSecretProblem(text), text).toBeUndefined();
      }
    }
  });

  it("generates 43-character base64url secrets that pass its own rule", () => {
    const s = generateClusterSecret();
    expect(s).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(weakSecretProblem(s)).toBeUndefined();
  });
});

describe("conclave serve: peer authentication settings", () => {
  const strong = randomBytes(32).toString("hex");

  it("refuses to start without a secret or peer TLS, naming the setting", () => {
    const err = failure(() => resolve([]));
    expect(err.field).toBe("clusterSecret");
    expect(err.message).toMatch(/clusterSecretFile/);
  });

  it("refuses a weak secret and names where it came from", () => {
    const fromFlag = failure(() => resolve(["--cluster-secret", "a".repeat(16)]));
    expect([fromFlag.field, fromFlag.source]).toEqual(["clusterSecret", "flag --cluster-secret"]);
    const fromEnv = failure(() => resolve([], { CONCLAVE_CLUSTER_SECRET: "x".repeat(64) }));
    expect(fromEnv.source).toBe("environment CONCLAVE_CLUSTER_SECRET");
  });

  it("reads a secret file with mode 0600 and refuses one that group or others can read", () => {
    const good = secretFile(`${strong}\n`, 0o600);
    expect(resolve(["--cluster-secret-file", good])).toMatchObject({
      clusterSecret: strong,
      peerAuth: "secret",
    });
    const open = secretFile(`${strong}\n`, 0o644);
    const err = failure(() => resolve([], { CONCLAVE_CLUSTER_SECRET_FILE: open }));
    expect([err.field, err.source]).toEqual([
      "clusterSecretFile",
      "environment CONCLAVE_CLUSTER_SECRET_FILE",
    ]);
    expect(err.message).toMatch(/mode 644/);
    const weak = secretFile("a".repeat(16), 0o600);
    expect(failure(() => resolve(["--cluster-secret-file", weak])).message).toMatch(/32 bytes/);
    const missing = join(tempDir(), "absent");
    expect(failure(() => resolve(["--cluster-secret-file", missing])).message).toMatch(
      /cannot read/,
    );
    expect(
      failure(() => resolve(["--cluster-secret-file", good, "--cluster-secret", strong])).field,
    ).toBe("clusterSecretFile");
  });

  it("needs no secret when peers use mutual TLS", () => {
    const c = resolve([
      "--peer-cert-file",
      "c.pem",
      "--peer-key-file",
      "k.pem",
      "--peer-ca-file",
      "ca.pem",
    ]);
    expect([c.peerAuth, c.clusterSecret]).toEqual(["tls", undefined]);
  });

  it("runs unauthenticated only when asked by name and only on a loopback peer address", () => {
    const dev = resolve(["--dev-unauthenticated-peers"]);
    expect([dev.peerAuth, dev.clusterSecret]).toEqual(["none", undefined]);
    expect(
      resolve(["--dev-unauthenticated-peers", "--listen-peer", "127.0.0.9:7000"]).peerAuth,
    ).toBe("none");
    const remote = failure(() =>
      resolve([
        "--dev-unauthenticated-peers",
        "--listen-peer",
        "10.0.0.1:7380",
        "--advertise-client-url",
        "http://10.0.0.1:7379",
      ]),
    );
    expect([remote.field, remote.source]).toEqual([
      "devUnauthenticatedPeers",
      "flag --dev-unauthenticated-peers",
    ]);
    expect(remote.message).toMatch(/loopback/);
    expect(
      failure(() => resolve(["--dev-unauthenticated-peers", "--cluster-secret", strong])).field,
    ).toBe("devUnauthenticatedPeers");
  });
});

describe("the secret file of conclave start", () => {
  it("is created with mode 0600, then reused, and refused once others can read it", () => {
    const path = join(tempDir(), "cluster-secret");
    const first = loadOrCreateSecretFile(path);
    expect(first.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = loadOrCreateSecretFile(path);
    expect(again).toEqual({ secret: first.secret, created: false });
    chmodSync(path, 0o640);
    expect(() => loadOrCreateSecretFile(path)).toThrow(ClusterSecretError);
    expect(() => loadOrCreateSecretFile(path)).toThrow(/chmod 600/);
  });
});
