/**
 * A flood of idle connections on a peer port must not keep a real peer from
 * reconnecting, and must not turn into one warning per connection.
 */
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { Message } from "../../../src/raft/core/types.js";
import { MessageType, message } from "../../../src/raft/core/types.js";
import type { TcpTransport } from "../../../src/raft/transport/tcp-transport.js";
import type { PeerAddress } from "../../../src/raft/transport/transport.js";
import { connected, LOOPBACK, RecordingLogger, transport, waitFor } from "./helpers.js";

/** Connections the flood holds open at once. */
const FLOOD_CONNECTIONS = 300;
/** Connections the flood opens in all, reopening each one the listener closes. */
const FLOOD_ATTEMPTS = 20_000;

/**
 * Holds `FLOOD_CONNECTIONS` connections open that never send a byte, and
 * opens a new one for each that the listener closes, until stopped or
 * `FLOOD_ATTEMPTS` is spent: as an attacker on the same host would.
 */
class IdleFlood {
  private readonly sockets = new Set<Socket>();
  attempts = 0;
  private stopped = false;

  constructor(private readonly target: PeerAddress) {}

  start(): void {
    for (let i = 0; i < FLOOD_CONNECTIONS; i++) this.open();
  }

  private open(): void {
    if (this.stopped || this.attempts >= FLOOD_ATTEMPTS) return;
    this.attempts++;
    const socket = connect(this.target.port, this.target.host);
    this.sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => {
      this.sockets.delete(socket);
      this.open();
    });
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.sockets) s.destroy();
  }
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function heartbeat(from: number, to: number, context: string): Message {
  return message({ type: MessageType.Heartbeat, to, from, term: 1, context });
}

function started(t: TcpTransport): TcpTransport {
  cleanup.push(() => t.stop());
  return t;
}

describe("TcpTransport under a connection flood", () => {
  it("a restarted peer reconnects and both directions carry messages while hundreds of idle connections churn on the port", async () => {
    const logB = new RecordingLogger();
    const b = started(transport(2, { logger: logB }));
    const gotB: Message[] = [];
    b.onMessage((m) => gotB.push(m));
    await b.start();
    let a = started(transport(1));
    a.addPeer(2, b.address);
    b.addPeer(1, { host: LOOPBACK, port: 1 });
    await a.start();
    b.addPeer(1, a.address);
    await connected(a, 2);
    await connected(b, 1);

    const flood = new IdleFlood(b.address);
    cleanup.push(() => flood.stop());
    flood.start();
    await waitFor(() => flood.attempts >= 2 * FLOOD_CONNECTIONS, "the flood under way");

    // The blip: node 1 restarts (a new process, a new port) while the flood goes on.
    await a.stop();
    a = started(transport(1));
    const gotA: Message[] = [];
    a.onMessage((m) => gotA.push(m));
    a.addPeer(2, b.address);
    await a.start();
    b.addPeer(1, a.address);
    await connected(a, 2);
    await connected(b, 1);
    a.send([heartbeat(1, 2, "to b through the flood")]);
    b.send([heartbeat(2, 1, "to a")]);
    await waitFor(
      () => gotB.some((m) => m.context === "to b through the flood") && gotA.length > 0,
      "messages both ways",
    );
    const attemptsWhileReconnecting = flood.attempts;
    flood.stop();

    // The flood was real, and still going when the peers were back: they did not wait it out.
    expect(attemptsWhileReconnecting).toBeGreaterThan(2 * FLOOD_CONNECTIONS);
    expect(attemptsWhileReconnecting).toBeLessThan(FLOOD_ATTEMPTS);
    const stats = b.stats();
    expect(stats.displacedConnections).toBeGreaterThan(FLOOD_CONNECTIONS);
    // ...and it cost a handful of warning lines, not one per connection.
    const warnings = logB.lines.filter((l) => l.level === "warn");
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.length).toBeLessThanOrEqual(10);
    expect(warnings.map((l) => l.message)).toContain("closing unauthenticated peer connection");
  });
});
