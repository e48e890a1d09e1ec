import { Packr } from "msgpackr";
import { commandDigest } from "./command-digest.js";
import { InvalidKvCommandError } from "./errors.js";
import type { KvCommand } from "./types.js";
import { validateCommand } from "./validate.js";

const packr = new Packr({ useRecords: false, moreTypes: false });

/**
 * Validates then encodes a command as MessagePack, for a Raft entry's data.
 * A request's digest is computed here, once, and carried in the entry.
 */
export function encodeCommand(command: KvCommand): Uint8Array {
  const valid = validateCommand(command);
  if (valid.type !== "request" || valid.digest !== undefined) return packr.pack(valid);
  const inner = valid.command;
  return packr.pack({
    type: "request",
    id: valid.id,
    command: inner,
    digest: commandDigest(inner),
  });
}

/** Decodes and validates an entry's data; throws a KvError naming the fault. */
export function decodeCommand(data: Uint8Array): KvCommand {
  let raw: unknown;
  try {
    raw = packr.unpack(data);
  } catch (error) {
    throw new InvalidKvCommandError(`command bytes are not valid MessagePack: ${String(error)}`);
  }
  return validateCommand(raw);
}
