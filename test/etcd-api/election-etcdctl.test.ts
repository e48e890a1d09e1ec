import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait-for.js";
import { EtcdctlProcesses } from "./etcdctl-process.js";
import { type GrpcCluster, startGrpcCluster } from "./grpc-cluster.js";

/** The real etcd 3.4 the output is compared with; only keys under a prefix of this run. */
const ETCD = ["127.0.0.1:2379"];
const ETCD_PREFIX = `conclave-etcdctl-elect-${process.pid}-${Date.now()}`;

describe("etcdctl elect against Conclave's gRPC API", () => {
  let cluster: GrpcCluster;
  const processes = new EtcdctlProcesses();

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

  it("elects one proposal at a time, and an observer sees each leader", async () => {
    const endpoints = cluster.grpcAddresses;
    const observer = processes.start(endpoints, ["elect", "-l", "svc"]);
    const first = processes.start(endpoints, ["elect", "svc", "p1"]);
    const firstKey = await waitFor(
      () => /^(svc\/[0-9a-f]+)\np1\n$/.exec(first.stdout())?.[1],
      "the first proposal elected",
      15_000,
    );
    await waitFor(() => observer.stdout() === `${firstKey}\np1\n`, "p1 observed", 15_000);

    const second = processes.start(endpoints, ["elect", "svc", "p2"]);
    const queued = () =>
      cluster.members[0]!.store.range({ key: Buffer.from("svc/"), rangeEnd: Buffer.from("svc0") })
        .count === 2;
    await waitFor(queued, "the second proposal queued", 15_000);
    expect(second.stdout()).toBe("");

    first.interrupt();
    expect(await first.exited).toBe(0);
    const secondKey = await waitFor(
      () => /^(svc\/[0-9a-f]+)\np2\n$/.exec(second.stdout())?.[1],
      "the second proposal elected",
      15_000,
    );
    await waitFor(
      () => observer.stdout() === `${firstKey}\np1\n${secondKey}\np2\n`,
      "p2 observed",
      15_000,
    );
    second.interrupt();
    expect(await second.exited).toBe(0);
  });

  it("prints what etcd prints for an elected proposal", async () => {
    const theirs = processes.start(ETCD, ["elect", `${ETCD_PREFIX}/e`, "v"]);
    const ours = processes.start(cluster.grpcAddresses, ["elect", "e", "v"]);
    // etcdctl prints the key and the value as two writes: wait for both lines of each.
    const twoLines = (out: string) => out.split("\n").length >= 3;
    await waitFor(
      () => twoLines(theirs.stdout()) && twoLines(ours.stdout()),
      "both elected",
      15_000,
    );
    const shape = (out: string, name: string) =>
      out.replace(new RegExp(`^${name}/[0-9a-f]+\\n`), "<key>\n");
    expect(shape(ours.stdout(), "e")).toBe(shape(theirs.stdout(), `${ETCD_PREFIX}/e`));
    expect(shape(ours.stdout(), "e")).toBe("<key>\nv\n");
    theirs.interrupt();
    ours.interrupt();
    expect(await theirs.exited).toBe(0);
    expect(await ours.exited).toBe(0);
  });
});
