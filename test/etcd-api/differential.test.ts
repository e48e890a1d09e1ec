/**
 * The same seeded operations against a private etcd 3.4 and a Conclave
 * cluster, both started empty so their revisions line up: every answer
 * must be equal field by field once identity is normalised (run.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EtcdServerProcess } from "../lock/support/etcd-server.js";
import type { StoreView } from "./differential/ops.js";
import { type Difference, runSeed } from "./differential/run.js";
import { conclaveTarget, type DiffTarget, grpcTarget } from "./differential/targets.js";
import { type GrpcCluster, startGrpcCluster } from "./grpc-cluster.js";

const SEEDS = [1, 2, 3];
const STEPS_PER_SEED = 150;

function describeDifference(d: Difference): string {
  return [
    `seed ${d.seed} step ${d.step}: ${JSON.stringify(d.op)}`,
    `  etcd:     ${JSON.stringify(d.expected)}`,
    `  conclave: ${JSON.stringify(d.actual)}`,
  ].join("\n");
}

describe("differential: Conclave answers as etcd 3.4 does", () => {
  let etcd: EtcdServerProcess;
  let cluster: GrpcCluster;
  let reference: DiffTarget;
  let subject: DiffTarget;
  // One store view for every seed: the seeds run one after another on the same two stores.
  const view: StoreView = { revision: 1, compacted: 0, granted: 0, watches: 0 };

  beforeAll(async () => {
    [etcd, cluster] = await Promise.all([EtcdServerProcess.start(), startGrpcCluster()]);
    const leader = await cluster.leader();
    reference = grpcTarget("etcd", etcd.endpoint);
    subject = conclaveTarget(
      "conclave",
      cluster.grpcAddressOf(leader.id),
      cluster.urlOf(leader.id),
    );
  }, 30_000);

  afterAll(async () => {
    reference?.close();
    subject?.close();
    await Promise.all([etcd?.stop(), cluster?.stop()]);
  });

  it("starts both stores at the same revision", async () => {
    const req = { key: Buffer.from("none").toString("base64") };
    const [a, b] = await Promise.all([reference.kv("Range", req), subject.kv("Range", req)]);
    expect(a.ok && b.ok).toBe(true);
    if (a.ok && b.ok) {
      expect((b.message["header"] as Record<string, unknown>)["revision"]).toBe(
        (a.message["header"] as Record<string, unknown>)["revision"],
      );
    }
  });

  for (const seed of SEEDS) {
    it(`agrees on seed ${seed}`, { timeout: 60_000 }, async () => {
      const differences = await runSeed(seed, STEPS_PER_SEED, reference, subject, view);
      expect(differences.slice(0, 5).map(describeDifference).join("\n")).toBe("");
    });
  }
});
