import type { AuthView, Compare, KvCommand, TxnOp } from "../kv/index.js";
import { PermissionDeniedError } from "./errors.js";
import { type AccessMode, canAccess } from "./permissions.js";

/** One key or range a request reads or writes. */
export interface KeyAccess {
  readonly mode: AccessMode;
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
}

const access = (mode: AccessMode, key: Uint8Array, rangeEnd?: Uint8Array): KeyAccess =>
  rangeEnd === undefined ? { mode, key } : { mode, key, rangeEnd };

function compareAccess(c: Compare): KeyAccess {
  return access("read", c.key, c.rangeEnd);
}

/**
 * Every key a key-space command could touch. A txn is judged on both of its
 * branches and every nested txn, whichever would run: whether a request is
 * allowed must not depend on the data, or a refusal would leak it. A write
 * that returns the previous value (prevKv) reads too, as in etcd.
 */
export function commandAccess(command: KvCommand | TxnOp, out: KeyAccess[] = []): KeyAccess[] {
  switch (command.type) {
    case "range":
      out.push(access("read", command.key, command.rangeEnd));
      break;
    case "put":
      out.push(access("write", command.key));
      if (command.prevKv === true) out.push(access("read", command.key));
      break;
    case "deleteRange":
      out.push(access("write", command.key, command.rangeEnd));
      if (command.prevKv === true) out.push(access("read", command.key, command.rangeEnd));
      break;
    case "txn":
      for (const c of command.compare) out.push(compareAccess(c));
      for (const op of command.success) commandAccess(op, out);
      for (const op of command.failure) commandAccess(op, out);
      break;
    case "request":
      commandAccess(command.command, out);
      break;
    default:
      // Leases, compaction and auth commands are not about keys; routes decide on them.
      break;
  }
  return out;
}

function describe(a: KeyAccess): string {
  const key = JSON.stringify(Buffer.from(a.key).toString("utf8"));
  if (a.rangeEnd === undefined) return `key ${key}`;
  const end = Buffer.from(a.rangeEnd);
  if (end.byteLength === 1 && end[0] === 0) return `every key from ${key}`;
  return `range [${key}, ${JSON.stringify(end.toString("utf8"))})`;
}

/** Throws PermissionDeniedError naming the first access `user` lacks. */
export function requireAccess(view: AuthView, user: string, accesses: readonly KeyAccess[]): void {
  for (const a of accesses) {
    if (!canAccess(view, user, a.mode, a.key, a.rangeEnd)) {
      throw new PermissionDeniedError(
        `user ${JSON.stringify(user)} may not ${a.mode} ${describe(a)}`,
      );
    }
  }
}
