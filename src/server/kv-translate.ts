import type {
  Compare,
  DeleteRangeCommand,
  DeleteRangeResult,
  PutCommand,
  PutResult,
  RangeCommand,
  RangeResult,
  SortOrder,
  SortTarget,
  TxnCommand,
  TxnOp,
  TxnOpResult,
  TxnResult,
} from "../kv/index.js";
import { encodeBase64 } from "./base64.js";
import { TooManyOpsError } from "./errors.js";
import type {
  CompareJson,
  DeleteRangeRequestJson,
  PutRequestJson,
  RangeRequestJson,
  RequestOpJson,
  TxnRequestJson,
} from "./kv-schemas.js";
import type { ServerLimits } from "./options.js";
import { decodeKey, decodeValue, header, keyValueJson, parseInt64 } from "./wire.js";

const SORT_TARGETS: Record<string, SortTarget> = {
  KEY: "key",
  VERSION: "version",
  CREATE: "create",
  MOD: "mod",
  VALUE: "value",
};

export function rangeCommand(req: RangeRequestJson, limits: ServerLimits, at = ""): RangeCommand {
  const order = req.sort_order ?? "NONE";
  const target = req.sort_target ?? "KEY";
  // etcd: no order with a non-key target means ascending; no order on keys is key order already.
  let sortOrder: SortOrder | undefined;
  if (order === "ASCEND") sortOrder = "ascend";
  else if (order === "DESCEND") sortOrder = "descend";
  else if (target !== "KEY") sortOrder = "ascend";
  return {
    type: "range",
    key: decodeKey(req.key, `${at}key`, limits),
    ...(req.range_end !== undefined && {
      rangeEnd: decodeKey(req.range_end, `${at}range_end`, limits),
    }),
    revision: parseInt64(req.revision, `${at}revision`),
    limit: parseInt64(req.limit, `${at}limit`),
    ...(sortOrder !== undefined && { sortOrder, sortTarget: SORT_TARGETS[target] ?? "key" }),
    keysOnly: req.keys_only ?? false,
    countOnly: req.count_only ?? false,
  };
}

export function putCommand(req: PutRequestJson, limits: ServerLimits, at = ""): PutCommand {
  return {
    type: "put",
    key: decodeKey(req.key, `${at}key`, limits),
    value: decodeValue(req.value ?? "", `${at}value`, limits),
    lease: parseInt64(req.lease, `${at}lease`),
    prevKv: req.prev_kv ?? false,
    ignoreValue: req.ignore_value ?? false,
    ignoreLease: req.ignore_lease ?? false,
  };
}

export function deleteRangeCommand(
  req: DeleteRangeRequestJson,
  limits: ServerLimits,
  at = "",
): DeleteRangeCommand {
  return {
    type: "deleteRange",
    key: decodeKey(req.key, `${at}key`, limits),
    ...(req.range_end !== undefined && {
      rangeEnd: decodeKey(req.range_end, `${at}range_end`, limits),
    }),
    prevKv: req.prev_kv ?? false,
  };
}

const COMPARE_RESULTS = {
  EQUAL: "equal",
  GREATER: "greater",
  LESS: "less",
  NOT_EQUAL: "notEqual",
} as const;

function compare(c: CompareJson, limits: ServerLimits, at: string): Compare {
  const target = c.target ?? "VERSION";
  const base = {
    key: decodeKey(c.key, `${at}key`, limits),
    ...(c.range_end !== undefined && {
      rangeEnd: decodeKey(c.range_end, `${at}range_end`, limits),
    }),
    result: COMPARE_RESULTS[c.result ?? "EQUAL"],
  };
  switch (target) {
    case "VALUE":
      return { ...base, target: "value", value: decodeValue(c.value ?? "", `${at}value`, limits) };
    case "VERSION":
      return { ...base, target: "version", value: parseInt64(c.version, `${at}version`) };
    case "CREATE":
      return {
        ...base,
        target: "create",
        value: parseInt64(c.create_revision, `${at}create_revision`),
      };
    case "MOD":
      return { ...base, target: "mod", value: parseInt64(c.mod_revision, `${at}mod_revision`) };
    case "LEASE":
      return { ...base, target: "lease", value: parseInt64(c.lease, `${at}lease`) };
  }
}

function op(o: RequestOpJson, limits: ServerLimits, at: string): TxnOp {
  if ("request_range" in o) return rangeCommand(o.request_range, limits, `${at}request_range.`);
  if ("request_put" in o) return putCommand(o.request_put, limits, `${at}request_put.`);
  if ("request_delete_range" in o) {
    return deleteRangeCommand(o.request_delete_range, limits, `${at}request_delete_range.`);
  }
  return txnTree(o.request_txn, limits, `${at}request_txn.`);
}

function txnTree(req: TxnRequestJson, limits: ServerLimits, at: string): TxnCommand {
  return {
    type: "txn",
    compare: (req.compare ?? []).map((c, i) => compare(c, limits, `${at}compare[${i}].`)),
    success: (req.success ?? []).map((o, i) => op(o, limits, `${at}success[${i}].`)),
    failure: (req.failure ?? []).map((o, i) => op(o, limits, `${at}failure[${i}].`)),
  };
}

/** Counts compares and ops of every nesting level, so nesting cannot dodge the limit. */
function countOps(req: TxnRequestJson): number {
  let n = req.compare?.length ?? 0;
  for (const o of [...(req.success ?? []), ...(req.failure ?? [])]) {
    n += 1;
    if ("request_txn" in o) n += countOps(o.request_txn);
  }
  return n;
}

export function txnCommand(req: TxnRequestJson, limits: ServerLimits): TxnCommand {
  const count = countOps(req);
  if (count > limits.maxTxnOps) throw new TooManyOpsError(count, limits.maxTxnOps);
  return txnTree(req, limits, "");
}

// ---- results ------------------------------------------------------------------

export function rangeJson(r: RangeResult) {
  return {
    header: header(r.revision),
    kvs: r.kvs.map(keyValueJson),
    more: r.more,
    count: String(r.count),
    // Not in etcd's answer: where the next page starts when a byte budget cut this one.
    ...(r.nextKey !== undefined && { next_key: encodeBase64(r.nextKey) }),
  };
}

export function putJson(r: PutResult) {
  return {
    header: header(r.revision),
    ...(r.prevKv !== undefined && { prev_kv: keyValueJson(r.prevKv) }),
  };
}

export function deleteRangeJson(r: DeleteRangeResult) {
  return {
    header: header(r.revision),
    deleted: String(r.deleted),
    prev_kvs: r.prevKvs.map(keyValueJson),
  };
}

function opResultJson(r: TxnOpResult): object {
  switch (r.type) {
    case "range":
      return { response_range: rangeJson(r) };
    case "put":
      return { response_put: putJson(r) };
    case "deleteRange":
      return { response_delete_range: deleteRangeJson(r) };
    case "txn":
      return { response_txn: txnJson(r) };
  }
}

export function txnJson(r: TxnResult): object {
  return {
    header: header(r.revision),
    succeeded: r.succeeded,
    responses: r.responses.map(opResultJson),
  };
}
