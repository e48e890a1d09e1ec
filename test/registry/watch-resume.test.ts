import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConclaveClient } from "../../src/client/index.js";
import { Registry } from "../../src/registry/index.js";
import {
  type ConclaveTestCluster,
  startConclaveCluster,
} from "../lock/support/conclave-cluster.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { waitFor } from "../support/wait-for.js";
import { clientOf, recordWatch } from "./support.js";

let cluster: ConclaveTestCluster;
let direct: ConclaveClient;
let writer: Registry;

beforeAll(async () => {
  cluster = await startConclaveCluster();
  direct = clientOf(cluster.endpoints, 7);
  writer = new Registry(direct);
});
afterAll(async () => {
  await writer[Symbol.asyncDispose]();
  await direct.close();
  await cluster.stop();
});

/** A registry whose client reaches the cluster only through proxies that can be cut. */
async function partitionedReader(seed: number) {
  const proxies = await Promise.all(cluster.members.map((m) => TcpProxy.start(m.port)));
  const client = clientOf(
    proxies.map((p) => `http://127.0.0.1:${p.port}`),
    seed,
  );
  return {
    registry: new Registry(client),
    /** Tears every connection down and refuses new ones: the watch must reconnect. */
    cut: () => {
      for (const p of proxies) p.cut({ reset: true });
    },
    heal: () => {
      for (const p of proxies) p.heal();
    },
    async close() {
      await client.close();
      await Promise.all(proxies.map((p) => p.close()));
    },
  };
}

const put = (service: string, id: string, port: number) =>
  writer.registerPersistent({ service, id, address: "127.0.0.1", port });

describe("registry watch across a lost connection", () => {
  it("delivers every change made while the connection was cut, in order", async () => {
    const reader = await partitionedReader(11);
    await put("cut", "a", 1);
    const watch = recordWatch(reader.registry, "cut");
    await watch.until("a");
    reader.cut();
    await put("cut", "b", 2);
    await writer.deregister("cut", "a");
    await put("cut", "c", 3);
    reader.heal();
    await watch.until("b,c");
    // Each revision made while cut shows up as its own snapshot: nothing was skipped.
    expect(watch.history()).toEqual(["a", "a,b", "b", "b,c"]);
    await watch.stop();
    await reader.close();
  });

  it("lists again when the revision to resume from was compacted, ending with the right set", async () => {
    const reader = await partitionedReader(12);
    await put("compact", "a", 1);
    await put("compact", "b", 2);
    const watch = recordWatch(reader.registry, "compact");
    await watch.until("a,b");
    const before = watch.seen.at(-1)?.revision ?? 0;
    reader.cut();
    await writer.deregister("compact", "a");
    await put("compact", "c", 3);
    await writer.deregister("compact", "b");
    const { revision } = await direct.put("unrelated", "x");
    await direct.compact(revision);
    reader.heal();
    const last = await watch.until("c");
    expect(last.revision).toBeGreaterThanOrEqual(revision);
    // The changes in between were compacted away: the re-list jumps to the result.
    expect(watch.history()).toEqual(["a,b", "c"]);
    expect(last.revision).toBeGreaterThan(before);
    // And the watch carries on after the re-list.
    await put("compact", "d", 4);
    await watch.until("c,d");
    await watch.stop();
    await reader.close();
  });

  it("registers again after its lease expired while the cluster was unreachable", async () => {
    const holder = await partitionedReader(13);
    const watch = recordWatch(writer, "island");
    await watch.until("");
    const registration = await holder.registry.register({
      service: "island",
      id: "i1",
      address: "127.0.0.1",
      port: 4000,
      ttlMs: 2000,
    });
    await watch.until("i1");
    const firstLease = registration.leaseId;
    holder.cut();
    // The lease runs out on the cluster: the instance is gone for everyone else.
    await watch.until("");
    await waitFor(
      () => registration.state === "reregistering",
      "the holder to count its lease lost",
      10_000,
    );
    holder.heal();
    await waitFor(() => registration.reregistrations === 1, "the re-registration", 10_000);
    expect(registration.leaseId).not.toBe(firstLease);
    await watch.until("i1");
    expect(watch.history()).toEqual(["", "i1", "", "i1"]);
    await registration.deregister();
    await watch.until("");
    await watch.stop();
    await holder.close();
  });
});
