import { createHash } from "node:crypto";
import { InvalidArgumentError } from "../../errors.js";
import type { Message } from "../core/types.js";
import { type DialContext, dialPeer } from "./dial.js";
import { PeerProtocolError, SnapshotStreamError } from "./errors.js";
import type { Frame } from "./frame.js";
import { FrameKind } from "./frame.js";
import { withGroupPrefix } from "./group.js";
import { ConnectionPurpose } from "./handshake.js";
import { encodeMessage, packValue, unpackOne } from "./message-codec.js";
import type { PeerAddress } from "./transport.js";

/** The receiver's verdict, sent once its snapshot handler has finished (or refused). */
export interface SnapshotAck {
  readonly ok: boolean;
  readonly reason: string;
}

export function encodeAck(ack: SnapshotAck): Uint8Array {
  return packValue([ack.ok, ack.reason]);
}

function decodeAck(frame: Frame): SnapshotAck {
  if (frame.kind !== FrameKind.SnapshotAck) {
    throw new PeerProtocolError(
      `expected a snapshot acknowledgement, got frame kind ${frame.kind}`,
    );
  }
  const v = unpackOne(frame.body, "snapshot acknowledgement");
  if (
    !Array.isArray(v) ||
    v.length !== 2 ||
    typeof v[0] !== "boolean" ||
    typeof v[1] !== "string"
  ) {
    throw new PeerProtocolError("malformed snapshot acknowledgement");
  }
  return { ok: v[0], reason: v[1] };
}

/**
 * Streams one snapshot over a dedicated connection: SnapshotBegin (the
 * message without snapshot bytes; GroupSnapshotBegin for a group other than 0), SnapshotChunk frames as the source yields
 * them, SnapshotEnd with the byte count and SHA-256, then waits for the
 * receiver's acknowledgement. At most one chunk is held here at a time; the
 * socket's own buffer is drained before the next chunk is pulled. Resolves
 * with the receiver's verdict; throws when the stream could not be delivered.
 */
export async function streamSnapshot(
  ctx: DialContext,
  address: PeerAddress,
  msg: Message,
  data: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
  group = 0,
): Promise<SnapshotAck> {
  const conn = await dialPeer(ctx, msg.to, address, ConnectionPurpose.Snapshot, signal);
  const onAbort = (): void => conn.close(new SnapshotStreamError("send aborted"), true);
  signal.addEventListener("abort", onAbort, { once: true });
  let ackTimer: NodeJS.Timeout | undefined;
  try {
    // An early answer (the receiver refused) must stop the stream, so listen from the start.
    let early: SnapshotAck | Error | undefined;
    const answer = conn.receive().then(decodeAck);
    answer.then(
      (ack) => {
        early = ack;
      },
      (err: unknown) => {
        early = err instanceof Error ? err : new Error(String(err));
      },
    );
    // Group 0 keeps the original header frame, byte for byte.
    const header = encodeMessage(msg, true);
    if (group === 0) conn.writeFrame(FrameKind.SnapshotBegin, header);
    else conn.writeFrame(FrameKind.GroupSnapshotBegin, withGroupPrefix(group, header));
    const chunkBytes = ctx.options.snapshotChunkBytes;
    const hash = createHash("sha256");
    let totalBytes = 0;
    for await (const chunk of data) {
      if (!(chunk instanceof Uint8Array)) {
        throw new InvalidArgumentError("snapshot data must yield Uint8Array chunks");
      }
      for (let at = 0; at < chunk.byteLength; at += chunkBytes) {
        const part = chunk.subarray(at, Math.min(chunk.byteLength, at + chunkBytes));
        hash.update(part);
        totalBytes += part.byteLength;
        if (!conn.writeFrameParts(FrameKind.SnapshotChunk, part)) await conn.drained();
        if (early !== undefined) return earlyAnswer(early);
        if (!conn.isOpen)
          throw new SnapshotStreamError(`connection to node ${msg.to} closed mid-stream`);
      }
    }
    conn.writeFrame(FrameKind.SnapshotEnd, packValue([totalBytes, hash.digest()]));
    const timeoutMs = ctx.options.snapshotAckTimeoutMs;
    const ack = await Promise.race([
      answer,
      new Promise<never>((_, reject) => {
        ackTimer = setTimeout(
          () =>
            reject(
              new SnapshotStreamError(`node ${msg.to} did not acknowledge within ${timeoutMs} ms`),
            ),
          timeoutMs,
        );
      }),
    ]);
    return ack;
  } catch (err) {
    conn.close(err instanceof Error ? err : new Error(String(err)), true);
    throw err;
  } finally {
    conn.close(undefined, true);
    clearTimeout(ackTimer);
    signal.removeEventListener("abort", onAbort);
  }
}

function earlyAnswer(early: SnapshotAck | Error): SnapshotAck {
  if (early instanceof Error) throw early;
  if (early.ok) throw new PeerProtocolError("receiver acknowledged a snapshot before its end");
  return early;
}
