/**
 * `conclave/registry`: service registration bound to leases, health checks,
 * discovery by watch, balancers, and the etcd naming format and DNS views.
 */
export {
  CHECK_DEFAULTS,
  type CheckSpec,
  type GrpcCheckSpec,
  type HttpCheckSpec,
  type TcpCheckSpec,
} from "./check-spec.js";
// DNS view (`conclave serve --listen-dns`): A/AAAA and SRV records of served instances.
export {
  type AnswerContext as DnsAnswerContext,
  answerQuestion as answerDnsQuestion,
  type DnsAnswer,
  RCODE as DNS_RCODE,
  type Rcode as DnsRcode,
} from "./dns/answer.js";
export { DnsServer, type DnsServerOptions } from "./dns/dns-server.js";
export {
  addrName,
  DEFAULT_DNS_DOMAIN,
  hexOfAddress,
  normalizeDomain as normalizeDnsDomain,
  parseQueryName as parseDnsQueryName,
  type QueryTarget as DnsQueryTarget,
} from "./dns/names.js";
export {
  answerDnsMessage,
  type DnsTransportKind,
  MAX_UDP_PAYLOAD_BYTES,
  type RespondHooks as DnsRespondHooks,
} from "./dns/responder.js";
export {
  type LocalServiceSourceOptions,
  localServiceSource,
  type ServiceSource,
} from "./dns/service-source.js";
export { MalformedRegistrationError, NoInstanceError, RegistryError } from "./errors.js";
export {
  decodeInstance,
  encodeInstance,
  HEALTH_STATUSES,
  type HealthStatus,
  type InstanceInput,
  isServed,
  type ServiceInstance,
  type ServiceSnapshot,
  validateInstance,
} from "./instance.js";
export {
  allServicesPrefix,
  DEFAULT_LAYOUT,
  instanceAddr,
  instanceKey,
  namingKey,
  namingValue,
  parseInstanceKey,
  type RegistryLayout,
  servicePrefix,
  validateLayout,
} from "./keys.js";
