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
