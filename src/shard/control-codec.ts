/**
 * The control channel's wire format: msgpack of the plain objects in
 * types.ts. Peers are authenticated by the transport, but a payload is still
 * checked field by field before anything acts on it: a malformed one is
 * refused with InvalidControlMessageError and dropped.
 */
import { Packr } from "msgpackr";
import { ConclaveError } from "../errors.js";
import type {
  ControlMessage,
  GroupRecord,
  GroupReport,
  NodeRecord,
  Operator,
  ShardMap,
} from "./types.js";

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Far above any real cluster, small enough that a hostile payload costs little. */
const MAX_ITEMS = 1 << 17;
const MAX_TEXT = 1024;

export class InvalidControlMessageError extends ConclaveError {
  constructor(what: string) {
    super("INVALID_CONTROL_MESSAGE", `invalid control message: ${what}`);
  }
}

export function encodeControl(message: ControlMessage): Uint8Array {
  return packr.pack(message);
}

export function decodeControl(payload: Uint8Array): ControlMessage {
  let raw: unknown;
  try {
    raw = packr.unpack(payload);
  } catch {
    throw new InvalidControlMessageError("not msgpack");
  }
  const o = obj(raw, "message");
  const seq = uint(o.seq, "seq");
  switch (o.type) {
    case "heartbeat": {
      const node = obj(o.node, "node");
      return {
        type: "heartbeat",
        seq,
        node: {
          id: nodeId(node.id, "node.id"),
          peer: text(node.peer, "node.peer"),
          client: text(node.client, "node.client"),
          capacity: capacity(node.capacity, "node.capacity"),
        },
        mapRevision: uint(o.mapRevision, "mapRevision"),
        groups: list(o.groups, "groups", groupReport),
      };
    }
    case "heartbeat-reply":
      return {
        type: "heartbeat-reply",
        seq,
        ...(o.map !== undefined && o.map !== null && { map: shardMap(o.map) }),
        operators: list(o.operators, "operators", operator),
        destroy: list(o.destroy, "destroy", (v, w) => uint(v, w)),
      };
    case "redirect":
      return {
        type: "redirect",
        seq,
        controller: uint(o.controller, "controller"),
        peer: text(o.peer, "peer"),
      };
    case "ping":
      return { type: "ping", seq };
    default:
      throw new InvalidControlMessageError("unknown type");
  }
}

function groupReport(v: unknown, what: string): GroupReport {
  const o = obj(v, what);
  return {
    group: uint(o.group, `${what}.group`),
    term: uint(o.term, `${what}.term`),
    leader: uint(o.leader, `${what}.leader`),
    voters: list(o.voters, `${what}.voters`, nodeId),
    learners: list(o.learners, `${what}.learners`, nodeId),
    outgoing: list(o.outgoing, `${what}.outgoing`, nodeId),
    commit: uint(o.commit, `${what}.commit`),
    applied: uint(o.applied, `${what}.applied`),
    match: list(o.match, `${what}.match`, (m, w) => {
      if (!Array.isArray(m) || m.length !== 2) throw new InvalidControlMessageError(w);
      return [nodeId(m[0], w), uint(m[1], w)] as const;
    }),
  };
}

function operator(v: unknown, what: string): Operator {
  const o = obj(v, what);
  const group = uint(o.group, `${what}.group`);
  const node = nodeId(o.node, `${what}.node`);
  switch (o.kind) {
    case "add-learner":
    case "promote":
      return { group, kind: o.kind, node, peer: text(o.peer, `${what}.peer`) };
    case "remove":
    case "transfer-leader":
      return { group, kind: o.kind, node };
    default:
      throw new InvalidControlMessageError(`${what}.kind`);
  }
}

function shardMap(v: unknown): ShardMap {
  const o = obj(v, "map");
  return {
    revision: uint(o.revision, "map.revision"),
    shardCount: uint(o.shardCount, "map.shardCount"),
    replication: uint(o.replication, "map.replication"),
    nodes: list(o.nodes, "map.nodes", nodeRecord),
    groups: list(o.groups, "map.groups", groupRecord),
  };
}

export function nodeRecord(v: unknown, what: string): NodeRecord {
  const o = obj(v, what);
  if (typeof o.draining !== "boolean") throw new InvalidControlMessageError(`${what}.draining`);
  return {
    id: nodeId(o.id, `${what}.id`),
    peer: text(o.peer, `${what}.peer`),
    client: text(o.client, `${what}.client`),
    capacity: capacity(o.capacity, `${what}.capacity`),
    draining: o.draining,
  };
}

export function groupRecord(v: unknown, what: string): GroupRecord {
  const o = obj(v, what);
  return {
    group: uint(o.group, `${what}.group`),
    epoch: uint(o.epoch, `${what}.epoch`),
    replicas: list(o.replicas, `${what}.replicas`, nodeId),
  };
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new InvalidControlMessageError(`${what} is not an object`);
  }
  return v as Record<string, unknown>;
}

function uint(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new InvalidControlMessageError(`${what} is not a non-negative integer`);
  }
  return v;
}

function nodeId(v: unknown, what: string): number {
  const n = uint(v, what);
  if (n === 0) throw new InvalidControlMessageError(`${what} is 0`);
  return n;
}

function capacity(v: unknown, what: string): number {
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
    throw new InvalidControlMessageError(`${what} is not a positive number`);
  }
  return v;
}

function text(v: unknown, what: string): string {
  if (typeof v !== "string" || v.length > MAX_TEXT) {
    throw new InvalidControlMessageError(`${what} is not a string of at most ${MAX_TEXT}`);
  }
  return v;
}

function list<T>(v: unknown, what: string, item: (v: unknown, what: string) => T): T[] {
  if (!Array.isArray(v) || v.length > MAX_ITEMS) {
    throw new InvalidControlMessageError(`${what} is not a list of at most ${MAX_ITEMS}`);
  }
  return v.map((x, i) => item(x, `${what}[${i}]`));
}
