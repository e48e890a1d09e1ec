import { InvalidArgumentError } from "../../errors.js";
import type { NodeId } from "../core/index.js";

/**
 * A node snapshot is the peer address book followed by the application's
 * snapshot: u32 header length, JSON header, application bytes. The address
 * book travels with the state because the membership entries that carried
 * the addresses may be compacted away. Both directions stream.
 */
export async function* encodeNodeSnapshot(
  peers: ReadonlyMap<NodeId, string>,
  app: Uint8Array | AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  yield headerFrame({ v: 1, peers: [...peers] });
  if (app instanceof Uint8Array) {
    if (app.byteLength > 0) yield app;
    return;
  }
  for await (const chunk of app) yield chunk;
}

/**
 * A node snapshot that holds no copy of the application's state: a state
 * machine that keeps its own durable state (a disk backend) has it on
 * stable storage at or past the snapshot's index, so the snapshot only
 * records the address book and lets the log be compacted. It can never be
 * restored into a state machine, nor sent: a leader sends a fresh copy of
 * its state instead (see RaftNode.streamSnapshot).
 */
export async function* encodeBackendSnapshot(
  peers: ReadonlyMap<NodeId, string>,
): AsyncGenerator<Uint8Array> {
  yield headerFrame({ v: 1, peers: [...peers], state: STATE_IN_BACKEND });
}

const STATE_IN_BACKEND = "backend";

function headerFrame(header: object): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify(header));
  const frame = new Uint8Array(4 + bytes.byteLength);
  new DataView(frame.buffer).setUint32(0, bytes.byteLength);
  frame.set(bytes, 4);
  return frame;
}

const MAX_HEADER_BYTES = 64 * 1024 * 1024;

/** A node snapshot's header and the application's part of the stream. */
export interface DecodedNodeSnapshot {
  readonly peers: Map<NodeId, string>;
  /** The application's snapshot, to be read to its end; empty when `inBackend`. */
  readonly app: AsyncIterable<Uint8Array>;
  /** Written by encodeBackendSnapshot: the state lives in the state machine's own storage. */
  readonly inBackend: boolean;
}

/**
 * Reads the header off a node snapshot stream. Returns the peers and the
 * rest of the stream (the application's snapshot), to be read to its end.
 */
export async function decodeNodeSnapshot(
  data: AsyncIterable<Uint8Array>,
): Promise<DecodedNodeSnapshot> {
  const it = data[Symbol.asyncIterator]();
  let buf: Uint8Array = new Uint8Array(0);
  const need = async (n: number): Promise<boolean> => {
    while (buf.byteLength < n) {
      const next = await it.next();
      if (next.done) return false;
      buf = buf.byteLength === 0 ? next.value : Buffer.concat([buf, next.value]);
    }
    return true;
  };
  if (!(await need(4))) {
    if (buf.byteLength === 0) return { peers: new Map(), app: empty(), inBackend: false };
    throw new InvalidArgumentError("node snapshot shorter than its header length");
  }
  const len = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(0);
  if (len > MAX_HEADER_BYTES || !(await need(4 + len))) {
    throw new InvalidArgumentError("node snapshot header overruns the data");
  }
  const { peers, inBackend } = parseHeader(buf.subarray(4, 4 + len));
  const rest = buf.subarray(4 + len);
  async function* app(): AsyncGenerator<Uint8Array> {
    if (rest.byteLength > 0) yield rest;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { peers, app: app(), inBackend };
}

async function* empty(): AsyncGenerator<Uint8Array> {}

function parseHeader(bytes: Uint8Array): { peers: Map<NodeId, string>; inBackend: boolean } {
  let header: { v?: unknown; peers?: unknown; state?: unknown };
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
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
  if (header.state !== undefined && header.state !== STATE_IN_BACKEND) {
    throw new InvalidArgumentError("node snapshot header names an unknown state location");
  }
  return { peers, inBackend: header.state === STATE_IN_BACKEND };
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
