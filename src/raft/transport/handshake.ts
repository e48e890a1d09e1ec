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
 * (docs/transport.md, "Handshake"). Each side sends a fresh 32-byte nonce and
 * proves knowledge of the secret with HMAC-SHA256 over a transcript binding
 * both nonces, the cluster id, both node ids, the connection's purpose and,
 * under TLS, the TLS session (an exported keying value). The secret itself
 * never crosses the wire, a recorded proof is useless for another connection,
 * and the two directions use different labels so a proof cannot be reflected.
 */

export const PROTOCOL_MAGIC = "conclave-raft";
export const PROTOCOL_VERSION = 1;
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
    fail(
      "rejected",
      `peer refused the ${what}: ${typeof failure === "string" ? failure : "?"}: ${typeof detail === "string" ? detail : "?"}`,
    );
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
 * The dialing side. Resolves once the server has proven the secret and
 * accepted ours; throws HandshakeError otherwise. The caller closes the
 * connection on failure and applies its own timeout.
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
  const challenge = expectKind(await conn.receive(), FrameKind.Challenge, "hello");
  const [version, clusterId, gotServerId, serverNonce, serverProof] = challenge;
  if (challenge.length !== 5 || !isNonce(serverNonce)) fail("protocol", "malformed challenge");
  if (version !== PROTOCOL_VERSION) fail("version", `server speaks version ${String(version)}`);
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
  if (!proofMatches(proof(me.secret, "server", transcript), serverProof)) {
    fail("bad-proof", `node ${serverId} did not prove the cluster secret`);
  }
  conn.writeFrame(FrameKind.Proof, packValue([proof(me.secret, "client", transcript)]));
  const welcome = expectKind(await conn.receive(), FrameKind.Welcome, "proof");
  if (welcome.length !== 0) fail("protocol", "malformed welcome");
}

/**
 * The accepting side. `isKnownPeer` decides which node ids may connect.
 * Resolves with the authenticated client's id and purpose; on any failure
 * sends a Reject frame naming the reason and throws HandshakeError.
 */
export async function serverHandshake(
  conn: FramedConnection,
  me: HandshakeIdentity,
  isKnownPeer: (id: NodeId) => boolean,
  channelBinding: Uint8Array,
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
    FrameKind.Challenge,
    packValue([
      PROTOCOL_VERSION,
      me.clusterId,
      me.nodeId,
      serverNonce,
      proof(me.secret, "server", transcript),
    ]),
  );
  const answer = expectKind(await conn.receive(), FrameKind.Proof, "challenge");
  if (answer.length !== 1 || !proofMatches(proof(me.secret, "client", transcript), answer[0])) {
    reject(
      conn,
      new HandshakeError("bad-proof", `node ${hello.clientId} did not prove the cluster secret`),
    );
  }
  conn.writeFrame(FrameKind.Welcome, packValue([]));
  return { peerId: hello.clientId, purpose: hello.purpose };
}

function parseHello(frame: Frame): Hello {
  const v = expectKind(frame, FrameKind.Hello, "connection");
  const [magic, version, clusterId, clientId, serverId, purpose, nonce] = v;
  if (v.length !== 7 || magic !== PROTOCOL_MAGIC) fail("protocol", "not a conclave raft hello");
  if (version !== PROTOCOL_VERSION) fail("version", `client speaks version ${String(version)}`);
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
