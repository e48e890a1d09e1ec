import { InvalidArgumentError } from "../../errors.js";
import { FrameDecodeError } from "./errors.js";

/** The largest Raft group id: group ids are u32 on the wire. */
export const MAX_GROUP = 0xffff_ffff;

/** Bytes of the group id that leads the body of a group frame. */
export const GROUP_PREFIX_BYTES = 4;

/** Checks a group id argument: an integer in [0, 2^32 − 1]. */
export function validateGroup(group: unknown, what = "group"): number {
  if (typeof group !== "number" || !Number.isInteger(group) || group < 0 || group > MAX_GROUP) {
    throw new InvalidArgumentError(
      `${what} must be an integer in [0, ${MAX_GROUP}], got ${String(group)}`,
    );
  }
  return group;
}

/** A group frame's body: the u32 big-endian group id, then `body`. */
export function withGroupPrefix(group: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(GROUP_PREFIX_BYTES + body.byteLength);
  new DataView(out.buffer).setUint32(0, group);
  out.set(body, GROUP_PREFIX_BYTES);
  return out;
}

/**
 * Splits a group frame's body into its group and the rest. Group 0 never
 * travels in a group frame (it keeps the original frame kinds), so a group
 * frame naming it is malformed, as is one too short to hold a group.
 */
export function splitGroupPrefix(body: Uint8Array): { group: number; rest: Uint8Array } {
  if (body.byteLength < GROUP_PREFIX_BYTES) {
    throw new FrameDecodeError(
      `group frame of ${body.byteLength} bytes is too short for its group id`,
    );
  }
  const group = new DataView(body.buffer, body.byteOffset, GROUP_PREFIX_BYTES).getUint32(0);
  if (group === 0) {
    throw new FrameDecodeError("group 0 must travel in a plain (not group) frame");
  }
  return { group, rest: body.subarray(GROUP_PREFIX_BYTES) };
}

/**
 * Checks a control payload: a Uint8Array that fits in one frame of
 * `maxFrameBytes` (kind byte + payload).
 */
export function validateControlPayload(payload: unknown, maxFrameBytes: number): Uint8Array {
  if (!(payload instanceof Uint8Array)) {
    throw new InvalidArgumentError("a control payload must be a Uint8Array");
  }
  if (payload.byteLength + 1 > maxFrameBytes) {
    throw new InvalidArgumentError(
      `control payload of ${payload.byteLength} bytes does not fit in a frame of ${maxFrameBytes} bytes`,
    );
  }
  return payload;
}
