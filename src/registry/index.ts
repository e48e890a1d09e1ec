/**
 * `conclave/registry`: service registration bound to leases, health checks,
 * discovery by watch, balancers, and the etcd naming format and DNS views.
 */

export {
  BALANCER_KINDS,
  type Balancer,
  type BalancerKind,
  type BalancerOptions,
  BoundedBalancer,
  createBalancer,
  DEFAULT_BALANCER_POINTS_PER_NODE,
  DEFAULT_PROBE_KEY_COUNT,
  type FollowOptions,
  followSnapshots,
  type HashBalancerKind,
  MAX_BALANCER_POINTS_PER_NODE,
  MAX_PROBE_KEY_COUNT,
  type Picked,
  type PickOptions,
  type UpdateReport,
} from "./balancers/index.js";
export {
  CHECK_DEFAULTS,
  type CheckSpec,
  type GrpcCheckSpec,
  type HttpCheckSpec,
  type TcpCheckSpec,
} from "./check-spec.js";
// Health checks: run by an instance (CheckRunner) or by the elected checker for persistent instances.
export type {
  CheckResult,
  CheckTimingOptions,
  CustomCheck,
} from "./checks/check.js";
export {
  type HealthChecker,
  type HealthCheckerOptions,
  runHealthChecker,
} from "./checks/checker.js";
export {
  type HealthCheckRequest,
  type HealthCheckResponse,
  healthService,
  type ServingStatus,
} from "./checks/health-proto.js";
export { CheckTimeoutError, runCheck } from "./checks/probe.js";
export { CheckRunner, type CheckRunnerOptions, type CheckState } from "./checks/runner.js";
// Registration and discovery.
export type {
  DiscoveryOptions,
  ServiceSummary,
} from "./discovery.js";
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
  INSTANCES_ATTRIBUTE,
  type InstancesByAddress,
  resolveEndpoints,
} from "./grpc/endpoints.js";
export { ConclaveHashBalancer, registerConclaveHashPolicy } from "./grpc/hash-balancer.js";
export {
  CONCLAVE_HASH_POLICY,
  ConclaveHashConfig,
  type ConclaveHashOptions,
  conclaveHashServiceConfig,
  type HashAlgorithm,
} from "./grpc/hash-config.js";
export {
  CONCLAVE_SCHEME,
  ConclaveResolver,
  type ConclaveResolverOptions,
  type ConclaveResolverRegistration,
  registerConclaveResolver,
  type SnapshotSource,
} from "./grpc/resolver.js";
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
export { ContendedRecordError } from "./record-store.js";
export {
  type Registration,
  RegistrationClosedError,
  type RegistrationState,
} from "./registration.js";
export {
  DEFAULT_TTL_MS,
  MIN_TTL_MS,
  type RegisterOptions,
  Registry,
  RegistryClosedError,
  type RegistryOptions,
} from "./registry.js";
export type { KeptLease, RegistryClient } from "./registry-client.js";
export {
  createServiceFetch,
  DEFAULT_SERVICE_FETCH_RETRIES,
  DEFAULT_SERVICE_FETCH_TIMEOUT_MS,
  type FailedAttempt,
  MAX_SERVICE_FETCH_RETRIES,
  neverSent,
  type ServiceFetch,
  type ServiceFetchInit,
  type ServiceFetchOptions,
  ServiceRequestError,
} from "./service-fetch.js";
