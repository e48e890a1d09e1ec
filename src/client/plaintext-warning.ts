import { isIP } from "node:net";

/** Endpoints already warned about in this process: one warning each, however many clients. */
const warned = new Set<string>();

/** Whether `hostname` (as URL.hostname gives it) names this machine. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

/**
 * A password or token sent to another host over plain http crosses the
 * network readable by anyone on the path. It works (a test network may be
 * trusted) but says so, once per endpoint, as a process warning.
 */
export function warnIfPlaintextCredentials(endpoints: readonly string[]): void {
  const exposed = endpoints.filter((endpoint) => {
    const url = new URL(endpoint);
    return url.protocol === "http:" && !isLoopback(url.hostname) && !warned.has(endpoint);
  });
  if (exposed.length === 0) return;
  for (const endpoint of exposed) warned.add(endpoint);
  process.emitWarning(
    `credentials will be sent in plain text to ${exposed.join(", ")}: use https endpoints`,
    { code: "CONCLAVE_PLAINTEXT_CREDENTIALS" },
  );
}
