import { type Bytes, prefixEnd, rangeStart, toBase64, toBytes } from "./bytes.js";
import { ClientError } from "./errors.js";
import {
  asArray,
  asBool,
  asBytes,
  asInt,
  asObject,
  headerRevision,
  type Json,
} from "./json-read.js";
import { KeyValue } from "./key-value.js";
import type {
  Compare,
  DeleteOptions,
  DeleteResult,
  KeyRange,
  PutOptions,
  PutResult,
  RangeRequest,
  RangeResult,
  TxnOp,
  TxnOpResult,
  TxnRequest,
  TxnResult,
} from "./kv-types.js";

/** Request and answer bodies of the kv routes, in etcd's JSON gateway spelling. */

function checkCount(value: number | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ClientError(
      "INVALID_ARGUMENT",
      `${what} must be a non-negative integer, got ${value}`,
    );
  }
  return value;
}

export function keyRangeJson(r: KeyRange): { key: string; range_end?: string } {
  const key = toBytes(r.key);
  if (r.prefix === true) {
    return { key: toBase64(rangeStart(key)), range_end: toBase64(prefixEnd(key)) };
  }
  return r.rangeEnd === undefined
    ? { key: toBase64(key) }
    : { key: toBase64(rangeStart(key)), range_end: toBase64(r.rangeEnd) };
}

export function rangeJson(r: RangeRequest): Json {
  return {
    ...keyRangeJson(r),
    ...(r.limit !== undefined && { limit: checkCount(r.limit, "limit") }),
    ...(r.revision !== undefined && { revision: checkCount(r.revision, "revision") }),
    ...(r.sortOrder !== undefined && { sort_order: r.sortOrder.toUpperCase() }),
    ...(r.sortTarget !== undefined && { sort_target: r.sortTarget.toUpperCase() }),
    ...(r.keysOnly !== undefined && { keys_only: r.keysOnly }),
    ...(r.countOnly !== undefined && { count_only: r.countOnly }),
    ...(r.serializable !== undefined && { serializable: r.serializable }),
  };
}

export function putJson(key: Bytes, value: Bytes, o: PutOptions): Json {
  return {
    key: toBase64(key),
    value: toBase64(value),
    ...(o.lease !== undefined && { lease: checkCount(o.lease, "lease") }),
    ...(o.prevKv !== undefined && { prev_kv: o.prevKv }),
    ...(o.ignoreValue !== undefined && { ignore_value: o.ignoreValue }),
    ...(o.ignoreLease !== undefined && { ignore_lease: o.ignoreLease }),
  };
}

/** The path of a put whose value is sent as raw bytes (the server's /v3/kv/value). */
export function rawValuePath(key: Bytes, o: PutOptions): string {
  const lease = o.lease === undefined ? undefined : checkCount(o.lease, "lease");
  const query = new URLSearchParams({
    key: toBase64(key),
    ...(lease !== undefined && { lease: String(lease) }),
  });
  return `/v3/kv/value?${query}`;
}

export function deleteJson(key: Bytes, o: DeleteOptions): Json {
  return {
    ...keyRangeJson({ key, ...o }),
    ...(o.prevKv !== undefined && { prev_kv: o.prevKv }),
  };
}

const COMPARE_FIELDS = {
  version: ["VERSION", "version"],
  create: ["CREATE", "create_revision"],
  mod: ["MOD", "mod_revision"],
  lease: ["LEASE", "lease"],
} as const;

const COMPARE_RESULTS = {
  equal: "EQUAL",
  notEqual: "NOT_EQUAL",
  less: "LESS",
  greater: "GREATER",
} as const;

function compareJson(c: Compare): Json {
  const base = { ...keyRangeJson(c), result: COMPARE_RESULTS[c.result ?? "equal"] };
  if (c.target === "value") return { ...base, target: "VALUE", value: toBase64(c.value) };
  const [target, field] = COMPARE_FIELDS[c.target];
  return { ...base, target, [field]: checkCount(c.value, `compare ${field}`) };
}

function opJson(op: TxnOp): Json {
  switch (op.type) {
    case "range":
      return { request_range: rangeJson(op) };
    case "put":
      return { request_put: putJson(op.key, op.value, op) };
    case "delete":
      return { request_delete_range: deleteJson(op.key, op) };
    case "txn":
      return { request_txn: txnJson(op) };
  }
}

export function txnJson(t: TxnRequest): Json {
  return {
    compare: (t.compare ?? []).map(compareJson),
    success: (t.success ?? []).map(opJson),
    failure: (t.failure ?? []).map(opJson),
  };
}

// ---- answers -------------------------------------------------------------------

export function rangeResult(value: unknown, what = "range"): RangeResult {
  const o = asObject(value, what);
  return {
    revision: headerRevision(o, what),
    kvs: asArray(o["kvs"], `${what}.kvs`).map((kv, i) =>
      KeyValue.fromJson(kv, `${what}.kvs[${i}]`),
    ),
    more: asBool(o["more"], `${what}.more`),
    count: asInt(o["count"], `${what}.count`),
    ...(o["next_key"] !== undefined && { nextKey: asBytes(o["next_key"], `${what}.next_key`) }),
  };
}

export function putResult(value: unknown, what = "put"): PutResult {
  const o = asObject(value, what);
  const revision = headerRevision(o, what);
  return o["prev_kv"] === undefined
    ? { revision }
    : { revision, prevKv: KeyValue.fromJson(o["prev_kv"], `${what}.prev_kv`) };
}

export function deleteResult(value: unknown, what = "deleterange"): DeleteResult {
  const o = asObject(value, what);
  return {
    revision: headerRevision(o, what),
    deleted: asInt(o["deleted"], `${what}.deleted`),
    prevKvs: asArray(o["prev_kvs"], `${what}.prev_kvs`).map((kv, i) =>
      KeyValue.fromJson(kv, `${what}.prev_kvs[${i}]`),
    ),
  };
}

function opResult(value: unknown, what: string): TxnOpResult {
  const o = asObject(value, what);
  if (o["response_range"] !== undefined) {
    return { type: "range", ...rangeResult(o["response_range"], `${what}.response_range`) };
  }
  if (o["response_put"] !== undefined) {
    return { type: "put", ...putResult(o["response_put"], `${what}.response_put`) };
  }
  if (o["response_delete_range"] !== undefined) {
    const at = `${what}.response_delete_range`;
    return { type: "delete", ...deleteResult(o["response_delete_range"], at) };
  }
  return { type: "txn", ...txnResult(o["response_txn"], `${what}.response_txn`) };
}

export function txnResult(value: unknown, what = "txn"): TxnResult {
  const o = asObject(value, what);
  return {
    revision: headerRevision(o, what),
    succeeded: asBool(o["succeeded"], `${what}.succeeded`),
    responses: asArray(o["responses"], `${what}.responses`).map((r, i) =>
      opResult(r, `${what}.responses[${i}]`),
    ),
  };
}
