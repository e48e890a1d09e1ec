import { Packr } from "msgpackr";
import { InvalidKvCommandError } from "./errors.js";

/**
 * Member metadata replicated through the log: what each member calls itself
 * and where clients and peers reach it. Raft membership (who votes) lives in
 * the Raft configuration; this table only describes members, so an entry for
 * a removed member is harmless and simply no longer listed.
 */
export interface MemberAttributes {
  readonly id: number;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  /** Where etcd's gRPC API is served (`--listen-grpc`); none when it is not. */
  readonly grpcUrls?: readonly string[];
}

/** A command that sets one member's attributes; it does not change the key space's revision. */
export interface MemberAttributesCommand extends MemberAttributes {
  readonly type: "memberAttributes";
}

export interface MemberAttributesResult {
  readonly type: "memberAttributes";
  readonly revision: number;
}

/**
 * 0xc1 is the one byte MessagePack never uses, so an entry starting with it
 * cannot be a key-space command: member commands are told apart without a
 * second decode and without touching the key-space command codec.
 */
const MEMBER_COMMAND_TAG = 0xc1;
const MAX_NAME_BYTES = 256;
const MAX_URLS = 16;
const MAX_URL_BYTES = 1024;
const packr = new Packr({ useRecords: false, moreTypes: false });

/** The wire form inside a snapshot: [id, name, peerUrls, clientUrls, grpcUrls?]. */
export type MemberWire = [number, string, string[], string[], string[]?];

function fail(message: string): never {
  throw new InvalidKvCommandError(`member attributes: ${message}`);
}

function urls(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length > MAX_URLS) {
    fail(`${field} must be an array of at most ${MAX_URLS} strings`);
  }
  return value.map((u: unknown, i) => {
    if (typeof u !== "string" || u.length === 0 || u.length > MAX_URL_BYTES) {
      fail(`${field}[${i}] must be a non-empty string of at most ${MAX_URL_BYTES} characters`);
    }
    return u;
  });
}

/** Checks an untrusted value is a well-formed set of attributes; throws InvalidKvCommandError. */
export function validateMemberAttributes(raw: unknown): MemberAttributes {
  if (typeof raw !== "object" || raw === null) fail("must be an object");
  const f = raw as Record<string, unknown>;
  const id = f["id"];
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id <= 0) {
    fail(`id must be a positive integer, got ${String(id)}`);
  }
  const name = f["name"];
  if (typeof name !== "string" || Buffer.byteLength(name) > MAX_NAME_BYTES) {
    fail(`name must be a string of at most ${MAX_NAME_BYTES} bytes`);
  }
  return {
    id,
    name,
    peerUrls: urls(f["peerUrls"], "peerUrls"),
    clientUrls: urls(f["clientUrls"], "clientUrls"),
    // Absent from entries and snapshots written before the gRPC API existed.
    grpcUrls: f["grpcUrls"] === undefined ? [] : urls(f["grpcUrls"], "grpcUrls"),
  };
}

export function encodeMemberAttributes(attrs: MemberAttributes): Uint8Array {
  const valid = validateMemberAttributes(attrs);
  const body = packr.pack({ type: "memberAttributes", ...valid });
  const out = new Uint8Array(1 + body.byteLength);
  out[0] = MEMBER_COMMAND_TAG;
  out.set(body, 1);
  return out;
}

export function isMemberCommand(data: Uint8Array): boolean {
  return data.byteLength > 0 && data[0] === MEMBER_COMMAND_TAG;
}

export function decodeMemberCommand(data: Uint8Array): MemberAttributesCommand {
  let raw: unknown;
  try {
    raw = packr.unpack(data.subarray(1));
  } catch {
    fail("bytes are not valid MessagePack");
  }
  if ((raw as { type?: unknown } | null)?.type !== "memberAttributes") fail("unknown type");
  return { type: "memberAttributes", ...validateMemberAttributes(raw) };
}

/** Member id -> attributes, as applied from the log. */
export class MemberTable {
  readonly #members = new Map<number, MemberAttributes>();

  get(id: number): MemberAttributes | undefined {
    return this.#members.get(id);
  }

  all(): MemberAttributes[] {
    return [...this.#members.values()].sort((a, b) => a.id - b.id);
  }

  /** The first client URL of a member, for NOT_LEADER answers. */
  clientUrl(id: number): string | undefined {
    return this.#members.get(id)?.clientUrls[0];
  }

  set(attrs: MemberAttributes): void {
    this.#members.set(attrs.id, {
      id: attrs.id,
      name: attrs.name,
      peerUrls: [...attrs.peerUrls],
      clientUrls: [...attrs.clientUrls],
      grpcUrls: [...(attrs.grpcUrls ?? [])],
    });
  }

  toWire(): MemberWire[] {
    return this.all().map(toWire);
  }

  /** Replaces the table with a snapshot's; absent (an older snapshot) means empty. */
  restore(wire: readonly MemberWire[] | undefined): void {
    this.#members.clear();
    for (const m of wire ?? []) this.set(wireToAttributes(m));
  }
}

function toWire(m: MemberAttributes): MemberWire {
  const wire: MemberWire = [m.id, m.name, [...m.peerUrls], [...m.clientUrls]];
  if (m.grpcUrls !== undefined && m.grpcUrls.length > 0) wire.push([...m.grpcUrls]);
  return wire;
}

function wireToAttributes(m: MemberWire): MemberAttributes {
  return validateMemberAttributes({
    id: m[0],
    name: m[1],
    peerUrls: m[2],
    clientUrls: m[3],
    grpcUrls: m[4],
  });
}

/** Validates a snapshot header's optional members field. */
export function parseMemberWire(value: unknown): MemberWire[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new InvalidKvCommandError("kv snapshot is corrupt: members");
  return value.map((m: unknown) => {
    if (!Array.isArray(m) || m.length < 4 || m.length > 5) {
      throw new InvalidKvCommandError("kv snapshot is corrupt: member entry");
    }
    return toWire(wireToAttributes(m as MemberWire));
  });
}
