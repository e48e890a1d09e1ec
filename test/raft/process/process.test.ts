import { afterEach, describe, expect, it } from "vitest";
import { ProcessCluster } from "./harness.js";
import { missingWrites, startLoad } from "./load.js";

/**
 * Real node processes (WAL on disk, TCP with handshakes) on 127.0.0.1, under
 * kill -9, SIGSTOP and cut links. Waits are bounded generously: they prove
 * liveness, not speed (speed is measured by `npm run bench -- raft-node`).
 */
let cluster: ProcessCluster | undefined;

afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

async function started(
  size: number,
  extra: Partial<ConstructorParameters<typeof ProcessCluster>[0]> = {},
) {
  cluster = new ProcessCluster({ size, ...extra });
  await cluster.start();
  const leader = await cluster.waitFor(() => cluster!.leader(), "a leader", 20_000);
  return { c: cluster, leader };
}

describe.each([3, 5])("%i-node cluster of real processes", (size) => {
  it("kill -9 of the leader under load: a new leader commits and no acknowledged write is lost", async () => {
    const { c, leader } = await started(size);
    const load = startLoad(c, { writers: 4, maxMs: 30_000 });
    await c.waitFor(
      async () => (load.acked.size >= 50 ? true : undefined),
      "writes before the kill",
      20_000,
    );
    await c.kill(leader);
    const killedAt = Date.now();
    const next = await c.waitFor(
      async () => {
        const l = await c.leader();
        return l !== undefined && l !== leader ? l : undefined;
      },
      "a new leader",
      20 * c.electionMs,
    );
    expect(await c.put("after-failover", "yes", 20 * c.electionMs)).toBe(true);
    const failoverMs = Date.now() - killedAt;
    const acked = await load.stop();
    const missing = await missingWrites(c, next, acked);
    expect(missing, c.logs()).toEqual([]);
    expect(acked.size).toBeGreaterThan(50);
    console.log(
      `${size} nodes: ${acked.size} acknowledged writes; failover to first commit ${failoverMs} ms (election timeout ${c.electionMs} ms)`,
    );
  });
});

describe("3-node cluster of real processes", () => {
  it("kill -9 of every node at once under load, then restart: every acknowledged write is there", async () => {
    const { c } = await started(3);
    const load = startLoad(c, { writers: 4, maxMs: 30_000 });
    await c.waitFor(async () => (load.acked.size >= 100 ? true : undefined), "writes", 20_000);
    await Promise.all(c.ids.map((id) => c.kill(id)));
    const acked = await load.stop();
    for (const id of c.ids) await c.restart(id);
    const leader = await c.waitFor(() => c.leader(), "a leader after restart", 20_000);
    expect(await missingWrites(c, leader, acked), c.logs()).toEqual([]);
  });

  it("a SIGSTOPped leader steps down after SIGCONT and its stale view never answers a linearizable read", async () => {
    const { c, leader } = await started(3);
    expect(await c.put("k", "before")).toBe(true);
    c.signal(leader, "SIGSTOP");
    try {
      const next = await c.waitFor(
        async () => {
          for (const id of c.ids.filter((x) => x !== leader)) {
            const st = await c.status(id);
            if (st?.role === "leader") return id;
          }
          return undefined;
        },
        "a new leader while the old one is frozen",
        20 * c.electionMs,
      );
      expect((await c.request(next, "PUT", "/kv/k", "after")).status).toBe(200);
    } finally {
      c.signal(leader, "SIGCONT");
    }
    // Straight after waking, the old leader must not serve "before".
    const r = await c.get(leader, "k");
    if (r.status === 200) expect(r.body.value).toBe("after");
    else expect(["NOT_LEADER", "TIMEOUT"]).toContain(r.body.code);
    await c.waitFor(
      async () => ((await c.status(leader))?.role === "follower" ? true : undefined),
      "the old leader to step down",
      20 * c.electionMs,
    );
  });

  it("a cut-off peer does not stop the majority and catches up by snapshot after healing", async () => {
    const { c, leader } = await started(3, { snapshotEvery: 40, catchUpEntries: 0 });
    const victim = c.ids.find((id) => id !== leader)!;
    c.cut(victim, { reset: true });
    for (let i = 0; i < 120; i++) expect(await c.put(`cut-${i}`, `v${i}`)).toBe(true);
    const leaderStatus = (await c.status(leader))!;
    const victimBefore = (await c.status(victim))!;
    // Precondition: the leader compacted past everything the cut peer has.
    expect(leaderStatus.snapshotIndex as number).toBeGreaterThan(victimBefore.lastIndex as number);
    c.heal();
    await c.waitFor(
      async () => {
        const st = await c.status(victim);
        return st !== undefined &&
          (st.appliedIndex as number) >= (leaderStatus.appliedIndex as number)
          ? true
          : undefined;
      },
      "the cut peer to catch up",
      20 * c.electionMs,
    );
    const st = (await c.status(victim))!;
    expect(
      st.snapshotsInstalled as number,
      JSON.stringify({ leaderStatus, victimBefore, st }),
    ).toBeGreaterThan(0);
    const r = await c.request(victim, "GET", "/kv/cut-119?consistency=serializable");
    expect(r.body.value).toBe("v119");
  });

  it("a one-way cut into a peer does not stop the majority, and the peer catches up after healing", async () => {
    const { c, leader } = await started(3);
    const victim = c.ids.find((id) => id !== leader)!;
    c.cut(victim, { oneWay: true });
    for (let i = 0; i < 30; i++) expect(await c.put(`oneway-${i}`, `v${i}`)).toBe(true);
    c.heal();
    await c.waitFor(
      async () => {
        const r = await c.request(victim, "GET", "/kv/oneway-29?consistency=serializable");
        return r.body.value === "v29" ? true : undefined;
      },
      "the one-way-cut peer to catch up",
      20 * c.electionMs,
    );
  });

  it("adds a fourth node and removes one while under load", async () => {
    const { c, leader } = await started(3);
    const load = startLoad(c, { writers: 2, maxMs: 30_000 });
    const id = await c.addNode();
    const added = await c.request(
      leader,
      "POST",
      "/members",
      JSON.stringify({ id, address: c.peerAddress(id) }),
    );
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    const victim = c.ids.find((x) => x !== leader && x !== id)!;
    const removed = await c.request(leader, "DELETE", `/members/${victim}`);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect((removed.body.voters as number[]).sort()).toEqual(
      c.ids.filter((x) => x !== victim).sort(),
    );
    await c.kill(victim);
    const acked = await load.stop();
    const current = await c.waitFor(() => c.leader(), "a leader", 20_000);
    expect(await missingWrites(c, current, acked), c.logs()).toEqual([]);
    await c.waitFor(
      async () => {
        const r = await c
          .request(id, "GET", "/kv/x?consistency=serializable")
          .catch(() => undefined);
        const st = await c.status(id);
        return r !== undefined && st !== undefined && (st.appliedIndex as number) > 0
          ? true
          : undefined;
      },
      "the new node to apply the log",
      20_000,
    );
  });
});
