import { ALARM_TYPES } from "./alarms.js";
import { validateAuthCommand } from "./auth-validate.js";
import { InvalidKvCommandError, LeaseProvidedError, ValueProvidedError } from "./errors.js";
import { MAX_CHECKPOINTS_PER_ENTRY } from "./lease-checkpoints.js";
import { REQUEST_ID_PATTERN } from "./requests.js";
import { checkNoDuplicateWrites } from "./txn-duplicates.js";
import type { Compare, KvCommand, LeaseCheckpoint, TxnCommand, TxnOp } from "./types.js";

const MAX_TXN_DEPTH = 16;
const MAX_TXN_OPS = 10_000;

type Fields = Record<string, unknown>;

function record(value: unknown, what: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidKvCommandError(`${what} must be an object`);
  }
  return value as Fields;
}

function onlyFields(f: Fields, allowed: readonly string[], what: string): void {
  for (const name of Object.keys(f)) {
    if (!allowed.includes(name) && f[name] !== undefined) {
      throw new InvalidKvCommandError(`${what} has unknown field "${name}"`);
    }
  }
}

function bytes(f: Fields, name: string, what: string, opts: { nonEmpty?: boolean } = {}) {
  const v = f[name];
  if (!(v instanceof Uint8Array)) throw new InvalidKvCommandError(`${what}.${name} must be bytes`);
  if (opts.nonEmpty && v.byteLength === 0) {
    throw new InvalidKvCommandError(`${what}.${name} must not be empty`);
  }
  // Decoders hand back Buffers; a plain view keeps equality and encoding uniform.
  return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function optionalBytes(f: Fields, name: string, what: string): Uint8Array | undefined {
  return f[name] === undefined ? undefined : bytes(f, name, what);
}

function integer(v: unknown, name: string, what: string, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new InvalidKvCommandError(
      `${what}.${name} must be an integer >= ${min}, got ${String(v)}`,
    );
  }
  return v;
}

function optionalInteger(f: Fields, name: string, what: string, min = 0): number | undefined {
  return f[name] === undefined ? undefined : integer(f[name], name, what, min);
}

function optionalBool(f: Fields, name: string, what: string): boolean | undefined {
  const v = f[name];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw new InvalidKvCommandError(`${what}.${name} must be a boolean`);
  return v;
}

function oneOf<T extends string>(
  f: Fields,
  name: string,
  what: string,
  allowed: readonly T[],
): T | undefined {
  const v = f[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
    throw new InvalidKvCommandError(`${what}.${name} must be one of ${allowed.join(", ")}`);
  }
  return v as T;
}

function strip<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function validateCompare(raw: unknown, what: string): Compare {
  const f = record(raw, what);
  onlyFields(f, ["key", "rangeEnd", "target", "result", "value"], what);
  const target = oneOf(f, "target", what, ["value", "version", "create", "mod", "lease"] as const);
  const result = oneOf(f, "result", what, ["equal", "notEqual", "less", "greater"] as const);
  if (target === undefined || result === undefined) {
    throw new InvalidKvCommandError(`${what} needs target and result`);
  }
  const value =
    target === "value" ? bytes(f, "value", what) : integer(f["value"], "value", what, 0);
  return strip({
    key: bytes(f, "key", what, { nonEmpty: true }),
    rangeEnd: optionalBytes(f, "rangeEnd", what),
    target,
    result,
    value,
  });
}

function validateOp(raw: unknown, what: string, depth: number): KvCommand {
  const f = record(raw, what);
  switch (f["type"]) {
    case "range":
      onlyFields(
        f,
        [
          "type",
          "key",
          "rangeEnd",
          "revision",
          "limit",
          "sortTarget",
          "sortOrder",
          "keysOnly",
          "countOnly",
          "minModRevision",
          "maxModRevision",
          "minCreateRevision",
          "maxCreateRevision",
        ],
        what,
      );
      return strip({
        type: "range",
        key: bytes(f, "key", what, { nonEmpty: true }),
        rangeEnd: optionalBytes(f, "rangeEnd", what),
        revision: optionalInteger(f, "revision", what),
        limit: optionalInteger(f, "limit", what),
        sortTarget: oneOf(f, "sortTarget", what, [
          "key",
          "version",
          "create",
          "mod",
          "value",
        ] as const),
        sortOrder: oneOf(f, "sortOrder", what, ["ascend", "descend"] as const),
        keysOnly: optionalBool(f, "keysOnly", what),
        countOnly: optionalBool(f, "countOnly", what),
        minModRevision: optionalInteger(f, "minModRevision", what),
        maxModRevision: optionalInteger(f, "maxModRevision", what),
        minCreateRevision: optionalInteger(f, "minCreateRevision", what),
        maxCreateRevision: optionalInteger(f, "maxCreateRevision", what),
      });
    case "put": {
      onlyFields(
        f,
        ["type", "key", "value", "lease", "prevKv", "ignoreValue", "ignoreLease"],
        what,
      );
      const cmd = strip({
        type: "put" as const,
        key: bytes(f, "key", what, { nonEmpty: true }),
        value: bytes(f, "value", what),
        lease: optionalInteger(f, "lease", what),
        prevKv: optionalBool(f, "prevKv", what),
        ignoreValue: optionalBool(f, "ignoreValue", what),
        ignoreLease: optionalBool(f, "ignoreLease", what),
      });
      if (cmd.ignoreValue && cmd.value.byteLength > 0) throw new ValueProvidedError();
      if (cmd.ignoreLease && (cmd.lease ?? 0) !== 0) throw new LeaseProvidedError();
      return cmd;
    }
    case "deleteRange":
      onlyFields(f, ["type", "key", "rangeEnd", "prevKv"], what);
      return strip({
        type: "deleteRange",
        key: bytes(f, "key", what, { nonEmpty: true }),
        rangeEnd: optionalBytes(f, "rangeEnd", what),
        prevKv: optionalBool(f, "prevKv", what),
      });
    case "txn": {
      if (depth >= MAX_TXN_DEPTH) {
        throw new InvalidKvCommandError(`${what} nests txns deeper than ${MAX_TXN_DEPTH}`);
      }
      onlyFields(f, ["type", "compare", "success", "failure"], what);
      const list = (name: string): unknown[] => {
        const v = f[name] ?? [];
        if (!Array.isArray(v)) throw new InvalidKvCommandError(`${what}.${name} must be an array`);
        if (v.length > MAX_TXN_OPS) {
          throw new InvalidKvCommandError(`${what}.${name} has more than ${MAX_TXN_OPS} entries`);
        }
        return v;
      };
      const ops = (name: string): TxnOp[] =>
        list(name).map((op, i) => {
          const cmd = validateOp(op, `${what}.${name}[${i}]`, depth + 1);
          if (!["range", "put", "deleteRange", "txn"].includes(cmd.type)) {
            throw new InvalidKvCommandError(`${what}.${name}[${i}]: ${cmd.type} is not a txn op`);
          }
          return cmd as TxnOp;
        });
      const txn: TxnCommand = {
        type: "txn",
        compare: list("compare").map((c, i) => validateCompare(c, `${what}.compare[${i}]`)),
        success: ops("success"),
        failure: ops("failure"),
      };
      if (depth === 0) checkNoDuplicateWrites(txn);
      return txn;
    }
    case "compact":
      onlyFields(f, ["type", "revision"], what);
      // 0 is taken, as etcd takes it: it is at or below any compaction point, so it is refused
      // as compacted, not as malformed.
      return { type: "compact", revision: integer(f["revision"], "revision", what, 0) };
    case "leaseGrant":
      onlyFields(f, ["type", "id", "ttlMs"], what);
      return strip({
        type: "leaseGrant",
        id: optionalInteger(f, "id", what),
        ttlMs: integer(f["ttlMs"], "ttlMs", what, 1),
      });
    case "leaseRevoke":
      onlyFields(f, ["type", "id", "ifRenewals"], what);
      return strip({
        type: "leaseRevoke",
        id: integer(f["id"], "id", what, 1),
        ifRenewals: optionalInteger(f, "ifRenewals", what),
      });
    case "leaseKeepAlive":
      onlyFields(f, ["type", "id"], what);
      return { type: "leaseKeepAlive", id: integer(f["id"], "id", what, 1) };
    case "alarm": {
      onlyFields(f, ["type", "action", "memberId", "alarm"], what);
      const action = oneOf(f, "action", what, ["activate", "deactivate", "get"] as const);
      if (action === undefined) throw new InvalidKvCommandError(`${what}.action is required`);
      const cmd = strip({
        type: "alarm" as const,
        action,
        memberId: optionalInteger(f, "memberId", what, 1),
        alarm: oneOf(f, "alarm", what, ALARM_TYPES),
      });
      if (action !== "get" && (cmd.memberId === undefined || cmd.alarm === undefined)) {
        throw new InvalidKvCommandError(`${what}: alarm ${action} needs memberId and alarm`);
      }
      return cmd;
    }
    case "leaseCheckpoint": {
      onlyFields(f, ["type", "checkpoints"], what);
      const list = f["checkpoints"];
      if (!Array.isArray(list) || list.length === 0 || list.length > MAX_CHECKPOINTS_PER_ENTRY) {
        throw new InvalidKvCommandError(
          `${what}.checkpoints must be an array of 1 to ${MAX_CHECKPOINTS_PER_ENTRY} [id, remainingMs] pairs`,
        );
      }
      const checkpoints = list.map((c: unknown, i): LeaseCheckpoint => {
        const at = `${what}.checkpoints[${i}]`;
        if (!Array.isArray(c) || c.length !== 2) {
          throw new InvalidKvCommandError(`${at} must be an [id, remainingMs] pair`);
        }
        return [integer(c[0], "id", at, 1), integer(c[1], "remainingMs", at, 0)];
      });
      return { type: "leaseCheckpoint", checkpoints };
    }
    case "auth":
      return validateAuthCommand(raw);
    default:
      throw new InvalidKvCommandError(`${what}.type ${JSON.stringify(f["type"])} is not known`);
  }
}

/** Checks every field of an untrusted command; throws a KvError naming the first fault. */
export function validateCommand(raw: unknown): KvCommand {
  const f = record(raw, "command");
  if (f["type"] !== "request") return validateOp(raw, "command", 0);
  onlyFields(f, ["type", "id", "command"], "command");
  const id = f["id"];
  if (typeof id !== "string" || !REQUEST_ID_PATTERN.test(id)) {
    throw new InvalidKvCommandError("command.id must be 1 to 64 characters of [A-Za-z0-9_-]");
  }
  const command = validateOp(f["command"], "command.command", 0);
  if (command.type === "range" || command.type === "request") {
    throw new InvalidKvCommandError(`command.command must be a write, not ${command.type}`);
  }
  return { type: "request", id, command };
}

/** Checks a watch request as strictly as a command. */
export function validateWatchOptions(raw: unknown): void {
  const what = "watch";
  const f = record(raw, what);
  onlyFields(f, ["key", "rangeEnd", "startRevision", "prevKv", "noPut", "noDelete"], what);
  bytes(f, "key", what, { nonEmpty: true });
  optionalBytes(f, "rangeEnd", what);
  optionalInteger(f, "startRevision", what);
  optionalBool(f, "prevKv", what);
  optionalBool(f, "noPut", what);
  optionalBool(f, "noDelete", what);
}
