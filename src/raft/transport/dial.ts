import { type NetConnectOpts, connect as netConnect, type Socket } from "node:net";
import { type SecureContext, connect as tlsConnect } from "node:tls";
import type { NodeId } from "../core/types.js";
import { FramedConnection } from "./connection.js";
import { HandshakeError, TransportStoppedError } from "./errors.js";
import type { ConnectionPurpose, HandshakeIdentity } from "./handshake.js";
import { clientHandshake, HANDSHAKE_MAX_FRAME_BYTES } from "./handshake.js";
import type { TransportLogger } from "./logger.js";
import type { ResolvedTcpTransportOptions } from "./options.js";
import { channelBinding } from "./tls-context.js";
import type { PeerAddress } from "./transport.js";

export interface DialContext {
  readonly options: ResolvedTcpTransportOptions;
  readonly identity: HandshakeIdentity;
  readonly secureContext: SecureContext | undefined;
  readonly logger: TransportLogger;
}

const KEEPALIVE_DELAY_MS = 10_000;
/** Bytes a connection buffers before write() asks the sender to wait for drain. */
const WRITE_BUFFER_BYTES = 256 * 1024;

/**
 * Opens an authenticated connection to `peerId` at `address`: TCP (or TLS
 * with the peer's certificate verified), then the secret handshake, all
 * within handshakeTimeoutMs. Rejects with the reason on any failure; the
 * half-made connection is closed before that.
 */
export async function dialPeer(
  ctx: DialContext,
  peerId: NodeId,
  address: PeerAddress,
  purpose: ConnectionPurpose,
  signal: AbortSignal,
): Promise<FramedConnection> {
  if (signal.aborted) throw new TransportStoppedError(`connecting to node ${peerId}`);
  const o = ctx.options;
  let socket: Socket;
  let ready: string;
  if (o.tls !== undefined && ctx.secureContext !== undefined) {
    const verifyHostname = o.tls.verifyHostname ?? true;
    socket = tlsConnect({
      host: address.host,
      port: address.port,
      secureContext: ctx.secureContext,
      rejectUnauthorized: true,
      ...(verifyHostname ? {} : { checkServerIdentity: () => undefined }),
    });
    ready = "secureConnect";
  } else {
    socket = netConnect({
      host: address.host,
      port: address.port,
      writableHighWaterMark: WRITE_BUFFER_BYTES,
    } as NetConnectOpts);
    ready = "connect";
  }
  socket.setNoDelay(true);
  socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
  const conn = new FramedConnection(socket, HANDSHAKE_MAX_FRAME_BYTES, ctx.logger, {
    node: o.nodeId,
    peer: peerId,
    direction: "outbound",
    purpose,
  });
  // The dialer's owner reports failures; the connection itself logs them quietly.
  conn.quiet = true;
  const timer = setTimeout(() => {
    conn.close(
      new HandshakeError(
        "timeout",
        `no authenticated connection to node ${peerId} within ${o.handshakeTimeoutMs} ms`,
      ),
    );
  }, o.handshakeTimeoutMs);
  const onAbort = (): void => conn.close(new TransportStoppedError(`connecting to node ${peerId}`));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once(ready, () => resolve());
      conn.closed.then((reason) =>
        reject(reason ?? new HandshakeError("protocol", "connection closed while connecting")),
      );
    });
    await clientHandshake(conn, ctx.identity, peerId, purpose, channelBinding(socket));
    conn.quiet = false;
    return conn;
  } catch (err) {
    conn.close(err instanceof Error ? err : new Error(String(err)));
    throw err;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}
