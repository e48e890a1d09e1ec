import { fromBase64 } from "./bytes.js";
import { BadResponseError } from "./errors.js";

/**
 * Reading the server's JSON defensively: a wrong shape becomes a
 * BadResponseError naming the field instead of an undefined deep inside.
 */
export type Json = Record<string, unknown>;

export function asObject(value: unknown, what: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadResponseError(`${what} is not an object`);
  }
  return value as Json;
}

export function asArray(value: unknown, what: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new BadResponseError(`${what} is not an array`);
  return value;
}

/** int64 as etcd's gateway writes it (a decimal string), or a JSON number; absent is 0. */
export function asInt(value: unknown, what: string): number {
  if (value === undefined) return 0;
  const n = typeof value === "string" && /^-?[0-9]{1,20}$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) {
    throw new BadResponseError(`${what} is not an integer below 2^53: ${String(value)}`);
  }
  return n;
}

export function asBool(value: unknown, what: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") throw new BadResponseError(`${what} is not a boolean`);
  return value;
}

export function asString(value: unknown, what: string): string {
  if (typeof value !== "string") throw new BadResponseError(`${what} is not a string`);
  return value;
}

export function asBytes(value: unknown, what: string): Uint8Array {
  if (value === undefined) return new Uint8Array(0);
  return fromBase64(asString(value, what));
}

/** `header.revision` of an answer. */
export function headerRevision(body: Json, what: string): number {
  return asInt(asObject(body["header"], `${what}.header`)["revision"], `${what}.header.revision`);
}
