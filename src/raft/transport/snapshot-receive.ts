import { createHash, timingSafeEqual } from "node:crypto";
import type { Message, NodeId } from "../core/types.js";
import { MessageType } from "../core/types.js";
import type { FramedConnection } from "./connection.js";
import { PeerProtocolError, SnapshotStreamError } from "./errors.js";
import { type Frame, FrameKind } from "./frame.js";
import { splitGroupPrefix } from "./group.js";
import type { TransportLogger } from "./logger.js";
import { decodeMessage, unpackOne } from "./message-codec.js";
import { encodeAck } from "./snapshot-send.js";
import { SnapshotByteStream } from "./snapshot-stream.js";
import type { SnapshotHandler } from "./transport.js";

const MAX_ACK_REASON_CHARS = 200;

export interface SnapshotReceiveContext {
  readonly selfId: NodeId;
  readonly logger: TransportLogger;
  readonly receiveBufferBytes: number;
  readonly headerTimeoutMs: number;
  readonly handler: () => SnapshotHandler | undefined;
  /** Claims a receive slot; false when too many snapshots are being received. */
  readonly acquireSlot: () => boolean;
  readonly releaseSlot: () => void;
  readonly outcome: (ok: boolean) => void;
}

/**
 * The receiving side of one snapshot connection: the first frame must be
 * SnapshotBegin, then chunks flow into a SnapshotByteStream handed to the
 * snapshot handler, then SnapshotEnd is checked (byte count and SHA-256).
 * When the handler settles, the verdict goes back as a SnapshotAck.
 * Frames are taken synchronously as they are decoded, because the sender
 * pipelines the whole stream behind its header.
 */
export function receiveSnapshot(
  conn: FramedConnection,
  peerId: NodeId,
  ctx: SnapshotReceiveContext,
): void {
  let stream: SnapshotByteStream | undefined;
  let refused = false;
  const hash = createHash("sha256");
  let receivedBytes = 0;
  const timer = setTimeout(() => {
    conn.close(new PeerProtocolError(`no snapshot header within ${ctx.headerTimeoutMs} ms`));
  }, ctx.headerTimeoutMs);
  void conn.closed.then(() => clearTimeout(timer));

  conn.setFrameHandler((frame) => {
    if (refused) return;
    if (stream === undefined) {
      clearTimeout(timer);
      const { msg, group } = parseSnapshotBegin(frame, peerId, ctx.selfId);
      const handler = ctx.handler();
      const refusal =
        handler === undefined
          ? "no snapshot handler is installed"
          : !ctx.acquireSlot()
            ? "too many snapshots are being received"
            : undefined;
      if (refusal !== undefined || handler === undefined) {
        refused = true;
        ctx.outcome(false);
        ctx.logger.warn({ ...conn.logFields, reason: refusal }, "refused snapshot");
        conn.writeFrame(FrameKind.SnapshotAck, encodeAck({ ok: false, reason: refusal ?? "" }));
        conn.close(undefined, true, true);
        return;
      }
      const s = new SnapshotByteStream(ctx.receiveBufferBytes, {
        pause: () => conn.pauseReading(),
        resume: () => conn.resumeReading(),
      });
      stream = s;
      void conn.closed.then((reason) => {
        s.fail(
          new SnapshotStreamError(
            `connection closed after ${receivedBytes} bytes${reason ? `: ${reason.message}` : ""}`,
          ),
        );
      });
      void runHandler(conn, ctx, handler, msg, group, s, () => receivedBytes);
      return;
    }
    if (stream.finished) throw new PeerProtocolError("frame after the end of a snapshot");
    if (frame.kind === FrameKind.SnapshotChunk) {
      hash.update(frame.body);
      receivedBytes += frame.body.byteLength;
      stream.push(frame.body);
    } else if (frame.kind === FrameKind.SnapshotEnd) {
      const problem = checkSnapshotEnd(frame, receivedBytes, hash.digest());
      if (problem === undefined) stream.end();
      else stream.fail(new SnapshotStreamError(problem));
    } else {
      throw new PeerProtocolError(`unexpected frame kind ${frame.kind} in a snapshot stream`);
    }
  });
}

async function runHandler(
  conn: FramedConnection,
  ctx: SnapshotReceiveContext,
  handler: SnapshotHandler,
  msg: Message,
  group: number,
  stream: SnapshotByteStream,
  receivedBytes: () => number,
): Promise<void> {
  let ok = false;
  let reason = "";
  try {
    await handler(msg, stream, group);
    ok = stream.consumedToEnd;
    if (!ok) reason = "the snapshot handler returned before reading the stream to its end";
  } catch (err) {
    reason = err instanceof Error ? err.message : String(err);
  } finally {
    ctx.releaseSlot();
  }
  ctx.outcome(ok);
  const fields = {
    ...conn.logFields,
    group,
    index: msg.snapshot?.metadata.index,
    bytes: receivedBytes(),
  };
  if (ok) ctx.logger.info(fields, "received snapshot");
  else ctx.logger.warn({ ...fields, reason }, "snapshot not installed");
  if (conn.isOpen) {
    conn.writeFrame(
      FrameKind.SnapshotAck,
      encodeAck({ ok, reason: reason.slice(0, MAX_ACK_REASON_CHARS) }),
    );
    conn.close(undefined, true, true);
  }
}

function parseSnapshotBegin(
  frame: Frame,
  peerId: NodeId,
  selfId: NodeId,
): { msg: Message; group: number } {
  let group = 0;
  let body: Uint8Array;
  if (frame.kind === FrameKind.SnapshotBegin) body = frame.body;
  else if (frame.kind === FrameKind.GroupSnapshotBegin) {
    const split = splitGroupPrefix(frame.body);
    group = split.group;
    body = split.rest;
  } else {
    throw new PeerProtocolError(`expected a snapshot header, got frame kind ${frame.kind}`);
  }
  const msg = decodeMessage(body);
  if (msg.to !== selfId || msg.from !== peerId) {
    throw new PeerProtocolError(
      `snapshot header from ${msg.from} to ${msg.to} on a connection from node ${peerId} to node ${selfId}`,
    );
  }
  if (msg.type !== MessageType.Snap) {
    throw new PeerProtocolError(`snapshot header holds a ${msg.type} message`);
  }
  if (msg.snapshot !== undefined && msg.snapshot.data.byteLength !== 0) {
    throw new PeerProtocolError("snapshot header must not carry snapshot bytes");
  }
  return { msg, group };
}

function checkSnapshotEnd(frame: Frame, receivedBytes: number, digest: Buffer): string | undefined {
  let v: unknown;
  try {
    v = unpackOne(frame.body, "snapshot end");
  } catch (err) {
    return (err as Error).message;
  }
  if (!Array.isArray(v) || v.length !== 2 || !(v[1] instanceof Uint8Array)) {
    return "malformed end frame";
  }
  const [totalBytes, sentDigest] = v as [unknown, Uint8Array];
  if (totalBytes !== receivedBytes) {
    return `sender sent ${String(totalBytes)} bytes, ${receivedBytes} arrived`;
  }
  if (sentDigest.byteLength !== digest.byteLength || !timingSafeEqual(sentDigest, digest)) {
    return "SHA-256 of the received bytes does not match the sender's";
  }
  return undefined;
}
