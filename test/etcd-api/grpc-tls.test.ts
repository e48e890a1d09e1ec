import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrpcApi } from "../../src/server/grpc/grpc-server.js";
import { makeTlsFiles } from "../raft/transport/helpers.js";
import { enableAuth, ok, ROOT_PASSWORD, token } from "../server/auth-support.js";
import { type Member, startCluster, type TestCluster } from "../server/cluster.js";
import { freePort } from "../support/free-port.js";
import { runEtcdctl } from "./grpc-cluster.js";

/**
 * The gRPC listener takes the client API's TLS settings: a certificate
 * signed by the client CA is required, and its CN is the caller's identity
 * when no token is sent, as over HTTPS (test/server/auth-tls.test.ts).
 */
let cluster: TestCluster;
let leader: Member;
let api: GrpcApi;
let address: string;
const dir = mkdtempSync(join(tmpdir(), "conclave-grpc-tls-"));
const files = { cert: join(dir, "node.crt"), key: join(dir, "node.key") };

function etcdctl(args: readonly string[], tls: "client-cert" | "server-only" | "plaintext") {
  const flags =
    tls === "plaintext"
      ? []
      : tls === "server-only"
        ? [`--cacert=${files.cert}`]
        : [`--cacert=${files.cert}`, `--cert=${files.cert}`, `--key=${files.key}`];
  return runEtcdctl([address], [...flags, ...args]);
}

beforeAll(async () => {
  const tlsFiles = makeTlsFiles();
  writeFileSync(files.cert, tlsFiles.cert);
  writeFileSync(files.key, tlsFiles.key);
  const pem = { cert: tlsFiles.cert.toString(), key: tlsFiles.key.toString() };
  cluster = await startCluster({ https: { ...pem, ca: pem.cert }, auth: { bcryptCost: 4 } });
  leader = await cluster.leader();
  api = await GrpcApi.listen(leader.app, {
    host: "127.0.0.1",
    port: await freePort(),
    tls: { ...pem, ca: pem.cert },
  });
  address = `127.0.0.1:${api.port}`;
}, 30_000);
afterAll(async () => {
  await api?.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("etcd's gRPC API over TLS", () => {
  it("serves a client with a certificate the client CA signed, and no one else", async () => {
    expect((await etcdctl(["put", "a/tls", "1"], "client-cert")).stdout).toBe("OK\n");
    expect((await etcdctl(["get", "a/tls", "--print-value-only"], "client-cert")).stdout).toBe(
      "1\n",
    );
    // Refusals fail at the handshake: a short command timeout is plenty.
    const refused = ["--dial-timeout=1s", "--command-timeout=1s"];
    const noCertificate = await etcdctl(["get", "a/tls", ...refused], "server-only");
    expect(noCertificate.code).not.toBe(0);
    const plaintext = await etcdctl(["get", "a/tls", ...refused], "plaintext");
    expect(plaintext.code).not.toBe(0);
  });

  it("takes the certificate's CN as the user when auth is on and no token is sent", async () => {
    await ok(leader, "/v3/auth/user/add", {
      name: "conclave-node",
      options: { no_password: true },
    });
    await enableAuth(leader);
    const rootToken = await token(leader, "root", ROOT_PASSWORD);
    await ok(leader, "/v3/auth/user/grant", { user: "conclave-node", role: "writer-a" }, rootToken);
    expect((await etcdctl(["put", "a/cn", "1"], "client-cert")).stdout).toBe("OK\n");
    const refused = await etcdctl(["put", "b/cn", "1"], "client-cert");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("etcdserver: permission denied");
  });
});
