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
