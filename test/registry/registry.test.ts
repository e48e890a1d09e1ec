import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConclaveClient } from "../../src/client/index.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { MalformedRegistrationError, Registry } from "../../src/registry/index.js";
import {
  type ConclaveTestCluster,
  startConclaveCluster,
} from "../lock/support/conclave-cluster.js";
import { waitFor } from "../support/wait-for.js";
import { clientOf, recordWatch } from "./support.js";

let cluster: ConclaveTestCluster;
let client: ConclaveClient;
let other: ConclaveClient;
let registry: Registry;

beforeAll(async () => {
  cluster = await startConclaveCluster();
  client = clientOf(cluster.endpoints, 1);
  other = clientOf(cluster.endpoints, 2);
  registry = new Registry(client);
});
afterAll(async () => {
  await registry[Symbol.asyncDispose]();
  await client.close();
  await other.close();
  await cluster.stop();
});

const naming = async (key: string) => client.get(`services/${key}`);
const record = async (service: string, id: string) =>
  client.get(`/conclave/registry/services/${service}/${id}`);

describe("registry: registration bound to a lease", () => {
  it("registers an instance that resolve and watch see, with its naming copy, until disposed", async () => {
    const watch = recordWatch(registry, "api");
    await watch.until("");
    const registration = await registry.register({
      service: "api",
      id: "api-1",
      address: "10.0.0.1",
      port: 8080,
      metadata: { zone: "a" },
      ttlMs: 2500,
    });
    expect(registration.instance).toMatchObject({ status: "passing", persistent: false });
    const snapshot = await registry.resolve("api");
    expect(snapshot.instances.map((i) => [i.id, i.address, i.port, i.metadata])).toEqual([
      ["api-1", "10.0.0.1", 8080, { zone: "a" }],
    ]);
    expect(snapshot.revision).toBeGreaterThan(0);
    await watch.until("api-1");

    const rec = await record("api", "api-1");
    const copy = await naming("api/10.0.0.1:8080");
    // The lease is 3 s: 2500 ms rounded up to whole seconds.
    expect((await client.leaseTimeToLive(registration.leaseId)).grantedTtlSeconds).toBe(3);
    expect(rec?.lease).toBe(registration.leaseId);
    expect(copy?.lease).toBe(registration.leaseId);
    expect(JSON.parse(copy?.valueString ?? "")).toEqual({
      Op: 0,
      Addr: "10.0.0.1:8080",
      Metadata: { zone: "a" },
    });

    await registration[Symbol.asyncDispose]();
    await registration.deregister(); // idempotent
    await watch.until("");
    expect(await record("api", "api-1")).toBeUndefined();
    expect(await naming("api/10.0.0.1:8080")).toBeUndefined();
    await watch.stop();
    expect(watch.history()).toEqual(["", "api-1", ""]);
  });

  it("registers again with a new lease when another client revokes its lease", async () => {
    const watch = recordWatch(registry, "jobs");
    await watch.until("");
    const reregistered: number[] = [];
    const registration = await registry.register({
      service: "jobs",
      id: "w1",
      address: "127.0.0.1",
      port: 9000,
      ttlMs: 2000,
      onReregistered: (r) => reregistered.push(r.leaseId),
    });
    await watch.until("w1");
    const firstLease = registration.leaseId;
    await other.leaseRevoke(firstLease);
    await waitFor(() => registration.reregistrations === 1, "a re-registration", 10_000);
    expect(registration.leaseId).not.toBe(firstLease);
    expect(reregistered).toEqual([registration.leaseId]);
    await watch.until("w1");
    expect(watch.history()).toEqual(["", "w1", "", "w1"]);
    expect((await record("jobs", "w1"))?.lease).toBe(registration.leaseId);
    expect((await naming("jobs/127.0.0.1:9000"))?.lease).toBe(registration.leaseId);
    await registration.deregister();
    await watch.until("");
    await watch.stop();
  });

  it("does not take back an id another process registered while its lease was lost", async () => {
    const otherRegistry = new Registry(other);
    const mine = await registry.register({
      service: "taken",
      id: "t1",
      address: "127.0.0.1",
      port: 9100,
      ttlMs: 2000,
    });
    // Another process registers the same id (last writer wins), then mine loses its lease.
    const theirs = await otherRegistry.register({
      service: "taken",
      id: "t1",
      address: "127.0.0.2",
      port: 9100,
      ttlMs: 2000,
    });
    expect(mine.state).toBe("registered"); // it has not written since: it cannot know yet
    await other.leaseRevoke(mine.leaseId);
    // Mine loses its lease, finds the id taken and waits, writing nothing over theirs.
    await waitFor(() => mine.state === "displaced", "mine to find the id taken", 10_000);
    await mine.setStatus("warning");
    const stored = await record("taken", "t1");
    expect(stored?.lease).toBe(theirs.leaseId);
    expect(JSON.parse(stored?.valueString ?? "")).toMatchObject({
      address: "127.0.0.2",
      status: "passing",
    });
    expect(mine.reregistrations).toBe(0);
    await theirs.deregister();
    await waitFor(() => mine.reregistrations === 1, "the re-registration once free", 10_000);
    expect(mine.state).toBe("registered");
    const taken = await record("taken", "t1");
    expect(taken?.lease).toBe(mine.leaseId);
    // The status set while displaced is the one written on registering again.
    expect(JSON.parse(taken?.valueString ?? "")).toMatchObject({ status: "warning" });
    expect((await naming("taken/127.0.0.1:9100"))?.lease).toBe(mine.leaseId);
    await mine.deregister();
    expect(mine.state).toBe("deregistered");
    await otherRegistry[Symbol.asyncDispose]();
  });

  it("withholds a critical instance from discovery and the naming format, and serves it again when passing", async () => {
    const watch = recordWatch(registry, "web");
    const all = recordWatch(registry, "web", { includeUnhealthy: true });
    await watch.until("");
    const registration = await registry.register({
      service: "web",
      id: "web-1",
      address: "127.0.0.1",
      port: 7000,
    });
    await watch.until("web-1");
    await registration.setStatus("critical");
    await watch.until("");
    expect(registration.instance.status).toBe("critical");
    expect((await registry.resolve("web")).instances).toEqual([]);
    const everything = await registry.resolve("web", { includeUnhealthy: true });
    expect(everything.instances.map((i) => [i.id, i.status])).toEqual([["web-1", "critical"]]);
    expect(await naming("web/127.0.0.1:7000")).toBeUndefined();
    expect((await record("web", "web-1"))?.lease).toBe(registration.leaseId);
    await waitFor(
      () => all.seen.at(-1)?.instances[0]?.status === "critical",
      "the unfiltered watch to see critical",
    );

    await registration.setStatus("warning");
    await watch.until("web-1");
    expect(watch.seen.at(-1)?.instances[0]?.status).toBe("warning");
    expect((await naming("web/127.0.0.1:7000"))?.lease).toBe(registration.leaseId);
    await registration.setStatus("passing");
    await waitFor(() => watch.seen.at(-1)?.instances[0]?.status === "passing", "passing again");
    expect(watch.history()).toEqual(["", "web-1", "", "web-1", "web-1"]);
    await expect(registration.setStatus("down" as "passing")).rejects.toThrow(InvalidArgumentError);
    await registration.deregister();
    await expect(registration.setStatus("passing")).rejects.toMatchObject({
      code: "REGISTRY_REGISTRATION_CLOSED",
    });
    await watch.stop();
    await all.stop();
  });
});

describe("registry: persistent instances", () => {
  it("registers without a lease and deregisters by service and id", async () => {
    const instance = await registry.registerPersistent({
      service: "db",
      id: "db-1",
      address: "::1",
      port: 5432,
      checks: [{ kind: "tcp", host: "::1", port: 5432 }],
    });
    expect(instance).toMatchObject({ persistent: true, status: "passing" });
    expect(instance.checks[0]).toMatchObject({ kind: "tcp", intervalMs: 10_000 });
    expect((await record("db", "db-1"))?.lease).toBe(0);
    expect((await naming("db/[::1]:5432"))?.lease).toBe(0);
    expect(await registry.services()).toContainEqual({ service: "db", instances: 1, served: 1 });

    // Registering the id again at another address moves its naming copy.
    await registry.registerPersistent({ service: "db", id: "db-1", address: "::2", port: 5432 });
    expect(await naming("db/[::1]:5432")).toBeUndefined();
    expect(await naming("db/[::2]:5432")).toBeDefined();

    expect(await registry.deregister("db", "db-1")).toBe(true);
    expect(await registry.deregister("db", "db-1")).toBe(false);
    expect(await record("db", "db-1")).toBeUndefined();
    expect(await naming("db/[::2]:5432")).toBeUndefined();
  });

  it("counts instances per service, critical ones apart", async () => {
    await registry.registerPersistent({ service: "count", id: "a", address: "h", port: 1 });
    await registry.registerPersistent({
      service: "count",
      id: "b",
      address: "h",
      port: 2,
      status: "critical",
    });
    expect(await registry.services()).toContainEqual({ service: "count", instances: 2, served: 1 });
    await registry.deregister("count", "a");
    await registry.deregister("count", "b");
    expect((await registry.services()).map((s) => s.service)).not.toContain("count");
  });
});

describe("registry: bad input and bad records", () => {
  it("refuses bad input with InvalidArgumentError before writing anything", async () => {
    const base = { service: "ok", id: "i", address: "127.0.0.1", port: 80 };
    await expect(registry.register({ ...base, service: "Upper" })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(registry.register({ ...base, port: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(registry.register({ ...base, ttlMs: 1000 })).rejects.toThrow(InvalidArgumentError);
    await expect(registry.register({ ...base, persistent: true })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(registry.registerPersistent({ ...base, id: "a/b" })).rejects.toThrow(
      InvalidArgumentError,
    );
    expect(() => registry.resolve("Upper")).toThrow(InvalidArgumentError);
    expect(() => registry.watch("bad_name")).toThrow(InvalidArgumentError);
    await expect(registry.deregister("ok", "")).rejects.toThrow(InvalidArgumentError);
    expect(await registry.services()).not.toContainEqual(
      expect.objectContaining({ service: "ok" }),
    );
  });

  it("skips and counts malformed records in resolve and watch", async () => {
    const skipped: MalformedRegistrationError[] = [];
    const reader = new Registry(client, { onMalformed: (e) => skipped.push(e) });
    await registry.registerPersistent({ service: "mixed", id: "good", address: "h", port: 1 });
    await client.put("/conclave/registry/services/mixed/junk", "not json");
    await client.put(
      "/conclave/registry/services/mixed/liar",
      JSON.stringify({ v: 1, service: "mixed", id: "other", address: "h", port: 2 }),
    );
    const snapshot = await reader.resolve("mixed");
    expect(snapshot.instances.map((i) => i.id)).toEqual(["good"]);
    expect(reader.malformedRecords).toBe(2);
    expect(skipped.map((e) => e.key)).toEqual([
      "/conclave/registry/services/mixed/junk",
      "/conclave/registry/services/mixed/liar",
    ]);
    expect(skipped[0]).toBeInstanceOf(MalformedRegistrationError);

    const watch = recordWatch(reader, "mixed");
    await watch.until("good");
    await client.put("/conclave/registry/services/mixed/zzz", "{}");
    await registry.registerPersistent({ service: "mixed", id: "more", address: "h", port: 3 });
    await watch.until("good,more");
    expect(reader.malformedRecords).toBe(5);
    await watch.stop();
    expect(await reader.services()).toContainEqual({ service: "mixed", instances: 2, served: 2 });
    await client.delete("/conclave/registry/services/mixed/", { prefix: true });
    await reader[Symbol.asyncDispose]();
  });
});

describe("registry: dispose", () => {
  it("deregisters what it registered and ends its watches", async () => {
    const own = new Registry(client);
    const watch = recordWatch(own, "gone");
    await own.register({ service: "gone", id: "g1", address: "h", port: 1 });
    await own.register({ service: "gone", id: "g2", address: "h", port: 2 });
    await watch.until("g1,g2");
    const observer = recordWatch(registry, "gone");
    await observer.until("g1,g2");
    await own[Symbol.asyncDispose]();
    await watch.stop();
    await observer.until("");
    await observer.stop();
    await expect(
      own.register({ service: "gone", id: "g3", address: "h", port: 3 }),
    ).rejects.toMatchObject({
      code: "REGISTRY_CLOSED",
    });
  });
});

describe("registry: health checks run by the registering process", () => {
  it("is withheld until its first check passes, withdrawn while failing, served again when it passes", async () => {
    let healthy = true;
    const registration = await registry.register({
      service: "checked",
      id: "checked-1",
      address: "10.0.0.7",
      port: 7000,
      ttlMs: 3000,
      checks: [
        {
          kind: "custom",
          name: "flag",
          intervalMs: 100,
          failThreshold: 2,
          check: async () => healthy,
        },
        { kind: "tcp", host: "127.0.0.1", port: 1, intervalMs: 100_000, failThreshold: 1 },
      ],
    });
    // The tcp check can never pass (port 1 is closed): the instance stays critical.
    expect(registration.instance.status).toBe("critical");
    const stored = JSON.parse((await record("checked", "checked-1"))?.valueString ?? "{}");
    expect(stored.status).toBe("critical");
    expect(stored.checks.map((c: { kind: string }) => c.kind)).toEqual(["tcp"]);
    expect((await registry.resolve("checked")).instances).toEqual([]);
    expect(await naming("checked/10.0.0.7:7000")).toBeUndefined();
    await registration.deregister();

    const served = await registry.register({
      service: "checked",
      id: "checked-2",
      address: "10.0.0.8",
      port: 7000,
      ttlMs: 3000,
      checks: [
        {
          kind: "custom",
          name: "flag",
          intervalMs: 100,
          failThreshold: 2,
          check: async () => healthy,
        },
      ],
    });
    const servedIds = async () => (await registry.resolve("checked")).instances.map((i) => i.id);
    await eventually(async () => (await servedIds()).includes("checked-2"), "first pass served");
    expect(await naming("checked/10.0.0.8:7000")).toBeDefined();
    healthy = false;
    await eventually(async () => (await servedIds()).length === 0, "withdrawn while failing");
    expect(await naming("checked/10.0.0.8:7000")).toBeUndefined();
    healthy = true;
    await eventually(async () => (await servedIds()).includes("checked-2"), "served again");
    await served.deregister();
    expect(await record("checked", "checked-2")).toBeUndefined();
  });

  it("with whileFailing: mark, a failing instance stays served as warning", async () => {
    let healthy = true;
    const registration = await registry.register({
      service: "marked",
      id: "marked-1",
      address: "10.0.0.9",
      port: 7000,
      ttlMs: 3000,
      whileFailing: "mark",
      checks: [{ kind: "custom", name: "flag", intervalMs: 100, check: async () => healthy }],
    });
    const status = async () => (await registry.resolve("marked")).instances[0]?.status;
    await eventually(async () => (await status()) === "passing", "passing");
    healthy = false;
    await eventually(async () => (await status()) === "warning", "marked warning, still served");
    await registration.deregister();
  });

  it("refuses bad checks before registering anything", async () => {
    await expect(
      registry.register({
        service: "badcheck",
        id: "b-1",
        address: "10.0.0.1",
        port: 1,
        checks: [{ kind: "http", url: "ftp://x" }],
      }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    expect((await registry.resolve("badcheck", { includeUnhealthy: true })).instances).toEqual([]);
  });
});

async function eventually(
  f: () => Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
