/**
 * The peer handshake, one frame at a time: each test plays one side by hand
 * against the real implementation of the other, over a loopback socket pair.
 */
import { randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { NodeId } from "../../../src/raft/core/types.js";
import { FramedConnection } from "../../../src/raft/transport/connection.js";
import { HandshakeError } from "../../../src/raft/transport/errors.js";
import { type Frame, FrameKind } from "../../../src/raft/transport/frame.js";
import {
  ConnectionPurpose,
  clientHandshake,
  HANDSHAKE_MAX_FRAME_BYTES,
  type HandshakeIdentity,
  PROTOCOL_MAGIC,
  PROTOCOL_VERSION,
  serverHandshake,
} from "../../../src/raft/transport/handshake.js";
import { packValue, unpackOne } from "../../../src/raft/transport/message-codec.js";
import { CLUSTER, LOOPBACK, RecordingLogger, SECRET } from "./helpers.js";

const CLIENT_ID = 1;
const SERVER_ID = 2;
const NO_BINDING = new Uint8Array(0);
const secret = Buffer.from(SECRET);
const client: HandshakeIdentity = { clusterId: CLUSTER, nodeId: CLIENT_ID, secret };
const server: HandshakeIdentity = { clusterId: CLUSTER, nodeId: SERVER_ID, secret };
const isPeer = (id: NodeId): boolean => id === CLIENT_ID;

const servers: Server[] = [];
const conns: FramedConnection[] = [];

afterEach(async () => {
  for (const c of conns.splice(0)) c.close(undefined, true);
  await Promise.all(
    servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
  );
});

/** Two framed ends of one loopback TCP connection. */
async function pair(): Promise<{ dialer: FramedConnection; acceptor: FramedConnection }> {
  const accepted = new Promise<Socket>((resolve) => {
    const s = createServer((socket) => resolve(socket));
    servers.push(s);
    s.listen(0, LOOPBACK);
  });
  await new Promise<void>((resolve) => servers.at(-1)?.once("listening", () => resolve()));
  const address = servers.at(-1)?.address();
  if (typeof address !== "object" || address === null) throw new Error("no listen address");
  const dialSocket = connect(address.port, LOOPBACK);
  const wrap = (socket: Socket) => {
    const c = new FramedConnection(socket, HANDSHAKE_MAX_FRAME_BYTES, new RecordingLogger(), {});
    conns.push(c);
    return c;
  };
  const dialer = wrap(dialSocket);
  const acceptor = wrap(await accepted);
  return { dialer, acceptor };
}

function body(frame: Frame): unknown[] {
  const v = unpackOne(frame.body, "test");
  if (!Array.isArray(v)) throw new Error("not an array");
  return v;
}

function hello(nonce: Uint8Array, version: number = PROTOCOL_VERSION): Uint8Array {
  return packValue([
    PROTOCOL_MAGIC,
    version,
    CLUSTER,
    CLIENT_ID,
    SERVER_ID,
    ConnectionPurpose.Messages,
    nonce,
  ]);
}

/** Rejects with the HandshakeError the call failed with, or fails the test. */
async function failure(p: Promise<unknown>): Promise<HandshakeError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HandshakeError) return err;
    throw err;
  }
  throw new Error("the handshake succeeded");
}

describe("peer handshake (protocol version 2)", () => {
  it("completes between two holders of the secret, each side learning the other", async () => {
    const { dialer, acceptor } = await pair();
    const [, accepted] = await Promise.all([
      clientHandshake(dialer, client, SERVER_ID, ConnectionPurpose.Snapshot, NO_BINDING),
      serverHandshake(acceptor, server, isPeer, NO_BINDING),
    ]);
    expect(accepted).toEqual({ peerId: CLIENT_ID, purpose: ConnectionPurpose.Snapshot });
  });

  it("the acceptor reveals nothing derived from the secret to a dialer that never proves it", async () => {
    const { dialer, acceptor } = await pair();
    const claimed: NodeId[] = [];
    const accepting = failure(
      serverHandshake(acceptor, server, isPeer, NO_BINDING, (id) => claimed.push(id)),
    );
    dialer.writeFrame(FrameKind.Hello, hello(randomBytes(32)));
    const first = await dialer.receive();
    expect(first.kind).toBe(FrameKind.ServerHello);
    // Public facts and a fresh nonce; no proof.
    const [version, clusterId, serverId, nonce, ...rest] = body(first);
    expect([version, clusterId, serverId, rest]).toEqual([
      PROTOCOL_VERSION,
      CLUSTER,
      SERVER_ID,
      [],
    ]);
    expect((nonce as Uint8Array).byteLength).toBe(32);
    expect(claimed).toEqual([CLIENT_ID]);
    // A made-up proof gets a refusal that carries no proof either.
    dialer.writeFrame(FrameKind.Proof, packValue([randomBytes(32)]));
    const second = await dialer.receive();
    expect(second.kind).toBe(FrameKind.Reject);
    expect(body(second)[0]).toBe("bad-proof");
    expect((await accepting).failure).toBe("bad-proof");
  });

  it("the acceptor refuses a dialer with a wrong secret before proving its own", async () => {
    const { dialer, acceptor } = await pair();
    const wrong = { ...client, secret: Buffer.from("a different secret, 32 bytes or more") };
    const sent: FrameKind[] = [];
    const write = acceptor.writeFrame.bind(acceptor);
    acceptor.writeFrame = (kind, b) => {
      sent.push(kind);
      return write(kind, b);
    };
    const [dialed, accepted] = await Promise.all([
      failure(clientHandshake(dialer, wrong, SERVER_ID, ConnectionPurpose.Messages, NO_BINDING)),
      failure(serverHandshake(acceptor, server, isPeer, NO_BINDING)),
    ]);
    expect(accepted.failure).toBe("bad-proof");
    expect(dialed.message).toContain("bad-proof");
    expect(sent).toEqual([FrameKind.ServerHello, FrameKind.Reject]);
  });

  /** Plays the acceptor by hand up to the dialer's proof; returns that proof. */
  async function fakeAcceptorUntilProof(acceptor: FramedConnection): Promise<Uint8Array> {
    expect((await acceptor.receive()).kind).toBe(FrameKind.Hello);
    acceptor.writeFrame(
      FrameKind.ServerHello,
      packValue([PROTOCOL_VERSION, CLUSTER, SERVER_ID, randomBytes(32)]),
    );
    const proofFrame = await acceptor.receive();
    expect(proofFrame.kind).toBe(FrameKind.Proof);
    return body(proofFrame)[0] as Uint8Array;
  }

  it("the dialer refuses an acceptor that does not know the secret", async () => {
    const { dialer, acceptor } = await pair();
    const dialing = failure(
      clientHandshake(dialer, client, SERVER_ID, ConnectionPurpose.Messages, NO_BINDING),
    );
    await fakeAcceptorUntilProof(acceptor);
    acceptor.writeFrame(FrameKind.ServerProof, packValue([randomBytes(32)]));
    expect((await dialing).failure).toBe("bad-proof");
  });

  it("the dialer refuses its own proof reflected back as the acceptor's", async () => {
    const { dialer, acceptor } = await pair();
    const dialing = failure(
      clientHandshake(dialer, client, SERVER_ID, ConnectionPurpose.Messages, NO_BINDING),
    );
    const clientProof = await fakeAcceptorUntilProof(acceptor);
    acceptor.writeFrame(FrameKind.ServerProof, packValue([clientProof]));
    expect((await dialing).failure).toBe("bad-proof");
  });

  it("a recorded hello and proof replayed on a new connection are refused", async () => {
    const first = await pair();
    const recorded = new Map<FrameKind, Uint8Array>();
    const write = first.dialer.writeFrame.bind(first.dialer);
    first.dialer.writeFrame = (kind, b) => {
      recorded.set(kind, b);
      return write(kind, b);
    };
    await Promise.all([
      clientHandshake(first.dialer, client, SERVER_ID, ConnectionPurpose.Messages, NO_BINDING),
      serverHandshake(first.acceptor, server, isPeer, NO_BINDING),
    ]);
    const second = await pair();
    const accepting = failure(serverHandshake(second.acceptor, server, isPeer, NO_BINDING));
    second.dialer.writeFrame(FrameKind.Hello, recorded.get(FrameKind.Hello) as Uint8Array);
    expect((await second.dialer.receive()).kind).toBe(FrameKind.ServerHello);
    second.dialer.writeFrame(FrameKind.Proof, recorded.get(FrameKind.Proof) as Uint8Array);
    expect((await accepting).failure).toBe("bad-proof");
  });

  it("proofs bound to one TLS channel do not verify on another", async () => {
    const { dialer, acceptor } = await pair();
    const [, accepted] = await Promise.all([
      failure(
        clientHandshake(dialer, client, SERVER_ID, ConnectionPurpose.Messages, randomBytes(32)),
      ),
      failure(serverHandshake(acceptor, server, isPeer, randomBytes(32))),
    ]);
    expect(accepted.failure).toBe("bad-proof");
  });

  it("refuses a version 1 dialer with a version failure that names both versions", async () => {
    const { dialer, acceptor } = await pair();
    const accepting = failure(serverHandshake(acceptor, server, isPeer, NO_BINDING));
    dialer.writeFrame(FrameKind.Hello, hello(randomBytes(32), 1));
    const reply = await dialer.receive();
    expect(reply.kind).toBe(FrameKind.Reject);
    expect(body(reply)).toEqual([
      "version",
      expect.stringContaining("client speaks version 1, this node 2"),
    ]);
    expect((await accepting).failure).toBe("version");
  });

  it("a dialer refused by a version 1 acceptor reports a version failure", async () => {
    const { dialer, acceptor } = await pair();
    const dialing = failure(
      clientHandshake(dialer, client, SERVER_ID, ConnectionPurpose.Messages, NO_BINDING),
    );
    expect((await acceptor.receive()).kind).toBe(FrameKind.Hello);
    // What a version 1 acceptor answers a version 2 hello.
    acceptor.writeFrame(FrameKind.Reject, packValue(["version", "client speaks version 2"]));
    const err = await dialing;
    expect(err.failure).toBe("version");
    expect(err.message).toContain("client speaks version 2");
  });
});
