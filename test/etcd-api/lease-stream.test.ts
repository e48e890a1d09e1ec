/**
 * LeaseKeepAlive as a raw gRPC stream (every answer checked, order and
 * bounds), and npm etcd3's lease API end to end.
 */
import { fileURLToPath } from "node:url";
import {
  type ClientDuplexStream,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  type Metadata,
  type ServiceClientConstructor,
  type StatusObject,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrpcApi } from "../../src/server/grpc/grpc-server.js";
import { freePort } from "../support/free-port.js";
import { waitFor } from "../support/wait-for.js";
import { type GrpcCluster, startGrpcCluster } from "./grpc-cluster.js";

type Message = Record<string, unknown>;

const definition = loadSync("rpc.proto", {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  includeDirs: [fileURLToPath(new URL("../../proto/etcd/", import.meta.url))],
});
const pb = (loadPackageDefinition(definition)["etcdserverpb"] as GrpcObject)["Lease"];
const LeaseClient = pb as ServiceClientConstructor;

interface LeaseStub {
  LeaseGrant(req: Message, cb: (err: Error | null, res: Message) => void): void;
  LeaseKeepAlive(metadata?: Metadata): ClientDuplexStream<Message, Message>;
  close(): void;
}

/** Reads a keep-alive stream to its end: every answer, and how it ended. */
function collect(stream: ClientDuplexStream<Message, Message>) {
  const answers: Message[] = [];
  const ended = new Promise<StatusObject>((resolve) => {
    stream.on("data", (m: Message) => answers.push(m));
    stream.on("status", (s: StatusObject) => resolve(s));
    stream.on("error", () => {});
  });
  return { answers, ended };
}

describe("LeaseKeepAlive stream and npm etcd3 leases", { timeout: 60_000 }, () => {
  let cluster: GrpcCluster;
  const stubs: LeaseStub[] = [];

  const stub = (address: string): LeaseStub => {
    const s = new LeaseClient(address, credentials.createInsecure()) as unknown as LeaseStub;
    stubs.push(s);
    return s;
  };
  const grant = (s: LeaseStub, TTL: number) =>
    new Promise<Message>((resolve, reject) =>
      s.LeaseGrant({ TTL }, (err, res) => (err === null ? resolve(res) : reject(err))),
    );

  beforeAll(async () => {
    cluster = await startGrpcCluster();
    await cluster.leader();
  });
  afterAll(async () => {
    for (const s of stubs) s.close();
    await cluster.stop();
  });

  it("answers every request in order, one renewal at a time; unknown ids get TTL 0", async () => {
    const leader = await cluster.leader();
    const kv = leader.app.kvAccess;
    const keepAlive = kv.keepAlive.bind(kv);
    let inFlight = 0;
    let maxInFlight = 0;
    kv.keepAlive = async (id) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        return await keepAlive(id);
      } finally {
        inFlight--;
      }
    };
    try {
      const s = stub(cluster.grpcAddressOf(leader.id));
      const lease = await grant(s, 30);
      const id = String(lease["ID"]);
      const stream = s.LeaseKeepAlive();
      const { answers, ended } = collect(stream);
      // Ids no lease here can have: unknown, as 2^53 + 1 and a negative int64 are.
      const unknown = ["424242", "9007199254740993", "-5"];
      const sent: string[] = [];
      for (let i = 0; i < 120; i++) {
        const next = i % 10 === 9 ? unknown[((i / 10) % 3) | 0]! : id;
        sent.push(next);
        stream.write({ ID: next });
      }
      stream.end();
      const status = await ended;
      expect(status.code).toBe(0);
      expect(answers.map((a) => a["ID"])).toEqual(sent);
      for (const [i, a] of answers.entries()) {
        expect(a["TTL"]).toBe(sent[i] === id ? "30" : "0");
        expect((a["header"] as Message)["member_id"]).toBe(String(leader.id));
      }
      expect(maxInFlight).toBe(1);
    } finally {
      kv.keepAlive = keepAlive;
    }
  });

  it("renews through a follower, which forwards to the leader", async () => {
    const follower = (await cluster.followers())[0]!;
    const s = stub(cluster.grpcAddressOf(follower.id));
    const lease = await grant(s, 20);
    const stream = s.LeaseKeepAlive();
    const { answers, ended } = collect(stream);
    stream.write({ ID: lease["ID"] });
    await waitFor(() => answers.length === 1, "the renewal");
    expect(answers[0]).toMatchObject({ ID: lease["ID"], TTL: "20" });
    stream.end();
    expect((await ended).code).toBe(0);
  });

  it("ends open keep-alive streams with etcd's 'server stopped' when the API closes", async () => {
    const leader = await cluster.leader();
    const api = await GrpcApi.listen(leader.app, {
      host: "127.0.0.1",
      port: await freePort(),
      closeGraceMs: 20_000,
    });
    const s = stub(`127.0.0.1:${api.port}`);
    const lease = await grant(s, 20);
    const stream = s.LeaseKeepAlive();
    const { answers, ended } = collect(stream);
    stream.write({ ID: lease["ID"] });
    await waitFor(() => answers.length === 1, "the renewal");
    await api.close();
    // Ended by the server with etcd's status, not cut at the end of the grace period.
    expect(await ended).toMatchObject({ code: 14, details: "etcdserver: server stopped" });
  });

  it("npm etcd3: a lease keeps its key alive past its TTL, reports it, and revoking deletes it", async () => {
    const client = cluster.etcd3();
    const lease = client.lease(2);
    let renewals = 0;
    lease.on("keepaliveSucceeded", () => renewals++);
    const id = await lease.grant();
    await lease.put("npm/leased").value("v");
    // etcd3 renews every TTL/3: the fourth renewal comes after the lease's 2 s would have run out.
    await waitFor(() => renewals >= 4, "four renewals", 20_000);
    expect(await client.get("npm/leased").string()).toBe("v");

    const ttl = await client.leaseClient.leaseTimeToLive({ ID: id, keys: true });
    expect(ttl.grantedTTL).toBe("2");
    expect(Number(ttl.TTL)).toBeGreaterThan(0);
    expect(ttl.keys.map((k) => k.toString())).toEqual(["npm/leased"]);
    const { leases } = await client.leaseClient.leaseLeases();
    expect(leases.map((l) => l.ID)).toContain(id);

    await lease.revoke();
    expect(await client.get("npm/leased").string()).toBeNull();
    const gone = await client.leaseClient.leaseTimeToLive({ ID: id });
    expect(gone.TTL).toBe("-1");
  });

  it("npm etcd3: a lease revoked elsewhere is reported lost", async () => {
    const client = cluster.etcd3();
    const lease = client.lease(30);
    const id = await lease.grant();
    const lost = new Promise<Error>((resolve) => lease.on("lost", resolve));
    await cluster.etcdctl(["lease", "revoke", BigInt(id).toString(16)]);
    await lease.keepaliveOnce().catch(() => {});
    expect((await lost).message).toMatch(/lease not found|revoked|expired/i);
    lease.release();
  });
});
