import { Packr } from "msgpackr";
import { InvalidKvCommandError } from "./errors.js";
import type { KvCommand } from "./types.js";
import { validateCommand } from "./validate.js";

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Validates then encodes a command as MessagePack, for a Raft entry's data. */
export function encodeCommand(command: KvCommand): Uint8Array {
  return packr.pack(validateCommand(command));
}

/**
 * Decodes and validates an entry's data; throws a KvError naming the fault.
 * Leaves `data` as it was: msgpackr keeps a DataView as a property of the
 * array it reads, and a log entry's bytes live as long as the log keeps the
 * entry, so it reads a throwaway view of them instead.
 */
export function decodeCommand(data: Uint8Array): KvCommand {
  let raw: unknown;
  try {
    raw = packr.unpack(data.subarray());
  } catch (error) {
    throw new InvalidKvCommandError(`command bytes are not valid MessagePack: ${String(error)}`);
  }
  return validateCommand(raw);
}
