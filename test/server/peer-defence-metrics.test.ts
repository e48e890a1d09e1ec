import { once } from "node:events";
import net from "node:net";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { type KvResult, KvStore } from "../../src/kv/index.js";
import { MessageType, message } from "../../src/raft/core/types.js";
import { RaftNode } from "../../src/raft/node/index.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";
import type { FramedConnection } from "../../src/raft/transport/connection.js";
import { dialPeer } from "../../src/raft/transport/dial.js";
import { FrameKind } from "../../src/raft/transport/frame.js";
import { ConnectionPurpose } from "../../src/raft/transport/handshake.js";
import { encodeMessage } from "../../src/raft/transport/message-codec.js";
import { createServer, createServerMetrics } from "../../src/server/index.js";
import { LOOPBACK, rawPeerContext, transport } from "../raft/transport/helpers.js";
import { waitFor } from "./cluster.js";
import { sampleValue, scrapeMetrics, waitForSample } from "./metric-sample.js";

/** A hand-driven peer that holds the cluster secret, as an attacker who stole it would. */
const RAW = 9;

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** One member (node 1, leading a cluster of one) on a real TCP transport, with its HTTP API. */
async function startMember(): Promise<{
  node: RaftNode<KvResult>;
  app: FastifyInstance;
  address: { host: string; port: number };
}> {
  const t = transport(1, { maxPendingHandshakes: 2, maxPendingHandshakesPerHost: 2 });
  const store = new KvStore();
  const metrics = createServerMetrics();
  const node = await RaftNode.start<KvResult>({
    id: 1,
    storage: new MemoryStorage(),
    transport: t,
    stateMachine: store,
    initialCluster: new Map([[1, `${LOOPBACK}:7101`]]),
    heartbeatMs: 10,
    electionMs: 100,
    observer: metrics.nodeObserver,
  });
  cleanup.push(() => node.stop());
  const app = createServer({ node, store, metrics });
  cleanup.push(() => app.close());
  await waitFor(() => node.status().role === "leader", "node 1 to lead");
  // Known to the transport, not to Raft: its handshake passes, what it says is judged by the node.
  t.addPeer(RAW, { host: LOOPBACK, port: 1 });
  return { node, app, address: t.address };
}

async function dialAsRaw(address: { host: string; port: number }): Promise<FramedConnection> {
  const conn = await dialPeer(
    rawPeerContext(RAW),
    1,
    address,
    ConnectionPurpose.Messages,
    new AbortController().signal,
  );
  cleanup.push(() => conn.close(undefined, true));
  return conn;
}

function heartbeat(from: number, to: number, term: number) {
  return encodeMessage(message({ type: MessageType.Heartbeat, from, to, term }));
}

describe("peer defence metrics", () => {
  it("count misaddressed messages, messages the node refused by reason, and displaced handshakes", async () => {
    const { node, app, address } = await startMember();
    const before = await scrapeMetrics(app);
    expect(sampleValue(before, "conclave_peer_messages_misaddressed_total")).toBe(0);
    expect(sampleValue(before, "conclave_peer_handshakes_displaced_total")).toBe(0);

    const raw = await dialAsRaw(address);
    for (let i = 0; i < 5; i++) raw.writeFrame(FrameKind.Message, heartbeat(3, 1, 1));
    // From the authenticated peer, but leader traffic for term 0: the node's guard refuses it.
    for (let i = 0; i < 4; i++) raw.writeFrame(FrameKind.Message, heartbeat(RAW, 1, 0));
    await waitForSample(app, "conclave_peer_messages_misaddressed_total", {}, (v) => v === 5);
    await waitForSample(
      app,
      "conclave_peer_messages_rejected_total",
      { reason: "missing-term" },
      (v) => v === 4,
    );
    expect(node.status().rejectedPeerMessages).toBe(4);

    // Connections that never finish a handshake: past the cap of 2, the oldest give way.
    for (let i = 0; i < 5; i++) {
      const s = net.connect({ host: address.host, port: address.port });
      s.on("error", () => {});
      cleanup.push(() => s.destroy());
      await once(s, "connect");
    }
    await waitForSample(app, "conclave_peer_handshakes_displaced_total", {}, (v) => (v ?? 0) >= 3);
    expect(sampleValue(await scrapeMetrics(app), "conclave_peer_messages_misaddressed_total")).toBe(
      5,
    );
  });
});
