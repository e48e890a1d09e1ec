import type { Etcd3, IKeyValue, Watcher } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { watchRegistryOf } from "../../src/server/index.js";
import { waitFor } from "../support/wait-for.js";
import { type GrpcCluster, startGrpcCluster } from "./grpc-cluster.js";

/** What a watcher heard, as "PUT key=value" / "DELETE key". */
function record(watcher: Watcher): string[] {
  const seen: string[] = [];
  watcher.on("put", (kv: IKeyValue) =>
    seen.push(`PUT ${kv.key.toString()}=${kv.value.toString()}`),
  );
  watcher.on("delete", (kv: IKeyValue) => seen.push(`DELETE ${kv.key.toString()}`));
  return seen;
}

describe("npm etcd3 watchers against Conclave's gRPC API", () => {
  let cluster: GrpcCluster;
  let client: Etcd3;
  const registered = () =>
    cluster.members.reduce((n, m) => n + (watchRegistryOf(m.app)?.activeCount ?? 0), 0);

  beforeAll(async () => {
    cluster = await startGrpcCluster();
    await cluster.leader();
    client = cluster.etcd3();
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it("watches a prefix and a key on one stream, with previous values, then cancels", async () => {
    const prefixWatcher = await client.watch().prefix("e3/").withPreviousKV().create();
    const keyWatcher = await client.watch().key("e3/b").create();
    expect(registered()).toBe(2);
    const prefixSeen = record(prefixWatcher);
    const keySeen = record(keyWatcher);
    const previous: string[] = [];
    prefixWatcher.on("put", (_kv: IKeyValue, prev?: IKeyValue) => {
      // etcd3 hands null, not undefined, when there is no previous value.
      if (prev) previous.push(prev.value.toString());
    });
    await client.put("e3/a").value("1");
    await client.put("e3/b").value("2");
    await client.put("e3/a").value("3");
    await client.delete().key("e3/b");
    await waitFor(() => prefixSeen.length === 4 && keySeen.length === 2, "the events");
    expect(prefixSeen).toEqual(["PUT e3/a=1", "PUT e3/b=2", "PUT e3/a=3", "DELETE e3/b"]);
    expect(keySeen).toEqual(["PUT e3/b=2", "DELETE e3/b"]);
    expect(previous).toEqual(["1"]);

    await keyWatcher.cancel();
    expect(registered()).toBe(1);
    await client.put("e3/b").value("again");
    await waitFor(() => prefixSeen.length === 5, "the put after the cancel");
    expect(keySeen).toHaveLength(2);
    await prefixWatcher.cancel();
    await waitFor(() => registered() === 0, "every watcher released");
  });

  it("replays from a past revision", async () => {
    const first = await client.put("past3/k").value("1");
    await client.put("past3/k").value("2");
    const watcher = await client
      .watch()
      .key("past3/k")
      .startRevision(first.header.revision)
      .create();
    const seen = record(watcher);
    await waitFor(() => seen.length === 2, "the replay");
    expect(seen).toEqual(["PUT past3/k=1", "PUT past3/k=2"]);
    await client.put("past3/k").value("3");
    await waitFor(() => seen.length === 3, "the live put");
    await watcher.cancel();
  });

  it("reports a compacted start revision as an error", async () => {
    const first = await client.put("compact3/k").value("1");
    const last = await client.put("compact3/k").value("2");
    expect((await cluster.etcdctl(["compaction", last.header.revision])).code).toBe(0);
    await waitFor(
      () => cluster.members.every((m) => m.store.compactRevision >= Number(last.header.revision)),
      "compaction everywhere",
    );
    const watcher = client.watch().key("compact3/k").startRevision(first.header.revision).watcher();
    const error = await new Promise<Error>((resolve) => watcher.once("error", resolve));
    expect(error.message).toBe(
      "Watcher canceled: etcdserver: mvcc: required revision has been compacted",
    );
    await waitFor(() => registered() === 0, "no watcher left");
  });
});
