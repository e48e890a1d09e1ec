import { status as GrpcCode, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait-for.js";
import { type GrpcCluster, startGrpcCluster } from "./grpc-cluster.js";
import { type Message, RawEtcdClient } from "./raw-grpc.js";

const b64 = (text: string) => Buffer.from(text).toString("base64");
const text = (base64: unknown) => Buffer.from(String(base64), "base64").toString();
const hex = (lease: string) => BigInt(lease).toString(16);

/** The real etcd 3.4 the shapes are compared with; only keys under a prefix of this run. */
const ETCD = "127.0.0.1:2379";
const ETCD_PREFIX = `conclave-lock-test-${process.pid}-${Date.now()}`;

describe("etcd's v3lock service over Conclave's gRPC API", () => {
  let cluster: GrpcCluster;
  const clients: RawEtcdClient[] = [];
  const lockClient = (address: string) => {
    const c = new RawEtcdClient(address, "Lock");
    clients.push(c);
    return c;
  };
  /** A lease through the HTTP API (the Lease service is not what is under test). */
  const grant = async (ttlSeconds = 30): Promise<string> => {
    const res = await fetch(`${cluster.urlOf(1)}/v3/lease/grant`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ TTL: String(ttlSeconds) }),
    });
    return ((await res.json()) as { ID: string }).ID;
  };
  const http = async (path: string, body: Message): Promise<Message> => {
    const res = await fetch(`${cluster.urlOf(1)}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return (await res.json()) as Message;
  };
  /** Whether `key` exists in member 1's store (which every committed revision reaches). */
  const exists = (key: string) =>
    cluster.members[0]!.store.range({ key: Buffer.from(key) }).count > 0;

  beforeAll(async () => {
    cluster = await startGrpcCluster();
    await cluster.leader();
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await cluster.stop();
  });

  it("answers etcd's key at once for a free lock, the next holder only after Unlock", async () => {
    const leader = await cluster.leader();
    const follower = cluster.members.find((m) => m !== leader)!;
    const first = lockClient(cluster.grpcAddressOf(leader.id));
    const second = lockClient(cluster.grpcAddressOf(follower.id));
    const [leaseA, leaseB] = [await grant(), await grant()];

    const a = await first.unary("Lock", { name: b64("jobs"), lease: leaseA });
    expect(text(a["key"])).toBe(`jobs/${hex(leaseA)}`);
    expect(Object.keys(a["header"] as Message).sort()).toEqual([
      "cluster_id",
      "member_id",
      "raft_term",
      "revision",
    ]);

    // Through a follower, which forwards the write and waits on its own store.
    let acquired: Message | undefined;
    const pending = second.unary("Lock", { name: b64("jobs"), lease: leaseB }).then((m) => {
      acquired = m;
      return m;
    });
    await waitFor(() => exists(`jobs/${hex(leaseB)}`), "the second lock's key");
    // Its key is in the queue, behind the first: the call goes on waiting.
    await new Promise((resolve) => setImmediate(resolve));
    expect(acquired).toBeUndefined();

    const unlocked = await first.unary("Unlock", { key: a["key"] as string });
    expect(Number((unlocked["header"] as Message)["revision"])).toBeGreaterThan(0);
    const b = await pending;
    expect(text(b["key"])).toBe(`jobs/${hex(leaseB)}`);
    expect(Number((b["header"] as Message)["revision"])).toBeGreaterThanOrEqual(
      Number((unlocked["header"] as Message)["revision"]),
    );
    await first.unary("Unlock", { key: b["key"] as string });
  });

  it("deletes the key of a Lock call cancelled while it waits", async () => {
    const client = lockClient(cluster.grpcAddressOf(1));
    const [holder, waiter] = [await grant(), await grant()];
    const held = await client.unary("Lock", { name: b64("cancel"), lease: holder });
    const store = cluster.members[0]!.store;
    const watchersBefore = store.watcherCount;
    const abort = new AbortController();
    const waiting = client
      .unary("Lock", { name: b64("cancel"), lease: waiter }, { signal: abort.signal })
      .catch((e: ServiceError) => e);
    await waitFor(() => exists(`cancel/${hex(waiter)}`), "the waiting lock's key");
    await waitFor(() => store.watcherCount === watchersBefore + 1, "the waiter's watch");
    abort.abort();
    expect(((await waiting) as ServiceError).code).toBe(GrpcCode.CANCELLED);
    await waitFor(() => !exists(`cancel/${hex(waiter)}`), "the key deleted");
    // The wait's watch on member 1's store went with the call.
    await waitFor(() => store.watcherCount === watchersBefore, "the waiter's watch removed");
    await client.unary("Unlock", { key: held["key"] as string });
  });

  it("fails a waiting Lock when its lease goes, and keeps the place of a lease's second call", async () => {
    const client = lockClient(cluster.grpcAddressOf(2));
    const [holder, waiter] = [await grant(), await grant()];
    const held = await client.unary("Lock", { name: b64("expire"), lease: holder });
    // The holder's lease locking again keeps its place: it still holds the lock.
    const again = await client.unary("Lock", { name: b64("expire"), lease: holder });
    expect(again["key"]).toBe(held["key"]);

    const waiting = client
      .unary("Lock", { name: b64("expire"), lease: waiter })
      .catch((e: ServiceError) => e);
    await waitFor(() => exists(`expire/${hex(waiter)}`), "the waiting lock's key");
    await http("/v3/lease/revoke", { ID: waiter });
    const failure = (await waiting) as ServiceError;
    expect(failure.code).toBe(GrpcCode.UNKNOWN);
    expect(failure.details).toBe("mutex: session is expired");
    await client.unary("Unlock", { key: held["key"] as string });
  });

  it("keeps the queue's order when a waiter in the middle leaves", async () => {
    const client = lockClient(cluster.grpcAddressOf(3));
    const [a, b, c] = [await grant(), await grant(), await grant()];
    const held = await client.unary("Lock", { name: b64("line"), lease: a });
    const second = client.unary("Lock", { name: b64("line"), lease: b }).catch((e) => e);
    await waitFor(() => exists(`line/${hex(b)}`), "the second in line");
    let thirdDone = false;
    const third = client.unary("Lock", { name: b64("line"), lease: c }).then((m) => {
      thirdDone = true;
      return m;
    });
    await waitFor(() => exists(`line/${hex(c)}`), "the third in line");
    // The third waits on the second; the second going does not let it past the holder.
    await http("/v3/lease/revoke", { ID: b });
    expect(((await second) as ServiceError).details).toBe("mutex: session is expired");
    await http("/v3/kv/put", { key: b64("line-unrelated"), value: b64("x") });
    // Member 3, where the third waits, has applied the revoke and a revision after it.
    const member3 = cluster.members[2]!.store;
    await waitFor(
      () => member3.range({ key: Buffer.from("line-unrelated") }).count > 0,
      "a later revision applied on member 3",
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(thirdDone).toBe(false);
    await client.unary("Unlock", { key: held["key"] as string });
    expect(text((await third)["key"])).toBe(`line/${hex(c)}`);
    await client.unary("Unlock", { key: (await third)["key"] as string });
  });

  it("grants a lease for a Lock without one, and refuses a lease that does not exist", async () => {
    const client = lockClient(cluster.grpcAddressOf(1));
    const locked = await client.unary("Lock", { name: b64("nolease") });
    const key = text(locked["key"]);
    expect(key).toMatch(/^nolease\/[0-9a-f]+$/);
    const lease = BigInt(`0x${key.slice("nolease/".length)}`).toString();
    const ttl = await http("/v3/lease/timetolive", { ID: lease });
    expect(Number(ttl["TTL"])).toBeGreaterThan(0);
    expect(Number(ttl["grantedTTL"])).toBe(60);
    await client.unary("Unlock", { key: locked["key"] as string });

    const missing = (await client
      .unary("Lock", { name: b64("nolease"), lease: "12345" })
      .catch((e) => e)) as ServiceError;
    expect(missing.code).toBe(GrpcCode.NOT_FOUND);
    expect(missing.details).toBe("etcdserver: requested lease not found");
  });

  it("answers with the shape etcd 3.4 answers", async () => {
    const etcdLease = new RawEtcdClient(ETCD, "Lease");
    const etcdLock = new RawEtcdClient(ETCD, "Lock");
    try {
      const { ID } = (await etcdLease.unary("LeaseGrant", { TTL: "30" })) as { ID: string };
      try {
        const theirs = await etcdLock.unary("Lock", { name: b64(`${ETCD_PREFIX}/l`), lease: ID });
        const ours = await lockClient(cluster.grpcAddressOf(1)).unary("Lock", {
          name: b64("shape"),
          lease: await grant(),
        });
        expect(text(theirs["key"])).toBe(`${ETCD_PREFIX}/l/${hex(ID)}`);
        expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
        expect(Object.keys(ours["header"] as Message).sort()).toEqual(
          Object.keys(theirs["header"] as Message).sort(),
        );
        const theirUnlock = await etcdLock.unary("Unlock", { key: theirs["key"] as string });
        const ourUnlock = await lockClient(cluster.grpcAddressOf(1)).unary("Unlock", {
          key: ours["key"] as string,
        });
        expect(Object.keys(ourUnlock).sort()).toEqual(Object.keys(theirUnlock).sort());
      } finally {
        await etcdLease.unary("LeaseRevoke", { ID });
      }
    } finally {
      etcdLease.close();
      etcdLock.close();
    }
  });

  it("needs write access to the name's prefix while auth is enabled", async () => {
    const auth = new RawEtcdClient(cluster.grpcAddressOf(1), "Auth");
    clients.push(auth);
    await auth.unary("UserAdd", { name: "root", password: "rootpw" });
    await auth.unary("UserGrantRole", { user: "root", role: "root" });
    await auth.unary("UserAdd", { name: "worker", password: "workerpw" });
    await auth.unary("RoleAdd", { name: "locker" });
    await auth.unary("RoleGrantPermission", {
      name: "locker",
      perm: { permType: "READWRITE", key: b64("mine/"), range_end: b64("mine0") },
    });
    await auth.unary("UserGrantRole", { user: "worker", role: "locker" });
    const lease = await grant();
    await auth.unary("AuthEnable", {});
    const tokenOf = async (name: string, password: string) =>
      ((await auth.unary("Authenticate", { name, password })) as { token: string }).token;
    const root = await tokenOf("root", "rootpw");
    try {
      const token = await tokenOf("worker", "workerpw");
      const client = lockClient(cluster.grpcAddressOf(3));
      const refused = (await client
        .unary("Lock", { name: b64("theirs"), lease }, { token })
        .catch((e) => e)) as ServiceError;
      expect(refused.code).toBe(GrpcCode.PERMISSION_DENIED);
      expect(refused.details).toBe("etcdserver: permission denied");
      const anonymous = (await client
        .unary("Lock", { name: b64("mine"), lease })
        .catch((e) => e)) as ServiceError;
      expect(anonymous.details).toBe("etcdserver: user name is empty");
      const locked = await client.unary("Lock", { name: b64("mine"), lease }, { token });
      expect(text(locked["key"])).toBe(`mine/${hex(lease)}`);
      await client.unary("Unlock", { key: locked["key"] as string }, { token });
    } finally {
      await auth.unary("AuthDisable", {}, { token: root });
    }
  });
});
