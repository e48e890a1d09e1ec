import type net from "node:net";

/** Starts `server` on an ephemeral port of 127.0.0.1. */
export async function listenOnLoopback(server: net.Server): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
}

/** The port a server started by listenOnLoopback listens on. */
export function portOf(server: net.Server): number {
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy is not listening");
  return address.port;
}
