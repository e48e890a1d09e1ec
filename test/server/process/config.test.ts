import { describe, expect, it } from "vitest";
import { resolveServeConfig, UsageError } from "../../../src/server/runtime/config.js";
import { parseInitialCluster } from "../../../src/server/runtime/initial-cluster.js";
import { configFailure, resolveTestConfig } from "../serve-config.js";

const resolve = resolveTestConfig;

const failure = configFailure;

describe("conclave serve configuration", () => {
  it("has loopback defaults and derives name, data dir and a one-member cluster", () => {
    const c = resolve([]);
    expect(c).toMatchObject({
      name: "node1",
      nodeId: 1,
      dataDir: "data/node1",
      listenClient: "127.0.0.1:7379",
      listenPeer: "127.0.0.1:7380",
      advertiseClientUrl: "http://127.0.0.1:7379",
      join: false,
      heartbeatMs: 100,
      electionMs: 1000,
      logLevel: "info",
      peerAuth: "secret",
    });
    expect(c.initialCluster).toEqual([
      { name: "node1", id: 1, peerAddress: "127.0.0.1:7380", clientUrl: "http://127.0.0.1:7379" },
    ]);
  });

  it("takes flags over environment over config file over defaults", () => {
    const files = {
      "c.json": JSON.stringify({ heartbeatMs: 20, electionMs: 400, maxTxnOps: 7, name: "file" }),
    };
    const env = {
      CONCLAVE_CONFIG: "c.json",
      CONCLAVE_HEARTBEAT_MS: "30",
      CONCLAVE_ELECTION_MS: "500",
    };
    const c = resolve(["--heartbeat-ms", "40"], env, files);
    expect(c.heartbeatMs).toBe(40); // flag
    expect(c.electionMs).toBe(500); // environment
    expect(c.maxTxnOps).toBe(7); // file
    expect(c.name).toBe("file");
    expect(c.requestTimeoutMs).toBe(5000); // default
    // --config names the file even when the environment names another.
    const other = { ...files, "d.json": JSON.stringify({ maxTxnOps: 9 }) };
    expect(resolve(["--config", "d.json"], env, other).maxTxnOps).toBe(9);
  });

  it("finds this member in the initial cluster by name or id", () => {
    const cluster =
      "a=1@127.0.0.1:7380@http://127.0.0.1:7379,b=2@127.0.0.1:7382@http://127.0.0.1:7381";
    const byName = resolve([
      "--initial-cluster",
      cluster,
      "--name",
      "b",
      "--listen-peer",
      "127.0.0.1:7382",
    ]);
    expect(byName).toMatchObject({ nodeId: 2, name: "b", dataDir: "data/b" });
    expect(byName.initialCluster).toHaveLength(2);
    const byId = resolve(["--initial-cluster", cluster, "--node-id", "1"]);
    expect(byId.name).toBe("a");
  });

  it("names the field and the source of a bad value", () => {
    const flag = failure(() => resolve(["--heartbeat-ms", "fast"]));
    expect(flag).toMatchObject({
      code: "INVALID_CONFIG",
      field: "heartbeatMs",
      source: "flag --heartbeat-ms",
    });
    expect(flag.message).toContain('"fast"');
    const env = failure(() => resolve([], { CONCLAVE_LISTEN_CLIENT: "nowhere" }));
    expect(env).toMatchObject({
      field: "listenClient",
      source: "environment CONCLAVE_LISTEN_CLIENT",
    });
    const file = failure(() =>
      resolve(["--config", "c.json"], {}, { "c.json": '{"logLevel":"loud"}' }),
    );
    expect(file).toMatchObject({ field: "logLevel", source: "config file c.json" });
    const unknown = failure(() =>
      resolve(["--config", "c.json"], {}, { "c.json": '{"colour":1}' }),
    );
    expect(unknown).toMatchObject({ field: "colour" });
    const notJson = failure(() => resolve(["--config", "c.json"], {}, { "c.json": "{" }));
    expect(notJson).toMatchObject({ field: "config" });
    const missing = failure(() => resolve(["--config", "gone.json"]));
    expect(missing.message).toContain("ENOENT");
    const join = failure(() => resolve([], { CONCLAVE_JOIN: "maybe" }));
    expect(join).toMatchObject({ field: "join", source: "environment CONCLAVE_JOIN" });
  });

  it("limits failed authentications by default, with flags to tune the limit", () => {
    expect(resolve([])).toMatchObject({
      authFailureLimit: 5,
      authFailureWindowMs: 60_000,
      authLockoutMaxMs: 300_000,
    });
    expect(
      resolve(["--auth-failure-limit", "10"], { CONCLAVE_AUTH_LOCKOUT_MAX_MS: "60000" }),
    ).toMatchObject({ authFailureLimit: 10, authLockoutMaxMs: 60_000 });
    expect(failure(() => resolve(["--auth-failure-limit", "0"]))).toMatchObject({
      field: "authFailureLimit",
    });
    // The first lockout is 10 s: a shorter longest one would contradict it.
    expect(failure(() => resolve(["--auth-lockout-max-ms", "5000"]))).toMatchObject({
      field: "authLockoutMaxMs",
    });
  });

  it("checks membership changes strictly unless told not to, as etcd", () => {
    expect(resolve([])).toMatchObject({ strictReconfigCheck: true, maxLearners: 1 });
    expect(resolve(["--strict-reconfig-check", "false"]).strictReconfigCheck).toBe(false);
    expect(resolve(["--strict-reconfig-check=false"]).strictReconfigCheck).toBe(false);
    expect(resolve([], { CONCLAVE_STRICT_RECONFIG_CHECK: "0" }).strictReconfigCheck).toBe(false);
    expect(resolve(["--max-learners", "3"]).maxLearners).toBe(3);
    expect(failure(() => resolve(["--strict-reconfig-check", "off"]))).toMatchObject({
      field: "strictReconfigCheck",
      source: "flag --strict-reconfig-check",
    });
    expect(failure(() => resolve(["--max-learners=1.5"]))).toMatchObject({
      field: "maxLearners",
    });
  });

  it("refuses settings that contradict each other", () => {
    expect(failure(() => resolve(["--heartbeat-ms", "500", "--election-ms", "500"])).field).toBe(
      "electionMs",
    );
    const cluster = "a=1@127.0.0.1:7380,b=2@127.0.0.1:7382";
    expect(failure(() => resolve(["--initial-cluster", cluster])).field).toBe("name");
    expect(
      failure(() => resolve(["--initial-cluster", cluster, "--name", "a", "--node-id", "2"])).field,
    ).toBe("nodeId");
    expect(failure(() => resolve(["--initial-cluster", cluster, "--name", "c"])).field).toBe(
      "initialCluster",
    );
    // Founding members must advertise the peer address the cluster lists for them.
    expect(failure(() => resolve(["--initial-cluster", cluster, "--name", "b"])).field).toBe(
      "initialCluster",
    );
    expect(failure(() => resolve(["--client-cert-file", "c.pem"])).field).toBe("clientCertFile");
    expect(
      failure(() => resolve(["--peer-cert-file", "c.pem", "--peer-key-file", "k.pem"])).field,
    ).toBe("peerCertFile");
    expect(failure(() => resolve(["--listen-client", "0.0.0.0:7379"])).field).toBe(
      "advertiseClientUrl",
    );
    expect(
      failure(() =>
        resolve(["--max-watch-buffer-bytes", "2048", "--max-total-watch-bytes", "1024"]),
      ).field,
    ).toBe("maxTotalWatchBytes");
    // The etcd gRPC API and the DNS view read one key space: not with shards.
    expect(failure(() => resolve(["--shards", "8", "--listen-grpc", "127.0.0.1:7378"])).field).toBe(
      "listenGrpc",
    );
    expect(failure(() => resolve(["--shards", "8", "--listen-dns", "127.0.0.1:7353"])).field).toBe(
      "listenDns",
    );
    expect(failure(() => resolve(["--shards", "65537"])).field).toBe("shards");
    expect(failure(() => resolve(["--replication", "0"])).field).toBe("replication");
    expect(resolve(["--shards", "8", "--capacity", "2"])).toMatchObject({
      shards: 8,
      replication: 3,
      capacity: 2,
    });
  });

  it("serves https URLs when client TLS is set, and a joining member needs no own entry", () => {
    const c = resolve([
      "--client-cert-file",
      "c.pem",
      "--client-key-file",
      "k.pem",
      "--join",
      "--node-id",
      "9",
      "--initial-cluster",
      "a=1@127.0.0.1:2390",
    ]);
    expect(c.advertiseClientUrl).toBe("https://127.0.0.1:7379");
    expect(c).toMatchObject({ join: true, nodeId: 9, name: "node9" });
  });

  it("answers unknown flags and missing values with a usage error", () => {
    expect(() => resolve(["--no-such-flag"])).toThrow(UsageError);
    expect(() => resolve(["--name"])).toThrow(UsageError);
    expect(() => resolve(["positional"])).toThrow(UsageError);
    expect(resolveServeConfig({ argv: ["--help"], env: {} }).help).toBe(true);
  });

  it("parses the initial cluster syntax and rejects malformed entries", () => {
    expect(parseInitialCluster("n1=1@127.0.0.1:7380@https://h:7379,n2=2@127.0.0.1:7382")).toEqual([
      { name: "n1", id: 1, peerAddress: "127.0.0.1:7380", clientUrl: "https://h:7379" },
      { name: "n2", id: 2, peerAddress: "127.0.0.1:7382", clientUrl: undefined },
    ]);
    for (const bad of [
      "",
      "n1",
      "n1=1",
      "=1@127.0.0.1:1",
      "n1=0@127.0.0.1:1",
      "n1=x@127.0.0.1:1",
      "n1=1@nohost",
      "n1=1@127.0.0.1:1@ftp://x",
      "n1=1@127.0.0.1:1,n1=2@127.0.0.1:2",
      "n 1=1@127.0.0.1:1",
    ]) {
      expect(() => parseInitialCluster(bad), bad).toThrow();
    }
  });
});
