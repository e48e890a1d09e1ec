import { MAX_INDEX, MAX_TERM } from "../core/limits.js";
import type { ConfState, Entry, Message, Snapshot } from "../core/types.js";
import { EntryType, isLocalMessage, MessageType } from "../core/types.js";
import { InvalidMessageError } from "./errors.js";

/**
 * Checks that a value has the exact shape of a Raft message that may cross
 * the network, and returns a fresh object holding only the known fields.
 * Anything else — a float where an integer belongs, an unknown or local-only
 * type, a missing snapshot on a snap message, a term above MAX_TERM or an
 * index above MAX_INDEX — throws InvalidMessageError naming the field, so a
 * malformed frame never reaches the core. The ceilings keep every sum the
 * core forms (term + 1, index + entries) an exact integer; checks against
 * the receiver's own state are the node's (src/raft/node/message-guard.ts).
 *
 * `copyBytes` copies every byte array into its own right-sized Uint8Array:
 * decoded payloads would otherwise be views that keep a whole receive buffer
 * alive for as long as the entry is held. Entries' data of `keepViewsFrom`
 * bytes or more are kept as views all the same (the caller knows the buffer
 * holds nothing else).
 */
export function validateMessage(
  value: unknown,
  copyBytes: boolean,
  keepViewsFrom = Number.POSITIVE_INFINITY,
): Message {
  if (!isRecord(value)) throw new InvalidMessageError("message", "is not an object");
  const type = messageType(value["type"]);
  const snapshotValue = value["snapshot"];
  let snapshot: Snapshot | undefined;
  if (type === MessageType.Snap) {
    if (snapshotValue === undefined || snapshotValue === null) {
      throw new InvalidMessageError("snapshot", "is required on a snap message");
    }
    snapshot = validateSnapshot(snapshotValue, copyBytes);
  } else if (snapshotValue !== undefined && snapshotValue !== null) {
    throw new InvalidMessageError("snapshot", `is only allowed on snap messages, not ${type}`);
  }
  const msg: Message = {
    type,
    to: nodeId(value["to"], "to"),
    from: nodeId(value["from"], "from"),
    term: count(value["term"], "term", MAX_TERM),
    logTerm: count(value["logTerm"], "logTerm", MAX_TERM),
    index: count(value["index"], "index", MAX_INDEX),
    entries: entries(value["entries"], copyBytes, keepViewsFrom),
    commit: count(value["commit"], "commit", MAX_INDEX),
    reject: bool(value["reject"], "reject"),
    rejectHint: count(value["rejectHint"], "rejectHint", MAX_INDEX),
    context: str(value["context"], "context"),
    ...(snapshot === undefined ? {} : { snapshot }),
  };
  return msg;
}

const NETWORK_TYPES: ReadonlySet<string> = new Set(
  Object.values(MessageType).filter((t) => !isLocalMessage(t)),
);

function messageType(v: unknown): MessageType {
  if (typeof v !== "string") throw new InvalidMessageError("type", "is not a string");
  if (!NETWORK_TYPES.has(v)) {
    throw new InvalidMessageError("type", `${JSON.stringify(v)} is not a network message type`);
  }
  return v as MessageType;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function count(v: unknown, path: string, max: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new InvalidMessageError(path, `must be a non-negative integer, got ${describe(v)}`);
  }
  if (v > max) throw new InvalidMessageError(path, `must be at most ${max}, got ${v}`);
  return v;
}

function nodeId(v: unknown, path: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
    throw new InvalidMessageError(path, `must be a positive integer node id, got ${describe(v)}`);
  }
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== "boolean")
    throw new InvalidMessageError(path, `must be a boolean, got ${describe(v)}`);
  return v;
}

function str(v: unknown, path: string): string {
  if (typeof v !== "string")
    throw new InvalidMessageError(path, `must be a string, got ${describe(v)}`);
  return v;
}

function bytes(
  v: unknown,
  path: string,
  copy: boolean,
  keepViewsFrom = Number.POSITIVE_INFINITY,
): Uint8Array {
  if (!(v instanceof Uint8Array)) {
    throw new InvalidMessageError(path, `must be a Uint8Array, got ${describe(v)}`);
  }
  if (!copy) return v;
  // A plain Uint8Array either way: callers compare and store these, and a Buffer is a different type.
  return v.byteLength >= keepViewsFrom
    ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
    : new Uint8Array(v);
}

function entries(v: unknown, copy: boolean, keepViewsFrom: number): Entry[] {
  if (!Array.isArray(v)) throw new InvalidMessageError("entries", "must be an array");
  const out: Entry[] = new Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const e: unknown = v[i];
    const path = `entries[${i}]`;
    if (!isRecord(e)) throw new InvalidMessageError(path, "is not an object");
    const type = e["type"];
    if (type !== EntryType.Normal && type !== EntryType.ConfChange) {
      throw new InvalidMessageError(`${path}.type`, `is not a known entry type: ${describe(type)}`);
    }
    out[i] = {
      term: count(e["term"], `${path}.term`, MAX_TERM),
      index: count(e["index"], `${path}.index`, MAX_INDEX),
      type,
      data: bytes(e["data"], `${path}.data`, copy, keepViewsFrom),
    };
  }
  return out;
}

function nodeIds(v: unknown, path: string): number[] {
  if (!Array.isArray(v)) throw new InvalidMessageError(path, "must be an array");
  return v.map((id, i) => nodeId(id, `${path}[${i}]`));
}

function validateConfState(v: unknown): ConfState {
  if (!isRecord(v))
    throw new InvalidMessageError("snapshot.metadata.confState", "is not an object");
  const p = "snapshot.metadata.confState";
  return {
    voters: nodeIds(v["voters"], `${p}.voters`),
    votersOutgoing: nodeIds(v["votersOutgoing"], `${p}.votersOutgoing`),
    learners: nodeIds(v["learners"], `${p}.learners`),
    learnersNext: nodeIds(v["learnersNext"], `${p}.learnersNext`),
    autoLeave: bool(v["autoLeave"], `${p}.autoLeave`),
  };
}

function validateSnapshot(v: unknown, copy: boolean): Snapshot {
  if (!isRecord(v)) throw new InvalidMessageError("snapshot", "is not an object");
  const meta = v["metadata"];
  if (!isRecord(meta)) throw new InvalidMessageError("snapshot.metadata", "is not an object");
  return {
    metadata: {
      index: count(meta["index"], "snapshot.metadata.index", MAX_INDEX),
      term: count(meta["term"], "snapshot.metadata.term", MAX_TERM),
      confState: validateConfState(meta["confState"]),
    },
    data: bytes(v["data"], "snapshot.data", copy),
  };
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (v instanceof Uint8Array) return `${v.byteLength} bytes`;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return typeof v;
}
