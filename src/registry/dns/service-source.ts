import type { KvStore } from "../../kv/index.js";
import { prefixEnd, utf8 } from "../../kv/index.js";
import { MalformedRegistrationError } from "../errors.js";
import { decodeInstance, type ServiceInstance, type ServiceSnapshot } from "../instance.js";
import { type RegistryLayout, servicePrefix, validateLayout } from "../keys.js";

/**
 * What the DNS view asks of the registry: a service's instances, served or
 * not, or undefined when the service has no registration at all (so a name
 * for it does not exist, NXDOMAIN, rather than exist with no address).
 */
export interface ServiceSource {
  instances(service: string): Promise<ServiceSnapshot | undefined>;
}

export interface LocalServiceSourceOptions {
  readonly layout?: Partial<RegistryLayout>;
  /** Instances read for one answer; past it the rest are left out. Default 1000. */
  readonly maxInstances?: number;
  /** Told once per record that is not a registration (it is skipped). */
  readonly onMalformed?: (error: MalformedRegistrationError) => void;
}

const DEFAULT_MAX_INSTANCES = 1000;
/** Key and value bytes read for one answer: records are at most ~17 KiB each. */
const MAX_READ_BYTES = 4 * 1024 * 1024;

/**
 * Reads a member's own copy of the key space: a serializable read, no Raft
 * round trip. A follower may answer a moment behind the leader, as any DNS
 * answer may be stale by its TTL; registrations are for discovery, not locks.
 */
export function localServiceSource(
  store: Pick<KvStore, "range">,
  options: LocalServiceSourceOptions = {},
): ServiceSource {
  const layout = validateLayout(options.layout);
  const maxInstances = options.maxInstances ?? DEFAULT_MAX_INSTANCES;
  return {
    async instances(service: string): Promise<ServiceSnapshot | undefined> {
      const prefix = utf8(servicePrefix(layout, service));
      const result = store.range(
        { key: prefix, rangeEnd: prefixEnd(prefix), limit: maxInstances },
        { maxBytes: MAX_READ_BYTES },
      );
      if (result.kvs.length === 0) return undefined;
      const instances: ServiceInstance[] = [];
      for (const kv of result.kvs) {
        const key = Buffer.from(kv.key).toString("utf8");
        try {
          const instance = decodeInstance(key, kv.value);
          if (instance.service === service) instances.push(instance);
        } catch (error) {
          if (!(error instanceof MalformedRegistrationError)) throw error;
          options.onMalformed?.(error);
        }
      }
      return { service, revision: result.revision, instances };
    },
  };
}
