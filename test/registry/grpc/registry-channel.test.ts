/**
 * Discovery from gRPC end to end: real servers register with the registry
 * on a real cluster; a grpc-js channel on `conclave://registry-e2e/echo`
 * resolves them through `registry.watch`, routes by the hash policy, and
 * stops sending to an instance once it deregisters.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConclaveClient } from "../../../src/client/index.js";
import {
  type ConclaveResolverRegistration,
  type Registration,
  Registry,
  registerConclaveResolver,
} from "../../../src/registry/index.js";
import {
  type ConclaveTestCluster,
  startConclaveCluster,
} from "../../lock/support/conclave-cluster.js";
import { clientOf } from "../support.js";
import { type EchoClient, EchoServer, echoClient, who } from "./echo-servers.js";

let cluster: ConclaveTestCluster;
let client: ConclaveClient;
let registry: Registry;
let resolver: ConclaveResolverRegistration;
const servers: EchoServer[] = [];
const registrations: Registration[] = [];
let channel: EchoClient;

beforeAll(async () => {
  cluster = await startConclaveCluster();
  client = clientOf(cluster.endpoints, 1);
  registry = new Registry(client);
  for (const name of ["e-1", "e-2", "e-3"]) {
    const server = await EchoServer.start(name);
    servers.push(server);
    registrations.push(
      await registry.register({
        service: "echo",
        id: name,
        address: "127.0.0.1",
        port: server.port,
      }),
    );
  }
  resolver = registerConclaveResolver({
    authority: "registry-e2e",
    snapshots: (service, signal) => registry.watch(service, { signal }),
    // The ring: when a server leaves only its users move (maglev may move a few others too).
    hash: { metadataKey: "x-user", algorithm: "ring" },
  });
  channel = echoClient("conclave://registry-e2e/echo");
});
afterAll(async () => {
  channel?.close();
  resolver?.unregister();
  for (const server of servers) server.kill();
  await registry[Symbol.asyncDispose]();
  await client.close();
  await cluster.stop();
});

async function serverOf(user?: string): Promise<string> {
  const reply = await who(
    channel,
    user === undefined ? undefined : { name: "x-user", value: user },
  );
  if ("error" in reply) throw reply.error;
  return reply.server;
}

describe("gRPC discovery through the registry", () => {
  it("reaches every registered server, one per user, and none after it deregisters", async () => {
    const unkeyed = new Set<string>();
    for (let i = 0; i < 9; i++) unkeyed.add(await serverOf());
    expect([...unkeyed].sort()).toEqual(["e-1", "e-2", "e-3"]);

    const owners = new Map<string, string>();
    for (let u = 0; u < 30; u++) owners.set(`u${u}`, await serverOf(`u${u}`));
    for (const [user, owner] of owners) expect(await serverOf(user)).toBe(owner);
    expect(new Set(owners.values()).size).toBe(3);

    await registrations[0]!.deregister();
    // The watch delivers the change; then no call reaches e-1, keyed or not.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const seen = new Set<string>();
      for (let u = 0; u < 30; u++) seen.add(await serverOf(`u${u}`));
      if (!seen.has("e-1")) break;
      if (Date.now() > deadline) throw new Error("e-1 still receives calls after deregistering");
      await new Promise((r) => setTimeout(r, 50));
    }
    const calls = servers[0]!.calls;
    for (let i = 0; i < 10; i++) expect(await serverOf()).not.toBe("e-1");
    expect(servers[0]!.calls).toBe(calls);
    // Users that were on e-2 or e-3 did not move.
    for (const [user, owner] of owners) {
      if (owner !== "e-1") expect(await serverOf(user)).toBe(owner);
    }
  });
});
