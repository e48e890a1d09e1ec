import { type ChannelOptions, experimental } from "@grpc/grpc-js";
import { isServed, type ServiceInstance, type ServiceSnapshot } from "../instance.js";

/**
 * grpc-js 1.14 endpoints carry addresses only, no per-endpoint attributes.
 * The resolver hands each address's instance to balancing policies through
 * the resolver attributes instead, which grpc-js merges into the options
 * given to `LoadBalancer.updateAddressList`. The key carries grpc-js's
 * "not a subchannel argument" prefix so the map never reaches subchannel
 * creation (where options are compared to share subchannels).
 */
export const INSTANCES_ATTRIBUTE = `${experimental.SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX}.conclave.instances`;

/** The served instances of one resolution, keyed by `subchannelAddressToString` of their address. */
export type InstancesByAddress = ReadonlyMap<string, ServiceInstance>;

export interface ResolvedEndpoints {
  readonly endpoints: experimental.Endpoint[];
  readonly instances: InstancesByAddress;
}

/**
 * The endpoints to connect to for a snapshot: one per distinct address of a
 * served instance. Instances are taken in id order, so when two records name
 * the same address the one with the smaller id describes it, whatever order
 * the snapshot lists them in.
 */
export function resolveEndpoints(snapshot: ServiceSnapshot): ResolvedEndpoints {
  const served = snapshot.instances
    .filter(isServed)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const instances = new Map<string, ServiceInstance>();
  const endpoints: experimental.Endpoint[] = [];
  for (const instance of served) {
    const address = { host: instance.address, port: instance.port };
    const key = experimental.subchannelAddressToString(address);
    if (instances.has(key)) continue;
    instances.set(key, instance);
    endpoints.push({ addresses: [address] });
  }
  return { endpoints, instances };
}

/** The instance map a resolver attached to balancer options, if the resolver was ours. */
export function instancesFromOptions(options: ChannelOptions): InstancesByAddress | undefined {
  const value: unknown = options[INSTANCES_ATTRIBUTE];
  return value instanceof Map ? (value as InstancesByAddress) : undefined;
}
