import { status } from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { watchRegistryOf, watchStatsOf } from "../../src/server/index.js";
import { enableAuth, token } from "../server/auth-support.js";
import { waitFor } from "../support/wait-for.js";
import { type GrpcCluster, startGrpcCluster } from "./grpc-cluster.js";
import { b64, RawWatchClient } from "./raw-watch-client.js";

describe("gRPC watches within the member's limits", () => {
  let cluster: GrpcCluster;
  const clients: RawWatchClient[] = [];
  const open = (id: number, authToken?: string): RawWatchClient => {
    const c = new RawWatchClient(cluster.grpcAddressOf(id), authToken);
    clients.push(c);
    return c;
  };
  const registered = () =>
    cluster.members.reduce((n, m) => n + (watchRegistryOf(m.app)?.activeCount ?? 0), 0);

  beforeAll(async () => {
    cluster = await startGrpcCluster({
      auth: { bcryptCost: 4 },
      maxWatchersPerClient: 3,
      maxWatchBufferBytes: 256 * 1024,
      maxTotalWatchBytes: 4 * 1024 * 1024,
    });
    await cluster.leader();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.cancel();
    await waitFor(() => registered() === 0, "watchers released");
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it("refuses a watcher over the per-client limit without ending the stream", async () => {
    const w = open(1);
    for (let i = 0; i < 4; i++) w.create({ key: b64(`limit/${i}`) });
    const answers = await w.next(4);
    expect(answers.slice(0, 3).every((r) => r.created === true && r.canceled !== true)).toBe(true);
    expect(answers[3]).toMatchObject({ watch_id: "-1", created: true, canceled: true });
    expect(answers[3]!.cancel_reason).toMatch(/^etcdserver: host:loopback has 3 open watches/);
    expect(registered()).toBe(3);
    // A watch cancelled makes room on the same stream; ids are not reused.
    w.write({ cancel_request: { watch_id: "2" } });
    w.create({ key: b64("limit/again") });
    const again = await w.until((r) => r.watch_id === "3", "the next watch");
    expect(again).toMatchObject({ created: true });
    expect(again.canceled).toBeUndefined();
  });

  it("cuts a stream whose client stops reading, and frees its watchers", async () => {
    const w = open(2);
    w.create({ key: b64("slow/"), range_end: b64("slow0") });
    await w.next(1);
    w.pause();
    const value = "s".repeat(30 * 1024);
    const member = cluster.members[1]!;
    const cutBefore = watchStatsOf(member.app)!.cutOverStreamBudget;
    const etcd = cluster.etcd3();
    // Bounded: 2 MiB of events, eight times the stream's budget.
    for (let i = 0; i < 64 && watchStatsOf(member.app)!.cutOverStreamBudget === cutBefore; i++) {
      await etcd.put(`slow/${i}`).value(value);
    }
    await waitFor(() => watchStatsOf(member.app)!.cutOverStreamBudget === cutBefore + 1, "the cut");
    expect(registered()).toBe(0);
    w.resume();
    await waitFor(() => w.error, "the stream's status");
    expect(w.error!.code).toBe(status.UNAVAILABLE);
    expect(w.error!.details).toMatch(/^etcdserver: the client read too slowly/);
    await waitFor(() => watchStatsOf(member.app)!.heldBytes === 0, "the held bytes freed");
  });

  it("delivers the start of a replay larger than the budget before cutting", async () => {
    const value = "r".repeat(30 * 1024);
    const etcd = cluster.etcd3();
    const first = await etcd.put("replay/0").value(value);
    for (let i = 1; i < 16; i++) await etcd.put(`replay/${i}`).value(value);
    const w = open(1);
    w.create({
      key: b64("replay/"),
      range_end: b64("replay0"),
      start_revision: first.header.revision,
    });
    await waitFor(() => w.error, "the stream's status");
    expect(w.error!.code).toBe(status.UNAVAILABLE);
    // The client resumes after what it received: it must have received something.
    const received = w.eventsOf(undefined);
    expect(received.length).toBeGreaterThan(0);
    expect(received.length).toBeLessThan(16);
    expect(received[0]).toBe(`PUT replay/0=${value}`);
    expect(registered()).toBe(0);
  });

  it("answers a create on keys the user may not read with etcd's permission denied", async () => {
    const leader = await cluster.leader();
    await enableAuth(leader);
    const reader = await token(leader, "reader", "reader-password");
    const w = open(3, reader);
    w.create({ key: b64("b/secret") });
    w.create({ key: b64("a/"), range_end: b64("a0"), watch_id: "5" });
    w.create({ key: b64("a/x"), watch_id: "6" });
    const [denied, prefix, key] = await w.next(3);
    expect(denied).toMatchObject({
      created: true,
      canceled: true,
      cancel_reason: "etcdserver: permission denied",
    });
    expect(prefix).toMatchObject({ watch_id: "5", created: true });
    expect(prefix!.canceled).toBeUndefined();
    expect(key).toMatchObject({ watch_id: "6", created: true });
    expect(registered()).toBe(2);
    const anonymous = open(3);
    anonymous.create({ key: b64("a/x") });
    const [refused] = await anonymous.next(1);
    expect(refused).toMatchObject({ created: true, canceled: true });
    expect(refused!.cancel_reason).toMatch(/^etcdserver: /);
    expect(anonymous.error).toBeUndefined();
  });
});
