export { BoundedBalancer } from "./bounded.js";
export {
  type BalancerOptions,
  createBalancer,
  DEFAULT_BALANCER_POINTS_PER_NODE,
  MAX_BALANCER_POINTS_PER_NODE,
} from "./create.js";
export { type FollowOptions, followSnapshots } from "./follow.js";
export { DEFAULT_PROBE_KEY_COUNT, MAX_PROBE_KEY_COUNT } from "./probes.js";
export {
  BALANCER_KINDS,
  type Balancer,
  type BalancerKind,
  type HashBalancerKind,
  type Picked,
  type PickOptions,
  type UpdateReport,
} from "./types.js";
