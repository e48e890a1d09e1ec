import { status as GrpcCode, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GrpcCluster, startGrpcCluster } from "./grpc-cluster.js";
import { RawEtcdClient } from "./raw-grpc.js";

const b64 = (text: string) => Buffer.from(text).toString("base64");

/** etcdctl's warnings of retried calls go to stderr; the error etcdctl exits with is its last line. */
function lastLine(text: string): string {
  return text.trimEnd().split("\n").at(-1) ?? "";
}

describe("etcdctl auth commands against Conclave's gRPC API", () => {
  let cluster: GrpcCluster;
  const raws: RawEtcdClient[] = [];
  const raw = (service: "KV" | "Auth", member = 1) => {
    const client = new RawEtcdClient(cluster.grpcAddressOf(member), service);
    raws.push(client);
    return client;
  };

  beforeAll(async () => {
    cluster = await startGrpcCluster();
    await cluster.leader();
  });
  afterAll(async () => {
    for (const c of raws) c.close();
    await cluster.stop();
  });

  it("sets up users and roles, enables auth, and checks permissions as etcd does", async () => {
    const ctl = async (args: string[]) => {
      const r = await cluster.etcdctl(args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
      return r.stdout;
    };
    expect(await ctl(["user", "add", "root:rootpw"])).toBe("User root created\n");
    expect(await ctl(["user", "add", "alice:alicepw"])).toBe("User alice created\n");
    expect(await ctl(["role", "add", "reader"])).toBe("Role reader created\n");
    expect(await ctl(["role", "grant-permission", "reader", "read", "cfg"])).toBe(
      "Role reader updated\n",
    );
    expect(await ctl(["role", "grant-permission", "reader", "readwrite", "app/", "--prefix"])).toBe(
      "Role reader updated\n",
    );
    expect(await ctl(["user", "grant-role", "alice", "reader"])).toBe(
      "Role reader is granted to user alice\n",
    );
    // etcdctl adds the role root, grants it to root and enables again, as against etcd.
    expect(await ctl(["auth", "enable"])).toBe("Authentication Enabled\n");

    const root = ["--user", "root:rootpw"];
    expect(await ctl([...root, "put", "cfg", "v1"])).toBe("OK\n");
    expect(await ctl([...root, "get", "cfg"])).toBe("cfg\nv1\n");
    expect(await ctl(["--user", "alice:alicepw", "get", "cfg"])).toBe("cfg\nv1\n");
    expect(await ctl(["--user", "alice:alicepw", "put", "app/x", "1"])).toBe("OK\n");

    const denied = await cluster.etcdctl(["--user", "alice:alicepw", "put", "cfg", "v2"]);
    expect(denied.code).not.toBe(0);
    expect(lastLine(denied.stderr)).toBe("Error: etcdserver: permission denied");
    const anonymous = await cluster.etcdctl(["get", "cfg"]);
    expect(lastLine(anonymous.stderr)).toBe("Error: etcdserver: user name is empty");
    const wrong = await cluster.etcdctl(["--user", "alice:nope", "get", "cfg"]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain(
      "etcdserver: authentication failed, invalid user ID or password",
    );

    expect(await ctl([...root, "user", "list"])).toBe("alice\nroot\n");
    expect(await ctl([...root, "user", "get", "alice"])).toBe("User: alice\nRoles: reader\n");
    expect(await ctl([...root, "role", "list"])).toBe("reader\nroot\n");
    expect(await ctl([...root, "role", "get", "reader"])).toBe(
      "Role reader\nKV Read:\n\t[app/, app0) (prefix app/)\n\tcfg\nKV Write:\n\t[app/, app0) (prefix app/)\n",
    );
    // In key order, as etcd keeps them; READ is the enum's zero, so its permType is left out.
    const roleJson = JSON.parse(
      (await ctl([...root, "role", "get", "reader", "-w", "json"])).replace(/:(\d{16,})/g, ':"$1"'),
    ) as { perm: unknown[] };
    expect(roleJson.perm).toEqual([
      { permType: 2, key: b64("app/"), range_end: b64("app0") },
      { key: b64("cfg") },
    ]);
    const notRoot = await cluster.etcdctl(["--user", "alice:alicepw", "user", "list"]);
    expect(lastLine(notRoot.stderr)).toBe("Error: etcdserver: permission denied");

    expect(await ctl([...root, "role", "revoke-permission", "reader", "app/", "--prefix"])).toBe(
      "Permission of range [app/, app0) is revoked from role reader\n",
    );
    expect(await ctl([...root, "user", "revoke-role", "alice", "reader"])).toBe(
      "Role reader is revoked from user alice\n",
    );
    expect(await ctl([...root, "auth", "disable"])).toBe("Authentication Disabled\n");
    expect(await ctl(["get", "cfg"])).toBe("cfg\nv1\n");
  });

  it("answers a token that stopped being valid UNAUTHENTICATED, so clients authenticate again", async () => {
    const auth = raw("Auth");
    await auth.unary("UserAdd", { name: "bob", password: "bobpw" });
    await auth.unary("UserGrantRole", { user: "root", role: "root" });
    await auth.unary("AuthEnable", {});
    try {
      const { token } = (await auth.unary("Authenticate", { name: "bob", password: "bobpw" })) as {
        token: string;
      };
      const status = await auth.unary("AuthStatus", {}, { token });
      expect(status["enabled"]).toBe(true);
      const kv = raw("KV", 2);
      const answer = await kv.unary("Range", { key: b64("bob/x") }, { token }).catch((e) => e);
      // bob holds no role: a valid token, refused access.
      expect((answer as ServiceError).code).toBe(GrpcCode.PERMISSION_DENIED);

      const rootToken = (
        (await auth.unary("Authenticate", { name: "root", password: "rootpw" })) as {
          token: string;
        }
      ).token;
      await auth.unary(
        "UserChangePassword",
        { name: "bob", password: "newpw" },
        { token: rootToken },
      );
      const stale = (await kv
        .unary("Range", { key: b64("bob/x") }, { token })
        .catch((e) => e)) as ServiceError;
      expect(stale.code).toBe(GrpcCode.UNAUTHENTICATED);
      expect(stale.details).toBe("etcdserver: invalid auth token");
    } finally {
      const rootToken = (
        (await auth.unary("Authenticate", { name: "root", password: "rootpw" })) as {
          token: string;
        }
      ).token;
      await auth.unary("AuthDisable", {}, { token: rootToken });
    }
  });

  it("lets npm etcd3 authenticate with a user name and password", async () => {
    const ctl = (args: string[]) => cluster.etcdctl(args);
    await ctl(["user", "add", "carol:carolpw"]);
    await ctl(["role", "add", "carol-role"]);
    await ctl(["role", "grant-permission", "carol-role", "readwrite", "carol/", "--prefix"]);
    await ctl(["user", "grant-role", "carol", "carol-role"]);
    expect((await ctl(["auth", "enable"])).code).toBe(0);
    try {
      const carol = cluster.etcd3({ auth: { username: "carol", password: "carolpw" } });
      await carol.put("carol/k").value("v");
      expect(await carol.get("carol/k").string()).toBe("v");
      await expect(carol.put("elsewhere").value("v")).rejects.toThrow(/permission denied/);
      const stranger = cluster.etcd3({ auth: { username: "carol", password: "wrong" } });
      await expect(stranger.get("carol/k").string()).rejects.toThrow(/authentication failed/);
    } finally {
      await ctl(["--user", "root:rootpw", "auth", "disable"]);
    }
  });
});

describe("Authenticate over gRPC is rate-limited per client host", () => {
  let cluster: GrpcCluster;
  let auth: RawEtcdClient;

  beforeAll(async () => {
    cluster = await startGrpcCluster({
      auth: { failureLimits: { maxFailures: 3, firstLockoutMs: 60_000 } },
    });
    await cluster.leader();
    auth = new RawEtcdClient(cluster.grpcAddressOf(1), "Auth");
  });
  afterAll(async () => {
    auth.close();
    await cluster.stop();
  });

  it("locks the host out after repeated failures, whichever user it tries", async () => {
    await auth.unary("UserAdd", { name: "root", password: "rootpw" });
    await auth.unary("UserGrantRole", { user: "root", role: "root" });
    await auth.unary("AuthEnable", {});
    for (const name of ["u1", "u2", "u3"]) {
      const e = (await auth
        .unary("Authenticate", { name, password: "x" })
        .catch((err) => err)) as ServiceError;
      expect(e.details).toBe("etcdserver: authentication failed, invalid user ID or password");
    }
    // Right password, other user: still refused, as the host (the gRPC peer's IP) is locked out.
    const locked = (await auth
      .unary("Authenticate", { name: "root", password: "rootpw" })
      .catch((err) => err)) as ServiceError;
    expect(locked.code).toBe(GrpcCode.RESOURCE_EXHAUSTED);
    expect(locked.details).toMatch(/too many failed authentications/);
  });
});
