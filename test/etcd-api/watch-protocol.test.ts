import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { watchRegistryOf } from "../../src/server/index.js";
import { waitFor } from "../support/wait-for.js";
import { type GrpcCluster, startGrpcCluster } from "./grpc-cluster.js";
import { b64, RawWatchClient, text } from "./raw-watch-client.js";

/** Keys "p/" up to (not including) "p0": the prefix p/. */
const prefix = (p: string) => ({ key: b64(p), range_end: b64(`${p.slice(0, -1)}0`) });

describe("etcd's Watch protocol over gRPC, raw", () => {
  let cluster: GrpcCluster;
  const clients: RawWatchClient[] = [];
  const open = (id: number): RawWatchClient => {
    const c = new RawWatchClient(cluster.grpcAddressOf(id));
    clients.push(c);
    return c;
  };
  const put = async (key: string, value: string): Promise<number> => {
    const r = await cluster.etcd3().put(key).value(value).exec();
    return Number(r.header.revision);
  };
  const registered = () =>
    cluster.members.reduce((n, m) => n + (watchRegistryOf(m.app)?.activeCount ?? 0), 0);
  const storeWatchers = () => cluster.members.reduce((n, m) => n + m.store.watcherCount, 0);

  beforeAll(async () => {
    cluster = await startGrpcCluster({
      watchProgressIntervalMs: 150,
      // A 64 KiB + 16 KiB... message limit: max(body, range) + 64 KiB = 128 KiB.
      bodyLimitBytes: 64 * 1024,
      maxValueBytes: 32 * 1024,
      maxRangeBytes: 16 * 1024,
    });
    await cluster.leader();
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.cancel();
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it("gives ids 0, 1, 2… per stream, keeps client-chosen ids, refuses a duplicate", async () => {
    const w = open(2);
    w.create({ key: b64("ids/a") });
    w.create({ key: b64("ids/b") });
    w.create({ key: b64("ids/c"), watch_id: "7" });
    w.create({ key: b64("ids/d"), watch_id: "7" });
    const [a, b, c, dup] = await w.next(4);
    expect(a).toMatchObject({ created: true });
    expect(a!.watch_id).toBeUndefined(); // 0, left out on the wire as etcd does
    expect(b).toMatchObject({ watch_id: "1", created: true });
    expect(c).toMatchObject({ watch_id: "7", created: true });
    expect(dup).toMatchObject({
      watch_id: "-1",
      created: true,
      canceled: true,
      cancel_reason: "mvcc: duplicate watch ID provided on the WatchStream",
    });
    for (const r of [a, b, c, dup]) {
      expect(Number(r!.header.revision)).toBeGreaterThan(0);
      expect(Number(r!.header.member_id)).toBe(2);
      expect(r!.header.cluster_id).toMatch(/^\d+$/);
      expect(Number(r!.header.raft_term)).toBeGreaterThan(0);
    }
    // A second stream numbers its own watches from 0 again.
    const other = open(2);
    other.create({ key: b64("ids/a") });
    expect((await other.next(1))[0]!.watch_id).toBeUndefined();
  });

  it("sends events with the revision header, prev_kv and filters, and cancels", async () => {
    const w = open(3);
    w.create({ ...prefix("ev/"), prev_kv: true });
    w.create({ ...prefix("ev/"), filters: ["NOPUT"] });
    w.create({ ...prefix("ev/"), filters: ["NODELETE"] });
    await w.next(3);
    await put("ev/a", "1");
    const rev2 = await put("ev/a", "2");
    await cluster.etcd3().delete().key("ev/a").exec();
    await w.until((r) => r.watch_id === "1" && r.events !== undefined, "the delete");
    await waitFor(() => w.eventsOf(undefined).length === 3, "three events on watch 0");
    expect(w.eventsOf(undefined)).toEqual(["PUT ev/a=1", "PUT ev/a=2", "DELETE ev/a"]);
    expect(w.eventsOf("1")).toEqual(["DELETE ev/a"]);
    await waitFor(() => w.eventsOf("2").length === 2, "two puts on watch 2");
    expect(w.eventsOf("2")).toEqual(["PUT ev/a=1", "PUT ev/a=2"]);
    const second = w.responses.find(
      (r) => r.watch_id === undefined && r.events?.[0]?.kv.mod_revision === String(rev2),
    )!;
    expect(second.header.revision).toBe(String(rev2));
    expect(text(second.events![0]!.prev_kv!.value)).toBe("1");
    const del = w.responses.find((r) => r.watch_id === "1" && r.events !== undefined)!;
    // etcd's delete event: the key and the deleting revision, nothing else.
    expect(del.events![0]!.kv).toEqual({ key: b64("ev/a"), mod_revision: del.header.revision });

    w.write({ cancel_request: { watch_id: "2" } });
    w.write({ cancel_request: { watch_id: "99" } }); // unknown: no answer, as etcd
    w.write({ progress_request: {} });
    const canceled = await w.until((r) => r.canceled === true, "the cancel");
    expect(canceled.watch_id).toBe("2");
    const progress = await w.until((r) => r.watch_id === "-1", "the progress answer");
    expect(progress.events).toBeUndefined();
    expect(w.responses.indexOf(progress)).toBe(w.responses.indexOf(canceled) + 1);
    await put("ev/b", "3");
    await waitFor(() => w.eventsOf(undefined).length === 4, "the put after the cancel");
    expect(w.eventsOf("2")).toHaveLength(2);
  });

  it("replays from a past revision and refuses a compacted one", async () => {
    const first = await put("past/k", "1");
    await put("past/k", "2");
    const w = open(1);
    w.create({ key: b64("past/k"), start_revision: String(first) });
    await waitFor(() => w.eventsOf(undefined).length === 2, "the replay");
    expect(w.eventsOf(undefined)).toEqual(["PUT past/k=1", "PUT past/k=2"]);
    expect(w.responses[0]).toMatchObject({ created: true });

    const last = await put("past/k", "3");
    expect((await cluster.etcdctl(["compaction", String(last)])).code).toBe(0);
    await waitFor(
      () => cluster.members.every((m) => m.store.compactRevision >= last),
      "compaction everywhere",
    );
    w.create({ key: b64("past/k"), start_revision: String(first) });
    const canceled = await w.until((r) => r.watch_id === "1" && r.canceled === true, "cancel");
    expect(canceled).toMatchObject({
      compact_revision: String(last),
      cancel_reason: "etcdserver: mvcc: required revision has been compacted",
    });
    const created = w.responses.find((r) => r.watch_id === "1" && r.created === true);
    expect(w.responses.indexOf(created!)).toBeLessThan(w.responses.indexOf(canceled));
  });

  it("sends progress notifications while a watch is idle", async () => {
    const w = open(2);
    w.create({ key: b64("progress/k"), progress_notify: true, watch_id: "3" });
    await w.next(1);
    const notice = await w.until(
      (r) => r.watch_id === "3" && r.created !== true && r.events === undefined,
      "a progress notification",
    );
    expect(Number(notice.header.revision)).toBeGreaterThan(0);
  });

  it("fragments a revision larger than the message limit when asked to", async () => {
    const big = "v".repeat(30 * 1024);
    for (let i = 0; i < 8; i++) await put(`frag/${i}`, big);
    // Member 1 may be a follower: a watch without a revision starts after what it has applied.
    await cluster.caughtUp();
    const w = open(1);
    w.create({ ...prefix("frag/"), prev_kv: true, fragment: true });
    w.create({ ...prefix("frag/"), prev_kv: true });
    await w.next(2);
    await cluster.etcd3().delete().prefix("frag/").exec();
    const parts = await waitFor(() => {
      const got = w.responses.filter((r) => r.watch_id === undefined && r.events !== undefined);
      return got.at(-1)?.fragment !== true && got.length > 1 && got;
    }, "the fragments");
    expect(parts.slice(0, -1).every((r) => r.fragment === true)).toBe(true);
    expect(parts.flatMap((r) => r.events!).map((e) => text(e.kv.key))).toEqual(
      Array.from({ length: 8 }, (_, i) => `frag/${i}`),
    );
    expect(new Set(parts.map((r) => r.header.revision)).size).toBe(1);
    // Without fragment, the watch is cancelled with a reason rather than the stream failing.
    const refused = await w.until((r) => r.watch_id === "1" && r.canceled === true, "refusal");
    expect(refused.cancel_reason).toMatch(/message limit; watch with fragment/);
    expect(w.error).toBeUndefined();
  });

  it("frees every watcher of a stream that closes", async () => {
    await waitFor(() => registered() === 0, "no watchers left from earlier tests");
    const before = storeWatchers();
    const w = open(2);
    for (let i = 0; i < 5; i++) w.create({ key: b64(`free/${i}`) });
    await w.next(5);
    expect(registered()).toBe(5);
    expect(storeWatchers()).toBe(before + 5);
    w.cancel();
    await waitFor(() => registered() === 0, "the registry back to 0");
    expect(storeWatchers()).toBe(before);
  });
});
