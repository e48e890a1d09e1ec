import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message } from "../../../src/raft/core/types.js";
import { MessageType, message } from "../../../src/raft/core/types.js";
import type { TransportTlsOptions } from "../../../src/raft/transport/options.js";
import type { TcpTransport } from "../../../src/raft/transport/tcp-transport.js";
import {
  connected,
  makeTlsFiles,
  RecordingLogger,
  RecordingProxy,
  sampleMessages,
  type TlsFiles,
  transport,
  waitFor,
} from "./helpers.js";

let files: TlsFiles;
let tls: TransportTlsOptions;
const live: Array<{ stop(): Promise<void> }> = [];

beforeAll(() => {
  files = makeTlsFiles();
  tls = { cert: files.cert, key: files.key, ca: files.cert };
});

afterAll(async () => {
  await Promise.all(live.splice(0).map((t) => t.stop()));
});

async function started(t: TcpTransport): Promise<TcpTransport> {
  live.push(t);
  await t.start();
  return t;
}

const heartbeat = (from: number, to: number, context: string): Message =>
  message({ type: MessageType.Heartbeat, to, from, term: 1, context });

describe("TLS", () => {
  it("carries every message type and a snapshot, encrypted on the wire", async () => {
    const b = await started(transport(2, { tls }));
    const got: Message[] = [];
    b.onMessage((m) => got.push(m));
    const snapshots: Uint8Array[] = [];
    b.onSnapshot(async (_, data) => {
      for await (const c of data) snapshots.push(c);
    });
    const proxy = new RecordingProxy(b.address);
    live.push(proxy);
    const a = await started(transport(1, { tls }));
    a.addPeer(2, await proxy.start());
    b.addPeer(1, a.address);
    await connected(a, 2);

    const samples = sampleMessages(1, 2);
    a.send([...samples, heartbeat(1, 2, "plaintext-marker-0123456789")]);
    const plain = samples.filter((m) => m.type !== MessageType.Snap);
    await waitFor(
      () => got.length === plain.length + 1 && snapshots.length === 1,
      "all messages over TLS",
    );
    expect(got.slice(0, plain.length)).toStrictEqual(plain);
    expect(Buffer.concat(snapshots)).toEqual(Buffer.from([5, 6, 7]));
    const wire = proxy.bytes();
    expect(wire.byteLength).toBeGreaterThan(1000);
    expect(wire.includes("plaintext-marker-0123456789")).toBe(false);
    expect(wire.includes("test-cluster")).toBe(false); // even the handshake is inside TLS
  });

  it("refuses a peer whose certificate the CA did not sign", async () => {
    const logB = new RecordingLogger();
    const b = await started(transport(2, { tls, logger: logB }));
    const got: Message[] = [];
    b.onMessage((m) => got.push(m));
    const intruder = await started(
      transport(1, { tls: { cert: files.otherCert, key: files.otherKey, ca: files.cert } }),
    );
    b.addPeer(1, intruder.address);
    intruder.addPeer(2, b.address);
    await waitFor(() => b.stats().rejectedConnections >= 1, "refused TLS peer");
    intruder.send([heartbeat(1, 2, "x")]);
    expect(intruder.stats().peers[0]?.connected).toBe(false);
    expect(got).toHaveLength(0);
    expect(logB.find("TLS certificate not accepted").length).toBeGreaterThan(0);
  });

  it("refuses a plain TCP peer at a TLS listener, and the reverse", async () => {
    const b = await started(transport(2, { tls }));
    const plainA = await started(transport(1));
    b.addPeer(1, plainA.address);
    plainA.addPeer(2, b.address);
    await waitFor(
      () =>
        (plainA.stats().peers[0]?.connectFailures ?? 0) >= 1 &&
        (b.stats().peers[0]?.connectFailures ?? 0) >= 1,
      "failed connections both ways",
    );
    expect(plainA.stats().peers[0]?.connected).toBe(false);
    expect(b.stats().peers[0]?.connected).toBe(false);
  });

  it("with verifyHostname off, accepts a certificate that does not name the dialed host", async () => {
    // The certificate names node.conclave.test only; peers dial 127.0.0.1.
    const named = { cert: files.namedCert, key: files.namedKey, ca: files.namedCert };
    const lax = { ...named, verifyHostname: false };
    const b = await started(transport(2, { tls: lax }));
    const a = await started(transport(1, { tls: lax }));
    const got: Message[] = [];
    b.onMessage((m) => got.push(m));
    a.addPeer(2, b.address);
    b.addPeer(1, a.address);
    await connected(a, 2);
    a.send([heartbeat(1, 2, "hi")]);
    await waitFor(() => got.length === 1, "message");

    const strict = await started(transport(3, { tls: named }));
    strict.addPeer(2, b.address);
    b.addPeer(3, strict.address);
    await waitFor(
      () => (strict.stats().peers[0]?.connectFailures ?? 0) >= 1,
      "hostname check failure",
    );
    expect(strict.stats().peers[0]?.connected).toBe(false);
  });
});
