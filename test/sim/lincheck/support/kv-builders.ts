import type { KvInput, KvOperation } from "../../../../src/sim/lincheck/index.js";

/** Terse constructors for hand-written key-value histories. */
export const get = (
  clientId: number,
  call: number,
  ret: number,
  key: string,
  value: string | null,
): KvOperation => ({ clientId, call, ret, input: { op: "get", key }, output: { value } });

export const put = (
  clientId: number,
  call: number,
  ret: number,
  key: string,
  value: string,
): KvOperation => ({ clientId, call, ret, input: { op: "put", key, value }, output: {} });

export const del = (
  clientId: number,
  call: number,
  ret: number,
  key: string,
  existed?: boolean,
): KvOperation => ({
  clientId,
  call,
  ret,
  input: { op: "delete", key },
  output: existed === undefined ? {} : { existed },
});

export const cas = (
  clientId: number,
  call: number,
  ret: number,
  key: string,
  expected: string | null,
  value: string,
  ok: boolean,
): KvOperation => ({
  clientId,
  call,
  ret,
  input: { op: "cas", key, expected, value },
  output: { ok },
});

/** An operation whose client never learned the outcome. */
export const pending = (clientId: number, call: number, input: KvInput): KvOperation => ({
  clientId,
  call,
  input,
});

/** Gives every operation its index as id, so tests can name them. */
export const numbered = (ops: readonly KvOperation[]): KvOperation[] =>
  ops.map((op, id) => ({ ...op, id }));
