import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait-for.js";
import { EtcdctlProcesses } from "./etcdctl-process.js";
import { type GrpcCluster, runEtcdctl, startGrpcCluster } from "./grpc-cluster.js";

/** The real etcd 3.4 the output is compared with; only keys under a prefix of this run. */
const ETCD = ["127.0.0.1:2379"];
const ETCD_PREFIX = `conclave-etcdctl-lock-${process.pid}-${Date.now()}`;

describe("etcdctl lock against Conclave's gRPC API", () => {
  let cluster: GrpcCluster;
  const processes = new EtcdctlProcesses();
  /** Keys under `prefix` in member 1's store, which every committed revision reaches. */
  const keysUnder = (prefix: string) => {
    const start = Buffer.from(prefix);
    const end = Buffer.from(prefix);
    end[end.length - 1]! += 1;
    return cluster.members[0]!.store.range({ key: start, rangeEnd: end }).kvs.map((kv) =>
      Buffer.from(kv.key).toString(),
    );
  };

  beforeAll(async () => {
    cluster = await startGrpcCluster();
    await cluster.leader();
  });
  afterEach(async () => {
    await processes.stopAll();
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it("makes a second etcdctl lock wait until the first one exits", async () => {
    const first = processes.start(cluster.grpcAddresses, ["lock", "job"]);
    const firstKey = await waitFor(
      () => /^(job\/[0-9a-f]+)\n\n$/.exec(first.stdout())?.[1],
      "the first lock's key printed",
      15_000,
    );
    const second = processes.start(cluster.grpcAddresses, ["lock", "job"]);
    await waitFor(() => keysUnder("job/").length === 2, "the second lock queued", 15_000);
    expect(second.stdout()).toBe("");

    first.interrupt();
    expect(await first.exited).toBe(0);
    const secondKey = await waitFor(
      () => /^(job\/[0-9a-f]+)\n\n$/.exec(second.stdout())?.[1],
      "the second lock's key printed",
      15_000,
    );
    expect(secondKey).not.toBe(firstKey);
    expect(keysUnder("job/")).toEqual([secondKey]);
    second.interrupt();
    expect(await second.exited).toBe(0);
    await waitFor(() => keysUnder("job/").length === 0, "the lock released");
  });

  it("runs a command while holding the lock, as against etcd", async () => {
    const command = ["--", "sh", "-c", 'echo "$ETCD_LOCK_KEY $ETCD_LOCK_REV"'];
    const ours = await cluster.etcdctl(["lock", "cmd", ...command]);
    const theirs = await runEtcdctl(ETCD, ["lock", `${ETCD_PREFIX}/cmd`, ...command]);
    expect(theirs.stdout).toMatch(new RegExp(`^${ETCD_PREFIX}/cmd/[0-9a-f]+ \\d+\\n$`));
    expect(ours.code).toBe(0);
    expect(ours.stdout).toMatch(/^cmd\/[0-9a-f]+ \d+\n$/);
    const revision = Number(ours.stdout.trimEnd().split(" ")[1]);
    expect(revision).toBeGreaterThan(0);
    // Unlocked once the command ended.
    await waitFor(() => keysUnder("cmd/").length === 0, "the lock released");
  });
});
