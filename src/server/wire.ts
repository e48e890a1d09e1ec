import type { KeyValue } from "../kv/index.js";
import { decodeBase64, encodeBase64 } from "./base64.js";
import { BadRequestError, TooLargeError } from "./errors.js";
import type { ServerLimits } from "./options.js";

/**
 * etcd's JSON gateway writes int64 fields as decimal strings; clients may send
 * either form. Negative values are not meaningful for any field here.
 */
export const int64Schema = {
  anyOf: [
    { type: "integer", minimum: 0 },
    { type: "string", pattern: "^[0-9]{1,20}$" },
  ],
} as const;

export const bytesSchema = { type: "string" } as const;

export function parseInt64(value: number | string | undefined, field: string): number {
  if (value === undefined) return 0;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new BadRequestError(`${field} must be an integer in [0, 2^53), got ${String(value)}`);
  }
  return n;
}

/** Decodes a base64 key and enforces the key size limit. Empty keys are left to kv's validation. */
export function decodeKey(text: string, field: string, limits: ServerLimits): Uint8Array {
  if (text.length > Math.ceil(limits.maxKeyBytes / 3) * 4 + 4) {
    throw new TooLargeError("KEY_TOO_LARGE", `${field} is longer than ${limits.maxKeyBytes} bytes`);
  }
  const bytes = decodeBase64(text, field);
  if (bytes.byteLength > limits.maxKeyBytes) {
    throw new TooLargeError(
      "KEY_TOO_LARGE",
      `${field} is ${bytes.byteLength} bytes; the limit is ${limits.maxKeyBytes}`,
    );
  }
  return bytes;
}

export function decodeValue(text: string, field: string, limits: ServerLimits): Uint8Array {
  if (text.length > Math.ceil(limits.maxValueBytes / 3) * 4 + 4) {
    throw new TooLargeError(
      "VALUE_TOO_LARGE",
      `${field} is longer than ${limits.maxValueBytes} bytes`,
    );
  }
  const bytes = decodeBase64(text, field);
  if (bytes.byteLength > limits.maxValueBytes) {
    throw new TooLargeError(
      "VALUE_TOO_LARGE",
      `${field} is ${bytes.byteLength} bytes; the limit is ${limits.maxValueBytes}`,
    );
  }
  return bytes;
}

export interface KeyValueJson {
  key: string;
  create_revision: string;
  mod_revision: string;
  version: string;
  value: string;
  lease: string;
}

export function keyValueJson(kv: KeyValue): KeyValueJson {
  return {
    key: encodeBase64(kv.key),
    create_revision: String(kv.createRevision),
    mod_revision: String(kv.modRevision),
    version: String(kv.version),
    value: encodeBase64(kv.value),
    lease: String(kv.lease),
  };
}

export function header(revision: number): { revision: string } {
  return { revision: String(revision) };
}
