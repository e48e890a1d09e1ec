import net from "node:net";

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The error a test throws when a shared service is missing: loud, and saying how to start it. */
export function missingServiceError(what: string, address: string, cause: unknown): Error {
  const inCi = process.env["CI"] === "true";
  const how = inCi
    ? "CI must start it in .ci/services.sh"
    : "start it with `bash .ci/services.sh` (as root: it installs and starts every service the tests use)";
  return new Error(`${what} is not reachable at ${address}; ${how}`, { cause });
}
