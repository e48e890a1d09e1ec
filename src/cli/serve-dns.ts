/**
 * `conclave serve --listen-dns`: the registry's DNS view beside the member's
 * APIs, answering from the member's own copy of the key space.
 */
import { LogThrottle } from "../log-throttle.js";
import { isLoopbackHost, parsePeerAddress } from "../raft/transport/index.js";
import { DnsServer } from "../registry/dns/dns-server.js";
import { localServiceSource } from "../registry/dns/service-source.js";
import type { ServeConfig } from "../server/runtime/config.js";
import type { RunningServer } from "../server/runtime/run.js";

type DnsSettings = Pick<ServeConfig, "dnsDomain" | "dnsTtlSeconds" | "dnsRegistryRoot">;

/** Starts the DNS view on `listenDns` (host:port). */
export async function startDnsView(
  listenDns: string,
  config: DnsSettings,
  running: Pick<RunningServer, "store" | "log">,
): Promise<DnsServer> {
  const at = parsePeerAddress(listenDns);
  const log = running.log.child({ component: "dns" });
  // Every query can meet the same bad record or failure: log each kind once per interval.
  const warnings = new LogThrottle(log);
  const server = await DnsServer.listen({
    host: at.host,
    port: at.port,
    domain: config.dnsDomain,
    ttlSeconds: config.dnsTtlSeconds,
    source: localServiceSource(running.store, {
      layout: { root: config.dnsRegistryRoot },
      onMalformed: (err) => warnings.warn(`malformed:${err.key}`, { key: err.key }, err.message),
    }),
    onError: (err) => warnings.warn("query-failed", { err }, "DNS query failed"),
  });
  const where = at.host.includes(":") ? `[${at.host}]:${server.port}` : `${at.host}:${server.port}`;
  log.info({ listenDns: where, domain: server.domain }, "registry DNS view listening");
  const warning = dnsWarning(at.host, where);
  // Insecure modes are allowed when chosen, never silent.
  if (warning !== undefined) log.warn({ insecure: true }, warning);
  return server;
}

/** DNS has no authentication: bound beyond loopback it tells anyone where every served instance is. */
export function dnsWarning(host: string, where: string): string | undefined {
  if (isLoopbackHost(host.toLowerCase())) return undefined;
  return `registry DNS view on ${where} (UDP and TCP) answers unauthenticated queries beyond loopback: anyone who reaches it learns the address and port of every served instance; bind listenDns to loopback or restrict it with a firewall`;
}
