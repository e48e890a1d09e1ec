import { readFileSync } from "node:fs";

/** The process's RLIMIT_NOFILE; `undefined` for "unlimited". */
export interface OpenFileLimits {
  readonly soft: number | undefined;
  readonly hard: number | undefined;
}

/**
 * Reads RLIMIT_NOFILE from /proc/self/limits (Linux). Node has no getrlimit;
 * elsewhere (or when /proc is not mounted) the answer is `undefined`, and
 * callers assume the conservative 1,024 most systems start with.
 */
export function readOpenFileLimits(procLimits = "/proc/self/limits"): OpenFileLimits | undefined {
  let text: string;
  try {
    text = readFileSync(procLimits, "utf8");
  } catch {
    return undefined;
  }
  return parseOpenFileLimits(text);
}

export function parseOpenFileLimits(procLimitsText: string): OpenFileLimits | undefined {
  const line = procLimitsText.split("\n").find((l) => l.startsWith("Max open files"));
  const match = line?.match(/^Max open files\s+(\S+)\s+(\S+)/);
  if (match === null || match === undefined) return undefined;
  const value = (s: string | undefined) => (s === "unlimited" ? undefined : Number(s));
  const soft = value(match[1]);
  const hard = value(match[2]);
  if (soft !== undefined && !Number.isSafeInteger(soft)) return undefined;
  if (hard !== undefined && !Number.isSafeInteger(hard)) return undefined;
  return { soft, hard };
}

/** What most systems give a process unless told otherwise; assumed when the limit is unknown. */
export const ASSUMED_OPEN_FILE_LIMIT = 1024;
/** Client connections beyond this are refused even when the fd limit would allow more. */
const MAX_CLIENT_CONNECTIONS = 65_536;

/**
 * How many file descriptors client connections may hold, given the soft fd
 * limit: the rest is kept for what a member cannot do without (WAL segments,
 * snapshot files, peer links, the listeners, libuv's own descriptors). The
 * reserve is a quarter of the limit, at least 64 and at most 1,024 — a
 * member's own needs do not grow with the limit.
 */
export function clientConnectionBudget(softLimit: number | undefined): number {
  const limit = softLimit ?? MAX_CLIENT_CONNECTIONS * 2;
  const reserve = Math.min(1024, Math.max(64, Math.floor(limit / 4)));
  return Math.max(1, Math.min(MAX_CLIENT_CONNECTIONS, limit - reserve));
}
