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
const ETCD_PREFIX = `conclave-election-test-${process.pid}-${Date.now()}`;

describe("etcd's v3election service over Conclave's gRPC API", () => {
  let cluster: GrpcCluster;
  const clients: RawEtcdClient[] = [];
  const election = (member: number) => {
    const c = new RawEtcdClient(cluster.grpcAddressOf(member), "Election");
    clients.push(c);
    return c;
  };
  const http = async (path: string, body: Message): Promise<Message> => {
    const res = await fetch(`${cluster.urlOf(1)}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return (await res.json()) as Message;
  };
  const grant = async () => String((await http("/v3/lease/grant", { TTL: "30" }))["ID"]);
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

  it("elects in campaign order, proclaims, observes and resigns", async () => {
    const [leaseA, leaseB] = [await grant(), await grant()];
    const a = election(1);
    const b = election(2);
    const watcher = election(3);

    const seen: Message[] = [];
    const observing = watcher.stream("Observe", { name: b64("svc") }, (m) => seen.push(m));

    const won = await a.unary("Campaign", { name: b64("svc"), lease: leaseA, value: b64("a1") });
    const leaderA = won["leader"] as Message;
    expect(text(leaderA["name"])).toBe("svc");
    expect(text(leaderA["key"])).toBe(`svc/${hex(leaseA)}`);
    expect(leaderA["lease"]).toBe(leaseA);
    expect(leaderA["rev"]).toBe((won["header"] as Message)["revision"]);

    const current = await b.unary("Leader", { name: b64("svc") });
    expect(text((current["kv"] as Message)["value"])).toBe("a1");
    await waitFor(() => seen.length === 1, "the first leader observed");
    expect(text((seen[0]!["kv"] as Message)["value"])).toBe("a1");

    let bWon: Message | undefined;
    const campaignB = b
      .unary("Campaign", { name: b64("svc"), lease: leaseB, value: b64("b1") })
      .then((m) => {
        bWon = m;
        return m;
      });
    await waitFor(() => exists(`svc/${hex(leaseB)}`), "the second candidate's key");

    await a.unary("Proclaim", { leader: leaderA, value: b64("a2") });
    await waitFor(() => seen.length === 2, "the proclaimed value observed");
    expect(text((seen[1]!["kv"] as Message)["value"])).toBe("a2");
    expect(bWon).toBeUndefined();

    // A stale leader key (another create revision) may not speak.
    const stale = { ...leaderA, rev: String(Number(leaderA["rev"]) - 1) };
    const notLeader = (await a
      .unary("Proclaim", { leader: stale, value: b64("x") })
      .catch((e) => e)) as ServiceError;
    expect(notLeader.code).toBe(GrpcCode.UNKNOWN);
    expect(notLeader.details).toBe("election: not leader");
    // Nor resign: as etcd, that is no error, and nothing changes.
    await a.unary("Resign", { leader: stale });
    expect(exists(`svc/${hex(leaseA)}`)).toBe(true);

    await a.unary("Resign", { leader: leaderA });
    const leaderB = (await campaignB)["leader"] as Message;
    expect(text(leaderB["key"])).toBe(`svc/${hex(leaseB)}`);
    await waitFor(() => seen.length === 3, "the next leader observed");
    expect(text((seen[2]!["kv"] as Message)["value"])).toBe("b1");

    observing.cancel();
    expect((await observing.ended)?.code).toBe(GrpcCode.CANCELLED);
    await b.unary("Resign", { leader: leaderB });
    const none = (await b.unary("Leader", { name: b64("svc") }).catch((e) => e)) as ServiceError;
    expect(none.code).toBe(GrpcCode.UNKNOWN);
    expect(none.details).toBe("election: no leader");
  });

  it("takes a new value when a lease campaigns again, and resigns a cancelled campaign", async () => {
    const [leaseA, leaseB] = [await grant(), await grant()];
    const c = election(2);
    const first = await c.unary("Campaign", { name: b64("re"), lease: leaseA, value: b64("v1") });
    const again = await c.unary("Campaign", { name: b64("re"), lease: leaseA, value: b64("v2") });
    expect((again["leader"] as Message)["rev"]).toBe((first["leader"] as Message)["rev"]);
    const led = await c.unary("Leader", { name: b64("re") });
    expect(text((led["kv"] as Message)["value"])).toBe("v2");

    const abort = new AbortController();
    const waiting = c
      .unary(
        "Campaign",
        { name: b64("re"), lease: leaseB, value: b64("w") },
        { signal: abort.signal },
      )
      .catch((e: ServiceError) => e);
    await waitFor(() => exists(`re/${hex(leaseB)}`), "the waiting candidate's key");
    abort.abort();
    expect(((await waiting) as ServiceError).code).toBe(GrpcCode.CANCELLED);
    await waitFor(() => !exists(`re/${hex(leaseB)}`), "the cancelled candidate's key deleted");

    const missing = (await c
      .unary("Proclaim", { value: b64("x") })
      .catch((e) => e)) as ServiceError;
    expect(missing.details).toBe('"leader" field must be provided');
    await c.unary("Resign", { leader: first["leader"] as Message });
  });

  it("answers with the shapes etcd 3.4 answers", async () => {
    const etcdLease = new RawEtcdClient(ETCD, "Lease");
    const etcdElection = new RawEtcdClient(ETCD, "Election");
    const ours = election(1);
    try {
      const { ID } = (await etcdLease.unary("LeaseGrant", { TTL: "30" })) as { ID: string };
      try {
        const name = b64(`${ETCD_PREFIX}/e`);
        const theirs = await etcdElection.unary("Campaign", { name, lease: ID, value: b64("v") });
        const mine = await ours.unary("Campaign", {
          name: b64("shape"),
          lease: await grant(),
          value: b64("v"),
        });
        const keys = (m: unknown) => Object.keys(m as Message).sort();
        expect(keys(mine)).toEqual(keys(theirs));
        expect(keys(mine["leader"])).toEqual(keys(theirs["leader"]));
        expect(keys(mine["header"])).toEqual(keys(theirs["header"]));
        const theirLeader = await etcdElection.unary("Leader", { name });
        const myLeader = await ours.unary("Leader", { name: b64("shape") });
        expect(keys(myLeader)).toEqual(keys(theirLeader));
        expect(keys(myLeader["kv"])).toEqual(keys(theirLeader["kv"]));
        const theirNone = (await etcdElection
          .unary("Leader", { name: b64(`${ETCD_PREFIX}/none`) })
          .catch((e) => e)) as ServiceError;
        const myNone = (await ours
          .unary("Leader", { name: b64("none") })
          .catch((e) => e)) as ServiceError;
        expect([myNone.code, myNone.details]).toEqual([theirNone.code, theirNone.details]);
        const theirResign = await etcdElection.unary("Resign", { leader: theirs["leader"] });
        const myResign = await ours.unary("Resign", { leader: mine["leader"] });
        expect(keys(myResign)).toEqual(keys(theirResign));
      } finally {
        await etcdLease.unary("LeaseRevoke", { ID });
      }
    } finally {
      etcdLease.close();
      etcdElection.close();
    }
  });
});
