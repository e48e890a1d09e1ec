import { readFileSync } from "node:fs";
import net from "node:net";

/**
 * Ports tests listen on come from below the kernel's ephemeral range, where
 * outgoing connections take their source ports: a test that floods a member
 * with thousands of connections would otherwise take the port another test's
 * member is about to listen on again after a restart. Each concurrent test
 * worker (VITEST_POOL_ID) draws from its own slice, so two files running side
 * by side never hand out the same port.
 */
const LOWEST_PORT = 10_000;
const SLICES = 8;

function ephemeralLow(): number {
  try {
    const low = Number.parseInt(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8"), 10);
    return Number.isSafeInteger(low) && low > LOWEST_PORT + SLICES * 100 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const sliceSize = Math.floor((ephemeralLow() - LOWEST_PORT) / SLICES);
const slice = (Number.parseInt(process.env["VITEST_POOL_ID"] ?? "1", 10) - 1 + SLICES) % SLICES;
const sliceStart = LOWEST_PORT + slice * sliceSize;
// Where this process starts in its slice: files that run one after another in one worker
// slot start elsewhere, in case a process of the last one is still going away.
let next = process.pid % sliceSize;

/**
 * Ports the fetch standard blocks ("bad ports"): fetch() refuses to connect
 * to them, so a member listening there cannot be reached by a test that uses
 * fetch. Of the standard's list, only this one lies in the range used here.
 */
const FETCH_BLOCKED_PORTS = new Set([10080]);

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago and that this process has not handed out. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < sliceSize; tries++) {
    const port = sliceStart + (next % sliceSize);
    next++;
    if (FETCH_BLOCKED_PORTS.has(port)) continue;
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${sliceStart}..${sliceStart + sliceSize - 1}`);
}

/** The error a test throws when a shared service is missing: loud, and saying how to start it. */
export function missingServiceError(what: string, address: string, cause: unknown): Error {
  const inCi = process.env["CI"] === "true";
  const how = inCi
    ? "CI must start it in .ci/services.sh"
    : "start it with `bash .ci/services.sh` (as root: it installs and starts every service the tests use)";
  return new Error(`${what} is not reachable at ${address}; ${how}`, { cause });
}
