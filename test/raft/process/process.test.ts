import { afterEach, describe, expect, it } from "vitest";
import { ServeCluster, type ServeClusterOptions } from "../../server/process/serve-cluster.js";
import { missingWrites, startLoad } from "./load.js";

/**
 * `conclave serve` processes (WAL on disk with fsync, TCP with handshakes)
 * on 127.0.0.1, under kill -9, SIGSTOP and cut links. Waits are bounded
 * generously: they prove liveness, not speed (speed is measured by
 * `npm run bench -- raft-node`).
 */
let cluster: ServeCluster | undefined;

afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

async function started(size: number, extra: Partial<ServeClusterOptions> = {}) {
  cluster = new ServeCluster({ size, ...extra });
  await cluster.start();
  const leader = await cluster.waitFor(() => cluster!.leader(), "a leader", 20_000);
  return { c: cluster, leader };
}

/** One put through the SDK at any member, retried under one idempotency key; whether it was acknowledged. */
async function put(c: ServeCluster, key: string, value: string, timeoutMs = 5000) {
  const client = c.client(c.ids.filter((id) => c.isRunning(id)));
  try {
    await client.put(key, value, { timeoutMs });
    return true;
  } catch {
    return false;
  } finally {
    await client.close();
  }
}

/** The value member `id` holds for `key` now, without asking the leader. */
async function localValue(c: ServeCluster, id: number, key: string) {
  const r = await c.post(id, "/v3/kv/range", { key: b64(key), serializable: true });
  const kvs = r.body["kvs"] as { value: string }[] | undefined;
  const v = kvs?.[0]?.value;
  return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
}

describe.each([3, 5])("%i-member cluster of conclave serve processes", (size) => {
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
    expect(await put(c, "after-failover", "yes", 20 * c.electionMs)).toBe(true);
    const failoverMs = Date.now() - killedAt;
    const acked = await load.stop();
    const missing = await missingWrites(c, next, acked);
    expect(missing, c.logs()).toEqual([]);
    expect(acked.size).toBeGreaterThan(50);
    console.log(
      `${size} members: ${acked.size} acknowledged writes; failover to first commit ${failoverMs} ms (election timeout ${c.electionMs} ms)`,
    );
  });
});

describe("3-member cluster of conclave serve processes", () => {
  it("kill -9 of every member at once under load, then restart: every acknowledged write is there", async () => {
    const { c } = await started(3);
    const load = startLoad(c, { writers: 4, maxMs: 30_000 });
    await c.waitFor(async () => (load.acked.size >= 100 ? true : undefined), "writes", 20_000);
    await Promise.all(c.ids.map((id) => c.kill(id)));
    const acked = await load.stop();
    await Promise.all(c.ids.map((id) => c.restart(id)));
    const leader = await c.waitFor(() => c.leader(), "a leader after restart", 20_000);
    expect(await missingWrites(c, leader, acked), c.logs()).toEqual([]);
  });

  it("a SIGSTOPped leader steps down after SIGCONT and its stale view never answers a linearizable read", async () => {
    const { c, leader } = await started(3);
    expect(await put(c, "k", "before")).toBe(true);
    c.signal(leader, "SIGSTOP");
    try {
      const next = await c.waitFor(
        () => c.leader(c.ids.filter((x) => x !== leader)),
        "a new leader while the old one is frozen",
        20 * c.electionMs,
      );
      const written = await c.post(next, "/v3/kv/put", { key: b64("k"), value: b64("after") });
      expect(written.status, JSON.stringify(written.body)).toBe(200);
    } finally {
      c.signal(leader, "SIGCONT");
    }
    // Straight after waking, the old leader must not serve "before".
    const r = await c.post(leader, "/v3/kv/range", { key: b64("k") });
    if (r.status === 200) {
      expect((r.body["kvs"] as { value: string }[])[0]?.value).toBe(b64("after"));
    } else {
      expect(["NOT_LEADER", "TIMEOUT"]).toContain(r.body["code"]);
    }
    await c.waitFor(
      async () => ((await c.status(leader))?.role === "follower" ? true : undefined),
      "the old leader to step down",
      20 * c.electionMs,
    );
  });

  it("a cut-off peer does not stop the majority and catches up by snapshot after healing", async () => {
    const { c, leader } = await started(3, {
      snapshotEveryEntries: 40,
      snapshotCatchUpEntries: 0,
    });
    const victim = c.ids.find((id) => id !== leader)!;
    c.cut(victim, { mode: "reset" });
    for (let i = 0; i < 120; i++) expect(await put(c, `cut-${i}`, `v${i}`)).toBe(true);
    const leaderStatus = (await c.status(leader))!;
    const victimBefore = (await c.status(victim))!;
    // Precondition: the leader compacted past everything the cut peer has.
    expect(leaderStatus.snapshotIndex).toBeGreaterThan(victimBefore.lastIndex);
    c.heal();
    await c.waitFor(
      async () => {
        const st = await c.status(victim);
        return st !== undefined && st.appliedIndex >= leaderStatus.appliedIndex ? true : undefined;
      },
      "the cut peer to catch up",
      20 * c.electionMs,
    );
    const st = await c.status(victim);
    expect(
      await c.snapshotsInstalled(victim),
      JSON.stringify({ leaderStatus, victimBefore, st }),
    ).toBeGreaterThan(0);
    expect(await localValue(c, victim, "cut-119")).toBe("v119");
  });

  it("a one-way cut into a peer does not stop the majority, and the peer catches up after healing", async () => {
    const { c, leader } = await started(3);
    const victim = c.ids.find((id) => id !== leader)!;
    c.cut(victim, { oneWay: true });
    for (let i = 0; i < 30; i++) expect(await put(c, `oneway-${i}`, `v${i}`)).toBe(true);
    // The victim heard nothing of them.
    expect(await localValue(c, victim, "oneway-29")).toBeUndefined();
    c.heal();
    await c.waitFor(
      async () => ((await localValue(c, victim, "oneway-29")) === "v29" ? true : undefined),
      "the one-way-cut peer to catch up",
      20 * c.electionMs,
    );
  });

  it("adds a fourth member and removes one while under load", async () => {
    const { c, leader } = await started(3);
    const load = startLoad(c, { writers: 2, maxMs: 30_000 });
    const n4 = await c.plan();
    const added = await c.post(leader, "/v3/cluster/member/add", {
      ID: n4.id,
      name: n4.name,
      peerURLs: [n4.proxy.address],
      clientURLs: [n4.clientUrl],
      isLearner: true,
    });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    await c.restart(n4.id);
    // Promoted once it caught up: the leader refuses a learner that is behind.
    await c.waitFor(
      async () => {
        const r = await c.post(leader, "/v3/cluster/member/promote", { ID: String(n4.id) });
        if (r.status === 200) return true;
        expect(r.body["code"], JSON.stringify(r.body)).toBe("LEARNER_NOT_READY");
        return undefined;
      },
      "the learner to be promoted",
      20_000,
    );
    const victim = c.ids.find((x) => x !== leader && x !== n4.id)!;
    const removed = await c.post(leader, "/v3/cluster/member/remove", { ID: String(victim) });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(
      (removed.body["members"] as { ID: string; isLearner: boolean }[])
        .map((m) => Number(m.ID))
        .sort(),
    ).toEqual(c.ids.filter((x) => x !== victim).sort());
    const st = await c.waitFor(
      async () => {
        const s = await c.status(leader);
        return s !== undefined && !s.voters.includes(victim) ? s : undefined;
      },
      "the removal to apply at the leader",
      20_000,
    );
    expect(st.voters.sort()).toEqual(c.ids.filter((x) => x !== victim).sort());
    await c.kill(victim);
    const acked = await load.stop();
    const current = await c.waitFor(() => c.leader(), "a leader", 20_000);
    expect(await missingWrites(c, current, acked), c.logs()).toEqual([]);
    // The new member holds what was written before it joined and while it joined.
    expect(await missingWrites(c, n4.id, acked), c.logs()).toEqual([]);
    await c.waitFor(
      async () => {
        const s = await c.status(n4.id);
        return s !== undefined && s.appliedIndex > 0 && s.voters.includes(n4.id) ? true : undefined;
      },
      "the new member to apply the log as a voter",
      20_000,
    );
  });
});
