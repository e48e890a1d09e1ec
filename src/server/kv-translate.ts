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
  Int64Json,
  PutRequestJson,
  RangeRequestJson,
  RequestOpJson,
  TxnRequestJson,
} from "./kv-schemas.js";
import type { ServerLimits } from "./options.js";
import { decodeKey, decodeValue, header, int64Field, keyValueJson, parseInt64 } from "./wire.js";

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
    ...revisionBounds(req, at),
  };
}

/** The range's revision bounds, only those set: a command without them stays as it was. */
function revisionBounds(req: RangeRequestJson, at: string) {
  const bound = (value: Int64Json | undefined, field: string) => parseInt64(value, `${at}${field}`);
  const minMod = bound(req.min_mod_revision, "min_mod_revision");
  const maxMod = bound(req.max_mod_revision, "max_mod_revision");
  const minCreate = bound(req.min_create_revision, "min_create_revision");
  const maxCreate = bound(req.max_create_revision, "max_create_revision");
  return {
    ...(minMod > 0 && { minModRevision: minMod }),
    ...(maxMod > 0 && { maxModRevision: maxMod }),
    ...(minCreate > 0 && { minCreateRevision: minCreate }),
    ...(maxCreate > 0 && { maxCreateRevision: maxCreate }),
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
    ...(r.kvs.length > 0 && { kvs: r.kvs.map(keyValueJson) }),
    ...(r.more && { more: true }),
    ...int64Field("count", r.count),
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
    ...int64Field("deleted", r.deleted),
    ...(r.prevKvs.length > 0 && { prev_kvs: r.prevKvs.map(keyValueJson) }),
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
      return { response_txn: txnJson(r, true) };
  }
}

/**
 * A txn's answer. etcd gives a nested txn's answer an empty header (only
 * the outermost answer and the range, put and delete answers carry the
 * revision).
 */
export function txnJson(r: TxnResult, nested = false): object {
  return {
    header: nested ? {} : header(r.revision),
    ...(r.succeeded && { succeeded: true }),
    ...(r.responses.length > 0 && { responses: r.responses.map(opResultJson) }),
  };
}
