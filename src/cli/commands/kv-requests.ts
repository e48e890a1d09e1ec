/**
 * The flags of put, get and del, and how they become SDK requests. Shared by
 * the commands themselves and by `txn`, whose operation lines use the same
 * flags.
 */
import { type CommandSpec, type Flags, parseInteger } from "../args.js";
import type {
  DeleteOptions,
  PutOptions,
  RangeRequest,
  SortOrder,
  SortTarget,
} from "../client-port.js";

const rangeFlags = {
  prefix: { type: "boolean", description: "every key starting with KEY" },
  "range-end": {
    type: "string",
    valueName: "END",
    description: "every key in [KEY, END)",
  },
  "from-key": { type: "boolean", description: "every key >= KEY" },
} as const;

export const putSpec: CommandSpec = {
  name: "put",
  summary: "Writes VALUE under KEY (both taken as UTF-8 text). Prints OK.",
  args: [{ name: "KEY" }, { name: "VALUE" }],
  options: {
    lease: { type: "string", valueName: "ID", description: "attach the key to this lease" },
    "prev-kv": { type: "boolean", description: "also print the key's previous value" },
  },
  details:
    "A VALUE starting with - goes after --: conclave put counter -- -1\n" +
    "Example:\n  conclave put greeting hello --lease 7",
};

export const getSpec: CommandSpec = {
  name: "get",
  summary: "Reads a key or a range of keys; prints each key on one line and its value on the next.",
  args: [{ name: "KEY" }],
  options: {
    ...rangeFlags,
    limit: { type: "string", valueName: "N", description: "at most N keys (0: no limit)" },
    rev: { type: "string", valueName: "R", description: "read as of revision R" },
    "keys-only": { type: "boolean", description: "print keys without values" },
    "count-only": { type: "boolean", description: "print only how many keys match" },
    "sort-order": { type: "string", valueName: "ASC|DESC", description: "sort the result" },
    "sort-target": {
      type: "string",
      valueName: "KEY|VERSION|CREATE|MOD|VALUE",
      description: "what to sort by (default KEY when --sort-order is given)",
    },
    serializable: {
      type: "boolean",
      description: "answer from the endpoint's local state (may be stale)",
    },
  },
  details:
    "Keys and values that are not printable UTF-8 are shown as `(base64) <base64>`.\n" +
    "Examples:\n  conclave get greeting\n  conclave get app/ --prefix --keys-only --sort-order DESC",
};

export const delSpec: CommandSpec = {
  name: "del",
  summary: "Deletes a key or a range of keys; prints how many were deleted.",
  args: [{ name: "KEY" }],
  options: {
    ...rangeFlags,
    "prev-kv": { type: "boolean", description: "also print the deleted keys and values" },
  },
  details: "Example:\n  conclave del app/ --prefix",
};

/** The key range flags as `{ rangeEnd }` / `{ prefix }`. */
function keyRange(flags: Flags): { rangeEnd?: Uint8Array | string; prefix?: boolean } {
  flags.exclusive("prefix", "range-end", "from-key");
  if (flags.bool("prefix")) return { prefix: true };
  if (flags.bool("from-key")) return { rangeEnd: new Uint8Array([0]) };
  const end = flags.string("range-end");
  return end === undefined ? {} : { rangeEnd: end };
}

export function leaseId(text: string, fail: (message: string) => never): number {
  return parseInteger(text, "lease ID", 1, Number.MAX_SAFE_INTEGER, fail);
}

export function putOptions(flags: Flags): PutOptions {
  const lease = flags.string("lease");
  return {
    ...(lease !== undefined && { lease: leaseId(lease, (m) => flags.fail(`--lease: ${m}`)) }),
    ...(flags.bool("prev-kv") && { prevKv: true }),
  };
}

const SORT_ORDERS = ["ASC", "DESC", "NONE"] as const;
const SORT_TARGETS = ["KEY", "VERSION", "CREATE", "MOD", "VALUE"] as const;

export function rangeRequest(key: string, flags: Flags): RangeRequest {
  flags.exclusive("keys-only", "count-only");
  const limit = flags.int("limit", 0);
  const revision = flags.int("rev", 0);
  const order = flags.choice("sort-order", SORT_ORDERS);
  const target = flags.choice("sort-target", SORT_TARGETS);
  const sortOrder: SortOrder | undefined =
    order === undefined
      ? undefined
      : order === "ASC"
        ? "ascend"
        : order === "DESC"
          ? "descend"
          : "none";
  return {
    key,
    ...keyRange(flags),
    ...(limit !== undefined && limit > 0 && { limit }),
    ...(revision !== undefined && revision > 0 && { revision }),
    ...(sortOrder !== undefined && { sortOrder }),
    ...(target !== undefined && { sortTarget: target.toLowerCase() as SortTarget }),
    ...(flags.bool("keys-only") && { keysOnly: true }),
    ...(flags.bool("count-only") && { countOnly: true }),
    ...(flags.bool("serializable") && { serializable: true }),
  };
}

export function deleteOptions(flags: Flags): DeleteOptions {
  return { ...keyRange(flags), ...(flags.bool("prev-kv") && { prevKv: true }) };
}
