import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { NodeId } from "../core/types.js";
import type { FramedConnection } from "./connection.js";
import type { HandshakeFailure } from "./errors.js";
import { HandshakeError } from "./errors.js";
import type { Frame } from "./frame.js";
import { FrameKind } from "./frame.js";
import { packValue, unpackOne } from "./message-codec.js";

/**
 * Mutual challenge–response authentication with a shared cluster secret
 * (docs/transport.md, "Handshake"). Both sides send a fresh 32-byte nonce
 * before either proves anything; then the dialer proves knowledge of the
 * secret, and only once that proof checks out does the acceptor prove its own.
 * So a stranger who connects learns nothing derived from the secret, and a
 * captured exchange holds proofs over nonces the attacker did not choose.
 * Proofs are HMAC-SHA256 over a transcript binding both nonces, the cluster
 * id, both node ids, the connection's purpose and, under TLS, the TLS session
 * (an exported keying value); the two directions use different labels so a
 * proof cannot be reflected. The secret itself never crosses the wire.
 */

export const PROTOCOL_MAGIC = "conclave-raft";
/**
 * Version 2 made the acceptor wait for the dialer's proof before sending its
 * own; a version 1 peer is refused with a `version` failure naming both.
 */
export const PROTOCOL_VERSION = 2;
export const NONCE_BYTES = 32;
const PROOF_BYTES = 32;
/** Frame limit before the peer is authenticated: handshake frames are tiny. */
export const HANDSHAKE_MAX_FRAME_BYTES = 1024;
export const MAX_CLUSTER_ID_BYTES = 256;

export enum ConnectionPurpose {
  Messages = 0,
  Snapshot = 1,
}

export interface HandshakeIdentity {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  /** Empty when peers are authenticated by mutual TLS alone, or not at all (development). */
  readonly secret: Uint8Array;
}

export interface Hello {
  readonly clusterId: string;
  readonly clientId: NodeId;
  readonly serverId: NodeId;
  readonly purpose: ConnectionPurpose;
  readonly nonce: Uint8Array;
}

interface Transcript {
  readonly clusterId: string;
  readonly clientId: NodeId;
  readonly serverId: NodeId;
  readonly purpose: ConnectionPurpose;
  readonly clientNonce: Uint8Array;
  readonly serverNonce: Uint8Array;
  readonly channelBinding: Uint8Array;
}

function proof(secret: Uint8Array, label: "client" | "server", t: Transcript): Buffer {
  const h = createHmac("sha256", secret);
  const clusterId = Buffer.from(t.clusterId, "utf8");
  const fixed = Buffer.alloc(4 + 8 + 8 + 1);
  fixed.writeUInt32BE(clusterId.byteLength, 0);
  fixed.writeBigUInt64BE(BigInt(t.clientId), 4);
  fixed.writeBigUInt64BE(BigInt(t.serverId), 12);
  fixed[20] = t.purpose;
  const bindingLength = Buffer.alloc(4);
  bindingLength.writeUInt32BE(t.channelBinding.byteLength, 0);
  h.update(`${PROTOCOL_MAGIC}/v${PROTOCOL_VERSION} ${label} proof\n`);
  h.update(fixed);
  h.update(clusterId);
  h.update(t.clientNonce);
  h.update(t.serverNonce);
  h.update(bindingLength);
  h.update(t.channelBinding);
  return h.digest();
}

function proofMatches(expected: Buffer, got: unknown): boolean {
  return (
    got instanceof Uint8Array && got.byteLength === PROOF_BYTES && timingSafeEqual(expected, got)
  );
}

function fail(failure: HandshakeFailure, detail: string): never {
  throw new HandshakeError(failure, detail);
}

function expectKind(frame: Frame, kind: FrameKind, what: string): unknown[] {
  if (frame.kind === FrameKind.Reject) {
    const v = safeUnpack(frame.body);
    const [failure, detail] = Array.isArray(v) ? v : [];
    const text = `peer refused the ${what}: ${typeof failure === "string" ? failure : "?"}: ${typeof detail === "string" ? detail : "?"}`;
    // A peer of another protocol version says so; keep that failure name so the operator sees it.
    fail(failure === "version" ? "version" : "rejected", text);
  }
  if (frame.kind !== kind)
    fail("protocol", `expected ${FrameKind[kind]}, got frame kind ${frame.kind}`);
  const v = safeUnpack(frame.body);
  if (!Array.isArray(v)) fail("protocol", `${what} is not an array`);
  return v;
}

function safeUnpack(body: Uint8Array): unknown {
  try {
    return unpackOne(body, "handshake");
  } catch {
    return fail("protocol", "undecodable handshake frame");
  }
}

function isNodeId(v: unknown): v is NodeId {
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0;
}

function isNonce(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.byteLength === NONCE_BYTES;
}

/** Tells the peer why, then closes. The reason names only what the peer itself sent. */
function reject(conn: FramedConnection, err: HandshakeError): never {
  conn.writeFrame(FrameKind.Reject, packValue([err.failure, err.message]));
  throw err;
}

/**
 * The dialing side. Resolves once both sides have proven the secret; throws
 * HandshakeError otherwise. The caller closes the connection on failure and
 * applies its own timeout.
 */
export async function clientHandshake(
  conn: FramedConnection,
  me: HandshakeIdentity,
  serverId: NodeId,
  purpose: ConnectionPurpose,
  channelBinding: Uint8Array,
): Promise<void> {
  const clientNonce = randomBytes(NONCE_BYTES);
  conn.writeFrame(
    FrameKind.Hello,
    packValue([
      PROTOCOL_MAGIC,
      PROTOCOL_VERSION,
      me.clusterId,
      me.nodeId,
      serverId,
      purpose,
      clientNonce,
    ]),
  );
  const serverHello = expectKind(await conn.receive(), FrameKind.ServerHello, "hello");
  const [version, clusterId, gotServerId, serverNonce] = serverHello;
  if (version !== PROTOCOL_VERSION) {
    fail("version", `server speaks version ${String(version)}, this node ${PROTOCOL_VERSION}`);
  }
  if (serverHello.length !== 4 || !isNonce(serverNonce)) fail("protocol", "malformed server hello");
  if (clusterId !== me.clusterId) {
    fail("cluster-mismatch", `server belongs to cluster ${JSON.stringify(clusterId)}`);
  }
  if (gotServerId !== serverId) {
    fail(
      "node-mismatch",
      `expected node ${serverId} at this address, found ${String(gotServerId)}`,
    );
  }
  const transcript: Transcript = {
    clusterId: me.clusterId,
    clientId: me.nodeId,
    serverId,
    purpose,
    clientNonce,
    serverNonce,
    channelBinding,
  };
  conn.writeFrame(FrameKind.Proof, packValue([proof(me.secret, "client", transcript)]));
  const serverProof = expectKind(await conn.receive(), FrameKind.ServerProof, "proof");
  if (
    serverProof.length !== 1 ||
    !proofMatches(proof(me.secret, "server", transcript), serverProof[0])
  ) {
    fail("bad-proof", `node ${serverId} did not prove the cluster secret`);
  }
}

/**
 * The accepting side. `isKnownPeer` decides which node ids may connect;
 * `onHello` learns which peer a connection claims to be, before it has
 * proven it (the listener uses that to keep a flood of strangers from
 * crowding out peers). Resolves with the authenticated client's id and
 * purpose; on any failure sends a Reject frame naming the reason and throws
 * HandshakeError. Nothing derived from the secret is sent before the client
 * has proven it.
 */
export async function serverHandshake(
  conn: FramedConnection,
  me: HandshakeIdentity,
  isKnownPeer: (id: NodeId) => boolean,
  channelBinding: Uint8Array,
  onHello: (claimedPeerId: NodeId) => void = () => {},
): Promise<{ readonly peerId: NodeId; readonly purpose: ConnectionPurpose }> {
  let hello: Hello;
  try {
    hello = parseHello(await conn.receive());
    if (hello.clusterId !== me.clusterId) {
      fail("cluster-mismatch", `client belongs to cluster ${JSON.stringify(hello.clusterId)}`);
    }
    if (hello.serverId !== me.nodeId) {
      fail("node-mismatch", `client expected node ${hello.serverId}, this is node ${me.nodeId}`);
    }
    if (hello.clientId === me.nodeId || !isKnownPeer(hello.clientId)) {
      fail("unknown-peer", `node ${hello.clientId} is not a peer of node ${me.nodeId}`);
    }
  } catch (err) {
    if (err instanceof HandshakeError && err.failure !== "protocol") reject(conn, err);
    throw err;
  }
  onHello(hello.clientId);
  const serverNonce = randomBytes(NONCE_BYTES);
  const transcript: Transcript = {
    clusterId: me.clusterId,
    clientId: hello.clientId,
    serverId: me.nodeId,
    purpose: hello.purpose,
    clientNonce: hello.nonce,
    serverNonce,
    channelBinding,
  };
  conn.writeFrame(
    FrameKind.ServerHello,
    packValue([PROTOCOL_VERSION, me.clusterId, me.nodeId, serverNonce]),
  );
  const answer = expectKind(await conn.receive(), FrameKind.Proof, "server hello");
  if (answer.length !== 1 || !proofMatches(proof(me.secret, "client", transcript), answer[0])) {
    reject(
      conn,
      new HandshakeError("bad-proof", `node ${hello.clientId} did not prove the cluster secret`),
    );
  }
  conn.writeFrame(FrameKind.ServerProof, packValue([proof(me.secret, "server", transcript)]));
  return { peerId: hello.clientId, purpose: hello.purpose };
}

function parseHello(frame: Frame): Hello {
  const v = expectKind(frame, FrameKind.Hello, "connection");
  const [magic, version, clusterId, clientId, serverId, purpose, nonce] = v;
  if (magic !== PROTOCOL_MAGIC) fail("protocol", "not a conclave raft hello");
  // Checked before the shape, so a peer of another version hears why, whatever its hello holds.
  if (version !== PROTOCOL_VERSION) {
    fail("version", `client speaks version ${String(version)}, this node ${PROTOCOL_VERSION}`);
  }
  if (v.length !== 7) fail("protocol", "malformed hello");
  if (typeof clusterId !== "string" || Buffer.byteLength(clusterId) > MAX_CLUSTER_ID_BYTES) {
    fail("protocol", "malformed cluster id");
  }
  if (!isNodeId(clientId) || !isNodeId(serverId)) fail("protocol", "malformed node id");
  if (purpose !== ConnectionPurpose.Messages && purpose !== ConnectionPurpose.Snapshot) {
    fail("protocol", `unknown connection purpose ${String(purpose)}`);
  }
  if (!isNonce(nonce)) fail("protocol", "malformed nonce");
  return { clusterId, clientId, serverId, purpose, nonce };
}
