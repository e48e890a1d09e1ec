import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type ConclaveClient, LeaseLostError, LeaseNotFoundError } from "../../src/client/index.js";
import { waitFor } from "../server/cluster.js";
import { closeNow, type HttpCluster, startHttpCluster } from "../server/http-cluster.js";

let cluster: HttpCluster;
let client: ConclaveClient;

beforeAll(async () => {
  cluster = await startHttpCluster();
  await cluster.leader();
  client = cluster.client();
});
afterAll(async () => {
  vi.restoreAllMocks();
  await cluster.stop();
});

describe("lease calls", () => {
  it("grants, lists, keeps alive, reports and revokes", async () => {
    const granted = await client.leaseGrant(30);
    expect(granted.ttlSeconds).toBe(30);
    await client.put("ls/k", "v", { lease: granted.id });
    expect((await client.get("ls/k"))?.lease).toBe(granted.id);
    expect((await client.leases()).ids).toContain(granted.id);
    const kept = await client.leaseKeepAliveOnce(granted.id);
    expect(kept).toMatchObject({ id: granted.id, ttlSeconds: 30 });
    const ttl = await client.leaseTimeToLive(granted.id, { keys: true });
    expect(ttl.grantedTtlSeconds).toBe(30);
    expect(ttl.keys?.map((k) => Buffer.from(k).toString())).toEqual(["ls/k"]);
    await client.leaseRevoke(granted.id);
    expect(await client.get("ls/k")).toBeUndefined();
    const gone = await client.leaseKeepAliveOnce(granted.id).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(LeaseNotFoundError);
    expect((gone as LeaseNotFoundError).status).toBe(404);
  });

  it("grants a chosen id", async () => {
    const granted = await client.leaseGrant(10, { id: 424242 });
    expect(granted.id).toBe(424242);
    await client.leaseRevoke(granted.id);
  });
});

describe("batched keep-alives", () => {
  /** Requests a client sends to `/v3/lease/keepalives`, counted at its one call site. */
  function countBatches(c: ConclaveClient): () => number {
    // biome-ignore lint/suspicious/noExplicitAny: the client's private call is spied on to count requests.
    const spy = vi.spyOn(c as any, "call");
    return () => spy.mock.calls.filter((args) => args[0] === "/v3/lease/keepalives").length;
  }

  it("sends the keep-alives of one window as one request, each caller getting its own answer", async () => {
    const grants = await Promise.all(
      Array.from({ length: 40 }, (_, i) => client.leaseGrant(10 + i)),
    );
    const batchRequests = countBatches(client);
    const before = batchRequests();
    const unknown = 987_654_321;
    const answers = await Promise.allSettled([
      ...grants.map((g) => client.leaseKeepAliveOnce(g.id)),
      client.leaseKeepAliveOnce(unknown),
    ]);
    expect(batchRequests()).toBe(before + 1);
    for (const [i, g] of grants.entries()) {
      expect(answers[i]).toMatchObject({
        status: "fulfilled",
        value: { id: g.id, ttlSeconds: 10 + i },
      });
    }
    const last = answers.at(-1)!;
    expect(last.status).toBe("rejected");
    expect((last as PromiseRejectedResult).reason).toBeInstanceOf(LeaseNotFoundError);
    await Promise.all(grants.map((g) => client.leaseRevoke(g.id)));
  });

  it("splits more than 1000 keep-alives into requests of at most 1000", async () => {
    const g = await client.leaseGrant(30);
    const batchRequests = countBatches(client);
    const before = batchRequests();
    const answers = await Promise.all(
      Array.from({ length: 2500 }, () => client.leaseKeepAliveOnce(g.id)),
    );
    expect(answers.every((a) => a.id === g.id && a.ttlSeconds === 30)).toBe(true);
    expect(batchRequests()).toBe(before + 3);
    await client.leaseRevoke(g.id);
  });

  it("sends each keep-alive alone with keepAliveBatchMs 0", async () => {
    const single = cluster.client({ keepAliveBatchMs: 0 });
    const g = await single.leaseGrant(30);
    const batchRequests = countBatches(single);
    await Promise.all([single.leaseKeepAliveOnce(g.id), single.leaseKeepAliveOnce(g.id)]);
    expect(batchRequests()).toBe(0);
    await single.leaseRevoke(g.id);
    expect(() => cluster.client({ keepAliveBatchMs: -1 })).toThrow(/keepAliveBatchMs/);
  });

  it("fails queued keep-alives when the client closes", async () => {
    const closing = cluster.client({ keepAliveBatchMs: 10_000 });
    const waiting = closing.leaseKeepAliveOnce(1).catch((e: unknown) => e);
    await closing.close();
    expect(await waiting).toMatchObject({ code: "CLIENT_CLOSED" });
  });
});

describe("client.lease keep-alive helper", () => {
  it("keeps the lease alive every ~TTL/3 until revoked, then aborts its signal", async () => {
    const spy = vi.spyOn(client, "leaseKeepAliveOnce");
    const keepalives = () => spy.mock.calls.length;
    const lease = await client.lease(1);
    await waitFor(() => keepalives() >= 3, "three keepalives");
    expect(lease.signal.aborted).toBe(false);
    await client.put("lh/k", "v", { lease: lease.id });
    await lease.revoke();
    expect(lease.signal.aborted).toBe(true);
    expect(lease.signal.reason).toBeInstanceOf(LeaseLostError);
    expect(await client.get("lh/k")).toBeUndefined();
    spy.mockRestore();
  });

  it("aborts its signal when a keepalive finds the lease gone", async () => {
    const lease = await client.lease(1);
    await client.leaseRevoke(lease.id);
    await waitFor(() => lease.signal.aborted, "the signal aborted", 5000);
    expect(lease.signal.reason).toBeInstanceOf(LeaseLostError);
    expect((lease.signal.reason as LeaseLostError).cause).toBeInstanceOf(LeaseNotFoundError);
    // Disposing a lost lease is quiet.
    await lease[Symbol.asyncDispose]();
  });

  it("aborts its signal when no keepalive succeeds within the TTL minus the margin", async () => {
    const c = await startHttpCluster();
    try {
      const leader = await c.leader();
      const lonely = c.client({ endpoints: [c.urlOf(leader.id)] });
      const lease = await lonely.lease(1, { safetyMarginMs: 200 });
      await closeNow(leader.app);
      await waitFor(() => lease.signal.aborted, "the signal aborted", 5000);
      expect(lease.signal.reason).toBeInstanceOf(LeaseLostError);
      expect((lease.signal.reason as LeaseLostError).message).toMatch(/no keepalive/);
    } finally {
      await c.stop();
    }
  });

  it("is revoked by await using", async () => {
    let id = 0;
    {
      await using lease = await client.lease(5);
      id = lease.id;
      expect((await client.leases()).ids).toContain(id);
    }
    expect((await client.leases()).ids).not.toContain(id);
  });
});
