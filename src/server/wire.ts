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

/**
 * etcd's answers leave out every field at its zero value (proto3 on the
 * gRPC wire, and its JSON gateway, which does not emit defaults): a key
 * with no lease has no `lease`, an empty value no `value`. Clients read
 * an absent field as zero.
 */
export interface KeyValueJson {
  key?: string;
  create_revision?: string;
  mod_revision?: string;
  version?: string;
  value?: string;
  lease?: string;
}

/** `value` as an int64 field of an answer: absent at zero. */
export function int64Field<K extends string>(name: K, value: number): { [P in K]?: string } {
  return (value === 0 ? {} : { [name]: String(value) }) as { [P in K]?: string };
}

export function keyValueJson(kv: KeyValue): KeyValueJson {
  return {
    ...(kv.key.byteLength > 0 && { key: encodeBase64(kv.key) }),
    ...int64Field("create_revision", kv.createRevision),
    ...int64Field("mod_revision", kv.modRevision),
    ...int64Field("version", kv.version),
    ...(kv.value.byteLength > 0 && { value: encodeBase64(kv.value) }),
    ...int64Field("lease", kv.lease),
  };
}

export function header(revision: number): { revision?: string } {
  return int64Field("revision", revision);
}
