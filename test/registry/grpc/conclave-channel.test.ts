import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../../src/errors.js";
import { createPlacement, type Placement } from "../../../src/hashring/index.js";
import {
  type ConclaveResolverRegistration,
  conclaveHashServiceConfig,
  type HealthStatus,
  registerConclaveResolver,
  type SnapshotSource,
} from "../../../src/registry/index.js";
import { waitFor } from "../../support/wait-for.js";
import { type EchoClient, EchoServer, echoClient, who } from "./echo-servers.js";
import { MemorySnapshots } from "./memory-snapshots.js";

const KEY = "x-user";
const KEYS = Array.from({ length: 40 }, (_, i) => `user-${i}`);

const snapshots = new MemorySnapshots();
const registrations: ConclaveResolverRegistration[] = [];
const servers = new Map<string, EchoServer>();
const clients: EchoClient[] = [];
let client: EchoClient;

function server(name: string): EchoServer {
  return servers.get(name)!;
}

interface Member {
  readonly name: string;
  readonly weight?: number;
  readonly status?: HealthStatus;
}

function publish(service: string, members: readonly Member[]): void {
  snapshots.publish(
    service,
    members.map(({ name, weight = 1, status = "passing" }) => ({
      id: name,
      address: "127.0.0.1",
      port: server(name).port,
      weight,
      status,
    })),
  );
}

/** The ring the policy should build for these served members, mapping node ids back to names. */
function expectedRing(members: readonly Member[]): {
  ring: Placement;
  nameOf: Map<string, string>;
} {
  const ring = createPlacement({
    algorithm: "ring",
    nodes: members.map(({ name, weight = 1 }) => ({ id: server(name).nodeId, weight })),
  });
  return { ring, nameOf: new Map(members.map(({ name }) => [server(name).nodeId, name])) };
}

async function answer(target: EchoClient, key?: string): Promise<string> {
  const result = await who(target, key === undefined ? undefined : { name: KEY, value: key });
  if ("error" in result) throw result.error;
  return result.server;
}

/** Calls until `accept` takes an answer; failed calls count as not yet (servers come and go). */
async function callUntil(
  what: string,
  accept: (server: string) => boolean,
  key?: string,
  target: EchoClient = client,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const result = await who(target, key === undefined ? undefined : { name: KEY, value: key });
    if (!("error" in result) && accept(result.server)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** `count` sequential calls without the key: how many each server answered. */
async function spread(count: number, target: EchoClient = client): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const name = await answer(target);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

beforeAll(async () => {
  for (const name of ["a", "b", "c", "d"]) servers.set(name, await EchoServer.start(name));
  registrations.push(
    registerConclaveResolver({
      snapshots: snapshots.source,
      hash: { metadataKey: KEY, algorithm: "ring" },
    }),
    registerConclaveResolver({ snapshots: snapshots.source, authority: "plain" }),
  );
  client = echoClient("conclave:///svc");
  clients.push(client);
});

afterAll(() => {
  for (const c of clients) c.close();
  for (const s of servers.values()) s.kill();
  for (const r of registrations) r.unregister();
});

describe("conclave:/// resolver with the conclave_hash policy", () => {
  const first: Member[] = [{ name: "a" }, { name: "b", weight: 2 }, { name: "c" }];

  it("sends calls without the key round robin over every served instance", async () => {
    publish("svc", first);
    const seen = new Set<string>();
    await callUntil("every server to answer", (name) => {
      seen.add(name);
      return seen.size === 3;
    });
    expect(await spread(30)).toEqual({ a: 10, b: 10, c: 10 });
  });

  it("sends every call with the same key to the key's owner on the weighted ring", async () => {
    const { ring, nameOf } = expectedRing(first);
    const owners = new Set<string>();
    for (const key of KEYS) {
      const expected = nameOf.get(ring.get(key));
      for (let i = 0; i < 3; i++) expect(await answer(client, key)).toBe(expected);
      owners.add(expected!);
    }
    expect(owners.size).toBeGreaterThan(1);
  });

  it("stops sending calls to an instance that is no longer served", async () => {
    const served: Member[] = [{ name: "a" }, { name: "b", weight: 2 }];
    const { ring: before } = expectedRing(first);
    const { ring, nameOf } = expectedRing(served);
    const movedKey = KEYS.find((key) => before.get(key) === server("c").nodeId)!;
    expect(movedKey).toBeDefined();
    publish("svc", [...served, { name: "c", status: "critical" }]);
    await callUntil("c's key to move", (name) => name !== "c", movedKey);

    const callsToC = server("c").calls;
    expect(await spread(20)).toEqual({ a: 10, b: 10 });
    for (const key of KEYS) expect(await answer(client, key)).toBe(nameOf.get(ring.get(key)));
    expect(server("c").calls).toBe(callsToC);
  });

  it("skips a killed server for the key's next owner on the ring", async () => {
    publish("svc", first);
    await callUntil("c to answer again", (name) => name === "c");
    const { ring, nameOf } = expectedRing(first);
    const bKey = KEYS.find((key) => ring.get(key) === server("b").nodeId)!;
    expect(bKey).toBeDefined();

    server("b").kill();
    await callUntil("b's key to move off the killed server", (name) => name !== "b", bKey);
    for (const key of KEYS) {
      const next = ring.getN(key, 3).find((id) => id !== server("b").nodeId)!;
      expect(await answer(client, key)).toBe(nameOf.get(next));
    }
    expect(await spread(20)).toEqual({ a: 10, c: 10 });
  });

  it("uses a server a new snapshot adds", async () => {
    const next: Member[] = [{ name: "a" }, { name: "c" }, { name: "d", weight: 3 }];
    publish("svc", next);
    await callUntil("d to answer", (name) => name === "d");
    expect(await spread(30)).toEqual({ a: 10, c: 10, d: 10 });
    const { ring, nameOf } = expectedRing(next);
    for (const key of KEYS) expect(await answer(client, key)).toBe(nameOf.get(ring.get(key)));
  });

  it("takes the policy from the channel's service config, and closing the channel ends its watch", async () => {
    const watchesBefore = snapshots.activeWatches;
    const maglev = echoClient("conclave://plain/svc", {
      "grpc.service_config": JSON.stringify(conclaveHashServiceConfig({ metadataKey: KEY })),
    });
    clients.push(maglev);
    const seen = new Set<string>();
    await callUntil(
      "every server to answer the maglev channel",
      (name) => {
        seen.add(name);
        return seen.size === 3;
      },
      undefined,
      maglev,
    );
    expect(snapshots.activeWatches).toBe(watchesBefore + 1);
    const owners = new Set<string>();
    for (const key of KEYS) {
      const owner = await answer(maglev, key);
      for (let i = 0; i < 2; i++) expect(await answer(maglev, key)).toBe(owner);
      owners.add(owner);
    }
    expect(owners.size).toBeGreaterThan(1);

    maglev.close();
    await waitFor(() => snapshots.activeWatches === watchesBefore, "the closed channel's watch");
  });

  it("fails calls UNAVAILABLE while no instance is served, and recovers", async () => {
    publish("empty", []);
    const empty = echoClient("conclave:///empty");
    clients.push(empty);
    const result = await who(empty);
    expect("error" in result && result.error.code).toBe(status.UNAVAILABLE);
    expect("error" in result && result.error.details).toMatch(/no served instance/);

    publish("empty", [{ name: "a" }]);
    await callUntil("the first instance to be used", (name) => name === "a", undefined, empty);
  });

  it("reopens a watch that failed", async () => {
    let opens = 0;
    const flaky: SnapshotSource = (service, signal) => {
      opens++;
      if (opens === 1) throw new Error("not yet");
      return snapshots.source(service, signal);
    };
    registrations.push(
      registerConclaveResolver({
        snapshots: flaky,
        authority: "flaky",
        hash: { metadataKey: KEY },
        retryInitialMs: 10,
      }),
    );
    const target = echoClient("conclave://flaky/svc");
    clients.push(target);
    await callUntil("the reopened watch to serve", () => true, undefined, target);
    expect(opens).toBe(2);
  });
});

describe("validation at the boundary", () => {
  it("refuses a target that is not a service name or has no source", () => {
    expect(() => echoClient("conclave:///Not_A_Service")).toThrow(/service name/);
    expect(() => echoClient("conclave://elsewhere/svc")).toThrow(/no snapshot source/);
  });

  it("refuses bad policy settings and a second source for one authority", () => {
    const snapshotsFn = snapshots.source;
    expect(() =>
      registerConclaveResolver({
        snapshots: snapshotsFn,
        authority: "x",
        hash: { metadataKey: "X-User" },
      }),
    ).toThrow(InvalidArgumentError);
    expect(() => conclaveHashServiceConfig({ metadataKey: "grpc-timeout" })).toThrow(
      InvalidArgumentError,
    );
    expect(() => registerConclaveResolver({ snapshots: snapshotsFn })).toThrow(
      /already registered/,
    );
  });
});
