import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConclaveClient, type TxnRequest, type TxnResult } from "../../../src/client/index.js";
import { ManualClock } from "../../../src/clock.js";
import { CheckedInstances } from "../../../src/registry/checks/checked-instances.js";
import { type HealthChecker, runHealthChecker } from "../../../src/registry/checks/checker.js";
import {
  decodeInstance,
  encodeInstance,
  type InstanceInput,
  type ServiceInstance,
  validateInstance,
} from "../../../src/registry/instance.js";
import {
  instanceKey,
  namingKey,
  namingValue,
  type RegistryLayout,
  validateLayout,
} from "../../../src/registry/keys.js";
import {
  type ConclaveTestCluster,
  startConclaveCluster,
} from "../../lock/support/conclave-cluster.js";
import { freePort } from "../../support/free-port.js";
import { waitFor } from "../../support/wait-for.js";

/** A TCP listener the test opens and closes on one port. */
class Target {
  readonly port: number;
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();

  constructor(port: number) {
    this.port = port;
  }

  static async start(): Promise<Target> {
    const target = new Target(await freePort());
    await target.open();
    return target;
  }

  async open(): Promise<void> {
    const server = net.createServer((socket) => {
      this.#sockets.add(socket);
      socket.on("error", () => {});
      socket.once("close", () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    this.#server = server;
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

// One cluster for the whole file; each test keeps to keys of its own.
let cluster: ConclaveTestCluster;
let client: ConclaveClient;

beforeAll(async () => {
  cluster = await startConclaveCluster();
  client = new ConclaveClient({ endpoints: cluster.endpoints });
}, 30_000);

afterAll(async () => {
  await client?.close();
  await cluster?.stop();
});

describe("the elected health checker", () => {
  const targets: Target[] = [];
  const checkers: HealthChecker[] = [];
  let case_ = 0;

  afterAll(async () => {
    await Promise.allSettled(checkers.map((c) => c.dispose()));
    await Promise.allSettled(targets.map((t) => t.close()));
  });

  /** A layout and election of the test's own, so tests never see each other's records. */
  function isolated(): { layout: RegistryLayout; name: string } {
    case_ += 1;
    return {
      layout: validateLayout({ root: `/case${case_}/registry/`, namingPrefix: `case${case_}/` }),
      name: `checker-case-${case_}`,
    };
  }

  async function target(): Promise<Target> {
    const t = await Target.start();
    targets.push(t);
    return t;
  }

  function checker(options: Parameters<typeof runHealthChecker>[1]): HealthChecker {
    const c = runHealthChecker(client, { leaseTtlMs: 2000, ...options });
    checkers.push(c);
    return c;
  }

  /** Registers as the registry does: the record, and the naming key while served. */
  async function register(layout: RegistryLayout, input: InstanceInput): Promise<ServiceInstance> {
    const instance = validateInstance(input);
    await client.put(instanceKey(layout, instance.service, instance.id), encodeInstance(instance));
    const naming = namingKey(layout, instance);
    if (naming !== undefined) await client.put(naming, namingValue(instance));
    return instance;
  }

  async function read(layout: RegistryLayout, instance: ServiceInstance) {
    const key = instanceKey(layout, instance.service, instance.id);
    const record = (await client.range({ key })).kvs[0];
    const naming = (await client.range({ key: namingKey(layout, instance) ?? "" })).kvs[0];
    return {
      record: record === undefined ? undefined : decodeInstance(key, record.value),
      modRevision: record?.modRevision ?? 0,
      version: record?.version ?? 0,
      naming: naming?.valueString,
    };
  }

  /** Polls the key space (async) until `ok` holds. */
  async function until<T>(
    probe: () => Promise<T>,
    ok: (value: T) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (ok(value)) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  const tcpCheck = (port: number) =>
    ({
      kind: "tcp",
      host: "127.0.0.1",
      port,
      intervalMs: 100,
      timeoutMs: 1000,
      passThreshold: 1,
      failThreshold: 2,
    }) as const;

  it("takes a closed TCP target critical and out of the naming view, and back when it reopens", async () => {
    const { layout, name } = isolated();
    const t = await target();
    const instance = await register(layout, {
      service: "orders",
      id: "orders-1",
      address: "127.0.0.1",
      port: t.port,
      persistent: true,
      checks: [tcpCheck(t.port)],
    });
    // An ephemeral record and one without checks are not the checker's to judge.
    const plain = await register(layout, {
      service: "orders",
      id: "orders-2",
      address: "127.0.0.2",
      port: t.port,
      persistent: true,
    });
    const c = checker({ layout, name });
    await waitFor(
      () => c.leading && c.checking === 1,
      "the checker to lead and check one instance",
    );

    await t.close();
    const down = await until(
      () => read(layout, instance),
      (s) => s.record?.status === "critical" && s.naming === undefined,
      "the instance to go critical and lose its naming key",
    );
    expect(down.record).toEqual({ ...instance, status: "critical" });

    await t.open();
    const up = await until(
      () => read(layout, instance),
      (s) => s.record?.status === "passing",
      "the instance to pass again",
    );
    expect(up.naming).toBe(namingValue(instance));
    expect(JSON.parse(up.naming ?? "{}")).toEqual({
      Op: 0,
      Addr: `127.0.0.1:${t.port}`,
      Metadata: {},
    });
    // The other record was never written.
    expect((await read(layout, plain)).version).toBe(1);
  }, 30_000);

  it("has one leader that writes; disposing it lets the other take over", async () => {
    const { layout, name } = isolated();
    const t = await target();
    const instance = await register(layout, {
      service: "billing",
      id: "billing-1",
      address: "127.0.0.1",
      port: t.port,
      persistent: true,
      checks: [tcpCheck(t.port)],
    });
    const writes: number[] = [];
    const key = instanceKey(layout, instance.service, instance.id);
    const first = checker({ layout, name, id: "first" });
    const second = checker({ layout, name, id: "second" });
    const leader = await waitFor(
      () => (first.leading ? first : second.leading ? second : undefined),
      "one checker to lead",
    );
    const follower = leader === first ? second : first;
    await waitFor(() => leader.checking === 1, "the leader to check the instance");
    expect(follower.leading).toBe(false);
    expect(follower.checking).toBe(0);

    const watch = client.watch(key);
    await watch.ready;
    const collecting = (async () => {
      for await (const batch of watch) for (const _ of batch.events) writes.push(batch.revision);
    })();

    await t.close();
    await until(
      () => read(layout, instance),
      (s) => s.record?.status === "critical",
      "the leader to mark the instance critical",
    );
    expect(follower.leading).toBe(false);
    expect(follower.checking).toBe(0);

    await leader.dispose();
    await waitFor(
      () => follower.leading && follower.checking === 1,
      "the other checker to lead",
      10_000,
    );
    await t.open();
    await until(
      () => read(layout, instance),
      (s) => s.record?.status === "passing" && s.naming !== undefined,
      "the new leader to mark the instance passing",
    );
    watch.cancel();
    await collecting;
    // One write per change of status: critical, then passing — nobody wrote twice.
    expect(writes).toHaveLength(2);
  }, 30_000);

  it("stops its runners when leadership is lost, and checks again once re-elected", async () => {
    const { layout, name } = isolated();
    const t = await target();
    const instance = await register(layout, {
      service: "stock",
      id: "stock-1",
      address: "127.0.0.1",
      port: t.port,
      persistent: true,
      checks: [tcpCheck(t.port)],
    });
    const terms: boolean[] = [];
    const c = checker({ layout, name, onLeadership: (leading) => terms.push(leading) });
    await waitFor(() => c.leading && c.checking === 1, "the checker to lead");
    expect(terms).toEqual([true]);
    const queue = `conclave/lock/election/${name}/`;
    const held = (await client.range({ key: queue, prefix: true })).kvs[0]!;
    // The leadership lease ends under the checker (as when it was cut off for a TTL).
    await client.leaseRevoke(held.lease);
    await waitFor(() => terms.length >= 2, "the checker to notice it no longer leads");
    await waitFor(() => c.leading && c.checking === 1, "the checker to lead again");
    expect(terms).toEqual([true, false, true]);
    const again = (await client.range({ key: queue, prefix: true })).kvs[0]!;
    expect(again.createRevision).toBeGreaterThan(held.createRevision);
    // Its writes carry the new term's fence.
    await t.close();
    await until(
      () => read(layout, instance),
      (s) => s.record?.status === "critical" && s.naming === undefined,
      "the re-elected checker to mark the instance critical",
    );
  }, 30_000);

  it("stops when its signal aborts", async () => {
    const { layout, name } = isolated();
    const stop = new AbortController();
    const c = checker({ layout, name, signal: stop.signal });
    await waitFor(() => c.leading, "the checker to lead");
    stop.abort();
    await c.dispose();
    expect(c.leading).toBe(false);
  });
});

describe("a term's writes", () => {
  let closedPort: number;
  const layout = validateLayout({ root: "/terms/registry/", namingPrefix: "terms/" });

  beforeAll(async () => {
    closedPort = await freePort();
  });

  /** The client, recording every txn's outcome. */
  function recordingClient() {
    const results: (TxnResult | Error)[] = [];
    return {
      results,
      txn: async (request: TxnRequest) => {
        try {
          const result = await client.txn(request);
          results.push(result);
          return result;
        } catch (error) {
          results.push(error as Error);
          throw error;
        }
      },
    };
  }

  async function put(instance: ServiceInstance) {
    const key = instanceKey(layout, instance.service, instance.id);
    await client.put(key, encodeInstance(instance));
    await client.put(namingKey(layout, instance) ?? "", namingValue(instance));
    return (await client.range({ key })).kvs[0]!;
  }

  const failing = (id: string): ServiceInstance =>
    validateInstance({
      service: "stock",
      id,
      address: "127.0.0.1",
      port: closedPort,
      persistent: true,
      checks: [{ kind: "tcp", host: "127.0.0.1", port: closedPort, failThreshold: 1 }],
    });

  it("never overwrite a record re-registered since it was read", async () => {
    const fence = await client.put("terms/fence", "held");
    const fenceKv = (await client.range({ key: "terms/fence" })).kvs[0]!;
    expect(fence.revision).toBe(fenceKv.createRevision);
    const recording = recordingClient();
    const clock = new ManualClock();
    let lost = 0;
    const instances = new CheckedInstances({
      client: recording,
      layout,
      fence: { key: "terms/fence", createRevision: fenceKv.createRevision },
      clock,
      onLeadershipLost: () => lost++,
      onError: () => {},
    });
    try {
      const original = failing("stock-1");
      instances.upsert(await put(original));
      // Re-registered (new metadata) after the checker read the record, before its write.
      const again = { ...original, metadata: { version: "2" } };
      await put(again);
      await clock.advance(0);
      await waitFor(() => recording.results.length === 1, "the checker's write");
      expect(recording.results[0]).toMatchObject({ succeeded: false });
      expect(lost).toBe(0);
      const key = instanceKey(layout, original.service, original.id);
      const stored = (await client.range({ key })).kvs[0]!;
      expect(decodeInstance(key, stored.value)).toEqual(again);
      expect((await client.range({ key: namingKey(layout, again) ?? "" })).kvs).toHaveLength(1);
    } finally {
      await instances[Symbol.asyncDispose]();
    }
  });

  it("write nothing once the fence is gone, and report the leadership lost", async () => {
    await client.put("terms/fence2", "held");
    const fenceKv = (await client.range({ key: "terms/fence2" })).kvs[0]!;
    await client.delete("terms/fence2");
    const recording = recordingClient();
    const clock = new ManualClock();
    let lost = 0;
    const instances = new CheckedInstances({
      client: recording,
      layout,
      fence: { key: "terms/fence2", createRevision: fenceKv.createRevision },
      clock,
      onLeadershipLost: () => lost++,
      onError: () => {},
    });
    try {
      const instance = failing("stock-2");
      const kv = await put(instance);
      instances.upsert(kv);
      await clock.advance(0);
      await waitFor(() => lost === 1, "the lost leadership to be reported");
      expect(recording.results[0]).toMatchObject({ succeeded: false });
      const key = instanceKey(layout, instance.service, instance.id);
      const stored = (await client.range({ key })).kvs[0]!;
      expect(stored.modRevision).toBe(kv.modRevision);
      expect(decodeInstance(key, stored.value).status).toBe("passing");
    } finally {
      await instances[Symbol.asyncDispose]();
    }
  });
});
