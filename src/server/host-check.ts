import { isIP } from "node:net";
import type { FastifyInstance } from "fastify";
import { LogThrottle } from "../log-throttle.js";
import { HttpApiError } from "./errors.js";

/**
 * DNS-rebinding defence. A web page can point a name it controls at
 * 127.0.0.1; the browser then treats this member's API as the page's own
 * origin and may read and write it, but it still sends the page's name in
 * the Host header. So a member serves only Host names that are its own:
 *
 * - loopback names (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`) and the
 *   address it is bound to, always: a page cannot make a browser send those
 *   for an origin of its own;
 * - the configured `allowedHosts` (`conclave serve` adds the host of its
 *   advertised client URL): exact names, `*.example.com` for a domain's
 *   subdomains, `*` for any (behind a proxy that checks Host itself);
 * - when bound beyond loopback, any IP literal as well: a rebinding attack
 *   needs a name, and a client that dialled one of the host's addresses
 *   directly is not one.
 *
 * A request without a Host header (HTTP/1.0) did not come from a browser and
 * is served.
 */
export class HostNotAllowedError extends HttpApiError {
  constructor(host: string) {
    super(
      403,
      "HOST_NOT_ALLOWED",
      `Host ${JSON.stringify(host.slice(0, 256))} does not name this member; if it does, add it to allowedHosts (--allowed-hosts)`,
    );
  }
}

/** The host of a Host header, lower case, without port, brackets or a trailing dot. */
export function hostOfHeader(header: string): string {
  const value = header.trim().toLowerCase();
  let host: string;
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    host = end === -1 ? value : value.slice(1, end);
  } else {
    // Only a host:port has exactly one colon; a bare IPv6 address has more.
    host = value.split(":").length === 2 ? value.slice(0, value.indexOf(":")) : value;
  }
  return host.endsWith(".") ? host.slice(0, -1) : host;
}

export function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  const v6 = host.startsWith("::ffff:") ? host.slice(7) : host;
  if (v6 !== host && isIP(v6) === 4) return v6.startsWith("127.");
  return host === "::1" || host === "0:0:0:0:0:0:0:1";
}

function matches(host: string, pattern: string): boolean {
  if (pattern === "*") return true;
  if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1));
  return host === pattern;
}

/**
 * Whether a request whose Host header is `header` may be served by a member
 * bound to `boundAddress` (undefined when not listening on a socket, as under
 * inject: treated as a loopback bind, the strictest case).
 */
export function hostAllowed(
  header: string | undefined,
  bound: string | undefined | (() => string | undefined),
  allowedHosts: readonly string[],
): boolean {
  if (header === undefined) return true;
  const host = hostOfHeader(header);
  if (isLoopbackHost(host)) return true;
  // Asked only now: reading the bound address is a system call.
  const boundAddress = typeof bound === "function" ? bound() : bound;
  if (boundAddress !== undefined && host === hostOfHeader(boundAddress)) return true;
  if (allowedHosts.some((pattern) => matches(host, pattern))) return true;
  const loopbackBind = boundAddress === undefined || isLoopbackHost(hostOfHeader(boundAddress));
  return !loopbackBind && isIP(host) !== 0;
}

/** Normalises the allow-list once: lower case, no brackets, no trailing dot. */
export function normaliseAllowedHosts(hosts: readonly string[]): string[] {
  return hosts.map((h) => (h === "*" || h.startsWith("*.") ? h.toLowerCase() : hostOfHeader(h)));
}

/**
 * Checks every request's Host header first, before its body is read. A
 * refusal is worth an operator's attention (a page on some user's browser is
 * probing this member) but a page can repeat it at will: it is logged through
 * a LogThrottle.
 */
export function addHostCheck(app: FastifyInstance, allowedHosts: readonly string[]): void {
  const allowed = normaliseAllowedHosts(allowedHosts);
  const throttle = new LogThrottle(app.log);
  const bound = () => {
    const address = app.server.address();
    return typeof address === "object" && address !== null ? address.address : undefined;
  };
  app.addHook("onRequest", async (req) => {
    const header = req.headers.host;
    if (hostAllowed(header, bound, allowed)) return;
    throttle.warn(
      "host-not-allowed",
      { host: (header ?? "").slice(0, 256), remoteAddress: req.socket.remoteAddress },
      "refused a request whose Host names another host (DNS rebinding?)",
    );
    throw new HostNotAllowedError(header ?? "");
  });
}
