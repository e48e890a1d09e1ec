import { InvalidArgumentError } from "../../errors.js";
import type { NodeId } from "../core/index.js";

/**
 * A node snapshot is the peer address book followed by the application's
 * snapshot: u32 header length, JSON header, application bytes. The address
 * book travels with the state because the membership entries that carried
 * the addresses may be compacted away.
 */
export function encodeNodeSnapshot(
  peers: ReadonlyMap<NodeId, string>,
  app: Uint8Array,
): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify({ v: 1, peers: [...peers] }));
  const out = new Uint8Array(4 + header.byteLength + app.byteLength);
  new DataView(out.buffer).setUint32(0, header.byteLength);
  out.set(header, 4);
  out.set(app, 4 + header.byteLength);
  return out;
}

export function decodeNodeSnapshot(data: Uint8Array): {
  peers: Map<NodeId, string>;
  app: Uint8Array;
} {
  if (data.byteLength === 0) return { peers: new Map(), app: data };
  if (data.byteLength < 4)
    throw new InvalidArgumentError("node snapshot shorter than its header length");
  const len = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
  if (4 + len > data.byteLength)
    throw new InvalidArgumentError("node snapshot header overruns the data");
  let header: { v?: unknown; peers?: unknown };
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(4, 4 + len)),
    );
  } catch (err) {
    throw new InvalidArgumentError("node snapshot header is not valid JSON", { cause: err });
  }
  if (header.v !== 1 || !Array.isArray(header.peers)) {
    throw new InvalidArgumentError("node snapshot header has an unknown version or no peer list");
  }
  const peers = new Map<NodeId, string>();
  for (const p of header.peers as unknown[]) {
    if (!Array.isArray(p) || typeof p[0] !== "number" || typeof p[1] !== "string") {
      throw new InvalidArgumentError("node snapshot peer entry malformed");
    }
    peers.set(p[0], p[1]);
  }
  return { peers, app: data.subarray(4 + len) };
}

/** A membership entry's context: the address of the node it adds. */
export function encodeMemberContext(address: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ address }));
}

export function decodeMemberContext(context: Uint8Array | undefined): string | undefined {
  if (context === undefined || context.byteLength === 0) return undefined;
  try {
    const v = JSON.parse(new TextDecoder().decode(context)) as { address?: unknown };
    return typeof v.address === "string" ? v.address : undefined;
  } catch {
    return undefined;
  }
}
